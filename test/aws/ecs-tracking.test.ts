/**
 * Issue 10, "Tracking and launching as ECS behaves": the engine with the real EcsTaskLauncher, over the real SDK,
 * against the local ECS-protocol endpoint (test/support/fake-ecs.ts). Task events are built from what DescribeTasks
 * answers, which has the shape of an `ECS Task State Change` detail; the sweep reads the same answers itself.
 */
import { ECSClient } from "@aws-sdk/client-ecs";
import { afterEach, describe, expect, it } from "vitest";
import { EcsTaskLauncher } from "../../src/aws/ecs-task-launcher.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { Engine } from "../../src/core/engine/engine.ts";
import { manualRunEvent } from "../../src/core/events/berth-events.ts";
import { MAX_TASK_VERSION, type EcsTaskState } from "../../src/core/events/ecs-task.ts";
import type { LaunchOutcome, TaskLauncher } from "../../src/core/ports.ts";
import { buildRouter } from "../../src/core/router.ts";
import type { Run } from "../../src/core/runs/model.ts";
import { ManualClock, MemoryPublisher, countingBytes, sha256 } from "../support/memory-shell.ts";
import { MemoryRunStore } from "../support/memory-run-store.ts";
import { PROVISIONING_QUOTA, startFakeEcs, type FakeEcs, type FakeEcsOptions } from "../support/fake-ecs.ts";
import { until } from "../support/until.ts";

const CLUSTER = "jobs";
const MIN = 60_000;

const catalogText = (command: string) => `
version: 1
service: acme
defaults:
  cluster: ${CLUSTER}
  network: { subnets: [subnet-1] }
jobs:
  etl:
    on: { manual: true }
    run: { taskDefinition: etl, container: worker, command: [${command}] }
    retry: { attempts: 3, on: [failed-to-start, capacity, "exit:any"], backoff: { initial: 30s } }
`;

let fake: FakeEcs | undefined;
const clients: ECSClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await fake?.close();
  fake = undefined;
});

async function world(options: FakeEcsOptions, opts: { readonly maxAttempts?: number } = {}) {
  fake = await startFakeEcs(options);
  const ecs = fake;
  const store = new MemoryRunStore();
  const clock = new ManualClock();
  const publisher = new MemoryPublisher();
  const client = new ECSClient({
    region: "us-east-1",
    endpoint: ecs.url,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: opts.maxAttempts ?? 3,
  });
  clients.push(client);
  // One send per launch: these tests drive the re-sends (the sweep, a redelivery) themselves.
  const launcher = new EcsTaskLauncher(client, { deadline: (now) => now });
  const engineFor = (command: string, with_: TaskLauncher = launcher) => {
    const loaded = loadCatalog(catalogText(command), "berth.yml");
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
    return new Engine({ router: buildRouter(loaded.catalog), store, launcher: with_, publisher, clock, randomBytes: countingBytes, sha256 });
  };
  let n = 0;
  const start = async (engine: Engine): Promise<Run> => {
    const [outcome] = await engine.dispatch(manualRunEvent({ service: "acme", job: "etl", params: {}, idempotencyKey: `k${++n}` }, { id: `m${n}`, time: 0 }));
    if (outcome?.kind !== "accepted") throw new Error(`not accepted: ${JSON.stringify(outcome)}`);
    return (await store.getRun(outcome.runId))!;
  };
  const described = async (taskArn: string): Promise<EcsTaskState> => {
    const { tasks } = await launcher.describeTasks(CLUSTER, [taskArn]);
    return tasks[0]!;
  };
  const reaching = (taskArn: string, status: string) =>
    until(`task ${taskArn} ${status}`, async () => {
      const task = await described(taskArn);
      return task.lastStatus === status ? task : undefined;
    });
  const stopped = (taskArn: string) => reaching(taskArn, "STOPPED");
  const running = (taskArn: string) => reaching(taskArn, "RUNNING");
  const run = async (id: string) => (await store.getRun(id))!;
  return { ecs, store, clock, launcher, engineFor, start, described, stopped, running, run };
}

/** An `ECS Task State Change` event whose detail is what DescribeTasks answered. */
function eventOf(task: EcsTaskState, detail: Record<string, unknown> = {}): unknown {
  return { version: "0", id: `e-${task.version}`, "detail-type": "ECS Task State Change", source: "aws.ecs", account: "123456789012", time: "2026-03-01T12:00:00Z", region: "us-east-1", resources: [task.taskArn], detail: { ...task, ...detail } };
}

describe("1. RunTask ConflictException: the attempt adopts the task its clientToken already started", () => {
  // "The RunTask request could not be processed due to conflicts. The provided clientToken is already in use with a
  // different RunTask request. The resourceIds are the existing task ARNs which are already associated with the
  // clientToken." (Amazon ECS API Reference, RunTask, Errors: ConflictException; API model ConflictException.resourceIds.)
  it("a catalog deployed between a send and its re-send: the re-send's conflict adopts the running task, which is never stopped", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0 } }, faults: { lostResponses: 1 } }, { maxAttempts: 1 });
    const before = w.engineFor("v1");
    const run = await w.start(before);
    // The task started, the answer was lost: the run awaits its task.
    expect(run.status).toBe("STARTING");
    expect(run.attempts[0]!.taskArn).toBeUndefined();
    const [task] = [...w.ecs.tasks.values()];

    // A new catalog renders a different request for the same attempt; the sweep re-sends it under the same clientToken.
    const after = w.engineFor("v2");
    w.clock.advance(3 * MIN);
    await after.sweep();
    expect(w.ecs.stats.tasksLaunched).toBe(1);
    expect((await w.run(run.id)).attempts[0]).toMatchObject({ taskArn: task!.taskArn, status: "STARTING" });

    const end = await w.stopped(task!.taskArn);
    expect(await after.recordTaskEvent(eventOf(end))).toMatchObject({ kind: "updated", status: "SUCCEEDED" });
    expect(w.ecs.stats.stopTaskCalls).toBe(0);
  });
});

describe("2. the PROVISIONING-tasks quota is a capacity condition", () => {
  // Amazon ECS Developer Guide, "Amazon ECS service quotas" / "Handle Amazon ECS service quotas and API throttling limits":
  // Tasks in the PROVISIONING state per cluster, for capacity providers with managed scaling. RunTask raises it as a
  // ClientException ("Tasks provisioning capacity limit exceeded.", aws/aws-sdk-ruby#3047), not as a failures[] entry.
  it("RunTask's ClientException at the quota waits and retries (retry.on: capacity), then the retry starts the task", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0 } }, faults: { provisioningQuota: 1 } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const waiting = await w.run(run.id);
    expect(waiting).toMatchObject({ status: "RETRY_WAIT" });
    expect(waiting.attempts[0]).toMatchObject({ status: "FAILED", failureClass: "capacity", stoppedReason: PROVISIONING_QUOTA });

    w.clock.advance(MIN);
    await engine.sweep();
    expect((await w.run(run.id)).attempts[1]?.taskArn).toBeDefined();
    expect(w.ecs.stats.tasksLaunched).toBe(1);
  });
});

describe("3. the essential containers decide, from the task definition", () => {
  // ContainerDefinition.essential: "If the essential parameter of a container is marked as true, and that container fails
  // or stops for any reason, all other containers that are part of the task are stopped" (API Reference); the task event
  // does not say which containers are essential, DescribeTaskDefinition does. A container stopped by SIGTERM exits 143.
  it("a sidecar that ECS stops with 143 after the essential container exited 0: the run SUCCEEDED", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0, containers: ["worker", "envoy"], otherExitCodes: { envoy: 143 } } } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const end = await w.stopped(run.attempts[0]!.taskArn!);
    expect(end.containers).toEqual(expect.arrayContaining([expect.objectContaining({ name: "worker", exitCode: 0 }), expect.objectContaining({ name: "envoy", exitCode: 143 })]));
    expect(end.taskDefinitionArn).toMatch(/:task-definition\/etl:1$/);

    expect(await engine.recordTaskEvent(eventOf(end))).toMatchObject({ kind: "updated", status: "SUCCEEDED" });
    expect(await w.run(run.id)).toMatchObject({ status: "SUCCEEDED", exitCode: 0 });
  });

  it("the task definition is looked up once per revision: a second run's stop asks ECS nothing more", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0, containers: ["worker", "envoy"], otherExitCodes: { envoy: 143 } } } });
    const engine = w.engineFor("v1");
    for (let i = 0; i < 2; i++) {
      const run = await w.start(engine);
      const end = await w.stopped(run.attempts[0]!.taskArn!);
      await engine.recordTaskEvent(eventOf(end));
      expect(await w.run(run.id)).toMatchObject({ status: "SUCCEEDED" });
    }
    expect(w.ecs.stats.calls.DescribeTaskDefinition).toBe(1);
  });

  it("a failing essential container fails the run, whatever the sidecar says", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 2, containers: ["worker", "envoy"], otherExitCodes: { envoy: 0 } } } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const end = await w.stopped(run.attempts[0]!.taskArn!);
    await engine.recordTaskEvent(eventOf(end));
    expect((await w.run(run.id)).attempts[0]).toMatchObject({ status: "FAILED", failureClass: "exit:2", exitCode: 2 });
  });

  it("the sweep's DescribeTasks answer is judged by the same essential containers", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0, containers: ["worker", "envoy"], otherExitCodes: { envoy: 143 } } } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    await w.stopped(run.attempts[0]!.taskArn!);
    await engine.sweep({ reconcileAfterMs: 0 });
    expect(await w.run(run.id)).toMatchObject({ status: "SUCCEEDED" });
  });
});

describe("4. stop codes and start failures have deliberate classes", () => {
  // Amazon ECS Developer Guide, "Amazon ECS stopped tasks error codes", "CannotPullContainer task errors" and "Troubleshoot
  // ResourceInitializationError errors": an image that does not exist fails with CannotPullContainerError "... not found",
  // which no retry can fix; a network deadline reaching Secrets Manager or SSM is worth a retry.
  it.each([
    {
      cause: "an image that does not exist fails fast with ECS's reason, no retry spent",
      reason: "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/etl:gone: not found",
      status: "FAILED",
      failureClass: "invalid",
    },
    {
      cause: "a network deadline while fetching secrets is retried",
      reason:
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): RequestCanceled: request context canceled caused by: context deadline exceeded",
      status: "RETRY_WAIT",
      failureClass: "failed-to-start",
    },
  ])("TaskFailedToStart: $cause", async ({ reason, status, failureClass }) => {
    const w = await world({ taskDefinitions: { etl: { failsToStart: reason } } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const end = await w.stopped(run.attempts[0]!.taskArn!);
    expect(end).toMatchObject({ stopCode: "TaskFailedToStart", stoppedReason: reason });
    await engine.recordTaskEvent(eventOf(end));
    const after = await w.run(run.id);
    expect(after.status).toBe(status);
    expect(after.attempts).toHaveLength(1);
    expect(after.attempts[0]).toMatchObject({ failureClass });
    expect(after.reason).toContain(reason.slice(0, 30));
    if (status === "FAILED") expect(after.reason).toContain("not retried");
  });

  // API Reference, Task.stopCode: InfrastructureHealth is one of ECS's stop codes.
  it("InfrastructureHealth is capacity, retried per retry.on, even though the container exited on SIGTERM", async () => {
    const w = await world({ taskDefinitions: { etl: {} } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const taskArn = run.attempts[0]!.taskArn!;
    await w.running(taskArn);
    w.ecs.stopTaskAs(taskArn, "InfrastructureHealth", "Task stopped due to an infrastructure health issue");
    await engine.recordTaskEvent(eventOf(await w.stopped(taskArn)));
    expect(await w.run(run.id)).toMatchObject({ status: "RETRY_WAIT" });
    expect((await w.run(run.id)).attempts[0]).toMatchObject({ failureClass: "capacity", exitCode: 143, stopCode: "InfrastructureHealth" });
  });
});

describe("6. a task event's version is bounded, and DescribeTasks wins over it", () => {
  it("an event whose version is beyond any real task's is rejected and changes nothing", async () => {
    const w = await world({ taskDefinitions: { etl: {} } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const live = await w.running(run.attempts[0]!.taskArn!);
    const before = await w.run(run.id);
    const outcome = await engine.recordTaskEvent(eventOf(live, { version: 9_007_199_254_740_000 }));
    expect(outcome).toMatchObject({ kind: "rejected", reason: expect.stringContaining(`between 0 and ${MAX_TASK_VERSION}`) });
    expect(await w.run(run.id)).toEqual(before);
  });

  it("a forged event with a large version makes the real end stale, and the sweep's DescribeTasks ends the run anyway", async () => {
    // Runs until the test ends it, so the forged snapshot is of a running task.
    const w = await world({ taskDefinitions: { etl: {} } });
    const engine = w.engineFor("v1");
    const run = await w.start(engine);
    const taskArn = run.attempts[0]!.taskArn!;
    const live = await w.running(taskArn);
    expect(await engine.recordTaskEvent(eventOf(live, { version: MAX_TASK_VERSION }))).toMatchObject({ kind: "updated", status: "RUNNING" });

    w.ecs.finishTask(taskArn, 0);
    const end = await w.stopped(taskArn);
    expect(await engine.recordTaskEvent(eventOf(end))).toMatchObject({ kind: "stale", status: "RUNNING" });
    w.clock.advance(6 * MIN);
    await engine.sweep();
    expect(await w.run(run.id)).toMatchObject({ status: "SUCCEEDED", exitCode: 0 });
    expect((await w.run(run.id)).attempts[0]!.lastEventVersion).toBe(end.version);
  });
});

/** A launcher whose first RunTask waits at a gate: the owner of a launch still waiting for ECS's answer. */
function gated(inner: TaskLauncher): { readonly launcher: TaskLauncher; readonly open: () => void; readonly entered: Promise<void> } {
  let open!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const inside = new Promise<void>((r) => (entered = r));
  let first = true;
  const launcher: TaskLauncher = {
    async runTask(request): Promise<LaunchOutcome> {
      if (first) {
        first = false;
        entered();
        await gate;
      }
      return inner.runTask(request);
    },
    stopTask: (cluster, taskArn, reason) => inner.stopTask(cluster, taskArn, reason),
    describeTasks: (cluster, taskArns) => inner.describeTasks(cluster, taskArns),
  };
  return { launcher, open, entered: inside };
}

describe("7. only the delivery that owns a launch sends RunTask", () => {
  // RunTask is throttled per account and Region with a token bucket (Amazon ECS API Reference, "Request throttling for
  // the Amazon ECS API"): every re-send of a launch in flight spends the rate other runs need.
  it("duplicate deliveries while the owner's RunTask is in flight send none; the run gets its one task", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0 } } });
    const gate = gated(w.launcher);
    const engine = w.engineFor("v1", gate.launcher);
    const event = manualRunEvent({ service: "acme", job: "etl", params: {}, idempotencyKey: "once" }, { id: "m-once", time: 0 });
    const owner = engine.dispatch(event);
    await gate.entered;
    const duplicates = await Promise.all(Array.from({ length: 5 }, () => engine.dispatch(event)));
    expect(duplicates.flat().map((o) => o.kind)).toEqual(Array(5).fill("duplicate"));
    expect(w.ecs.stats.runTaskCalls).toBe(0);

    gate.open();
    const [accepted] = await owner;
    expect(w.ecs.stats.runTaskCalls).toBe(1);
    expect((await w.run((accepted as { runId: string }).runId)).attempts[0]!.taskArn).toBe([...w.ecs.tasks.keys()][0]);
  });

  it("a duplicate delivery after the owner had the sweep's relaunch wait re-sends the same clientToken, and ECS starts no second task", async () => {
    const w = await world({ taskDefinitions: { etl: { exitCode: 0 } }, faults: { lostResponses: 1 } }, { maxAttempts: 1 });
    const engine = w.engineFor("v1");
    const event = manualRunEvent({ service: "acme", job: "etl", params: {}, idempotencyKey: "late" }, { id: "m-late", time: 0 });
    const [first] = await engine.dispatch(event);
    await engine.dispatch(event);
    expect(w.ecs.stats.runTaskCalls).toBe(1);
    w.clock.advance(2 * MIN);
    await engine.dispatch(event);
    expect(w.ecs.stats).toMatchObject({ runTaskCalls: 2, tasksLaunched: 1, idempotentReplays: 1 });
    expect((await w.run((first as { runId: string }).runId)).attempts[0]!.taskArn).toBe([...w.ecs.tasks.keys()][0]);
  });
});
