/**
 * Batch windows end to end: the real CLI as a subprocess, uploads through `berth put` and the S3 folder,
 * the manifest in the folder, a real task process reading it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { berthIn, bin, workdirOf } from "../support/berth-cli.ts";

const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };

interface RunRow {
  id: string;
  job: string;
  status: string;
  exitCode?: number;
  context: Record<string, string>;
}

interface Printed {
  manifest: string;
  count: number;
  bytes: number;
  lines: number;
  keys: string[];
}

const workdir = () => workdirOf("batch");

const berth = (dir: string, args: string[]) => berthIn(dir, args, env);

const devs: ChildProcess[] = [];
afterEach(async () => {
  for (const d of devs.splice(0)) {
    if (d.exitCode !== null || d.signalCode !== null) continue;
    d.kill("SIGINT");
    await new Promise((resolve) => d.once("exit", resolve));
  }
});

/** Starts `berth dev --plain`; returns what it has printed so far. */
async function startDev(dir: string): Promise<() => string> {
  const child = spawn(process.execPath, [bin, "dev", "--plain"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  devs.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  await until(() => existsSync(join(dir, ".berth/dev.json")), () => `berth dev did not start:\n${output}`);
  return () => output;
}

async function until(check: () => boolean, what: () => string, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

function runs(dir: string, job: string): RunRow[] {
  const r = berth(dir, ["runs", "--local", "--json", "--job", job]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as RunRow[];
}

/** What the run's task printed: its manifest as it read it. */
function printed(dir: string, runId: string): Printed {
  const log = berth(dir, ["logs", runId]).stdout;
  return JSON.parse(log.split("\n").find((l) => l.startsWith("{"))!) as Printed;
}

/** An S3 `Object Created` event as EventBridge delivers it, for `berth explain`. */
function uploadEvent(bucket: string, key: string, size: number): string {
  return JSON.stringify({
    version: "0",
    id: "e2e-explain",
    "detail-type": "Object Created",
    source: "aws.s3",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "local",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: "0", bucket: { name: bucket }, object: { key, size, etag: "d41d8cd98f00b204e9800998ecf8427e", sequencer: "0062E99A88DC407460" }, reason: "PutObject" },
  });
}

const ended = (r: RunRow) => ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"].includes(r.status);

describe("berth dev with batch windows", { timeout: 300_000 }, () => {
  it("30 uploads through berth put fill one batch (maxItems 30): one run, whose task reads a manifest of exactly those 30 objects", async () => {
    const dir = workdir();
    await startDev(dir);
    const keys = Array.from({ length: 30 }, (_, i) => `in/file-${String(i).padStart(2, "0")}.csv`);
    for (const [i, key] of keys.entries()) {
      writeFileSync(join(dir, "upload.csv"), `row ${i}\n`);
      if (i === keys.length - 1) {
        // Before the last upload, explain says where it would go: into the open batch of 29, which it fills.
        writeFileSync(join(dir, "event.json"), uploadEvent("inbox", key, 6));
        let explained = berth(dir, ["explain", "event.json"]);
        await until(() => (explained = berth(dir, ["explain", "event.json"])).stdout.includes("(30 uploads,"), () => `explain to see the open batch of 29:\n${explained.stdout}${explained.stderr}`);
        expect(explained.code).toBe(0);
        expect(explained.stdout).toMatch(/would join batch [0-9a-f]{32} of gather \(30 uploads, \d+ bytes with this one\); it closes at once: this upload fills it/);
      }
      const put = berth(dir, ["put", "upload.csv", `s3://inbox/${key}`]);
      expect(put.code, put.stderr).toBe(0);
    }
    await until(() => runs(dir, "gather").some(ended), () => "the batch run to end");
    await new Promise((r) => setTimeout(r, 2000));
    const all = runs(dir, "gather");
    expect(all).toHaveLength(1);
    const [run] = all;
    expect(run).toMatchObject({ status: "SUCCEEDED", exitCode: 0 });
    const read = printed(dir, run!.id);
    expect(read).toMatchObject({ count: 30, lines: 30, manifest: run!.context["batch.manifest"] });
    expect(read.keys).toEqual(keys);
    expect(read.manifest).toMatch(/^s3:\/\/berth-manifests\/gather\/[0-9a-f]{32}\.jsonl$/);

    const show = berth(dir, ["runs", "show", run!.id]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/batch\s+30 uploads, \d+ bytes/);
    expect(show.stdout).toMatch(new RegExp(`manifest\\s+${read.manifest.replace(/[.]/g, "\\.")}`));
  });

  it("maxItems 2 splits 5 uploads into 3 runs with disjoint manifests; the last closes when its window passes", async () => {
    const dir = workdir();
    // Dropped before berth dev starts: it announces them at once, one after another.
    const keys = Array.from({ length: 5 }, (_, i) => `p/${i}.txt`);
    mkdirSync(join(dir, ".berth/s3/pairs/p"), { recursive: true });
    for (const key of keys) writeFileSync(join(dir, ".berth/s3/pairs", key), key);
    const output = await startDev(dir);
    await until(() => {
      const list = runs(dir, "pairs");
      return list.length === 3 && list.every(ended);
    }, () => `3 ended pairs runs (have ${JSON.stringify(runs(dir, "pairs").map((r) => r.status))})`);
    await new Promise((r) => setTimeout(r, 3000));
    const all = runs(dir, "pairs");
    expect(all).toHaveLength(3);
    const read = all.map((r) => printed(dir, r.id));
    expect(read.map((p) => p.count).sort()).toEqual([1, 2, 2]);
    expect(read.map((p) => p.lines).sort()).toEqual([1, 2, 2]);
    expect(read.flatMap((p) => p.keys).sort()).toEqual(keys);
    expect(new Set(read.map((p) => p.manifest)).size).toBe(3);
    // The manifests are in the folder, and started no run of their own.
    for (const p of read) expect(existsSync(join(dir, ".berth/s3", p.manifest.slice("s3://".length)))).toBe(true);
    expect(readFileSync(join(dir, ".berth/s3", read[0]!.manifest.slice("s3://".length)), "utf8").split("\n").at(-1)).toBe("");
    // Its plain lines showed each batch's run, with what it gathered.
    const gathered = new Map([...output().matchAll(/ pairs ([0-9A-Z]{26}) [A-Z_]+ attempt \d+.*? batch of (\d) uploads?/g)].map((m) => [m[1], Number(m[2])]));
    expect([...gathered.keys()].sort()).toEqual(all.map((r) => r.id).sort());
    expect([...gathered.values()].sort()).toEqual([1, 2, 2]);
  });
});
