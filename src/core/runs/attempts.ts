/**
 * The two moves every lifecycle path shares: begin an attempt (run → STARTING,
 * launch effect) and settle the run once its current attempt ended (success,
 * retry wait, or a final failure). Keeping them here means a task event, a
 * launch failure and the sweep all apply the same retry and publish rules.
 */
import { clientTokenFor } from "../ids.ts";
import type { InvalidTransitionError } from "../errors.ts";
import { publishEffect, type Effect } from "./effects.ts";
import { currentAttempt, type Attempt, type FailureClass, type LaunchChoice, type Run, type RunPolicy } from "./model.ts";
import { isActive } from "./status.ts";
import { decideRetry, retryJitter } from "./retry.ts";
import { transition, type RunPatch } from "./transitions.ts";

/** A decision about one run: the run to store, then the effects to execute. */
export type Step =
  | { readonly ok: true; readonly run: Run; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly error: InvalidTransitionError };

export function newAttempt(runId: string, number: number, launch: LaunchChoice, now: number): Attempt {
  return { number, clientToken: clientTokenFor(runId, number), status: "STARTING", launch, requestedAt: now };
}

export function timeoutFor(policy: RunPolicy, now: number): RunPatch {
  return { timeoutAt: policy.timeout === undefined ? undefined : now + policy.timeout * 1000 };
}

export function launchEffect(run: Run, attempt: Attempt): Effect {
  return {
    type: "launch",
    runId: run.id,
    attempt: attempt.number,
    clientToken: attempt.clientToken,
    launch: attempt.launch,
  };
}

/** QUEUED or RETRY_WAIT → STARTING with a new attempt. */
export function beginAttempt(run: Run, launch: LaunchChoice, now: number, policy: RunPolicy): Step {
  const attempt = newAttempt(run.id, run.attempts.length + 1, launch, now);
  const moved = transition(run, "STARTING", now, {
    attempts: [...run.attempts, attempt],
    startedAt: run.startedAt ?? now,
    nextAttemptAt: undefined,
    nextLaunch: undefined,
    checkedAt: undefined,
    reason: undefined,
    exitCode: undefined,
    ...timeoutFor(policy, now),
  });
  if (!moved.ok) return moved;
  return { ok: true, run: moved.run, effects: [publishEffect(moved.run), launchEffect(moved.run, attempt)] };
}

function describeFailure(attempt: Attempt): string {
  const why = attempt.stoppedReason ? ` (${attempt.stoppedReason})` : "";
  return `attempt ${attempt.number} failed: ${attempt.failureClass ?? "unknown"}${why}`;
}

const ENDED_BY: Partial<Record<FailureClass, "TIMED_OUT" | "CANCELLED">> = {
  timeout: "TIMED_OUT",
  cancelled: "CANCELLED",
};

/**
 * The run's current attempt has ended (its status is terminal): move the run
 * to SUCCEEDED, RETRY_WAIT or its final failure. A run that is not active
 * (already ended by a timeout or a cancel) keeps its status.
 */
export function settleRun(run: Run, now: number, policy: RunPolicy): Step {
  const attempt = currentAttempt(run);
  if (attempt === undefined || !isActive(run.status)) return { ok: true, run, effects: [] };

  const ended = (r: Run): Step => ({
    ok: true,
    run: r,
    effects: [publishEffect(r), { type: "start-queued", job: r.job }],
  });

  // The run ended when its task stopped, not when berth heard about it: keeps the record independent of event delays.
  const endedAt = attempt.stoppedAt;

  if (attempt.status === "SUCCEEDED") {
    const moved = transition(run, "SUCCEEDED", now, { exitCode: attempt.exitCode, reason: undefined, timeoutAt: undefined, endedAt });
    return moved.ok ? ended(moved.run) : moved;
  }

  const failureClass = attempt.failureClass ?? "unknown";
  const final = ENDED_BY[failureClass];
  if (final !== undefined) {
    const moved = transition(run, final, now, { reason: describeFailure(attempt), timeoutAt: undefined, endedAt });
    return moved.ok ? ended(moved.run) : moved;
  }

  const decision = decideRetry(policy.retry, attempt, failureClass, now, policy.launch, retryJitter(run.id, attempt.number));
  if (decision.retry) {
    const moved = transition(run, "RETRY_WAIT", now, {
      reason: `${describeFailure(attempt)}; attempt ${attempt.number + 1} at ${new Date(decision.at).toISOString()}${
        decision.launch === "fallback" ? " on the fallback launch" : ""
      }`,
      exitCode: attempt.exitCode,
      nextAttemptAt: decision.at,
      nextLaunch: decision.launch,
      timeoutAt: undefined,
    });
    if (!moved.ok) return moved;
    // The sweep starts the next attempt once nextAttemptAt has come (startRetry).
    return { ok: true, run: moved.run, effects: [publishEffect(moved.run)] };
  }
  const moved = transition(run, "FAILED", now, {
    reason: `${describeFailure(attempt)}; not retried: ${decision.reason}`,
    exitCode: attempt.exitCode,
    timeoutAt: undefined,
    endedAt,
  });
  return moved.ok ? ended(moved.run) : moved;
}
