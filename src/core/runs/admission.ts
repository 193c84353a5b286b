/**
 * What happens to a run that was just written QUEUED (every run is, under its
 * idempotency key) or that a redelivery finds again: admission moves it on
 * (start, skip, stay queued), and a redelivered occurrence only finishes what
 * a crash interrupted.
 */
import type { Admission } from "./concurrency.ts";
import { publishEffect, type Effect } from "./effects.ts";
import { startQueuedRun } from "./lifecycle.ts";
import { launchEffect, type Step } from "./attempts.ts";
import { pendingLaunch, type Run, type RunPolicy } from "./model.ts";
import { isQueued } from "./status.ts";
import { launchIsFree } from "./sweep.ts";
import { transition } from "./transitions.ts";

/**
 * Applies an admission decision to a QUEUED run. A run that stays queued is
 * announced (QUEUED published) only when it is new: a redelivery that finds
 * it still waiting says nothing again.
 */
export function admitRun(run: Run, admission: Admission, now: number, policy: RunPolicy, options: { readonly announceQueued: boolean }): Step {
  switch (admission.decision) {
    case "start":
    case "replace":
    case "supersede":
      return startQueuedRun(run, now, policy);
    case "skip": {
      const moved = transition(run, "SKIPPED", now, { reason: admission.reason });
      return moved.ok ? { ok: true, run: moved.run, effects: [publishEffect(moved.run)] } : moved;
    }
    case "queue":
      return { ok: true, run, effects: options.announceQueued ? [publishEffect(run)] : [] };
  }
}

export type Resumption =
  /** Still QUEUED: admit it as a new run would be, without announcing it again. */
  | { readonly resume: "admit" }
  /** Execute these effects for the run as stored (none: nothing was interrupted). */
  | { readonly resume: "effects"; readonly effects: readonly Effect[] };

/**
 * A duplicate delivery of an occurrence whose run exists: launch nothing new,
 * but finish what a crash interrupted — admission of a run left QUEUED, or
 * the launch of an attempt that has no task yet (the same clientToken, so
 * ECS starts no second task). That launch belongs to the delivery that began
 * the attempt: it may still be waiting for RunTask's answer, and every
 * re-send spends the account's RunTask rate. A duplicate re-sends it only
 * once the owner has had `relaunchAfterMs` (the sweep's own wait, runs/sweep.ts)
 * and no sweep holds it now (`launchIsFree`); a launch its sender gave up is the
 * sweep's, which takes a hold before sending. Before that it leaves it alone.
 */
export function decideResume(run: Run, now: number, relaunchAfterMs: number): Resumption {
  if (isQueued(run.status)) return { resume: "admit" };
  const attempt = pendingLaunch(run);
  const overdue = attempt !== undefined && now - attempt.requestedAt >= relaunchAfterMs && launchIsFree(attempt, now, relaunchAfterMs);
  return { resume: "effects", effects: overdue ? [launchEffect(run, attempt)] : [] };
}
