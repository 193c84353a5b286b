/**
 * The sweep runs every minute over the open runs (runs/model.ts `isOpen`) and decides
 * what events alone would never do: time out attempts, launch due retries,
 * re-send launches that a crash interrupted or ECS throttled for longer than
 * their sender could wait, admit queued runs, ask ECS
 * about tasks that went quiet (their events may have been lost), and publish
 * again final states whose first publish was interrupted.
 */
import { MAX_LAUNCH_RETRY_MS } from "../ecs/launch-retry.ts";
import { launchEffect, settleRun, type Step } from "./attempts.ts";
import type { Effect } from "./effects.ts";
import { cancelRun, startRetry, timeOutRun } from "./lifecycle.ts";
import { awaitsTask, currentAttempt, pendingLaunch, withAttempt, type Attempt, type Run, type RunPolicy } from "./model.ts";
import { isActive, isQueued, isTerminal, isWaitingForRetry } from "./status.ts";
import { recordTaskState, type TaskStateResult } from "./task-state.ts";
import { type EcsTaskState } from "../events/ecs-task.ts";
import { touch } from "./transitions.ts";

export interface SweepOptions {
  /** Ask ECS about an active task after this long without news. Default 5 minutes. */
  readonly reconcileAfterMs?: number;
  /**
   * How long an invocation holds the launch of a STARTING attempt that has no
   * task ARN: the writer that began the attempt from `requestedAt`, the sweep
   * from when it took the launch over. Past it, or once the holder gave up
   * (ECS throttled the launch for as long as it could wait), the sweep sends
   * the launch (the writer crashed between storing the run and RunTask, or
   * before storing the ARN; or the launch was throttled). The attempt's
   * clientToken makes a re-send start no second task. Default 80 seconds.
   */
  readonly relaunchAfterMs?: number;
  /**
   * Publish again the final state of an ended run that is still not marked
   * announced after this long (the writer that ended it crashed before or
   * while publishing). Until then that writer may still be publishing it.
   * Default 30 seconds.
   */
  readonly announceAfterMs?: number;
}

export const DEFAULT_RECONCILE_AFTER_MS = 5 * 60_000;
/** The longest a holder re-sends a throttled launch (ecs/launch-retry.ts), and time for its last answer to be stored. */
export const DEFAULT_RELAUNCH_AFTER_MS = MAX_LAUNCH_RETRY_MS + 20_000;
export const DEFAULT_ANNOUNCE_AFTER_MS = 30_000;

export interface SweepItem {
  /** The run to store when `changed`, before executing `effects`. */
  readonly run: Run;
  readonly changed: boolean;
  readonly effects: readonly Effect[];
  /** The sweep takes over an unanswered launch (`run` holds it, `effects` send it). */
  readonly relaunch?: boolean;
}

export interface SweepDecision {
  readonly items: readonly SweepItem[];
  /** Job-level effects (`start-queued`), one per job with queued runs. */
  readonly effects: readonly Effect[];
}

export function decideSweep(
  runs: readonly Run[],
  now: number,
  jobs: Readonly<Record<string, RunPolicy>>,
  options: SweepOptions = {},
): SweepDecision {
  const reconcileAfter = options.reconcileAfterMs ?? DEFAULT_RECONCILE_AFTER_MS;
  const relaunchAfter = options.relaunchAfterMs ?? DEFAULT_RELAUNCH_AFTER_MS;
  const items: SweepItem[] = [];
  const queuedJobs = new Set<string>();

  for (const run of runs) {
    const policy = Object.hasOwn(jobs, run.job) ? jobs[run.job] : undefined;
    const attempt = currentAttempt(run);

    if (isQueued(run.status) || isWaitingForRetry(run.status)) {
      if (policy === undefined) {
        const step = cancelRun(run, now, `job "${run.job}" is no longer in the catalog`);
        if (step.ok) items.push({ run: step.run, changed: true, effects: step.effects });
        continue;
      }
      if (isQueued(run.status)) {
        queuedJobs.add(run.job);
      } else if ((run.nextAttemptAt ?? 0) <= now) {
        const step = startRetry(run, now, policy);
        if (step.ok) items.push({ run: step.run, changed: true, effects: step.effects });
      }
      continue;
    }

    if (!isActive(run.status) || attempt === undefined) continue;

    if (run.timeoutAt !== undefined && run.timeoutAt <= now) {
      const step = timeOutRun(run, now);
      if (step.ok) items.push({ run: step.run, changed: true, effects: step.effects });
      continue;
    }
    if (attempt.taskArn === undefined) {
      if (awaitsTask(attempt) && launchIsFree(attempt, now, relaunchAfter)) {
        // Stored first, on the version read: of two sweeps that find the launch free, one sends it.
        const held = touch(withAttempt(run, attempt.number, (a) => ({ ...a, heldUntil: now + relaunchAfter })), now);
        items.push({ run: held, changed: true, effects: [launchEffect(held, attempt)], relaunch: true });
      }
      continue;
    }
    if (now - Math.max(run.updatedAt, run.checkedAt ?? 0) >= reconcileAfter) {
      items.push({ run, changed: false, effects: [{ type: "reconcile", runId: run.id, taskArn: attempt.taskArn }] });
    }
  }

  const effects: Effect[] = [...queuedJobs].sort().map((job) => ({ type: "start-queued", job }));
  return { items, effects };
}

/** Nobody is sending the attempt's launch any more: its holder's time is over, or the holder gave up. */
export function launchIsFree(attempt: Attempt, now: number, relaunchAfterMs: number = DEFAULT_RELAUNCH_AFTER_MS): boolean {
  return (attempt.heldUntil ?? attempt.requestedAt + relaunchAfterMs) <= now;
}

/**
 * A sender gives up an unanswered launch (ECS throttled it for as long as the sender could wait):
 * the next sweep sends it, without waiting out the sender's hold. Nothing to do when the attempt
 * no longer awaits its task.
 */
export function releaseLaunch(run: Run, attemptNumber: number, now: number, relaunchAfterMs: number = DEFAULT_RELAUNCH_AFTER_MS): Step {
  const attempt = pendingLaunch(run);
  if (attempt === undefined || attempt.number !== attemptNumber || launchIsFree(attempt, now, relaunchAfterMs)) return { ok: true, run, effects: [] };
  return { ok: true, run: touch(withAttempt(run, attemptNumber, (a) => ({ ...a, heldUntil: now })), now), effects: [] };
}

/** The run's launch came back unanswered and was given up: ECS is throttling its sender. */
export function launchGivenUp(run: Run, now: number): boolean {
  const attempt = pendingLaunch(run);
  return attempt?.heldUntil !== undefined && attempt.heldUntil <= now;
}

/**
 * Ended runs whose final state change must be published again (then marked
 * announced): the writer that ended them has had `announceAfterMs` to do it
 * itself.
 */
export function decideAnnouncements(runs: readonly Run[], now: number, options: SweepOptions = {}): readonly Run[] {
  const after = options.announceAfterMs ?? DEFAULT_ANNOUNCE_AFTER_MS;
  return runs.filter((run) => isTerminal(run.status) && run.announced !== true && now - run.updatedAt >= after);
}

/**
 * Apply what DescribeTasks said about the current attempt's task. A task ECS
 * no longer knows (stopped tasks stay visible for about an hour) failed
 * unobserved. An answer with no news still records that the task was checked,
 * so the sweep waits a full interval before asking again.
 */
export function reconcileTask(
  run: Run,
  described: EcsTaskState | "missing",
  now: number,
  policy: RunPolicy,
): TaskStateResult {
  const attempt = currentAttempt(run);
  if (attempt === undefined || !isActive(run.status)) return { run, effects: [], outcome: "stale" };

  if (described === "missing") {
    if (attempt.taskArn === undefined) return { run, effects: [], outcome: "unknown-task" };
    const lost = touch(
      withAttempt(run, attempt.number, (a) => ({
        ...a,
        status: "FAILED",
        failureClass: "unknown",
        stoppedReason: `ECS no longer knows task ${a.taskArn}; its end was not observed`,
        stoppedAt: now,
      })),
      now,
    );
    const step = settleRun(lost, now, policy);
    return step.ok ? { run: step.run, effects: step.effects, outcome: "updated" } : { run: lost, effects: [], outcome: "updated" };
  }

  // DescribeTasks is ECS's view of now: where an event's version (forged, or from a task ECS
  // renumbered) stands above it, the answer still applies, and later events are ordered from it.
  const target = run.attempts.find((a) => a.taskArn === described.taskArn) ?? attempt;
  const overtaken = target.lastEventVersion !== undefined && described.version < target.lastEventVersion;
  const base = overtaken ? withAttempt(run, target.number, (a) => ({ ...a, lastEventVersion: described.version - 1 })) : run;
  const result = recordTaskState(base, described, now, policy);
  if (result.outcome === "duplicate" || result.outcome === "stale") {
    const checked = overtaken ? withAttempt(run, target.number, (a) => ({ ...a, lastEventVersion: described.version })) : run;
    return { run: touch(checked, now, { checkedAt: now }), effects: [], outcome: "updated" };
  }
  return result;
}
