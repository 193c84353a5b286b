import { describe, expect, it } from "vitest";
import { clientTokenFor } from "../../../src/core/ids.ts";
import { createRun, recordLaunch } from "../../../src/core/runs/lifecycle.ts";
import { withAttempt, type Run, type RunPolicy } from "../../../src/core/runs/model.ts";
import { DEFAULT_RELAUNCH_AFTER_MS, decideSweep, launchGivenUp, launchIsFree, reconcileTask, releaseLaunch } from "../../../src/core/runs/sweep.ts";
import { recordTaskState } from "../../../src/core/runs/task-state.ts";
import { MIN, SEC, T0, TASK_ARN, retryPolicy, runId, runPolicy, startingRun, taskEvent } from "./fixtures.ts";

const policy = runPolicy({ timeout: 15 * 60 });
const jobs: Record<string, RunPolicy> = { thumbnails: policy };

function launched(n = 1): Run {
  const step = recordLaunch(startingRun(policy, n), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, policy);
  if (!step.ok) throw step.error;
  return step.run;
}

function running(n = 1): Run {
  return recordTaskState(launched(n), taskEvent("RUNNING", 2), T0 + 30 * SEC, policy).run;
}

function queued(n: number, job = "thumbnails"): Run {
  return createRun(
    { id: runId(n), job, service: "acme-jobs", trigger: { kind: "manual", summary: "manual", idempotencyKey: `${job}#manual:${n}` }, context: {} },
    { decision: "queue" },
    T0,
    policy,
  ).run;
}

function heldUntil(at: number): Run {
  const run = startingRun(policy);
  return withAttempt(run, 1, (a) => ({ ...a, heldUntil: at }));
}

/** The sender that began the attempt gave its throttled launch up at `at`. */
function released(at: number): Run {
  const step = releaseLaunch(startingRun(policy), 1, at);
  if (!step.ok) throw step.error;
  return step.run;
}

function retryWait(at: number): Run {
  return { ...running(), status: "RETRY_WAIT", nextAttemptAt: at, nextLaunch: "primary", timeoutAt: undefined } as Run;
}

describe("decideSweep", () => {
  it.each<{ name: string; run: () => Run; now: number; changed?: boolean; status?: string; effects: string[] }>([
    { name: "a running run within its timeout and recently heard from", run: running, now: T0 + 2 * MIN, effects: [] },
    { name: "a running run past its timeout", run: running, now: T0 + 15 * MIN, changed: true, status: "TIMED_OUT", effects: ["publish", "stop", "start-queued"] },
    { name: "a running run quiet for 5 minutes", run: running, now: T0 + 30 * SEC + 5 * MIN, changed: false, status: "RUNNING", effects: ["reconcile"] },
    { name: "a running run quiet for just under 5 minutes", run: running, now: T0 + 30 * SEC + 5 * MIN - 1, effects: [] },
    { name: "a STARTING attempt without task ARN once its sender's hold is over", run: () => startingRun(policy), now: T0 + DEFAULT_RELAUNCH_AFTER_MS, changed: true, status: "STARTING", effects: ["launch"] },
    { name: "a STARTING attempt without task ARN its sender still holds", run: () => startingRun(policy), now: T0 + DEFAULT_RELAUNCH_AFTER_MS - 1, effects: [] },
    { name: "a STARTING attempt whose sender gave the launch up", run: () => released(T0 + 10 * SEC), now: T0 + 10 * SEC, changed: true, status: "STARTING", effects: ["launch"] },
    { name: "a STARTING attempt another sweep took over", run: () => heldUntil(T0 + 3 * MIN), now: T0 + 3 * MIN - 1, effects: [] },
    { name: "a STARTING attempt without task ARN past its timeout", run: () => startingRun(policy), now: T0 + 15 * MIN, changed: true, status: "TIMED_OUT", effects: ["publish", "start-queued"] },
    { name: "a due retry", run: () => retryWait(T0 + 3 * MIN), now: T0 + 3 * MIN, changed: true, status: "STARTING", effects: ["publish", "launch"] },
    { name: "a retry not yet due", run: () => retryWait(T0 + 3 * MIN), now: T0 + 3 * MIN - 1, effects: [] },
  ])("$name → $effects", ({ run, now, changed, status, effects }) => {
    const decision = decideSweep([run()], now, jobs);
    if (effects.length === 0) {
      expect(decision.items).toEqual([]);
      return;
    }
    expect(decision.items).toHaveLength(1);
    const item = decision.items[0]!;
    expect(item.changed).toBe(changed);
    expect(item.run.status).toBe(status);
    expect(item.effects.map((e) => e.type)).toEqual(effects);
  });

  it("re-sends an interrupted launch with the attempt's own clientToken", () => {
    const run = startingRun(policy);
    const [item] = decideSweep([run], T0 + 3 * MIN, jobs).items;
    expect(item?.effects).toEqual([{ type: "launch", runId: run.id, attempt: 1, clientToken: clientTokenFor(run.id, 1), launch: "primary" }]);
  });

  it("takes a launch over by storing its hold first: a second sweep deciding on the stored run leaves it alone until the hold ends", () => {
    const now = T0 + 3 * MIN;
    const [item] = decideSweep([startingRun(policy)], now, jobs).items;
    expect(item).toMatchObject({ changed: true, relaunch: true });
    expect(item?.run.attempts[0]).toMatchObject({ heldUntil: now + DEFAULT_RELAUNCH_AFTER_MS, requestedAt: T0 });
    expect(item?.run.version).toBe(startingRun(policy).version + 1);
    expect(decideSweep([item!.run], now + DEFAULT_RELAUNCH_AFTER_MS - 1, jobs).items).toEqual([]);
    expect(decideSweep([item!.run], now + DEFAULT_RELAUNCH_AFTER_MS, jobs).items.map((i) => i.relaunch)).toEqual([true]);
  });

  it("asks ECS about the current attempt's task", () => {
    const run = running();
    const [item] = decideSweep([run], T0 + 10 * MIN, jobs).items;
    expect(item?.effects).toEqual([{ type: "reconcile", runId: run.id, taskArn: TASK_ARN }]);
  });

  it("a due retry on the fallback launches the fallback with attempt 2's token", () => {
    const run = { ...retryWait(T0 + MIN), nextLaunch: "fallback" as const };
    const [item] = decideSweep([run], T0 + MIN, jobs).items;
    expect(item?.effects[1]).toEqual({ type: "launch", runId: run.id, attempt: 2, clientToken: clientTokenFor(run.id, 2), launch: "fallback" });
    expect(item?.run.timeoutAt).toBe(T0 + MIN + 15 * MIN);
  });

  it("asks to drain the queue once per job that has queued runs", () => {
    const decision = decideSweep([queued(1), queued(2), queued(3, "reports")], T0 + MIN, { ...jobs, reports: policy });
    expect(decision.items).toEqual([]);
    expect(decision.effects).toEqual([
      { type: "start-queued", job: "reports" },
      { type: "start-queued", job: "thumbnails" },
    ]);
  });

  it("cancels waiting runs of a job that left the catalog", () => {
    const decision = decideSweep([queued(1, "gone"), { ...retryWait(T0), job: "gone" }], T0 + MIN, jobs);
    expect(decision.items.map((i) => i.run.status)).toEqual(["CANCELLED", "CANCELLED"]);
    expect(decision.items[0]?.run.reason).toBe('job "gone" is no longer in the catalog');
    expect(decision.effects).toEqual([]);
  });

  it("ignores ended runs", () => {
    const done = recordTaskState(launched(), taskEvent("STOPPED", 3), T0 + MIN, policy).run;
    expect(done.status).toBe("SUCCEEDED");
    expect(decideSweep([done], T0 + 60 * MIN, jobs)).toEqual({ items: [], effects: [] });
  });

  it("a reconciled run is not asked about again for another interval", () => {
    const run = running();
    const checked = reconcileTask(run, taskEvent("RUNNING", 2), T0 + 6 * MIN, policy).run;
    expect(decideSweep([checked], T0 + 10 * MIN, jobs).items).toEqual([]);
    expect(decideSweep([checked], T0 + 11 * MIN, jobs).items[0]?.effects[0]?.type).toBe("reconcile");
  });
});

describe("reconcileTask", () => {
  it("a task ECS no longer knows fails the run", () => {
    const result = reconcileTask(running(), "missing", T0 + 10 * MIN, policy);
    expect(result.outcome).toBe("updated");
    expect(result.run.status).toBe("FAILED");
    expect(result.run.reason).toContain(`ECS no longer knows task ${TASK_ARN}`);
    expect(result.effects.map((e) => e.type)).toEqual(["publish", "start-queued"]);
  });

  it("a missing task is retried like any failure only if its class allows: unknown never is", () => {
    const retrying = runPolicy({ retry: retryPolicy({ attempts: 3, on: ["exit:any", "failed-to-start", "capacity", "spot-interruption"] }) });
    expect(reconcileTask(running(), "missing", T0 + 10 * MIN, retrying).run.status).toBe("FAILED");
  });

  it("a described STOPPED task settles the run as its event would have", () => {
    const result = reconcileTask(running(), taskEvent("STOPPED", 3), T0 + 10 * MIN, policy);
    expect(result.run.status).toBe("SUCCEEDED");
    expect(result.run.endedAt).toBe(Date.parse("2025-03-01T12:05:00.000Z"));
  });

  it("no news records the check", () => {
    const run = running();
    const result = reconcileTask(run, taskEvent("RUNNING", 2), T0 + 10 * MIN, policy);
    expect(result.run).toMatchObject({ status: "RUNNING", checkedAt: T0 + 10 * MIN, version: run.version + 1 });
    expect(result.effects).toEqual([]);
  });

  it("an ended run is left alone", () => {
    const done = recordTaskState(launched(), taskEvent("STOPPED", 3), T0 + MIN, policy).run;
    expect(reconcileTask(done, "missing", T0 + 10 * MIN, policy)).toEqual({ run: done, effects: [], outcome: "stale" });
  });
});

describe("launch holds", () => {
  it("a launch is free once its hold ends, or from requestedAt plus relaunchAfterMs without one", () => {
    const run = startingRun(policy);
    const attempt = run.attempts[0]!;
    expect(launchIsFree(attempt, T0 + 5 * SEC, 5 * SEC)).toBe(true);
    expect(launchIsFree(attempt, T0 + 5 * SEC - 1, 5 * SEC)).toBe(false);
    expect(launchIsFree({ ...attempt, heldUntil: T0 + SEC }, T0 + SEC)).toBe(true);
    expect(launchIsFree({ ...attempt, heldUntil: T0 + 2 * SEC }, T0 + SEC)).toBe(false);
  });

  it("a sender giving a held launch up stores that, once; the run then counts as given up", () => {
    const run = startingRun(policy);
    const step = releaseLaunch(run, 1, T0 + 20 * SEC);
    if (!step.ok) throw step.error;
    expect(step.run.attempts[0]?.heldUntil).toBe(T0 + 20 * SEC);
    expect(step.run.version).toBe(run.version + 1);
    expect(step.effects).toEqual([]);
    expect(launchGivenUp(step.run, T0 + 20 * SEC)).toBe(true);
    const again = releaseLaunch(step.run, 1, T0 + 21 * SEC);
    expect(again.ok && again.run).toBe(step.run);
  });

  it("releasing a launch that already has its task, or of another attempt, changes nothing", () => {
    const done = launched();
    const step = releaseLaunch(done, 1, T0 + 20 * SEC);
    expect(step.ok && step.run).toBe(done);
    const other = releaseLaunch(startingRun(policy), 2, T0 + 20 * SEC);
    expect(other.ok && other.run.version).toBe(startingRun(policy).version);
    expect(launchGivenUp(done, T0 + 20 * SEC)).toBe(false);
  });

  it("a launch still held by its sender is not given up", () => {
    expect(launchGivenUp(heldUntil(T0 + MIN), T0 + 30 * SEC)).toBe(false);
    expect(launchGivenUp(startingRun(policy), T0 + 30 * SEC)).toBe(false);
  });
});
