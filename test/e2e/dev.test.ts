/**
 * `berth dev` end to end: the real CLI as a subprocess, real files in the S3
 * folder, real HTTP, real task processes, the SQLite history on disk.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { berthIn, bin, root, workdirOf } from "../support/berth-cli.ts";
import { alive } from "../support/processes.ts";

const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", BERTH_WEBHOOK_SECRET: "e2e-secret" };

interface RunRow {
  id: string;
  job: string;
  status: string;
  exitCode?: number;
  reason?: string;
  attempts: { exitCode?: number; stopCode?: string }[];
}

const workdir = () => workdirOf("dev");

const berth = (dir: string, args: string[]) => berthIn(dir, args, env);

const devs: ChildProcess[] = [];
afterEach(async () => {
  for (const d of devs.splice(0)) if (d.exitCode === null && d.signalCode === null) await stopDev(d);
});

async function startDev(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, "dev", "--plain"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  devs.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  await until(() => existsSync(join(dir, ".berth/dev.json")), 60_000, () => `berth dev did not start:\n${output}`);
  return child;
}

async function stopDev(child: ChildProcess): Promise<number | null> {
  child.kill("SIGINT");
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function until(check: () => boolean | Promise<boolean>, ms = 60_000, what: () => string = () => "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

function runs(dir: string, job?: string): RunRow[] {
  const r = berth(dir, ["runs", "--local", "--json", ...(job ? ["--job", job] : [])]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as RunRow[];
}

/** The task process's pid, once the task has recorded it (it starts a moment after its run reads RUNNING). */
async function pidOf(dir: string, runId: string): Promise<number> {
  const file = join(dir, "tasks/pids", runId);
  await until(() => existsSync(file), 60_000, () => `the task of run ${runId} to record its pid`);
  return Number(readFileSync(file, "utf8"));
}

/** Lets every running gate task (tasks/gate.js) end with exit code 0. */
function openGates(dir: string): void {
  mkdirSync(join(dir, "tasks/gates"), { recursive: true });
  writeFileSync(join(dir, "tasks/gates/all"), "");
}

const ended = (r: RunRow | undefined) => r !== undefined && ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"].includes(r.status);

// Each test drives several CLI processes and tasks: a generous budget, since every wait is on a condition.
describe("berth dev", { timeout: 180_000 }, () => {
  it("a dropped file runs the job with the key, byte for byte, in the task's environment", async () => {
    const dir = workdir();
    await startDev(dir);
    const key = "uploads/a b/$(rm -rf ~);'x'+100%.png";
    mkdirSync(join(dir, ".berth/s3/inbox/uploads/a b"), { recursive: true });
    writeFileSync(join(dir, ".berth/s3/inbox", key), "png bytes");
    await until(() => ended(runs(dir, "ingest")[0]), 60_000, () => "the ingest run to end");
    const [run] = runs(dir, "ingest");
    expect(run).toMatchObject({ status: "SUCCEEDED", exitCode: 0 });
    const log = berth(dir, ["logs", run!.id]).stdout;
    const printed = JSON.parse(log.split("\n").find((l) => l.startsWith("{"))!);
    expect(printed).toEqual({ argv: [key], INPUT_KEY: key, UPSTREAM: null });
  });

  it("berth put uploads through the folder, and one upload runs once", async () => {
    const dir = workdir();
    await startDev(dir);
    writeFileSync(join(dir, "report.csv"), "a,b\n");
    expect(berth(dir, ["put", "report.csv", "s3://inbox/in/report.csv"]).code).toBe(0);
    await until(() => ended(runs(dir, "ingest")[0]));
    await new Promise((r) => setTimeout(r, 1000));
    expect(runs(dir, "ingest")).toHaveLength(1);
  });

  it("a failing task is retried per policy, then FAILED with its exit code", async () => {
    const dir = workdir();
    await startDev(dir);
    expect(berth(dir, ["run", "flaky", "--local"]).code).toBe(0);
    await until(() => ended(runs(dir, "flaky")[0]), 60_000, () => "flaky to end");
    const [run] = runs(dir, "flaky");
    expect(run).toMatchObject({ status: "FAILED", exitCode: 3 });
    expect(run!.attempts.map((a) => a.exitCode)).toEqual([3, 3]);
  });

  it("a task past its timeout ends TIMED_OUT and its process is gone", async () => {
    const dir = workdir();
    await startDev(dir);
    berth(dir, ["run", "slow", "--local"]);
    await until(() => ended(runs(dir, "slow")[0]), 60_000, () => "slow to time out");
    const [run] = runs(dir, "slow");
    expect(run!.status).toBe("TIMED_OUT");
    const pid = Number(readFileSync(join(dir, "tasks/pids", run!.id), "utf8"));
    await until(() => !alive(pid), 30_000, () => `process ${pid} to be gone`);
  });

  it("overlap forbid skips a second nightly run while the first is active, and the chained job follows the first", async () => {
    const dir = workdir();
    await startDev(dir);
    expect(berth(dir, ["trigger", "nightly"]).code).toBe(0);
    await until(() => runs(dir, "nightly").some((r) => r.status === "RUNNING"));
    expect(berth(dir, ["trigger", "nightly"]).code).toBe(0);
    await until(() => runs(dir, "nightly").some((r) => r.status === "SKIPPED"));
    openGates(dir); // the first run ends only now, so the second trigger always met it running
    await until(() => ended(runs(dir, "after-nightly")[0]), 60_000, () => "the chained job to end");
    const first = runs(dir, "nightly").find((r) => r.status === "SUCCEEDED")!;
    const [chained] = runs(dir, "after-nightly");
    expect(chained!.status).toBe("SUCCEEDED");
    expect(JSON.parse(berth(dir, ["logs", chained!.id]).stdout.split("\n").find((l) => l.startsWith("{"))!).UPSTREAM).toBe(first.id);
  });

  it("Ctrl-C cancels running tasks, and a restart keeps the history", async () => {
    const dir = workdir();
    const dev = await startDev(dir);
    berth(dir, ["run", "hold", "--local"]);
    await until(() => runs(dir, "hold")[0]?.status === "RUNNING");
    const pid = await pidOf(dir, runs(dir, "hold")[0]!.id);
    expect(await stopDev(dev)).toBe(0);
    const [cancelled] = runs(dir, "hold");
    expect(cancelled!.status).toBe("CANCELLED");
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dir, ".berth/dev.json"))).toBe(false);

    await startDev(dir);
    expect(runs(dir).map((r) => r.id)).toContain(cancelled!.id);
    expect(readdirSync(join(dir, ".berth/logs"))).toContain(`${cancelled!.id}.log`);
  });

  it("after berth dev is killed outright, a restart stops the leftover task and fails its run with the reason", async () => {
    const dir = workdir();
    const dev = await startDev(dir);
    berth(dir, ["run", "hold", "--local"]);
    await until(() => runs(dir, "hold")[0]?.status === "RUNNING");
    const [running] = runs(dir, "hold");
    const pid = await pidOf(dir, running!.id);
    dev.kill("SIGKILL");
    await new Promise((r) => dev.once("exit", r));
    expect(alive(pid)).toBe(true); // its own process group outlived berth dev

    await startDev(dir);
    await until(() => ended(runs(dir, "hold")[0]), 60_000, () => "the orphaned run to be reconciled");
    const [failed] = runs(dir, "hold");
    expect(failed).toMatchObject({ id: running!.id, status: "FAILED" });
    expect(failed!.reason).toMatch(/no longer knows task/);
    await until(() => !alive(pid), 30_000, () => `leftover process ${pid} to be stopped`);
  });

  it("berth logs --follow prints a run's output until it ends, and berth runs show details it", async () => {
    const dir = workdir();
    await startDev(dir);
    expect(berth(dir, ["run", "flaky", "--local"]).code).toBe(0);
    await until(() => runs(dir, "flaky").length === 1);
    const [run] = runs(dir, "flaky");
    const follow = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, "logs", run!.id, "--follow"], { cwd: dir, env });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.once("exit", (code) => resolve({ code, out }));
    });
    expect(follow.code).toBe(0);
    expect(follow.out.match(/failing on purpose/g)).toHaveLength(2); // both attempts, then it stopped following
    const show = berth(dir, ["runs", "show", run!.id]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/flaky run \S+\s+FAILED/);
    expect(show.stdout).toMatch(/exit code\s+3/);
    expect(show.stdout).toMatch(/^\s+2\s+FAILED\s+primary/m);
  });

  it("a signed push reaches the webhook and an unsigned one is refused", async () => {
    const dir = workdir();
    await startDev(dir);
    const info = JSON.parse(readFileSync(join(dir, ".berth/dev.json"), "utf8")) as { webhook: string };
    const body = readFileSync(join(root, "events/github-push.json"));
    const { createHmac } = await import("node:crypto");
    const signature = `sha256=${createHmac("sha256", "e2e-secret").update(body).digest("hex")}`;
    const headers = { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "d-1" };
    const bad = await fetch(`${info.webhook}/webhooks/github`, { method: "POST", headers, body });
    expect(bad.status).toBe(401);
    const good = await fetch(`${info.webhook}/webhooks/github`, { method: "POST", headers: { ...headers, "x-hub-signature-256": signature }, body });
    // Signed, so it is read: the fixture's catalog has no git trigger, so it is answered 200 and left alone.
    expect(good.status).toBe(200);
    expect(((await good.json()) as { message: string }).message).toBe("ignored: no job watches github pushes to acme/web refs/heads/main");
  });
});
