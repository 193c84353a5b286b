import { describe, expect, it } from "vitest";
import type { Job } from "../../../src/core/catalog/types.ts";
import { InvalidTransitionError, NotFoundError } from "../../../src/core/errors.ts";
import { clientTokenFor } from "../../../src/core/ids.ts";
import type { Admission } from "../../../src/core/runs/concurrency.ts";
import {
  cancelRun,
  classifyLaunchFailure,
  createRun,
  recordLaunch,
  startQueuedRun,
  startRetry,
  timeOutRun,
  type NewRun,
} from "../../../src/core/runs/lifecycle.ts";
import { runPolicyFor, type Run } from "../../../src/core/runs/model.ts";
import { recordTaskState } from "../../../src/core/runs/task-state.ts";
import { MIN, SEC, T0, TASK_ARN, TASK_ARN_2, retryPolicy, runId, runPolicy, startingRun, taskEvent } from "./fixtures.ts";

const input: NewRun = {
  id: runId(7),
  job: "nightly-backup",
  service: "acme-jobs",
  trigger: { kind: "schedule", summary: "cron(0 3 * * ? *) at 2025-03-01T03:00:00Z", idempotencyKey: "nightly-backup#schedule:2025-03-01T03:00:00Z" },
  context: { "schedule.time": "2025-03-01T03:00:00Z", "schedule.date": "2025-03-01" },
};

function ok<T extends { ok: boolean }>(step: T): Extract<T, { ok: true }> {
  if (!step.ok) throw (step as unknown as { error: Error }).error;
  return step as Extract<T, { ok: true }>;
}

describe("createRun", () => {
  it.each<{ admission: Admission; status: string; effects: string[] }>([
    { admission: { decision: "start" }, status: "STARTING", effects: ["publish", "launch"] },
    { admission: { decision: "replace", cancel: ["old"] }, status: "STARTING", effects: ["publish", "launch"] },
    { admission: { decision: "queue" }, status: "QUEUED", effects: ["publish"] },
    { admission: { decision: "skip", reason: "overlap is forbid" }, status: "SKIPPED", effects: ["publish"] },
  ])("admission $admission.decision creates a $status run", ({ admission, status, effects }) => {
    const { run, effects: out } = createRun(input, admission, T0, runPolicy());
    expect(run.status).toBe(status);
    expect(run.version).toBe(1);
    expect(out.map((e) => e.type)).toEqual(effects);
    expect(out[0]).toEqual({ type: "publish", detail: expect.objectContaining({ status, runId: input.id, job: "nightly-backup", service: "acme-jobs", trigger: { kind: "schedule", summary: input.trigger.summary } }) });
  });

  it("a started run has attempt 1 with the deterministic clientToken and a deadline", () => {
    const { run, effects } = createRun(input, { decision: "start" }, T0, runPolicy({ timeout: 7200 }));
    expect(run.attempts).toEqual([{ number: 1, clientToken: clientTokenFor(input.id, 1), status: "STARTING", launch: "primary", requestedAt: T0 }]);
    expect(run).toMatchObject({ startedAt: T0, timeoutAt: T0 + 7200 * SEC, createdAt: T0, updatedAt: T0 });
    expect(effects[1]).toEqual({ type: "launch", runId: input.id, attempt: 1, clientToken: clientTokenFor(input.id, 1), launch: "primary" });
  });

  it("a job without a timeout gets no deadline", () => {
    const { run } = createRun(input, { decision: "start" }, T0, runPolicy({ timeout: undefined }));
    expect("timeoutAt" in run).toBe(false);
  });

  it("a skipped run has ended, with the reason", () => {
    const { run } = createRun(input, { decision: "skip", reason: "overlap is forbid" }, T0, runPolicy());
    expect(run).toMatchObject({ endedAt: T0, reason: "overlap is forbid", attempts: [] });
  });
});

describe("startQueuedRun", () => {
  it("starts attempt 1 of a queued run", () => {
    const queued = createRun(input, { decision: "queue" }, T0, runPolicy()).run;
    const step = ok(startQueuedRun(queued, T0 + MIN, runPolicy()));
    expect(step.run).toMatchObject({ status: "STARTING", startedAt: T0 + MIN, queuedAt: T0, version: 2 });
    expect(step.effects.map((e) => e.type)).toEqual(["publish", "launch"]);
  });

  it("refuses a run that is not queued", () => {
    const step = startQueuedRun(startingRun(), T0, runPolicy());
    expect(step.ok).toBe(false);
    if (!step.ok) expect(step.error).toBeInstanceOf(InvalidTransitionError);
  });
});

describe("startRetry", () => {
  it("refuses a run that is not waiting for a retry", () => {
    const step = startRetry(startingRun(), T0, runPolicy());
    expect(step.ok).toBe(false);
  });
});

describe("recordLaunch", () => {
  it("stores the task ARN without changing the status", () => {
    const run = startingRun();
    const step = ok(recordLaunch(run, 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy()));
    expect(step.run).toMatchObject({ status: "STARTING", version: run.version + 1 });
    expect(step.run.attempts[0]?.taskArn).toBe(TASK_ARN);
    expect(step.effects).toEqual([]);
  });

  it("a repeated response changes nothing", () => {
    const once = ok(recordLaunch(startingRun(), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy())).run;
    expect(recordLaunch(once, 1, { ok: true, taskArn: TASK_ARN }, T0 + 2 * SEC, runPolicy())).toEqual({ ok: true, run: once, effects: [] });
  });

  it("a second task for the same attempt is stopped", () => {
    const once = ok(recordLaunch(startingRun(), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy())).run;
    const step = ok(recordLaunch(once, 1, { ok: true, taskArn: TASK_ARN_2 }, T0 + 2 * SEC, runPolicy()));
    expect(step.run).toBe(once);
    expect(step.effects).toEqual([expect.objectContaining({ type: "stop", taskArn: TASK_ARN_2 })]);
  });

  it("a task that arrives after the run was cancelled is stopped", () => {
    const cancelled = ok(cancelRun(startingRun(), T0 + SEC, "cancelled by alice")).run;
    const step = ok(recordLaunch(cancelled, 1, { ok: true, taskArn: TASK_ARN }, T0 + 2 * SEC, runPolicy()));
    expect(step.run.status).toBe("CANCELLED");
    expect(step.run.attempts[0]?.taskArn).toBe(TASK_ARN);
    expect(step.effects).toEqual([{ type: "stop", runId: cancelled.id, taskArn: TASK_ARN, reason: `berth: run ${cancelled.id} already ended CANCELLED` }]);
  });

  it.each([
    { reason: "RESOURCE:MEMORY", failureClass: "capacity" },
    { reason: "RESOURCE:ENI", failureClass: "capacity" },
    { reason: "Capacity is unavailable at this time. Please try again later or in a different availability zone", failureClass: "capacity" },
    { reason: "AGENT", failureClass: "failed-to-start" },
    { reason: "MISSING", failureClass: "failed-to-start" },
  ])("RunTask failure $reason is $failureClass", ({ reason, failureClass }) => {
    expect(classifyLaunchFailure(reason)).toBe(failureClass);
  });

  it("a launch failure that is not retried fails the run", () => {
    const step = ok(recordLaunch(startingRun(), 1, { ok: false, reason: "MISSING" }, T0 + SEC, runPolicy()));
    expect(step.run.status).toBe("FAILED");
    expect(step.run.attempts[0]).toMatchObject({ status: "FAILED", failureClass: "failed-to-start", stoppedReason: "MISSING" });
    expect(step.run.reason).toMatch(/^attempt 1 failed: failed-to-start \(MISSING\); not retried: /);
    expect(step.effects.map((e) => e.type)).toEqual(["publish", "start-queued"]);
  });

  it("Spot capacity shortage at launch moves to the fallback", () => {
    const spot = runPolicy({ launch: { type: "fargate-spot", fallback: "fargate" } });
    const step = ok(recordLaunch(startingRun(spot), 1, { ok: false, reason: "Capacity is unavailable at this time." }, T0 + SEC, spot));
    expect(step.run).toMatchObject({ status: "RETRY_WAIT", nextLaunch: "fallback", nextAttemptAt: T0 + SEC });
    // The retry is the sweep's to start once nextAttemptAt has come: publishing the wait is the only effect.
    expect(step.effects.map((e) => e.type)).toEqual(["publish"]);
  });

  it("a launch failure for an attempt that already has a task is rejected", () => {
    const once = ok(recordLaunch(startingRun(), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy())).run;
    const step = recordLaunch(once, 1, { ok: false, reason: "AGENT" }, T0 + 2 * SEC, runPolicy());
    expect(step.ok).toBe(false);
  });

  it("an unknown attempt number is not found", () => {
    const step = recordLaunch(startingRun(), 2, { ok: true, taskArn: TASK_ARN }, T0, runPolicy());
    expect(step.ok).toBe(false);
    if (!step.ok) expect(step.error).toBeInstanceOf(NotFoundError);
  });
});

describe("cancelRun and timeOutRun", () => {
  function running(): Run {
    const launched = ok(recordLaunch(startingRun(), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy())).run;
    return recordTaskState(launched, taskEvent("RUNNING", 2), T0 + 30 * SEC, runPolicy()).run;
  }

  it("cancelling a running run stops its task and frees its slot", () => {
    const step = ok(cancelRun(running(), T0 + MIN, "cancelled by alice"));
    expect(step.run).toMatchObject({ status: "CANCELLED", reason: "cancelled by alice", endedAt: T0 + MIN });
    expect(step.run.attempts[0]).toMatchObject({ status: "CANCELLED", failureClass: "cancelled" });
    expect(step.effects).toEqual([
      { type: "publish", detail: expect.objectContaining({ status: "CANCELLED", reason: "cancelled by alice" }) },
      { type: "stop", runId: step.run.id, taskArn: TASK_ARN, reason: "berth: cancelled by alice" },
      { type: "start-queued", job: "thumbnails" },
    ]);
  });

  it("cancelling a queued run stops nothing and frees no slot", () => {
    const queued = createRun(input, { decision: "queue" }, T0, runPolicy()).run;
    const step = ok(cancelRun(queued, T0 + MIN, "replaced"));
    expect(step.effects.map((e) => e.type)).toEqual(["publish"]);
  });

  it("cancelling a run in RETRY_WAIT clears the pending retry", () => {
    const waiting: Run = { ...running(), status: "RETRY_WAIT", nextAttemptAt: T0 + 5 * MIN, nextLaunch: "primary" };
    const step = ok(cancelRun(waiting, T0 + MIN, "no longer needed"));
    expect(step.run.status).toBe("CANCELLED");
    expect("nextAttemptAt" in step.run).toBe(false);
    expect(step.effects.some((e) => e.type === "stop")).toBe(false);
  });

  it("an ended run cannot be cancelled", () => {
    const done = ok(cancelRun(running(), T0 + MIN, "x")).run;
    const again = cancelRun(done, T0 + 2 * MIN, "y");
    expect(again.ok).toBe(false);
  });

  it("a timed-out run stops its task and is not retried", () => {
    const policy = runPolicy({ retry: retryPolicy({ attempts: 3, on: ["exit:any", "failed-to-start"] }) });
    const step = ok(timeOutRun(running(), T0 + 16 * MIN));
    expect(step.run).toMatchObject({ status: "TIMED_OUT", reason: "attempt 1 exceeded the job timeout (900s)" });
    expect(step.run.attempts[0]).toMatchObject({ status: "TIMED_OUT", failureClass: "timeout" });
    expect(step.effects.map((e) => e.type)).toEqual(["publish", "stop", "start-queued"]);
    // The STOPPED that follows the StopTask does not revive it.
    const stopped = recordTaskState(step.run, taskEvent("STOPPED", 5, { stopCode: "UserInitiated" }), T0 + 17 * MIN, policy);
    expect(stopped.run.status).toBe("TIMED_OUT");
    expect(stopped.effects).toEqual([]);
  });
});

describe("runPolicyFor", () => {
  it("takes retry, timeout and launch from a run job", () => {
    const job = {
      name: "thumbnails",
      triggers: [],
      action: { kind: "run", cluster: "jobs", taskDefinition: "thumb", environment: {}, launch: { type: "fargate-spot", fallback: "fargate" } },
      retry: retryPolicy({ attempts: 2 }),
      timeout: 900,
      concurrency: { overlap: "allow" },
      tags: {},
      roles: {},
      notify: [],
    } satisfies Job;
    expect(runPolicyFor(job)).toEqual({ retry: job.retry, timeout: 900, launch: { type: "fargate-spot", fallback: "fargate" } });
  });

  it("a deploy job has no launch and no timeout when none is set", () => {
    const job = {
      name: "deploy-web",
      triggers: [],
      action: { kind: "deploy", cluster: "web", service: "web", container: "app", image: "web:${git.sha}", environment: {}, rollback: true },
      retry: retryPolicy(),
      concurrency: { overlap: "queue" },
      tags: {},
      roles: {},
      notify: [],
    } satisfies Job;
    expect(runPolicyFor(job)).toEqual({ retry: job.retry });
  });
});
