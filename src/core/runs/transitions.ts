/**
 * Moving a run along the lifecycle table (./status.ts). Stale events ask for
 * moves the table forbids and get an InvalidTransitionError back instead of a
 * patched record.
 */
import { InvalidTransitionError } from "../errors.ts";
import type { Run } from "./model.ts";
import { canTransition, isTerminal, type RunStatus } from "./status.ts";

/** Fields a transition may set (or clear, with `undefined`) alongside the status; identity and bookkeeping stay the model's. */
export type RunPatch = Partial<Omit<Run, "id" | "job" | "service" | "status" | "version" | "createdAt" | "updatedAt">>;

export type TransitionResult =
  | { readonly ok: true; readonly run: Run }
  | { readonly ok: false; readonly error: InvalidTransitionError };

export function transition(run: Run, to: RunStatus, now: number, patch: RunPatch = {}): TransitionResult {
  if (!canTransition(run.status, to)) {
    const why = isTerminal(run.status) ? `run ${run.id} already ended ${run.status}` : `run ${run.id} is ${run.status}`;
    return { ok: false, error: new InvalidTransitionError(run.status, to, `${why}; it cannot move to ${to}`) };
  }
  const next: Run = dropUndefined({
    ...run,
    ...patch,
    status: to,
    updatedAt: now,
    version: run.version + 1,
  });
  return { ok: true, run: isTerminal(to) && next.endedAt === undefined ? { ...next, endedAt: now } : next };
}

/**
 * A patch clears a field by setting it to `undefined`; the key is then removed
 * so stores never see explicit undefined values.
 */
export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A change that keeps the status (attempt details, a task ARN): still a new version. */
export function touch(run: Run, now: number, patch: RunPatch = {}): Run {
  return dropUndefined({ ...run, ...patch, updatedAt: now, version: run.version + 1 });
}
