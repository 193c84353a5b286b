import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { Engine } from "../../../src/core/engine/engine.ts";
import { manualRunEvent, runStateChangeEvent, scheduleFiredEvent } from "../../../src/core/events/berth-events.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import type { RunStore } from "../../../src/core/ports.ts";
import type { Run } from "../../../src/core/runs/model.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256, taskEvent } from "../../support/memory-shell.ts";
import { readFileSync } from "node:fs";

const CATALOG = `
version: 1
service: acme
defaults:
  network: { subnets: [subnet-1] }
  retry: { attempts: 1 }
jobs:
  upload:
    on: { s3: { bucket: media, key: { prefix: in/ } } }
    run: { taskDefinition: thumb, container: worker, command: [thumb, "\${s3.key}"] }
    retry: { attempts: 2, on: ["exit:1", capacity], backoff: { initial: 30s } }
  nightly:
    on: { schedule: { cron: "0 3 * * ? *" } }
    run: { taskDefinition: backup }
    concurrency: { max: 1, overlap: forbid }
    timeout: 10m
  report:
    on: { job: { name: nightly } }
    run: { taskDefinition: report, container: r, environment: { UP: "\${upstream.runId}" } }
  one-at-a-time:
    on: { manual: { params: { n: "0" } } }
    run: { taskDefinition: t }
    concurrency: { max: 1, overlap: queue }
  latest-wins:
    on: { manual: true }
    run: { taskDefinition: t }
    concurrency: { max: 1, overlap: replace }
`;

function setup(store: RunStore = new MemoryRunStore()) {
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const clock = new ManualClock();
  const launcher = new MemoryLauncher();
  const publisher = new MemoryPublisher();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store, launcher, publisher, clock, randomBytes: countingBytes, sha256 });
  return { engine, store, launcher, publisher, clock };
}

const s3Event = JSON.parse(readFileSync(new URL("../../../events/s3-object-created.json", import.meta.url), "utf8"));
function upload(key = "in/cat.png", sequencer = "0055AED6DCD90281E5") {
  return { ...s3Event, detail: { ...s3Event.detail, bucket: { name: "media" }, object: { ...s3Event.detail.object, key, sequencer, "version-id": undefined } } };
}
const schedule = (time: string) => scheduleFiredEvent({ service: "acme", job: "nightly", scheduledTime: time }, { id: `sch-${time}`, time: Date.parse(time) });
const manual = (job: string, key: string, params: Record<string, string> = {}) => manualRunEvent({ service: "acme", job, params, idempotencyKey: key }, { id: `m-${key}`, time: 0 });

/** A store whose chosen method writes, then "crashes" once: the Lambda died after that side effect. */
function crashAfter(store: MemoryRunStore, method: "createRun" | "updateRun", when: (run: Run) => boolean): MemoryRunStore {
  let armed = true;
  const original = store[method].bind(store) as (run: Run, v?: number) => Promise<unknown>;
  (store as unknown as Record<string, unknown>)[method] = async (run: Run, v?: number) => {
    const result = await original(run, v);
    if (armed && when(run)) {
      armed = false;
      throw new Error(`injected crash after ${method}`);
    }
    return result;
  };
  return store;
}

describe("dispatch: one occurrence, one task", () => {
  it("the same S3 event delivered 3 times launches one task", async () => {
    const { engine, launcher, store } = setup();
    const outcomes = [await engine.dispatch(upload()), await engine.dispatch(upload()), await engine.dispatch(upload())].flat();
    expect(outcomes.map((o) => o.kind)).toEqual(["accepted", "duplicate", "duplicate"]);
    expect(launcher.tasks.size).toBe(1);
    expect(await store.listRuns({})).toHaveLength(1);
  });

  it("a Lambda retry while the first invocation is still running launches one task", async () => {
    const { engine, launcher } = setup();
    await Promise.all([engine.dispatch(upload()), engine.dispatch(upload()), engine.dispatch(upload())]);
    expect(launcher.tasks.size).toBe(1);
  });

  it("two uploads of the same key (different sequencers) are two runs", async () => {
    const { engine, launcher } = setup();
    await engine.dispatch(upload("in/a.png", "01"));
    await engine.dispatch(upload("in/a.png", "02"));
    expect(launcher.tasks.size).toBe(2);
  });

  it.each([
    ["the run was written", (s: MemoryRunStore) => crashAfter(s, "createRun", () => true), {}],
    ["RunTask returned", (s: MemoryRunStore) => s, { crashAfterLaunch: true }],
    ["the task ARN was stored", (s: MemoryRunStore) => crashAfter(s, "updateRun", (r) => r.attempts[0]?.taskArn !== undefined), {}],
  ])("a crash after %s, then a redelivery, leaves exactly one task and a correct run", async (_what, wrap, launcherFaults) => {
    const { engine, launcher, store, clock } = setup(wrap(new MemoryRunStore()));
    Object.assign(launcher, launcherFaults);
    await expect(engine.dispatch(upload())).rejects.toThrow(/injected crash/);
    // A launch whose task is not stored is the delivery's that began it, until the sweep's relaunch wait has passed.
    clock.advance(2 * 60_000);
    const again = await engine.dispatch(upload());
    expect(again[0]!.kind).toBe("duplicate");
    expect(launcher.tasks.size).toBe(1);
    const [run] = await store.listRuns({});
    expect(run!.status).toBe("STARTING");
    expect(run!.attempts).toHaveLength(1);
    expect(run!.attempts[0]!.taskArn).toBe([...launcher.tasks.keys()][0]);
    expect(new Set([...launcher.byToken.keys()])).toEqual(new Set([run!.attempts[0]!.clientToken]));
  });

  it("renders the hostile S3 key verbatim into the task's command", async () => {
    const { engine, launcher } = setup();
    const key = "in/a b/$(rm -rf ~);'x'.png";
    await engine.dispatch(upload(encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+").replace(/'/g, "%27").replace(/\(/g, "%28").replace(/\)/g, "%29")));
    const [task] = launcher.tasks.values();
    expect(task!.request.overrides?.containerOverrides?.[0]?.command).toEqual(["thumb", key]);
  });
});

describe("tracking", () => {
  it("RUNNING then STOPPED exit 0 ends the run SUCCEEDED, published, and the chained job fires", async () => {
    const { engine, launcher, store, publisher, clock } = setup();
    const [first] = await engine.dispatch(schedule("2026-03-01T03:00:00Z"));
    const task = [...launcher.tasks.values()][0]!;
    await engine.recordTaskEvent(taskEvent(task, "RUNNING", 2));
    const done = await engine.recordTaskEvent(taskEvent(task, "STOPPED", 3, { exitCode: 0 }));
    expect(done).toMatchObject({ kind: "updated", status: "SUCCEEDED" });
    const runId = first!.kind === "accepted" ? first!.runId : "";
    expect(publisher.statuses(runId)).toEqual(["STARTING", "RUNNING", "SUCCEEDED"]);

    const succeeded = publisher.published.find((d) => d.runId === runId && d.status === "SUCCEEDED")!;
    const chained = await engine.dispatch(runStateChangeEvent(succeeded, { id: "rsc-1", time: clock.now() }));
    expect(chained).toMatchObject([{ kind: "accepted", job: "report", status: "STARTING" }]);
    const reportTask = [...launcher.tasks.values()][1]!;
    expect(reportTask.request.overrides?.containerOverrides?.[0]?.environment).toEqual([{ name: "UP", value: runId }]);
    expect((await store.getRun(runId))!.endedAt).toBeDefined();
  });

  it("a crash between storing a run's end and publishing it: the sweep publishes it, and the chained job still fires", async () => {
    const { engine, launcher, store, publisher, clock } = setup();
    const [first] = await engine.dispatch(schedule("2026-03-01T03:00:00Z"));
    const runId = (first as { runId: string }).runId;
    const publish = publisher.publish.bind(publisher);
    let down = true;
    publisher.publish = async (details) => {
      if (down && details.some((d) => d.status === "SUCCEEDED")) throw new Error("injected crash before publishing");
      return publish(details);
    };
    await expect(engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][0]!, "STOPPED", 3, { exitCode: 0 }))).rejects.toThrow(/injected/);
    expect((await store.getRun(runId))!).toMatchObject({ status: "SUCCEEDED" });
    expect((await store.getRun(runId))!.announced).toBeUndefined();
    expect(publisher.statuses(runId)).not.toContain("SUCCEEDED");

    down = false;
    await engine.sweep();
    expect(publisher.statuses(runId)).not.toContain("SUCCEEDED"); // the writer's grace period first
    clock.advance(30_000);
    expect(await engine.sweep()).toMatchObject({ announced: 1 });
    expect(publisher.statuses(runId)).toContain("SUCCEEDED");
    expect((await store.getRun(runId))!.announced).toBe(true);
    expect(await store.listOpenRuns()).toEqual([]);

    const succeeded = publisher.published.find((d) => d.runId === runId && d.status === "SUCCEEDED")!;
    expect(await engine.dispatch(runStateChangeEvent(succeeded, { id: "late", time: clock.now() }))).toMatchObject([{ kind: "accepted", job: "report" }]);
  });

  it("a failing task is retried per policy, then FAILED with its exit code", async () => {
    const { engine, launcher, store, clock } = setup();
    const [o] = await engine.dispatch(upload());
    const runId = (o as { runId: string }).runId;
    await engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][0]!, "STOPPED", 3, { exitCode: 1 }));
    expect((await store.getRun(runId))!.status).toBe("RETRY_WAIT");
    await engine.sweep();
    expect(launcher.tasks.size).toBe(1); // backoff not over yet
    clock.advance(30_000);
    await engine.sweep();
    expect(launcher.tasks.size).toBe(2);
    await engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][1]!, "STOPPED", 3, { exitCode: 1 }));
    const run = (await store.getRun(runId))!;
    expect(run).toMatchObject({ status: "FAILED", exitCode: 1 });
    expect(run.attempts.map((a) => a.exitCode)).toEqual([1, 1]);
  });

  it("a task berth does not know, a foreign task and a malformed event change nothing", async () => {
    const { engine, store } = setup();
    const foreign = taskEvent({ taskArn: "arn:aws:ecs:us-east-1:1:task/c/x", request: { startedBy: "ecs-svc/123" } as never }, "RUNNING", 1);
    expect(await engine.recordTaskEvent(foreign)).toMatchObject({ kind: "ignored" });
    const unknown = taskEvent({ taskArn: "arn:aws:ecs:us-east-1:1:task/c/y", request: { startedBy: "berth/01JDQ8Z3X5M1V6K7R2T9ABCDEF" } as never }, "RUNNING", 1);
    expect(await engine.recordTaskEvent(unknown)).toMatchObject({ kind: "ignored" });
    for (const bad of [null, "x", { source: "aws.ecs", "detail-type": "ECS Task State Change", detail: { taskArn: 5 } }, { source: "aws.s3" }]) {
      expect(await engine.recordTaskEvent(bad)).toMatchObject({ kind: "rejected" });
    }
    expect(await store.listRuns({})).toEqual([]);
  });
});

describe("launch failures are recorded in the run history", () => {
  it("an invalid request fails the run with AWS's message and no retry", async () => {
    const { engine, launcher, store } = setup();
    launcher.failNext = [{ kind: "invalid", retryable: false, message: "ClientException: Unable to find task definition 'thumb'" }];
    const [o] = await engine.dispatch(upload());
    const run = (await store.getRun((o as { runId: string }).runId))!;
    expect(run.status).toBe("FAILED");
    expect(run.reason).toContain("Unable to find task definition");
  });

  it("a capacity shortage waits and retries", async () => {
    const { engine, launcher, store } = setup();
    launcher.failNext = [{ kind: "capacity", retryable: true, message: "RESOURCE:MEMORY" }];
    const [o] = await engine.dispatch(upload());
    expect((await store.getRun((o as { runId: string }).runId))!.status).toBe("RETRY_WAIT");
  });

  it("throttling past the SDK's retries leaves the run STARTING; the sweep re-sends the same clientToken", async () => {
    const { engine, launcher, store, clock } = setup();
    launcher.failNext = [{ kind: "throttled", retryable: true, message: "Rate exceeded" }];
    const [o] = await engine.dispatch(upload());
    expect(o).toMatchObject({ kind: "accepted", status: "STARTING", deferred: true });
    clock.advance(2 * 60_000);
    await engine.sweep();
    const run = (await store.getRun((o as { runId: string }).runId))!;
    expect(run.attempts[0]!.taskArn).toBeDefined();
    expect(launcher.tasks.size).toBe(1);
  });
});

describe("concurrency", () => {
  it("overlap forbid skips a run while one is active", async () => {
    const { engine } = setup();
    await engine.dispatch(schedule("2026-03-01T03:00:00Z"));
    const [second] = await engine.dispatch(schedule("2026-03-02T03:00:00Z"));
    expect(second).toMatchObject({ kind: "accepted", status: "SKIPPED" });
    expect((second as { reason: string }).reason).toMatch(/overlap is forbid/);
  });

  it("overlap queue starts the next run when the slot frees", async () => {
    const { engine, launcher, store } = setup();
    await engine.dispatch(manual("one-at-a-time", "a"));
    const [second] = await engine.dispatch(manual("one-at-a-time", "b"));
    expect(second).toMatchObject({ status: "QUEUED" });
    await engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][0]!, "STOPPED", 2, { exitCode: 0 }));
    expect((await store.getRun((second as { runId: string }).runId))!.status).toBe("STARTING");
    expect(launcher.tasks.size).toBe(2);
  });

  it("ten dispatches racing for one slot start exactly one run", async () => {
    const { engine, store } = setup();
    await Promise.all(Array.from({ length: 10 }, (_, i) => engine.dispatch(manual("one-at-a-time", `k${i}`))));
    const runs = await store.listRuns({ job: "one-at-a-time" });
    expect(runs.filter((r) => r.status === "STARTING")).toHaveLength(1);
    expect(runs.filter((r) => r.status === "QUEUED")).toHaveLength(9);
  });

  it("a run that ends frees its job's slot; a job without a limit has none to free (no write spent on it)", async () => {
    const { engine, launcher, store } = setup();
    const released: string[] = [];
    const release = store.releaseSlot.bind(store);
    store.releaseSlot = async (job, runId) => {
      released.push(job);
      return release(job, runId);
    };
    await engine.dispatch(upload());
    await engine.dispatch(manual("one-at-a-time", "a"));
    for (const task of launcher.tasks.values()) await engine.recordTaskEvent(taskEvent(task, "STOPPED", 2, { exitCode: 0 }));
    expect(released).toEqual(["one-at-a-time"]);
    expect(await store.slotHolders("one-at-a-time")).toEqual([]);
  });

  it("overlap replace cancels the running run, stops its task and starts the new one", async () => {
    const { engine, launcher, store } = setup();
    const [a] = await engine.dispatch(manual("latest-wins", "a"));
    const [b] = await engine.dispatch(manual("latest-wins", "b"));
    expect((await store.getRun((a as { runId: string }).runId))!.status).toBe("CANCELLED");
    expect(b).toMatchObject({ status: "STARTING" });
    expect([...launcher.tasks.values()][0]!.stopped).toMatch(/replaced by run/);
  });
});

describe("the sweep", () => {
  it("times out a run past its timeout and stops its task", async () => {
    const { engine, launcher, store, clock } = setup();
    const [o] = await engine.dispatch(schedule("2026-03-01T03:00:00Z"));
    await engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][0]!, "RUNNING", 2));
    clock.advance(10 * 60_000);
    await engine.sweep();
    expect((await store.getRun((o as { runId: string }).runId))!.status).toBe("TIMED_OUT");
    expect([...launcher.tasks.values()][0]!.stopped).toBeDefined();
  });

  it("fails a run whose task ECS no longer knows", async () => {
    const { engine, launcher, store, clock } = setup();
    const [o] = await engine.dispatch(upload());
    await engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][0]!, "RUNNING", 2));
    clock.advance(6 * 60_000);
    await engine.sweep();
    const run = (await store.getRun((o as { runId: string }).runId))!;
    expect(run.attempts[0]!.stoppedReason).toMatch(/ECS no longer knows task/);
  });

  it("two overlapping sweeps launch a due retry once", async () => {
    const { engine, launcher, clock } = setup();
    await engine.dispatch(upload());
    await engine.recordTaskEvent(taskEvent([...launcher.tasks.values()][0]!, "STOPPED", 2, { exitCode: 1 }));
    clock.advance(60_000);
    await Promise.all([engine.sweep(), engine.sweep()]);
    expect(launcher.tasks.size).toBe(2);
  });
});

describe("bad input", () => {
  it.each([
    ["not an object", 42],
    ["no source", { "detail-type": "x", detail: {} }],
    ["an S3 event with a broken key encoding", upload("in/%zz.png")],
  ])("%s is rejected without a store write", async (_what, event) => {
    const { engine, store, launcher } = setup();
    const out = await engine.dispatch(event);
    expect(out.every((o) => o.kind === "rejected")).toBe(true);
    expect(await store.listRuns({})).toEqual([]);
    expect(launcher.runTaskCalls).toBe(0);
  });

  it("an event for a job it does not match is rejected", async () => {
    const { engine } = setup();
    expect(await engine.dispatch(upload(), "nightly")).toMatchObject([{ kind: "rejected", reason: expect.stringMatching(/does not match/) }]);
  });
});
