import { describe, expect, it } from "vitest";
import type { ConcurrencyPolicy } from "../../../src/core/catalog/types.ts";
import { admitRun, decideResume } from "../../../src/core/runs/admission.ts";
import { admissionFor, decideAfterLostSlot, isOrphanSlot, limitsConcurrency, queueRoom } from "../../../src/core/runs/concurrency.ts";
import { createRun, launchResultOf, recordLaunch } from "../../../src/core/runs/lifecycle.ts";
import { pendingLaunch, policyOf, RETIRED_JOB_POLICY, type Run } from "../../../src/core/runs/model.ts";
import { decideAnnouncements } from "../../../src/core/runs/sweep.ts";
import { transition } from "../../../src/core/runs/transitions.ts";
import { MIN, SEC, T0, TASK_ARN, runId, runPolicy, startingRun } from "./fixtures.ts";

function queuedRun(n = 1): Run {
  return createRun(
    {
      id: runId(n),
      job: "nightly",
      service: "acme-jobs",
      trigger: { kind: "schedule", summary: "schedule", idempotencyKey: `nightly#schedule:${n}` },
      context: {},
    },
    { decision: "queue" },
    T0,
    runPolicy(),
  ).run;
}

const ok = <T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> => {
  if (!r.ok) throw new Error("expected ok");
  return r as Extract<T, { ok: true }>;
};

describe("admitRun", () => {
  it("start moves the run to STARTING with attempt 1 and a launch", () => {
    const step = ok(admitRun(queuedRun(), { decision: "start" }, T0 + SEC, runPolicy(), { announceQueued: true }));
    expect(step.run.status).toBe("STARTING");
    expect(step.effects.map((e) => e.type)).toEqual(["publish", "launch"]);
  });

  it("skip ends the run SKIPPED with the reason, published", () => {
    const step = ok(admitRun(queuedRun(), { decision: "skip", reason: "overlap is forbid" }, T0 + SEC, runPolicy(), { announceQueued: true }));
    expect(step.run).toMatchObject({ status: "SKIPPED", reason: "overlap is forbid", endedAt: T0 + SEC });
    expect(step.effects.map((e) => e.type)).toEqual(["publish"]);
  });

  it("a new run that stays queued is announced once; a redelivery says nothing again", () => {
    const run = queuedRun();
    const fresh = ok(admitRun(run, { decision: "queue" }, T0 + SEC, runPolicy(), { announceQueued: true }));
    expect(fresh.run).toBe(run);
    expect(fresh.effects).toEqual([{ type: "publish", detail: expect.objectContaining({ status: "QUEUED" }) }]);
    const again = ok(admitRun(run, { decision: "queue" }, T0 + SEC, runPolicy(), { announceQueued: false }));
    expect(again.effects).toEqual([]);
  });

  it("a run that already left the queue is not admitted twice", () => {
    const result = admitRun(startingRun(), { decision: "start" }, T0 + SEC, runPolicy(), { announceQueued: false });
    expect(result.ok).toBe(false);
  });
});

describe("decideResume: a redelivery finishes what a crash interrupted", () => {
  const RELAUNCH_AFTER = 2 * MIN;

  it("a run left QUEUED is admitted again", () => {
    expect(decideResume(queuedRun(), T0, RELAUNCH_AFTER)).toEqual({ resume: "admit" });
  });

  // Issue 10 item 7: RunTask is rate-limited per account (token bucket; Amazon ECS API Reference, "Request throttling for
  // the Amazon ECS API"), so a duplicate delivery does not spend it on a launch whose owner may still be waiting for it.
  it("an attempt with no task yet is the owner's to launch: a duplicate delivery sends nothing while the owner may be at it", () => {
    const run = startingRun();
    expect(decideResume(run, run.attempts[0]!.requestedAt, RELAUNCH_AFTER)).toEqual({ resume: "effects", effects: [] });
    expect(decideResume(run, run.attempts[0]!.requestedAt + RELAUNCH_AFTER - 1, RELAUNCH_AFTER)).toEqual({ resume: "effects", effects: [] });
  });

  it("an attempt still without a task once the owner had its time is launched again with the same clientToken", () => {
    const run = startingRun();
    expect(decideResume(run, run.attempts[0]!.requestedAt + RELAUNCH_AFTER, RELAUNCH_AFTER)).toEqual({
      resume: "effects",
      effects: [{ type: "launch", runId: run.id, attempt: 1, clientToken: run.attempts[0]!.clientToken, launch: "primary" }],
    });
  });

  it("a run whose task is known, or that ended, needs nothing", () => {
    const launched = ok(recordLaunch(startingRun(), 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy())).run;
    expect(decideResume(launched, T0 + 10 * MIN, RELAUNCH_AFTER)).toEqual({ resume: "effects", effects: [] });
    const ended = ok(transition(launched, "CANCELLED", T0 + 2 * SEC)).run;
    expect(decideResume(ended, T0 + 10 * MIN, RELAUNCH_AFTER)).toEqual({ resume: "effects", effects: [] });
  });
});

describe("pendingLaunch", () => {
  it("is the current attempt while it awaits its task, and nothing after", () => {
    const run = startingRun();
    expect(pendingLaunch(run)?.number).toBe(1);
    expect(pendingLaunch(ok(recordLaunch(run, 1, { ok: true, taskArn: TASK_ARN }, T0 + SEC, runPolicy())).run)).toBeUndefined();
    expect(pendingLaunch(queuedRun())).toBeUndefined();
  });
});

describe("launchResultOf", () => {
  it.each([
    [{ ok: true, taskArn: TASK_ARN } as const, { ok: true, taskArn: TASK_ARN }],
    [{ ok: false, failure: { kind: "capacity", retryable: true, message: "RESOURCE:CPU" } } as const, { ok: false, reason: "RESOURCE:CPU", failureClass: "capacity" }],
    [{ ok: false, failure: { kind: "invalid", retryable: false, message: "bad subnet" } } as const, { ok: false, reason: "bad subnet", failureClass: "invalid" }],
    [{ ok: false, failure: { kind: "access-denied", retryable: false, message: "no iam:PassRole" } } as const, { ok: false, reason: "no iam:PassRole", failureClass: "invalid" }],
    // Issue 10 item 1: "The resourceIds are the existing task ARNs which are already associated with the clientToken"
    // (Amazon ECS API Reference, RunTask Errors, ConflictException): that task is the attempt's, adopted.
    [{ ok: false, failure: { kind: "conflict", retryable: false, message: "token in use", existingTaskArns: [TASK_ARN] } } as const, { ok: true, taskArn: TASK_ARN }],
    [{ ok: false, failure: { kind: "conflict", retryable: false, message: "token in use" } } as const, { ok: false, reason: "token in use", failureClass: "invalid" }],
  ])("%j is recorded as %j", (answer, result) => {
    expect(launchResultOf(answer)).toEqual(result);
  });

  it("a throttled launch decides nothing: nothing was launched, the run waits for a re-send", () => {
    expect(launchResultOf({ ok: false, failure: { kind: "throttled", retryable: true, message: "Rate exceeded" } })).toBeUndefined();
  });
});

describe("admission from what the store holds", () => {
  const forbid: ConcurrencyPolicy = { overlap: "forbid", max: 1 };
  const queue: ConcurrencyPolicy = { overlap: "queue", max: 2 };

  it("does not count the run itself among the slot holders", () => {
    expect(admissionFor(forbid, "R2", [{ runId: "R2", since: T0 }], [])).toEqual({ decision: "start" });
    expect(admissionFor(forbid, "R2", [{ runId: "R1", since: T0 }], []).decision).toBe("skip");
  });

  it("queues behind an older queued run, not behind itself or a younger one", () => {
    expect(admissionFor(queue, runId(2), [], [{ id: runId(1) }]).decision).toBe("queue");
    expect(admissionFor(queue, runId(2), [], [{ id: runId(2) }]).decision).toBe("start");
    expect(admissionFor(queue, runId(2), [], [{ id: runId(3) }]).decision).toBe("start");
  });

  it("a slot lost to a concurrent admission skips under forbid and queues otherwise", () => {
    expect(decideAfterLostSlot(forbid)).toEqual({ decision: "skip", reason: expect.stringMatching(/overlap is forbid/) });
    expect(decideAfterLostSlot({ overlap: "replace", max: 1 })).toEqual({ decision: "queue" });
    expect(decideAfterLostSlot(queue)).toEqual({ decision: "queue" });
  });

  it("counts slots only where the job has a limit", () => {
    expect(limitsConcurrency({ overlap: "allow" })).toBe(false);
    expect(limitsConcurrency({ overlap: "allow", max: 5 })).toBe(true);
    expect(limitsConcurrency({ overlap: "queue" })).toBe(true);
  });

  it("a drain starts at most the free slots, and at most its batch", () => {
    expect(queueRoom({ overlap: "queue", max: 3 }, 1, 1000)).toBe(2);
    expect(queueRoom({ overlap: "queue", max: 3 }, 5, 1000)).toBe(0);
    expect(queueRoom({ overlap: "allow" }, 0, 1000)).toBe(1000);
  });

  it("a slot is orphaned when its run ended, or when no run exists after the grace period", () => {
    const holder = { since: T0 };
    expect(isOrphanSlot(holder, { status: "SUCCEEDED" }, T0 + SEC)).toBe(true);
    expect(isOrphanSlot(holder, { status: "RUNNING" }, T0 + 10 * MIN)).toBe(false);
    expect(isOrphanSlot(holder, undefined, T0 + 59 * SEC, 60_000)).toBe(false);
    expect(isOrphanSlot(holder, undefined, T0 + 60 * SEC, 60_000)).toBe(true);
  });
});

describe("decideAnnouncements", () => {
  const ended = (announced: boolean | undefined, at: number): Run => ({ ...ok(transition(startingRun(), "FAILED", at)).run, ...(announced !== undefined ? { announced } : {}) });

  it("publishes again only ended runs left unannounced past the grace period", () => {
    const late = ended(undefined, T0);
    const recent = ended(undefined, T0 + 50 * SEC);
    const done = ended(true, T0);
    expect(decideAnnouncements([late, recent, done, startingRun()], T0 + 60 * SEC, { announceAfterMs: 30_000 })).toEqual([late]);
  });
});

describe("policyOf", () => {
  it("gives a run whose job left the catalog one attempt and no retries", () => {
    const policies = { thumbnails: runPolicy() };
    expect(policyOf(policies, "thumbnails")).toBe(policies.thumbnails);
    expect(policyOf(policies, "gone")).toBe(RETIRED_JOB_POLICY);
    expect(policyOf(policies, "constructor")).toBe(RETIRED_JOB_POLICY);
    expect(RETIRED_JOB_POLICY.retry).toMatchObject({ attempts: 1, on: [] });
  });
});
