import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LocalService } from "../../src/core/catalog/types.ts";
import type { DeployPlan } from "../../src/core/ecs/deploy-plan.ts";
import { clusterOfTaskArn, parseTaskStateEvent, type EcsTaskState } from "../../src/core/events/ecs-task.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import { clientTokenFor, newRunId, startedByFor } from "../../src/core/ids.ts";
import { classifyStop } from "../../src/core/runs/task-state.ts";
import { freePort, LocalServiceDeployer, type LocalServiceDeployerOptions } from "../../src/local/service-deployer.ts";
import type { EcsTaskStateChangeDetail } from "../../src/local/task-events.ts";
import { alive } from "../support/processes.ts";

const NODE = process.execPath;
const FIXTURES = resolve("test/fixtures/services");
const WEB = [NODE, join(FIXTURES, "web.mjs")];
const WORKER = [NODE, join(FIXTURES, "worker.mjs")];
const IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";
/** Health commands: exit 0 once the version's PORT accepts a connection; fail for a "sick" image. */
const CONNECT = `require("net").connect(Number(process.env.PORT), "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))`;
const SICK = `if (String(process.env.BERTH_IMAGE).includes("sick")) { console.error("not ready: " + process.env.BERTH_IMAGE); process.exit(2) }`;

type TaskEvent = BusEvent<EcsTaskStateChangeDetail>;

let dir: string;
let stateDir: string;
let events: TaskEvent[];
let deployers: LocalServiceDeployer[];
let blockers: Server[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-services-"));
  stateDir = join(dir, "state");
  mkdirSync(stateDir);
  events = [];
  deployers = [];
  blockers = [];
});

afterEach(async () => {
  await Promise.all(deployers.map((d) => d.stopAll("test over")));
  await Promise.all(blockers.map((b) => new Promise((r) => b.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

function deployer(services: Record<string, Partial<LocalService>>, options: Partial<LocalServiceDeployerOptions> = {}): LocalServiceDeployer {
  const defs: Record<string, LocalService> = {};
  for (const [name, s] of Object.entries(services)) defs[name] = { command: WEB, environment: { STATE_DIR: stateDir }, ...s };
  const d = new LocalServiceDeployer({
    catalog: { local: { engine: "process", taskDefinitions: {}, services: defs } },
    rootDir: dir,
    logDir: "logs",
    emit: (e) => {
      events.push(e);
    },
    stopGraceMs: 300,
    ...options,
  });
  deployers.push(d);
  return d;
}

function plan(tag: string, service = "web"): DeployPlan {
  return { cluster: "web", service, container: "app", image: `${IMAGE}:${tag}`, rollback: true, tags: [] };
}

function identity(runId = newRunId(Date.now(), randomBytes(10)), attempt = 1) {
  return { runId, attempt, clientToken: clientTokenFor(runId, attempt), startedBy: startedByFor(runId) };
}

async function deploy(d: LocalServiceDeployer, p: DeployPlan, id = identity()): Promise<string> {
  const out = await d.deploy(p, id);
  if (!out.ok) throw new Error(out.failure.message);
  return out.taskArn;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const eventsOf = (arn: string) => events.filter((e) => e.detail.taskArn === arn);
const stoppedEvent = (arn: string) => until(`STOPPED of ${arn}`, () => eventsOf(arn).find((e) => e.detail.lastStatus === "STOPPED"));
const runningEvent = (arn: string) => until(`RUNNING of ${arn}`, () => eventsOf(arn).find((e) => e.detail.lastStatus === "RUNNING"));

function parsed(e: TaskEvent): EcsTaskState {
  const r = parseTaskStateEvent(JSON.parse(JSON.stringify(e)));
  if (!r.ok) throw new Error(r.error.message);
  return r.task;
}

interface Answer {
  readonly image: string;
  readonly version: string;
  readonly service: string;
  readonly pid: number;
}

/** One request on its own connection, so every request goes through the proxy's current routing. */
function ask(port: number): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        try {
          done(JSON.parse(body) as Answer);
        } catch (e) {
          fail(e);
        }
      });
    });
    req.on("error", fail);
  });
}


interface Started {
  readonly image: string;
  readonly pid: number;
  readonly helper?: number;
}

/** Every version a fixture started, as it recorded itself. */
function versionsStarted(): Started[] {
  return readdirSync(stateDir).map((f) => JSON.parse(readFileSync(join(stateDir, f), "utf8")) as Started);
}

const livingImages = () =>
  versionsStarted()
    .filter((v) => alive(v.pid))
    .map((v) => v.image)
    .sort();

async function web(health: LocalService["health"] = { timeout: 5 }, extra: Partial<LocalService> = {}) {
  const port = await freePort();
  const d = deployer({ web: { port, health, ...extra } });
  const [report] = await d.start();
  expect(report).toMatchObject({ service: "web", ok: true, port });
  return { d, port };
}

describe("LocalServiceDeployer.start", () => {
  it("starts the initial version behind the proxy port, with its own PORT and the service's environment", async () => {
    const { d, port } = await web();
    const answer = await ask(port);
    expect(answer).toMatchObject({ image: "initial", service: "web" });
    expect(answer.version).toMatch(/^[0-9a-f]{8}$/);
    expect(d.activePids()).toEqual({ web: answer.pid });
    expect(livingImages()).toEqual(["initial"]);
    expect(readFileSync(join(dir, "logs", "service-web.log"), "utf8")).toContain(`web version ${answer.version} (initial) starting on PORT`);
  });

  it("reports a service whose port is taken and leaves it stopped", async () => {
    const blocker = createServer();
    blockers.push(blocker);
    const port = await new Promise<number>((r) =>
      blocker.listen(0, "127.0.0.1", () => {
        const a = blocker.address();
        r(typeof a === "object" && a !== null ? a.port : 0);
      }),
    );
    const d = deployer({ web: { port } });
    const [report] = await d.start();
    expect(report).toEqual({ service: "web", ok: false, error: `port ${port} of service web is in use: stop what listens there, or change local.services.web.port in berth.yml` });
    expect(versionsStarted()).toEqual([]);
  });

  it("gives every version the deployer's environment, under the service's own", async () => {
    const out = join(dir, "env.json");
    const script = `require("fs").writeFileSync(process.env.OUT, JSON.stringify({ S3: process.env.BERTH_S3_ROOT, A: process.env.A })); setInterval(() => {}, 1000)`;
    const d = deployer({ worker: { command: [NODE, "-e", script], environment: { A: "service-a", OUT: out } } }, { environment: { BERTH_S3_ROOT: "/srv/s3", A: "runtime-a" } });
    expect(await d.start()).toEqual([expect.objectContaining({ service: "worker", ok: true })]);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ S3: "/srv/s3", A: "service-a" });
  });

  it("reports a service whose initial version exits at once", async () => {
    const port = await freePort();
    const d = deployer({ web: { port, command: [NODE, "-e", "process.exit(4)"] } });
    const [report] = await d.start();
    expect(report?.ok).toBe(false);
    expect(report).toMatchObject({ error: expect.stringMatching(/^service web did not start: version [0-9a-f]{8} exited with code 4 before it became healthy/) });
  });
});

describe("LocalServiceDeployer.deploy", () => {
  it("keeps the old version serving until the new one is healthy, then serves the new one and stops the old", async () => {
    const { d, port } = await web();
    const before = await ask(port);
    const id = identity();
    const arn = await deploy(d, plan("slow-abc123"), id);
    expect(arn).toMatch(/^arn:aws:ecs:local:000000000000:task\/web\/deploy-[0-9a-f]{32}$/);
    expect(clusterOfTaskArn(arn)).toBe("web");

    await runningEvent(arn);
    await until("the new version to run", () => versionsStarted().find((v) => v.image.endsWith("slow-abc123")));
    // The new version takes 1.5 s to listen; until it does, the proxy keeps sending requests to the old one.
    expect(livingImages()).toEqual([`${IMAGE}:slow-abc123`, "initial"]);
    expect(await ask(port)).toEqual(before);
    expect(eventsOf(arn).map((e) => e.detail.lastStatus)).toEqual(["RUNNING"]);

    const stopped = parsed(await stoppedEvent(arn));
    const after = await ask(port);
    expect(after.image).toBe(`${IMAGE}:slow-abc123`);
    expect(after.pid).not.toBe(before.pid);
    expect(alive(before.pid)).toBe(false);
    expect(livingImages()).toEqual([`${IMAGE}:slow-abc123`]);

    const states = eventsOf(arn).map(parsed);
    expect(states.map((s) => [s.lastStatus, s.version])).toEqual([
      ["RUNNING", 1],
      ["STOPPED", 2],
    ]);
    for (const s of states) expect(s.startedBy).toBe(id.startedBy);
    expect(stopped).toMatchObject({ stopCode: "EssentialContainerExited", containers: [{ name: "app", exitCode: 0 }] });
    expect(classifyStop(stopped).status).toBe("SUCCEEDED");
    expect((await d.describe([arn])).tasks).toEqual([expect.objectContaining({ taskArn: arn, lastStatus: "STOPPED", version: 2 })]);
  });

  it.each([
    {
      name: "a version that exits at once",
      tag: "crash-1",
      health: { timeout: 5 },
      reason: /^version [0-9a-f]{8} exited with code 3 before it became healthy; rolled back to the previous version; its output is in logs\/service-web\.log$/,
    },
    {
      name: "a version that never listens",
      tag: "mute-1",
      health: { timeout: 1 },
      reason: /^health check failed after 1s: port \d+ \(the new version's PORT\) refused connections \(ECONNREFUSED\); rolled back to the previous version/,
    },
    {
      name: "a version whose health command keeps failing",
      tag: "sick-1",
      health: { timeout: 4, command: [NODE, "-e", `${SICK};${CONNECT}`] },
      reason: /^health check failed after 4s: the health command exited with code 2 \(not ready: .*web:sick-1\); rolled back to the previous version/,
    },
  ])("$name fails the deployment with the reason and the old version keeps serving", async ({ tag, health, reason }) => {
    const { d, port } = await web(health);
    const before = await ask(port);
    const arn = await deploy(d, plan(tag));
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped).toMatchObject({ lastStatus: "STOPPED", stopCode: "EssentialContainerExited", containers: [{ name: "app", exitCode: 1 }] });
    expect(stopped.stoppedReason).toMatch(reason);
    expect(classifyStop(stopped)).toMatchObject({ status: "FAILED", exitCode: 1 });
    expect(await ask(port)).toEqual(before);
    expect(livingImages()).toEqual(["initial"]);
  });

  it("passes a health command once it exits 0 and gives it the new version's PORT", async () => {
    const { d, port } = await web({ timeout: 5, command: [NODE, "-e", CONNECT] });
    const arn = await deploy(d, plan("slow-2"));
    expect(parsed(await stoppedEvent(arn)).containers).toEqual([expect.objectContaining({ exitCode: 0 })]);
    expect((await ask(port)).image).toBe(`${IMAGE}:slow-2`);
  });

  it("answers a repeated clientToken with the first deployment and starts one version", async () => {
    const { d } = await web();
    const id = identity();
    const [a, b] = await Promise.all([deploy(d, plan("v2"), id), deploy(d, plan("v2"), id)]);
    expect(b).toBe(a);
    await stoppedEvent(a);
    expect(await deploy(d, plan("v2"), id)).toBe(a);
    expect(versionsStarted().map((v) => v.image).sort()).toEqual([`${IMAGE}:v2`, "initial"]);
    expect(eventsOf(a).map((e) => e.detail.lastStatus)).toEqual(["RUNNING", "STOPPED"]);
  });

  it("runs deployments of one service one after another, the last one winning", async () => {
    const { d, port } = await web();
    const first = await deploy(d, plan("slow-a"));
    const second = await deploy(d, plan("b"));
    await stoppedEvent(second);
    const order = events.map((e) => `${e.detail.taskArn === first ? "first" : "second"} ${e.detail.lastStatus}`);
    expect(order).toEqual(["first RUNNING", "first STOPPED", "second RUNNING", "second STOPPED"]);
    expect((await ask(port)).image).toBe(`${IMAGE}:b`);
    expect(livingImages()).toEqual([`${IMAGE}:b`]);
  });

  it("refuses a service that local.services does not have", async () => {
    const d = deployer({});
    expect(await d.deploy(plan("v1", "api"), identity())).toEqual({
      ok: false,
      failure: { kind: "invalid", retryable: false, message: 'no local service "api": add local.services.api (command, port) to berth.yml' },
    });
    expect(events).toEqual([]);
  });

  it("deploys a service that start() did not bring up", async () => {
    const port = await freePort();
    const d = deployer({ web: { port, health: { timeout: 5 } } });
    const arn = await deploy(d, plan("v1"));
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped.containers).toEqual([expect.objectContaining({ exitCode: 0 })]);
    expect((await ask(port)).image).toBe(`${IMAGE}:v1`);
  });

  it("swaps a service without a port once the new version stays up, and rolls back one that exits", async () => {
    const d = deployer({ worker: { command: WORKER, health: { timeout: 5 } } });
    expect(await d.start()).toEqual([expect.objectContaining({ service: "worker", ok: true })]);
    const good = await deploy(d, plan("v2", "worker"));
    expect(parsed(await stoppedEvent(good)).containers).toEqual([expect.objectContaining({ exitCode: 0 })]);
    expect(livingImages()).toEqual([`${IMAGE}:v2`]);

    const bad = await deploy(d, plan("crash-3", "worker"));
    const stopped = parsed(await stoppedEvent(bad));
    expect(stopped.containers).toEqual([expect.objectContaining({ exitCode: 1 })]);
    expect(stopped.stoppedReason).toMatch(/exited with code 3 before it became healthy; rolled back to the previous version/);
    expect(livingImages()).toEqual([`${IMAGE}:v2`]);
  });
});

describe("LocalServiceDeployer.stop and describe", () => {
  it("abandons a deployment in progress: the new version is stopped, the old keeps serving, STOPPED is UserInitiated", async () => {
    const { d, port } = await web({ timeout: 20 });
    const before = await ask(port);
    const arn = await deploy(d, plan("mute-4"));
    await runningEvent(arn);
    expect((await d.describe([arn])).tasks).toEqual([expect.objectContaining({ lastStatus: "RUNNING", version: 1 })]);
    await d.stop(arn, "run cancelled by the user");
    const stopped = parsed(await stoppedEvent(arn));
    expect(stopped).toMatchObject({ stopCode: "UserInitiated", stoppedReason: "run cancelled by the user" });
    expect(classifyStop(stopped).status).toBe("CANCELLED");
    expect(await ask(port)).toEqual(before);
    expect(livingImages()).toEqual(["initial"]);
  });

  it("stops a deployment still waiting for the one before it without starting anything", async () => {
    const { d } = await web();
    const first = await deploy(d, plan("slow-5"));
    const second = await deploy(d, plan("never"));
    await d.stop(second, "superseded");
    await stoppedEvent(second);
    expect(eventsOf(second).map(parsed)).toEqual([expect.objectContaining({ lastStatus: "STOPPED", stopCode: "UserInitiated", version: 1 })]);
    await stoppedEvent(first);
    expect(versionsStarted().map((v) => v.image)).not.toContain(`${IMAGE}:never`);
  });

  it("puts ARNs it never issued in missing", async () => {
    const { d } = await web();
    const arn = await deploy(d, plan("v6"));
    const other = "arn:aws:ecs:local:000000000000:task/web/deploy-00000000000000000000000000000000";
    const described = await d.describe([arn, other]);
    expect(described.missing).toEqual([other]);
    expect(described.tasks.map((t) => t.taskArn)).toEqual([arn]);
  });
});

describe("LocalServiceDeployer.stopAll", () => {
  it("leaves no process of any version, even one that ignores SIGTERM or started children, and closes the proxy", async () => {
    const port = await freePort();
    const d = deployer({
      web: { port, health: { timeout: 5 }, environment: { STATE_DIR: stateDir } },
      worker: { command: WORKER, environment: { STATE_DIR: stateDir } },
    });
    await d.start();
    const arn = await deploy(d, plan("helper-stubborn-7"));
    await stoppedEvent(arn);
    const pending = await deploy(d, plan("mute-8"));
    await until("the mute version to run", () => versionsStarted().find((v) => v.image.endsWith("mute-8")));

    await d.stopAll("berth dev stopped");
    expect(parsed(await stoppedEvent(pending))).toMatchObject({ stopCode: "UserInitiated", stoppedReason: "berth dev stopped" });
    const started = versionsStarted();
    expect(started.map((v) => v.image).sort()).toEqual([`${IMAGE}:helper-stubborn-7`, `${IMAGE}:mute-8`, "initial", "initial"]);
    for (const v of started) {
      expect(alive(v.pid)).toBe(false);
      if (v.helper !== undefined) expect(alive(v.helper)).toBe(false);
    }
    await expect(ask(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(await d.deploy(plan("v9"), identity())).toMatchObject({ ok: false, failure: { kind: "invalid" } });
  });
});
