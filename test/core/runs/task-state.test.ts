import { describe, expect, it } from "vitest";
import { clientTokenFor } from "../../../src/core/ids.ts";
import type { Effect } from "../../../src/core/runs/effects.ts";
import { cancelRun, recordLaunch, startRetry } from "../../../src/core/runs/lifecycle.ts";
import type { Run, RunPolicy } from "../../../src/core/runs/model.ts";
import { classifyStop, recordTaskState, type TaskStateOutcome } from "../../../src/core/runs/task-state.ts";
import { type EcsTaskState } from "../../../src/core/events/ecs-task.ts";
import {
  MIN,
  SEC,
  T0,
  TASK_ARN,
  TASK_ARN_2,
  container,
  permutations,
  retryPolicy,
  runPolicy,
  startingRun,
  taskEvent,
} from "./fixtures.ts";

function launched(policy: RunPolicy = runPolicy()): Run {
  const step = recordLaunch(startingRun(policy), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, policy);
  if (!step.ok) throw step.error;
  return step.run;
}

interface Applied {
  run: Run;
  effects: Effect[];
  outcomes: TaskStateOutcome[];
}

/** Applies events in order, each a second after the last on a manual clock. */
function apply(run: Run, events: readonly EcsTaskState[], policy: RunPolicy, start = T0 + 10 * SEC): Applied {
  const effects: Effect[] = [];
  const outcomes: TaskStateOutcome[] = [];
  events.forEach((event, i) => {
    const result = recordTaskState(run, event, start + i * SEC, policy);
    run = result.run;
    effects.push(...result.effects);
    outcomes.push(result.outcome);
  });
  return { run, effects, outcomes };
}

/** The run as a user sees it: without the store's bookkeeping (version, updatedAt). */
function finalState(run: Run): Omit<Run, "version" | "updatedAt"> {
  const { version: _v, updatedAt: _u, ...rest } = run;
  return rest;
}

function published(effects: readonly Effect[]): string[] {
  return effects.flatMap((e) => (e.type === "publish" ? [e.detail.status] : []));
}

const PENDING = taskEvent("PENDING", 1);
const RUNNING = taskEvent("RUNNING", 2);
const STOPPED_OK = taskEvent("STOPPED", 3);
const STOPPED_FAIL = taskEvent("STOPPED", 3, { containers: [container("worker", 1)] });

describe("recordTaskState: arrival order does not change the final run", () => {
  const cases = [
    { name: "exit 0", stopped: STOPPED_OK, policy: runPolicy(), status: "SUCCEEDED", exitCode: 0 },
    {
      name: "exit 1 with retry.attempts 1",
      stopped: STOPPED_FAIL,
      policy: runPolicy({ retry: retryPolicy({ attempts: 1, on: ["exit:any"] }) }),
      status: "FAILED",
      exitCode: 1,
    },
  ];

  describe.each(cases)("a task ending with $name", ({ stopped, policy, status, exitCode }) => {
    const base = [PENDING, RUNNING, stopped];
    const reference = apply(launched(policy), base, policy);

    it(`in order, the run ends ${status} having passed through PENDING and RUNNING`, () => {
      expect(reference.run.status).toBe(status);
      expect(reference.run.exitCode).toBe(exitCode);
      expect(reference.run.endedAt).toBe(Date.parse("2025-03-01T12:05:00.000Z"));
      expect(reference.run.attempts).toHaveLength(1);
      expect(reference.run.attempts[0]).toMatchObject({
        status,
        taskArn: TASK_ARN,
        lastEventVersion: 3,
        exitCode,
        startedAt: Date.parse("2025-03-01T12:00:40.000Z"),
        stoppedAt: Date.parse("2025-03-01T12:05:00.000Z"),
        stopCode: "EssentialContainerExited",
      });
      expect(published(reference.effects)).toEqual(["PENDING", "RUNNING", status]);
      expect(reference.outcomes).toEqual(["updated", "updated", "updated"]);
    });

    const orders = base.flatMap((duplicate) => permutations([...base, duplicate]).map((events) => ({ events, duplicate })));
    it.each(orders.map(({ events, duplicate }) => ({
      label: events.map((e) => `${e.lastStatus}v${e.version}`).join(" → "),
      dup: `${duplicate.lastStatus}v${duplicate.version}`,
      events,
    })))("$label (duplicate $dup)", ({ events }) => {
      const result = apply(launched(policy), events, policy);
      expect(finalState(result.run)).toEqual(finalState(reference.run));
      // Exactly one final publish and one freed slot, whatever the order.
      expect(published(result.effects).filter((s) => s === status)).toHaveLength(1);
      expect(result.effects.filter((e) => e.type === "start-queued")).toHaveLength(1);
      expect(published(result.effects).at(-1)).toBe(status);
      // The repeated event (and any older snapshot arriving late) is ignored.
      expect(result.outcomes.filter((o) => o === "duplicate" || o === "stale").length).toBeGreaterThanOrEqual(1);
      expect(result.outcomes.filter((o) => o === "updated").length).toBeLessThanOrEqual(3);
    });
  });
});

describe("recordTaskState", () => {
  const policy = runPolicy();

  it.each([
    { event: taskEvent("PROVISIONING", 1), status: "PROVISIONING" },
    { event: taskEvent("PENDING", 1), status: "PENDING" },
    { event: taskEvent("ACTIVATING", 1), status: "PENDING" },
    { event: taskEvent("RUNNING", 1), status: "RUNNING" },
  ])("$event.lastStatus moves a STARTING run to $status and publishes it", ({ event, status }) => {
    const result = recordTaskState(launched(), event, T0 + 5 * SEC, policy);
    expect(result.outcome).toBe("updated");
    expect(result.run.status).toBe(status);
    expect(result.run.attempts[0]?.status).toBe(status);
    expect(result.effects).toEqual([
      {
        type: "publish",
        detail: expect.objectContaining({ status, runId: result.run.id, attempt: 1, taskArn: TASK_ARN, job: "thumbnails", service: "acme-jobs" }),
      },
    ]);
  });

  it.each(["DEACTIVATING", "STOPPING", "DEPROVISIONING"])("%s keeps the run RUNNING but records the version", (lastStatus) => {
    const running = recordTaskState(launched(), RUNNING, T0 + 5 * SEC, policy).run;
    const result = recordTaskState(running, taskEvent(lastStatus, 3), T0 + 6 * SEC, policy);
    expect(result.run.status).toBe("RUNNING");
    expect(result.run.attempts[0]?.lastEventVersion).toBe(3);
    expect(result.effects).toEqual([]);
    expect(recordTaskState(result.run, RUNNING, T0 + 7 * SEC, policy).outcome).toBe("stale");
  });

  it("RUNNING after STOPPED (an older snapshot) is stale and changes nothing", () => {
    const done = recordTaskState(launched(), STOPPED_OK, T0 + 5 * SEC, policy).run;
    const late = recordTaskState(done, RUNNING, T0 + 6 * SEC, policy);
    expect(late).toEqual({ run: done, effects: [], outcome: "stale" });
  });

  it("a repeated event is a duplicate and changes nothing", () => {
    const running = recordTaskState(launched(), RUNNING, T0 + 5 * SEC, policy).run;
    expect(recordTaskState(running, RUNNING, T0 + 6 * SEC, policy)).toEqual({ run: running, effects: [], outcome: "duplicate" });
  });

  it("a newer snapshot asking to move backwards is stale", () => {
    const running = recordTaskState(launched(), RUNNING, T0 + 5 * SEC, policy).run;
    const odd = recordTaskState(running, taskEvent("PENDING", 7), T0 + 6 * SEC, policy);
    expect(odd.outcome).toBe("stale");
    expect(odd.run).toBe(running);
  });

  it("an event for a task no attempt owns is an unknown task", () => {
    const result = recordTaskState(launched(), taskEvent("RUNNING", 2, { taskArn: TASK_ARN_2 }), T0 + 5 * SEC, policy);
    expect(result.outcome).toBe("unknown-task");
    expect(result.effects).toEqual([]);
  });

  it("an event that overtakes the RunTask response adopts the task for the current attempt", () => {
    const result = recordTaskState(startingRun(), RUNNING, T0 + 5 * SEC, policy);
    expect(result.run.attempts[0]).toMatchObject({ taskArn: TASK_ARN, status: "RUNNING" });
    const then = recordLaunch(result.run, 1, { ok: true, taskArn: TASK_ARN }, T0 + 6 * SEC, policy);
    expect(then).toEqual({ ok: true, run: result.run, effects: [] });
  });

  it("a STOPPED for a run berth already cancelled keeps CANCELLED and adds what ECS reported", () => {
    const running = recordTaskState(launched(), RUNNING, T0 + 5 * SEC, policy).run;
    const cancelled = cancelRun(running, T0 + 6 * SEC, "cancelled by alice");
    if (!cancelled.ok) throw cancelled.error;
    const stopped = taskEvent("STOPPED", 3, { stopCode: "UserInitiated", stoppedReason: "berth: cancelled by alice", containers: [container("worker", 143)] });
    const result = recordTaskState(cancelled.run, stopped, T0 + 7 * SEC, policy);
    expect(result.outcome).toBe("updated");
    expect(result.effects).toEqual([]);
    expect(result.run.status).toBe("CANCELLED");
    expect(result.run.attempts[0]).toMatchObject({
      status: "CANCELLED",
      failureClass: "cancelled",
      exitCode: 143,
      stopCode: "UserInitiated",
      stoppedAt: Date.parse("2025-03-01T12:05:00.000Z"),
    });
  });

  it.each([
    { desiredStatus: "RUNNING", stops: true },
    { desiredStatus: "STOPPED", stops: false },
  ])("a live task of an attempt berth already ended is stopped unless already stopping (desired $desiredStatus)", ({ desiredStatus, stops }) => {
    // The run was cancelled before the RunTask response was stored; the task then reports in.
    const cancelled = cancelRun(startingRun(), T0 + SEC, "cancelled by alice");
    if (!cancelled.ok) throw cancelled.error;
    const result = recordTaskState(cancelled.run, taskEvent("RUNNING", 2, { desiredStatus }), T0 + 2 * SEC, policy);
    expect(result.run.status).toBe("CANCELLED");
    expect(result.run.attempts[0]?.taskArn).toBe(TASK_ARN);
    expect(result.effects).toEqual(stops ? [expect.objectContaining({ type: "stop", taskArn: TASK_ARN })] : []);
  });

  it("a failure with attempts left waits for a retry, and the next attempt gets a new task and token", () => {
    const retrying = runPolicy({ retry: retryPolicy({ attempts: 3, on: ["exit:any"] }) });
    const now = T0 + 5 * MIN;
    const failed = recordTaskState(launched(retrying), STOPPED_FAIL, now, retrying);
    expect(failed.run).toMatchObject({ status: "RETRY_WAIT", nextLaunch: "primary", exitCode: 1 });
    // A 30 s backoff, jittered into its upper half (runs/retry.ts).
    expect(failed.run.nextAttemptAt).toBeGreaterThanOrEqual(now + 15 * SEC);
    expect(failed.run.nextAttemptAt).toBeLessThanOrEqual(now + 30 * SEC);
    expect(failed.run.reason).toMatch(/^attempt 1 failed: exit:1 \(Essential container in task exited\); attempt 2 at /);
    expect(failed.effects).toEqual([{ type: "publish", detail: expect.objectContaining({ status: "RETRY_WAIT", exitCode: 1 }) }]);

    const retry = startRetry(failed.run, now + 30 * SEC, retrying);
    if (!retry.ok) throw retry.error;
    expect(retry.run.status).toBe("STARTING");
    expect(retry.run.attempts[1]).toMatchObject({ number: 2, status: "STARTING", clientToken: clientTokenFor(failed.run.id, 2), launch: "primary" });
    expect(retry.run.timeoutAt).toBe(now + 30 * SEC + 900 * SEC);
    expect("exitCode" in retry.run).toBe(false);

    // A late event of the first task is recorded on attempt 1 and does not touch attempt 2.
    const late = recordTaskState(retry.run, taskEvent("STOPPED", 4, { containers: [container("worker", 1)] }), now + 31 * SEC, retrying);
    expect(late.run.status).toBe("STARTING");
    expect(late.effects).toEqual([]);

    const second = recordTaskState(retry.run, taskEvent("RUNNING", 2, { taskArn: TASK_ARN_2 }), now + 40 * SEC, retrying);
    expect(second.run.status).toBe("RUNNING");
    expect(second.run.attempts[1]?.taskArn).toBe(TASK_ARN_2);
    expect(second.run.attempts[0]?.taskArn).toBe(TASK_ARN);
  });

  it("a Spot interruption with a fallback launch retries on the fallback at once", () => {
    const spot = runPolicy({ launch: { type: "fargate-spot", fallback: "fargate" } });
    const event = taskEvent("STOPPED", 3, { stopCode: "SpotInterruption", capacityProviderName: "FARGATE_SPOT", containers: [container("worker", 143)] });
    const result = recordTaskState(launched(spot), event, T0 + MIN, spot);
    expect(result.run).toMatchObject({ status: "RETRY_WAIT", nextAttemptAt: T0 + MIN, nextLaunch: "fallback" });
    expect(result.run.attempts[0]?.failureClass).toBe("spot-interruption");
    const retry = startRetry(result.run, T0 + MIN, spot);
    expect(retry.ok && retry.effects.find((e) => e.type === "launch")).toMatchObject({ launch: "fallback", attempt: 2 });
  });

  it("a task stopped outside berth (UserInitiated) cancels the run", () => {
    const event = taskEvent("STOPPED", 3, { stopCode: "UserInitiated", stoppedReason: "Task stopped by user", containers: [container("worker", 137)] });
    const result = recordTaskState(launched(), event, T0 + MIN, runPolicy({ retry: retryPolicy({ attempts: 3, on: ["exit:any"] }) }));
    expect(result.run.status).toBe("CANCELLED");
    expect(result.run.reason).toContain("cancelled");
  });
});

describe("classifyStop", () => {
  it.each<{ name: string; task: Partial<EcsTaskState>; essential?: string[]; verdict: object }>([
    { name: "all containers exit 0", task: { stopCode: "EssentialContainerExited", containers: [container("worker", 0), container("log", 0)] }, verdict: { status: "SUCCEEDED", exitCode: 0 } },
    { name: "a non-zero exit", task: { stopCode: "EssentialContainerExited", containers: [container("worker", 2)] }, verdict: { status: "FAILED", failureClass: "exit:2", exitCode: 2 } },
    { name: "OOM kill", task: { stopCode: "EssentialContainerExited", containers: [container("worker", 137, "OutOfMemoryError: Container killed due to memory usage")] }, verdict: { status: "FAILED", failureClass: "exit:137", exitCode: 137 } },
    { name: "a sidecar exiting non-zero, essential list unknown", task: { containers: [container("worker", 0), container("envoy", 143)] }, verdict: { status: "FAILED", failureClass: "exit:143", exitCode: 143 } },
    { name: "a sidecar exiting non-zero, worker essential", task: { containers: [container("worker", 0), container("envoy", 143)] }, essential: ["worker"], verdict: { status: "SUCCEEDED", exitCode: 0 } },
    { name: "an essential container without exit code", task: { containers: [container("worker"), container("envoy", 0)] }, essential: ["worker"], verdict: { status: "FAILED", failureClass: "unknown", reason: "a deciding container reported no exit code" } },
    { name: "an essential container missing from the event", task: { containers: [container("envoy", 0)] }, essential: ["worker"], verdict: { status: "FAILED", failureClass: "unknown", reason: "a deciding container reported no exit code" } },
    { name: "a container that never ran, no essential list", task: { containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "unknown", reason: "a deciding container reported no exit code" } },
    { name: "no containers", task: { containers: [] }, verdict: { status: "FAILED", failureClass: "unknown", reason: "a deciding container reported no exit code" } },
    { name: "TaskFailedToStart", task: { stopCode: "TaskFailedToStart", stoppedReason: "Task failed to start", containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "failed-to-start" } },
    { name: "CannotPullContainerError on a container", task: { stopCode: "EssentialContainerExited", containers: [container("worker", undefined, "CannotPullContainerError: pull image manifest has been retried 5 time(s)")] }, verdict: { status: "FAILED", failureClass: "failed-to-start" } },
    { name: "ResourceInitializationError", task: { stoppedReason: "ResourceInitializationError: unable to pull secrets or registry auth", containers: [] }, verdict: { status: "FAILED", failureClass: "failed-to-start" } },
    { name: "SpotInterruption", task: { stopCode: "SpotInterruption", containers: [container("worker", 143)] }, verdict: { status: "FAILED", failureClass: "spot-interruption", exitCode: 143 } },
    { name: "TerminationNotice on FARGATE_SPOT", task: { stopCode: "TerminationNotice", capacityProviderName: "FARGATE_SPOT", containers: [container("worker", 143)] }, verdict: { status: "FAILED", failureClass: "spot-interruption", exitCode: 143 } },
    { name: "TerminationNotice on on-demand capacity", task: { stopCode: "TerminationNotice", capacityProviderName: "FARGATE", containers: [container("worker", 143)] }, verdict: { status: "FAILED", failureClass: "capacity", exitCode: 143 } },
    { name: "UserInitiated", task: { stopCode: "UserInitiated", containers: [container("worker", 137)] }, verdict: { status: "CANCELLED", failureClass: "cancelled", exitCode: 137 } },
    // Issue 10 item 3: the result comes from the essential containers, and "no exit code" is never success.
    { name: "ECS stops a sidecar with SIGTERM (143) after the essential container exited 0", task: { stopCode: "EssentialContainerExited", containers: [container("worker", 0), container("envoy", 143)] }, essential: ["worker"], verdict: { status: "SUCCEEDED", exitCode: 0 } },
    { name: "an essential container with no exit code next to a sidecar that exited 0, essential list unknown", task: { stopCode: "EssentialContainerExited", containers: [container("worker"), container("envoy", 0)] }, verdict: { status: "FAILED", failureClass: "unknown", reason: "a deciding container reported no exit code" } },
    { name: "two essential containers, the second one failing", task: { stopCode: "EssentialContainerExited", containers: [container("worker", 0), container("uploader", 3), container("envoy", 0)] }, essential: ["worker", "uploader"], verdict: { status: "FAILED", failureClass: "exit:3", exitCode: 3 } },
    // Issue 10 item 4: every stop code has a deliberate class (API reference, Task.stopCode: TaskFailedToStart,
    // EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated, SpotInterruption, TerminationNotice, InfrastructureHealth).
    { name: "InfrastructureHealth: ECS replaced the task for its host's health, a capacity problem", task: { stopCode: "InfrastructureHealth", containers: [container("worker", 143)] }, verdict: { status: "FAILED", failureClass: "capacity", exitCode: 143 } },
    { name: "InfrastructureHealth is not the job's result even when the container exited 0", task: { stopCode: "InfrastructureHealth", containers: [container("worker", 0)] }, verdict: { status: "FAILED", failureClass: "capacity", exitCode: 0 } },
    { name: "a stop code berth does not know is unknown, with the code in the reason", task: { stopCode: "SomethingNewFromEcs", containers: [container("worker", 0)] }, verdict: { status: "FAILED", failureClass: "unknown", exitCode: 0, reason: "ECS stopped the task with stop code SomethingNewFromEcs" } },
    { name: "ServiceSchedulerInitiated on a standalone task is unknown", task: { stopCode: "ServiceSchedulerInitiated", containers: [container("worker", 143)] }, verdict: { status: "FAILED", failureClass: "unknown", exitCode: 143, reason: "ECS stopped the task with stop code ServiceSchedulerInitiated" } },
    // TaskFailedToStart reasons (Developer Guide, "Amazon ECS stopped tasks error codes", "CannotPullContainer task errors",
    // "Troubleshoot ResourceInitializationError errors"): a missing image or secret fails fast; a network timeout is retried.
    { name: "TaskFailedToStart: the image does not exist", task: { stopCode: "TaskFailedToStart", stoppedReason: "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:nope: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:nope: not found", containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "invalid", reason: "the task cannot start until its definition or permissions change" } },
    { name: "TaskFailedToStart: a secret that does not exist", task: { stopCode: "TaskFailedToStart", stoppedReason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:db from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.", containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "invalid", reason: "the task cannot start until its definition or permissions change" } },
    { name: "TaskFailedToStart: an SSM parameter that does not exist", task: { stopCode: "TaskFailedToStart", stoppedReason: "ResourceInitializationError: unable to pull secrets or registry auth: unable to retrieve secrets from ssm: service call has been retried 1 time(s): InvalidParameters: [/prod/db-password]", containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "invalid", reason: "the task cannot start until its definition or permissions change" } },
    { name: "TaskFailedToStart: the registry timed out, worth a retry", task: { stopCode: "TaskFailedToStart", stoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/app:1: failed to do request: Head \"https://registry-1.docker.io/v2/library/app/manifests/1\": dial tcp 34.205.13.154:443: i/o timeout", containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "failed-to-start" } },
    { name: "TaskFailedToStart: secrets unreachable (a network deadline), worth a retry", task: { stopCode: "TaskFailedToStart", stoppedReason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): RequestCanceled: request context canceled caused by: context deadline exceeded", containers: [container("worker")] }, verdict: { status: "FAILED", failureClass: "failed-to-start" } },
  ])("$name", ({ task, essential, verdict }) => {
    expect(classifyStop({ ...taskEvent("STOPPED", 3), ...task }, essential)).toEqual(verdict);
  });
});
