/**
 * Run decisions that do not come from a task event: create a run after
 * admission, start a queued run, start a due retry, record what RunTask said,
 * cancel or time out a run.
 */
import { failure, InvalidTransitionError, NotFoundError, type Failure } from "../errors.ts";
import { beginAttempt, launchEffect, newAttempt, settleRun, timeoutFor, type Step } from "./attempts.ts";
import type { Admission } from "./concurrency.ts";
import { publishEffect, type Effect } from "./effects.ts";
import { currentAttempt, withAttempt, type FailureClass, type Run, type RunPolicy, type RunTrigger } from "./model.ts";
import { isActive, isTerminal } from "./status.ts";
import type { Position } from "./position.ts";
import { dropUndefined, touch, transition } from "./transitions.ts";

export interface NewRun {
  readonly id: string;
  readonly job: string;
  readonly service: string;
  readonly trigger: RunTrigger;
  readonly context: Readonly<Record<string, string>>;
  readonly params?: Readonly<Record<string, string>>;
  readonly position?: Position;
}

/**
 * The first record of a run, shaped by the admission decision: STARTING with
 * attempt 1 (start, replace), QUEUED, or SKIPPED. For `replace`, cancel the
 * runs in `admission.cancel` (cancelRun) before executing this run's launch.
 */
export function createRun(
  input: NewRun,
  admission: Admission,
  now: number,
  policy: RunPolicy,
): { readonly run: Run; readonly effects: readonly Effect[] } {
  const base = {
    ...input,
    attempts: [],
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
  switch (admission.decision) {
    case "start":
    case "replace":
    case "supersede": {
      const attempt = newAttempt(input.id, 1, "primary", now);
      const run: Run = dropUndefined({
        ...base,
        status: "STARTING",
        attempts: [attempt],
        startedAt: now,
        ...timeoutFor(policy, now),
      });
      return { run, effects: [publishEffect(run), launchEffect(run, attempt)] };
    }
    case "queue": {
      const run: Run = { ...base, status: "QUEUED", queuedAt: now };
      return { run, effects: [publishEffect(run)] };
    }
    case "skip": {
      const run: Run = { ...base, status: "SKIPPED", endedAt: now, reason: admission.reason };
      return { run, effects: [publishEffect(run)] };
    }
  }
}

export function startQueuedRun(run: Run, now: number, policy: RunPolicy): Step {
  if (run.status !== "QUEUED") {
    return { ok: false, error: new InvalidTransitionError(run.status, "STARTING", `run ${run.id} is ${run.status}, not QUEUED`) };
  }
  return beginAttempt(run, "primary", now, policy);
}

/** Launch the next attempt of a RETRY_WAIT run (the sweep calls this once `nextAttemptAt` has come). */
export function startRetry(run: Run, now: number, policy: RunPolicy): Step {
  if (run.status !== "RETRY_WAIT") {
    return { ok: false, error: new InvalidTransitionError(run.status, "STARTING", `run ${run.id} is ${run.status}, not RETRY_WAIT`) };
  }
  return beginAttempt(run, run.nextLaunch ?? "primary", now, policy);
}

export type LaunchResult =
  | { readonly ok: true; readonly taskArn: string }
  /** RunTask answered with a failure (`failures[].reason`) or a non-retryable error. */
  | { readonly ok: false; readonly reason: string; readonly failureClass?: FailureClass };

/** Why a launch did not produce a task. */
export interface LaunchFailure {
  /**
   * - `capacity`: RESOURCE:*, AGENT, Fargate "Capacity is unavailable" — retryable.
   * - `throttled`: API throttling or 5xx after the SDK's own retries — retryable, nothing was launched.
   * - `invalid`: invalid parameters, missing task definition, bad network — fails the run.
   * - `access-denied`: IAM — fails the run.
   * - `conflict`: the clientToken already started a task for a request with other parameters
   *   (a catalog deployed between a send and its re-send): that task is the attempt's, adopted
   *   from `existingTaskArns`; without one, it fails the run like `invalid`.
   */
  readonly kind: "capacity" | "throttled" | "invalid" | "access-denied" | "conflict";
  readonly retryable: boolean;
  /** The message AWS (or the local executor) gave, verbatim. */
  readonly message: string;
  /** Milliseconds the caller should wait before trying again, when known. */
  readonly retryAfterMs?: number;
  /** `conflict`: the tasks ECS already started under the clientToken (RunTask ConflictException `resourceIds`). */
  readonly existingTaskArns?: readonly string[];
}

export type LaunchOutcome = { readonly ok: true; readonly taskArn: string } | { readonly ok: false; readonly failure: LaunchFailure };

/**
 * The launch result to record, or undefined when nothing was decided: ECS
 * throttled the call for as long as the launcher could retry it, nothing was launched, and the
 * run stays STARTING until a redelivery or the sweep re-sends the same
 * clientToken. A clientToken that already started a task (a conflict naming
 * it) launched this attempt: the task is adopted, never failed while it runs.
 * A capacity shortage is retried per policy; anything else (invalid request,
 * access denied) fails the attempt.
 */
export function launchResultOf(answer: LaunchOutcome): LaunchResult | undefined {
  if (answer.ok) return { ok: true, taskArn: answer.taskArn };
  if (answer.failure.kind === "throttled") return undefined;
  const adopted = answer.failure.kind === "conflict" ? answer.failure.existingTaskArns?.find((arn) => arn !== "") : undefined;
  if (adopted !== undefined) return { ok: true, taskArn: adopted };
  return { ok: false, reason: answer.failure.message, failureClass: answer.failure.kind === "capacity" ? "capacity" : "invalid" };
}

/**
 * RunTask `failures[]` reasons that mean "no room right now": cluster
 * resources (RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:ENI …) or Fargate /
 * Fargate Spot capacity. Anything else means the task could not be started.
 */
export function classifyLaunchFailure(reason: string): FailureClass {
  return /^RESOURCE:|capacity/i.test(reason) ? "capacity" : "failed-to-start";
}

export function recordLaunch(
  run: Run,
  attemptNumber: number,
  result: LaunchResult,
  now: number,
  policy: RunPolicy,
): Step | Failure<NotFoundError> {
  const attempt = run.attempts.find((a) => a.number === attemptNumber);
  if (attempt === undefined) return failure(new NotFoundError(`run ${run.id} has no attempt ${attemptNumber}`));

  if (result.ok) {
    if (attempt.taskArn === result.taskArn) return { ok: true, run, effects: [] };
    if (attempt.taskArn !== undefined) {
      // One clientToken should give one task; if ECS ever returns a second one, it must not run unobserved.
      return {
        ok: true,
        run,
        effects: [{ type: "stop", runId: run.id, taskArn: result.taskArn, reason: `berth: duplicate task for run ${run.id} attempt ${attemptNumber}` }],
      };
    }
    const stored = touch(withAttempt(run, attemptNumber, (a) => ({ ...a, taskArn: result.taskArn })), now);
    if (isTerminal(attempt.status)) {
      // The run ended (timeout, cancel) while RunTask was in flight: the task it returned must not keep running.
      return {
        ok: true,
        run: stored,
        effects: [{ type: "stop", runId: run.id, taskArn: result.taskArn, reason: `berth: run ${run.id} already ended ${run.status}` }],
      };
    }
    return { ok: true, run: stored, effects: [] };
  }

  if (attempt.status !== "STARTING" || attempt.taskArn !== undefined) {
    return {
      ok: false,
      error: new InvalidTransitionError(attempt.status, "FAILED", `attempt ${attemptNumber} of run ${run.id} is ${attempt.status}; a launch failure no longer applies`),
    };
  }
  const failed = touch(
    withAttempt(run, attemptNumber, (a) => ({
      ...a,
      status: "FAILED",
      failureClass: result.failureClass ?? classifyLaunchFailure(result.reason),
      stoppedReason: result.reason,
      stoppedAt: now,
    })),
    now,
  );
  return settleRun(failed, now, policy);
}

interface EndOptions {
  /** Stop the current attempt's task (default). A superseded deployment is left for the next one to replace. */
  readonly stop?: boolean;
  /** Start the job's queued runs once this one frees its slot (default). The run superseding it starts instead. */
  readonly drain?: boolean;
}

/** End a run that has not finished: the current attempt's task (if any) is stopped. */
function endRun(run: Run, to: "CANCELLED" | "TIMED_OUT", failureClass: FailureClass, reason: string, now: number, options: EndOptions = {}): Step {
  const attempt = currentAttempt(run);
  const endsAttempt = attempt !== undefined && isActive(run.status) && !isTerminal(attempt.status);
  const stopTask = endsAttempt && options.stop !== false;
  const withEndedAttempt = endsAttempt
    ? withAttempt(run, attempt.number, (a) => ({ ...a, status: to, failureClass, stoppedReason: reason }))
    : run;
  const moved = transition(withEndedAttempt, to, now, { reason, timeoutAt: undefined, nextAttemptAt: undefined, nextLaunch: undefined });
  if (!moved.ok) return moved;

  const effects: Effect[] = [publishEffect(moved.run)];
  if (stopTask && attempt.taskArn !== undefined) {
    effects.push({ type: "stop", runId: run.id, taskArn: attempt.taskArn, reason: `berth: ${reason}` });
  }
  // A queued run held no slot; any other run frees one.
  if (run.status !== "QUEUED" && options.drain !== false) effects.push({ type: "start-queued", job: run.job });
  return { ok: true, run: moved.run, effects };
}

export function cancelRun(run: Run, now: number, reason: string): Step {
  return endRun(run, "CANCELLED", "cancelled", reason, now);
}

/**
 * Cancel a run a newer one supersedes (runs/supersede.ts): its slot is the
 * newer run's to take, so the queue is not drained; a deployment in progress
 * is not stopped (`stop: false`), the newer deployment replaces it.
 */
export function supersedeRun(run: Run, now: number, reason: string, options: { readonly stop: boolean }): Step {
  return endRun(run, "CANCELLED", "cancelled", reason, now, { stop: options.stop, drain: false });
}

export function timeOutRun(run: Run, now: number): Step {
  const attempt = currentAttempt(run);
  const limit = run.timeoutAt !== undefined && attempt !== undefined ? ` (${Math.round((run.timeoutAt - attempt.requestedAt) / 1000)}s)` : "";
  return endRun(run, "TIMED_OUT", "timeout", `attempt ${attempt?.number ?? 0} exceeded the job timeout${limit}`, now);
}
