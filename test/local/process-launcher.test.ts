import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LocalConfig, LocalTaskDefinition } from "../../src/core/catalog/types.ts";
import type { RunTaskRequest } from "../../src/core/ecs/types.ts";
import { parseTaskStateEvent, type EcsTaskState } from "../../src/core/events/ecs-task.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import { clientTokenFor, newRunId, startedByFor } from "../../src/core/ids.ts";
import { classifyStop } from "../../src/core/runs/task-state.ts";
import { ProcessTaskLauncher, type ProcessTaskLauncherOptions } from "../../src/local/process-launcher.ts";
import type { EcsTaskStateChangeDetail } from "../../src/local/task-events.ts";
import { alive } from "../support/processes.ts";

const NODE = process.execPath;
const HOSTILE = "a b/$(rm -rf ~);'x'.png";
// 200 four-byte emoji + 112 two-byte letters: exactly 1,024 bytes of UTF-8.
const BIG = "😀".repeat(200) + "é".repeat(112);

/** Writes its argv and a few variables as JSON to $OUT. */
const REPORT = `require("fs").writeFileSync(process.env.OUT, JSON.stringify({ argv: process.argv.slice(1), env: { A: process.env.A, B: process.env.B, HOSTILE: process.env.HOSTILE, BIG: process.env.BIG, BERTH_RUN_ID: process.env.BERTH_RUN_ID, BERTH_TASK_ARN: process.env.BERTH_TASK_ARN }, cwd: process.cwd() }))`;

type TaskEvent = BusEvent<EcsTaskStateChangeDetail>;

let dir: string;
let events: TaskEvent[];
let launchers: ProcessTaskLauncher[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-launcher-"));
  events = [];
  launchers = [];
});

afterEach(async () => {
  await Promise.all(launchers.map((l) => l.stopAll("test over")));
  rmSync(dir, { recursive: true, force: true });
});

function launcher(
  taskDefinitions: Record<string, Partial<LocalTaskDefinition>>,
  options: Partial<ProcessTaskLauncherOptions> & { engine?: LocalConfig["engine"] } = {},
): ProcessTaskLauncher {
  const defs: Record<string, LocalTaskDefinition> = {};
  for (const [name, d] of Object.entries(taskDefinitions)) defs[name] = { command: [], environment: {}, ...d };
  const l = new ProcessTaskLauncher({
    catalog: { local: { engine: options.engine ?? "process", taskDefinitions: defs, services: {} } },
    rootDir: dir,
    logDir: join(dir, "logs"),
    emit: (e) => {
      events.push(e);
    },
    stopGraceMs: 200,
    ...options,
  });
  launchers.push(l);
  return l;
}

interface RequestOptions {
  taskDefinition?: string;
  command?: string[];
  environment?: Record<string, string>;
  runId?: string;
  attempt?: number;
  container?: string;
  launch?: Pick<RunTaskRequest, "launchType" | "capacityProviderStrategy">;
  cpu?: string;
}

function request(o: RequestOptions = {}): RunTaskRequest {
  const runId = o.runId ?? newRunId(Date.now(), randomBytes(10));
  const hasOverride = o.command !== undefined || o.environment !== undefined;
  return {
    cluster: "jobs",
    taskDefinition: o.taskDefinition ?? "worker",
    ...(o.launch ?? { launchType: "FARGATE" }),
    ...(hasOverride || o.cpu !== undefined
      ? {
          overrides: {
            ...(hasOverride
              ? {
                  containerOverrides: [
                    {
                      name: o.container ?? "main",
                      ...(o.command !== undefined ? { command: o.command } : {}),
                      ...(o.environment !== undefined ? { environment: Object.entries(o.environment).map(([name, value]) => ({ name, value })) } : {}),
                    },
                  ],
                }
              : {}),
            ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
          },
        }
      : {}),
    tags: [],
    startedBy: startedByFor(runId),
    clientToken: clientTokenFor(runId, o.attempt ?? 1),
    count: 1,
    propagateTags: "TASK_DEFINITION",
    enableECSManagedTags: true,
  };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const eventsOf = (arn: string) => events.filter((e) => e.detail.taskArn === arn);

function parsed(e: TaskEvent): EcsTaskState {
  const r = parseTaskStateEvent(JSON.parse(JSON.stringify(e)));
  if (!r.ok) throw new Error(r.error.message);
  return r.task;
}

const stoppedEvent = (arn: string) => until(`STOPPED of ${arn}`, () => eventsOf(arn).find((e) => e.detail.lastStatus === "STOPPED"));

async function launch(l: ProcessTaskLauncher, req: RunTaskRequest): Promise<string> {
  const out = await l.runTask(req);
  if (!out.ok) throw new Error(out.failure.message);
  return out.taskArn;
}


describe("ProcessTaskLauncher.runTask", () => {
  it("runs the local task definition's command in its cwd with its environment and the override's on top", async () => {
    const out = join(dir, "out.json");
    writeFileSync(join(dir, "placeholder"), "");
    const l = launcher({ worker: { command: [NODE, "-e", REPORT, "from-definition"], cwd: ".", environment: { A: "def-a", B: "def-b", OUT: out } } });
    const req = request({ environment: { B: "override-b" } });
    const arn = await launch(l, req);
    await stoppedEvent(arn);
    const report = JSON.parse(readFileSync(out, "utf8"));
    expect(report.argv).toEqual(["from-definition"]);
    expect(report.env).toMatchObject({ A: "def-a", B: "override-b", BERTH_RUN_ID: req.startedBy.slice("berth/".length), BERTH_TASK_ARN: arn });
    expect(report.cwd).toBe(dir);
  });

  it("gives every task the launcher's environment, under the definition's and the override's", async () => {
    const out = join(dir, "out.json");
    const script = `require("fs").writeFileSync(process.env.OUT, JSON.stringify({ S3: process.env.BERTH_S3_ROOT, A: process.env.A, B: process.env.B }))`;
    const l = launcher(
      { worker: { command: [NODE, "-e", script], environment: { A: "def-a", OUT: out } } },
      { environment: { BERTH_S3_ROOT: "/srv/s3", A: "runtime-a", B: "runtime-b" } },
    );
    const arn = await launch(l, request({ environment: { B: "override-b" } }));
    await stoppedEvent(arn);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ S3: "/srv/s3", A: "def-a", B: "override-b" });
  });

  it("replaces the command with the override's command, as a container override replaces the image CMD", async () => {
    const out = join(dir, "out.json");
    const l = launcher({ worker: { command: [NODE, "-e", "process.exit(9)"], environment: { OUT: out } } });
    const arn = await launch(l, request({ command: [NODE, "-e", REPORT, "x", "y"] }));
    const stopped = await stoppedEvent(arn);
    expect(stopped.detail.containers[0]?.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8")).argv).toEqual(["x", "y"]);
  });

  it("passes hostile and 1,024-byte UTF-8 values byte for byte in argv and environment (no shell)", async () => {
    expect(Buffer.byteLength(BIG)).toBe(1024);
    const out = join(dir, "out.json");
    const l = launcher({ worker: { command: [NODE, "-e", "process.exit(1)"], environment: { OUT: out } } });
    const arn = await launch(l, request({ command: [NODE, "-e", REPORT, HOSTILE, BIG], environment: { HOSTILE, BIG } }));
    await stoppedEvent(arn);
    const report = JSON.parse(readFileSync(out, "utf8"));
    expect(Buffer.from(report.argv[0])).toEqual(Buffer.from(HOSTILE));
    expect(Buffer.from(report.argv[1])).toEqual(Buffer.from(BIG));
    expect(Buffer.from(report.env.HOSTILE)).toEqual(Buffer.from(HOSTILE));
    expect(Buffer.from(report.env.BIG)).toEqual(Buffer.from(BIG));
  });

  it("finds the definition by family whatever form the task definition takes", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", ""] } });
    for (const taskDefinition of ["worker", "worker:7", "arn:aws:ecs:us-east-1:123456789012:task-definition/worker:7"]) {
      const arn = await launch(l, request({ taskDefinition }));
      const stopped = await stoppedEvent(arn);
      expect(stopped.detail.group).toBe("family:worker");
    }
  });

  it.each([
    ["missing", "no local task definition \"missing\": add local.taskDefinitions.missing (command, cwd, environment) to berth.yml"],
    ["constructor", "no local task definition \"constructor\": add local.taskDefinitions.constructor (command, cwd, environment) to berth.yml"],
  ])("a task definition %s without a local definition fails as invalid, not retryable", async (family, message) => {
    const l = launcher({ worker: { command: [NODE, "-e", ""] } });
    expect(await l.runTask(request({ taskDefinition: family }))).toEqual({ ok: false, failure: { kind: "invalid", retryable: false, message } });
    expect(events).toEqual([]);
  });

  it("a cwd that does not exist fails the launch with the path to fix", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", ""], cwd: "nope" } });
    const out = await l.runTask(request());
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.failure.message).toContain(`${join(dir, "nope")} of local task definition "worker" does not exist`);
  });

  it("the same clientToken returns the same task and starts one process", async () => {
    const count = join(dir, "count");
    const l = launcher({ worker: { command: [NODE, "-e", `require("fs").appendFileSync(${JSON.stringify(count)}, "x")`] } });
    const req = request();
    const [a, b] = await Promise.all([l.runTask(req), l.runTask(req)]);
    expect(a).toEqual(b);
    const arn = a.ok ? a.taskArn : "";
    await stoppedEvent(arn);
    expect(await l.runTask(req)).toEqual(a);
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(count, "utf8")).toBe("x");
    expect(eventsOf(arn).filter((e) => e.detail.lastStatus === "PROVISIONING")).toHaveLength(1);
  });

  it("returns an ECS task ARN in the request's cluster", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", ""] } }, { region: "eu-west-1", account: "123456789012" });
    const arn = await launch(l, { ...request(), cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/batch" });
    expect(arn).toMatch(/^arn:aws:ecs:eu-west-1:123456789012:task\/batch\/[0-9a-f]{32}$/);
    const stopped = await stoppedEvent(arn);
    expect(stopped.detail.clusterArn).toBe("arn:aws:ecs:eu-west-1:123456789012:cluster/batch");
    expect(stopped.region).toBe("eu-west-1");
    expect(stopped.account).toBe("123456789012");
  });
});

describe("task state change events", () => {
  it.each([
    { name: "exit 0", script: "process.exit(0)", exitCode: 0, reason: undefined, verdict: "SUCCEEDED" },
    { name: "exit 3", script: "process.exit(3)", exitCode: 3, reason: undefined, verdict: "FAILED" },
    { name: "death by SIGKILL", script: "process.kill(process.pid, 'SIGKILL')", exitCode: 137, reason: "killed by SIGKILL", verdict: "FAILED" },
  ])("$name is reported as EssentialContainerExited with exit code $exitCode", async ({ script, exitCode, reason, verdict }) => {
    const l = launcher({ worker: { command: [NODE, "-e", script] } });
    const arn = await launch(l, request());
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped).toMatchObject({ lastStatus: "STOPPED", desiredStatus: "STOPPED", stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited" });
    expect(stopped.containers).toEqual([{ name: "worker", lastStatus: "STOPPED", exitCode, ...(reason ? { reason } : {}) }]);
    expect(classifyStop(stopped).status).toBe(verdict);
  });

  it("PROVISIONING, RUNNING and STOPPED come in version order, each parsing as an ECS task state change", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", "setTimeout(() => {}, 50)"] } });
    const req = request({ environment: { A: "1" }, container: "app", cpu: "512" });
    const arn = await launch(l, req);
    await stoppedEvent(arn);
    const seen = eventsOf(arn);
    expect(seen.map((e) => [e.detail.lastStatus, e.detail.version])).toEqual([
      ["PROVISIONING", 1],
      ["RUNNING", 2],
      ["STOPPED", 3],
    ]);
    for (const e of seen) {
      expect(e).toMatchObject({ source: "aws.ecs", "detail-type": "ECS Task State Change", resources: [arn] });
      expect(parsed(e)).toMatchObject({ taskArn: arn, startedBy: req.startedBy, launchType: "FARGATE" });
      expect(e.detail).toMatchObject({
        taskDefinitionArn: "arn:aws:ecs:local:000000000000:task-definition/worker:1",
        clusterArn: "arn:aws:ecs:local:000000000000:cluster/jobs",
        group: "family:worker",
        overrides: req.overrides,
        cpu: "512",
      });
      expect(e.detail.containers[0]?.name).toBe("app");
    }
    const [provisioning, running, stopped] = seen.map((e) => e.detail);
    expect(provisioning?.startedAt).toBeUndefined();
    expect(running?.startedAt).toBeDefined();
    expect(Date.parse(stopped?.stoppedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(running?.startedAt ?? ""));
  });

  it("reports a capacity provider strategy as the capacity provider and its launch type", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", ""] } });
    const arn = await launch(l, request({ launch: { capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT", weight: 1 }] } }));
    expect(parsed(await stoppedEvent(arn))).toMatchObject({ capacityProviderName: "FARGATE_SPOT", launchType: "FARGATE" });
  });

  it.each([
    { name: "a missing program", command: ["berth-no-such-command-x"], cause: /^spawn berth-no-such-command-x ENOENT$/ },
    { name: "a file that is not executable", command: ["./not-executable.sh"], cause: /^spawn \.\/not-executable\.sh EACCES$/ },
    { name: "an argument no process can receive", command: [NODE, "-e", "", "nul\0byte"], cause: /must be a string without null bytes/ },
  ])("$name stops the task with TaskFailedToStart and no exit code", async ({ command, cause }) => {
    writeFileSync(join(dir, "not-executable.sh"), "#!/bin/sh\nexit 0\n", { mode: 0o644 });
    const l = launcher({ worker: { command } });
    const arn = await launch(l, request());
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped.stopCode).toBe("TaskFailedToStart");
    expect(stopped.stoppedReason?.replace(/^CannotStartContainerError: /, "")).toMatch(cause);
    expect(stopped.stoppedReason).toMatch(/^CannotStartContainerError: /);
    expect(stopped.containers?.[0]?.exitCode).toBeUndefined();
    expect(classifyStop(stopped)).toEqual({ status: "FAILED", failureClass: "failed-to-start" });
    expect(eventsOf(arn).map((e) => e.detail.lastStatus)).toEqual(["PROVISIONING", "STOPPED"]);
    expect(l.runningCount()).toBe(0);
  });

  it("delivers one task's events in order even when emit is slow", async () => {
    const order: string[] = [];
    const l = launcher(
      { worker: { command: [NODE, "-e", ""] } },
      {
        emit: async (e) => {
          if (e.detail.lastStatus === "PROVISIONING") await new Promise((r) => setTimeout(r, 150));
          order.push(e.detail.lastStatus);
          events.push(e);
        },
      },
    );
    const arn = await launch(l, request());
    await stoppedEvent(arn);
    expect(order).toEqual(["PROVISIONING", "RUNNING", "STOPPED"]);
  });
});

describe("logs", () => {
  it("appends each attempt's output to <logDir>/<runId>.log between a header and a footer", async () => {
    const runId = newRunId(Date.now(), randomBytes(10));
    const l = launcher({ worker: { command: [NODE, "-e", "console.log('out line'); console.error('err line'); process.exit(2)"] } });
    const first = await launch(l, request({ runId, attempt: 1 }));
    await stoppedEvent(first);
    const second = await launch(l, request({ runId, attempt: 2 }));
    await stoppedEvent(second);
    const log = readFileSync(join(dir, "logs", `${runId}.log`), "utf8");
    const [id1, id2] = [first, second].map((a) => a.slice(a.lastIndexOf("/") + 1));
    const lines = log.trimEnd().split("\n");
    expect(lines).toHaveLength(8);
    expect(lines[0]).toMatch(new RegExp(`^── \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z task ${id1} started: \\[".*","-e",".*"\\] ──$`));
    expect(lines.slice(1, 3).sort()).toEqual(["err line", "out line"]);
    expect(lines[3]).toMatch(new RegExp(`task ${id1} exited with code 2 ──$`));
    expect(lines[4]).toContain(`task ${id2} started`);
    expect(lines[7]).toMatch(new RegExp(`task ${id2} exited with code 2 ──$`));
  });

  it("the footer is written before STOPPED is emitted", async () => {
    const runId = newRunId(Date.now(), randomBytes(10));
    let logAtStop = "";
    const l = launcher(
      { worker: { command: [NODE, "-e", ""] } },
      {
        emit: (e) => {
          if (e.detail.lastStatus === "STOPPED") logAtStop = readFileSync(join(dir, "logs", `${runId}.log`), "utf8");
          events.push(e);
        },
      },
    );
    await stoppedEvent(await launch(l, request({ runId })));
    expect(logAtStop).toMatch(/exited with code 0 ──\n$/);
  });
});

describe("stopTask", () => {
  it("ends the whole process group, grandchildren included, and reports UserInitiated with the reason", async () => {
    const pids = join(dir, "pids");
    const l = launcher({ worker: { command: ["sh", "-c", `sleep 100 & echo $! >> "$PIDS"; sleep 100 & echo $! >> "$PIDS"; echo $$ >> "$PIDS"; wait`], environment: { PIDS: pids } } });
    const arn = await launch(l, request());
    const all = await until("three pids", () => {
      const list = existsSync(pids) ? readFileSync(pids, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];
      return list.length === 3 ? list : undefined;
    });
    expect(all.every(alive)).toBe(true);
    await l.stopTask("jobs", arn, "berth: run timed out after 5s");
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped).toMatchObject({ stopCode: "UserInitiated", stoppedReason: "berth: run timed out after 5s", desiredStatus: "STOPPED" });
    expect(stopped.containers?.[0]).toMatchObject({ exitCode: 143, reason: "killed by SIGTERM" });
    expect(classifyStop(stopped).status).toBe("CANCELLED");
    await until("every process of the group to be gone", () => (all.some(alive) ? undefined : true), 3000);
  });

  it("kills with SIGKILL a task that ignores SIGTERM once the grace period is over", async () => {
    const ready = join(dir, "ready");
    const l = launcher(
      { worker: { command: [NODE, "-e", `process.on("SIGTERM", () => {}); require("fs").writeFileSync(${JSON.stringify(ready)}, ""); setInterval(() => {}, 1000)`] } },
      { stopGraceMs: 300 },
    );
    const arn = await launch(l, request());
    await until("the task to be ready", () => (existsSync(ready) ? true : undefined));
    const asked = Date.now();
    await l.stopTask("jobs", arn, "cancelled by user");
    const stopped = parsed(await stoppedEvent(arn));
    expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
    expect(stopped).toMatchObject({ stopCode: "UserInitiated", stoppedReason: "cancelled by user" });
    expect(stopped.containers?.[0]).toMatchObject({ exitCode: 137, reason: "killed by SIGKILL" });
  });

  it("ends processes a task left behind when its main process exits, as a container's end does", async () => {
    const pids = join(dir, "pids");
    const l = launcher({ worker: { command: ["sh", "-c", `sleep 100 & echo $! > "$PIDS"; exit 0`], environment: { PIDS: pids } } });
    const arn = await launch(l, request());
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped.stopCode).toBe("EssentialContainerExited");
    const pid = Number(readFileSync(pids, "utf8"));
    await until("the background process to be gone", () => (alive(pid) ? undefined : true), 3000);
  });

  it("stopping an unknown or already stopped task is a no-op", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", ""] } });
    const arn = await launch(l, request());
    await stoppedEvent(arn);
    const before = events.length;
    await l.stopTask("jobs", arn, "late");
    await l.stopTask("jobs", "arn:aws:ecs:local:000000000000:task/jobs/0123456789abcdef0123456789abcdef", "unknown");
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(before);
    expect(parsed(events.at(-1) as TaskEvent).stopCode).toBe("EssentialContainerExited");
  });
});

describe("describeTasks", () => {
  it("reports running and stopped tasks it started and everything else as missing", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", "setInterval(() => {}, 1000)"] }, quick: { command: [NODE, "-e", ""] } });
    const running = await launch(l, request());
    const quick = await launch(l, request({ taskDefinition: "quick" }));
    await stoppedEvent(quick);
    await until("RUNNING", () => eventsOf(running).find((e) => e.detail.lastStatus === "RUNNING"));
    const other = launcher({ worker: { command: [NODE, "-e", ""] } });
    const foreign = await launch(other, request());
    const unknown = "arn:aws:ecs:local:000000000000:task/jobs/ffffffffffffffffffffffffffffffff";

    const { tasks, missing } = await l.describeTasks("jobs", [running, quick, foreign, unknown]);
    expect(tasks.map((t) => [t.taskArn, t.lastStatus])).toEqual([
      [running, "RUNNING"],
      [quick, "STOPPED"],
    ]);
    expect(tasks[1]).toMatchObject({ stopCode: "EssentialContainerExited", containers: [{ name: "quick", exitCode: 0, lastStatus: "STOPPED" }] });
    expect(missing).toEqual([foreign, unknown]);
    expect((await l.describeTasks("other-cluster", [running])).missing).toEqual([running]);

    await l.stopTask("jobs", running, "done looking");
    const [stopping] = (await l.describeTasks("jobs", [running])).tasks;
    expect(stopping?.desiredStatus).toBe("STOPPED");
  });
});

describe("stopAll", () => {
  it("stops every running task and resolves after their STOPPED events", async () => {
    const l = launcher({ worker: { command: ["sh", "-c", "sleep 100 & wait"] } });
    const arns = await Promise.all([launch(l, request()), launch(l, request()), launch(l, request())]);
    await until("all RUNNING", () => (arns.every((a) => eventsOf(a).some((e) => e.detail.lastStatus === "RUNNING")) ? true : undefined));
    expect(l.runningCount()).toBe(3);
    await l.stopAll("berth dev interrupted");
    expect(l.runningCount()).toBe(0);
    for (const arn of arns) {
      const stopped = eventsOf(arn).find((e) => e.detail.lastStatus === "STOPPED");
      expect(stopped?.detail).toMatchObject({ stopCode: "UserInitiated", stoppedReason: "berth dev interrupted" });
    }
  });

  it("with nothing running resolves at once", async () => {
    const l = launcher({ worker: { command: [NODE, "-e", ""] } });
    await l.stopAll("nothing");
    expect(l.runningCount()).toBe(0);
  });
});

describe("engine: docker", () => {
  let savedPath: string | undefined;
  beforeEach(() => {
    savedPath = process.env.PATH;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  /** A `docker` on PATH whose `info` exits with `infoExit` and whose `run` records its argv. */
  function fakeDocker(infoExit: number): string {
    const bin = join(dir, "bin");
    const record = join(dir, "docker-argv.json");
    rmSync(bin, { recursive: true, force: true });
    writeFileSync(join(dir, "fake-docker.cjs"), `
const args = process.argv.slice(2);
if (args[0] === "info") { if (${infoExit} !== 0) console.error("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"); process.exit(${infoExit}); }
if (args[0] === "run") require("fs").writeFileSync(${JSON.stringify(record)}, JSON.stringify(args));
`);
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "docker"), `#!/bin/sh\nexec "${NODE}" "${join(dir, "fake-docker.cjs")}" "$@"\n`);
    chmodSync(join(bin, "docker"), 0o755);
    process.env.PATH = `${bin}:${savedPath ?? ""}`;
    return record;
  }

  it("without a reachable engine, runTask fails as invalid and says to use engine: process", async () => {
    fakeDocker(1);
    const l = launcher({ worker: { command: ["thumb"], image: "thumbnailer:latest" } }, { engine: "docker" });
    const out = await l.runTask(request());
    expect(out).toEqual({
      ok: false,
      failure: {
        kind: "invalid",
        retryable: false,
        message:
          "the docker engine is not reachable (docker info: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?): start it, or set local.engine: process in berth.yml to run tasks as local processes",
      },
    });
    expect(events).toEqual([]);
  });

  it("a task definition without an image fails as invalid", async () => {
    fakeDocker(0);
    const l = launcher({ worker: { command: ["thumb"] } }, { engine: "docker" });
    const out = await l.runTask(request());
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.failure.message).toContain('local task definition "worker" has no image');
  });

  it("runs the image with the container's environment and the overridden command", async () => {
    const record = fakeDocker(0);
    const l = launcher({ worker: { command: ["thumb"], image: "thumbnailer:latest", environment: { A: "1" } } }, { engine: "docker" });
    const req = request({ command: ["thumb", HOSTILE], environment: { KEY: HOSTILE } });
    const arn = await launch(l, req);
    expect(parsed(await stoppedEvent(arn)).containers?.[0]?.exitCode).toBe(0);
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    expect(JSON.parse(readFileSync(record, "utf8"))).toEqual([
      "run",
      "--rm",
      "--name",
      `berth-${id}`,
      "-e",
      "A=1",
      "-e",
      `KEY=${HOSTILE}`,
      "-e",
      `BERTH_RUN_ID=${req.startedBy.slice("berth/".length)}`,
      "-e",
      `BERTH_TASK_ARN=${arn}`,
      "thumbnailer:latest",
      "thumb",
      HOSTILE,
    ]);
  });

  it("passes the launcher's environment to the container with -e, under the definition's", async () => {
    const record = fakeDocker(0);
    const l = launcher(
      { worker: { command: ["thumb"], image: "thumbnailer:latest", environment: { A: "1" } } },
      { engine: "docker", environment: { BERTH_S3_ROOT: "/srv/s3", A: "runtime-a" } },
    );
    const req = request();
    const arn = await launch(l, req);
    await stoppedEvent(arn);
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    expect(JSON.parse(readFileSync(record, "utf8"))).toEqual([
      "run",
      "--rm",
      "--name",
      `berth-${id}`,
      "-e",
      "BERTH_S3_ROOT=/srv/s3",
      "-e",
      "A=1",
      "-e",
      `BERTH_RUN_ID=${req.startedBy.slice("berth/".length)}`,
      "-e",
      `BERTH_TASK_ARN=${arn}`,
      "thumbnailer:latest",
      "thumb",
    ]);
  });
});
