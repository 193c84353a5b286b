/**
 * Admission: may a new run of a job start now?
 *
 * `max` is the number of runs of one job that may be active at once (STARTING
 * through RUNNING, and RETRY_WAIT, which will launch again). `overlap` says
 * what happens to a new run when that cap is reached:
 *
 * | overlap | cap (max absent)     | cap reached                                        |
 * |---------|----------------------|----------------------------------------------------|
 * | allow   | unlimited            | QUEUED, FIFO (a cap is a cap; nothing is dropped)  |
 * | forbid  | 1                    | SKIPPED, with the reason                           |
 * | replace | 1                    | cancel the oldest active runs, then start          |
 * | queue   | 1                    | QUEUED, FIFO                                       |
 * | supersede | 1                  | newest code wins (runs/supersede.ts)               |
 *
 * forbid/replace/queue talk about overlapping runs, so without a `max` they
 * mean "one at a time". Queued runs keep their order: while any run waits, a
 * new run queues behind it even if a slot is free (the `start-queued` effect
 * then admits the head of the queue first).
 */
import type { ConcurrencyPolicy } from "../catalog/types.ts";
import { isTerminal, type RunStatus } from "./status.ts";

export interface ActiveRunRef {
  readonly id: string;
  readonly createdAt: number;
}

export type Admission =
  | { readonly decision: "start" }
  | { readonly decision: "queue" }
  | { readonly decision: "skip"; readonly reason: string }
  /** Start after cancelling these runs (oldest first). */
  | { readonly decision: "replace"; readonly cancel: readonly string[] }
  /** Start after cancelling these older runs with `reason` (runs/supersede.ts). */
  | { readonly decision: "supersede"; readonly cancel: readonly string[]; readonly reason: string };

/** How many runs may be active at once; Infinity when unlimited. */
export function concurrencyCap(policy: ConcurrencyPolicy): number {
  if (policy.max !== undefined) return policy.max;
  return policy.overlap === "allow" ? Number.POSITIVE_INFINITY : 1;
}

function queues(policy: ConcurrencyPolicy): boolean {
  return policy.overlap === "queue" || policy.overlap === "allow";
}

/**
 * Whether run `runId` waits behind an older queued run of a job that keeps its queue in order, whatever
 * the slots say: admission then has no need to read them.
 */
export function waitsInQueue(policy: ConcurrencyPolicy, runId: string, queueHead: readonly { readonly id: string }[]): boolean {
  return queues(policy) && queueHead.some((r) => r.id < runId);
}

export function decideAdmission(
  policy: ConcurrencyPolicy,
  activeRuns: readonly ActiveRunRef[],
  queuedCount: number,
): Admission {
  const cap = concurrencyCap(policy);
  if (queues(policy) && queuedCount > 0) return { decision: "queue" };
  if (activeRuns.length < cap) return { decision: "start" };
  switch (policy.overlap) {
    case "forbid":
      return {
        decision: "skip",
        reason: `overlap is forbid and ${activeRuns.length} run(s) are active (max ${cap}): ${activeRuns
          .map((r) => r.id)
          .join(", ")}`,
      };
    case "supersede":
    case "replace": {
      // supersede decides with the runs' positions (runs/supersede.ts); counted alone it is replace.
      const oldestFirst = [...activeRuns].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
      return { decision: "replace", cancel: oldestFirst.slice(0, activeRuns.length - cap + 1).map((r) => r.id) };
    }
    case "queue":
    case "allow":
      return { decision: "queue" };
  }
}

/**
 * Admission of run `runId` from what the store holds: the runs holding the
 * job's slots (a slot is held from admission until the run ends) and the
 * head of its queue. Run ids sort by creation time, so a queued run with a
 * smaller id is older and goes first.
 */
export function admissionFor(
  policy: ConcurrencyPolicy,
  runId: string,
  slotHolders: readonly { readonly runId: string; readonly since: number }[],
  queueHead: readonly { readonly id: string }[],
): Admission {
  const active = slotHolders.filter((h) => h.runId !== runId).map((h) => ({ id: h.runId, createdAt: h.since }));
  return decideAdmission(policy, active, queueHead.filter((r) => r.id < runId).length);
}

/**
 * Which queued runs to start now that slots may be free: the oldest first, as
 * many as the cap leaves room for.
 */
export function decideQueueDrain(
  policy: ConcurrencyPolicy,
  activeCount: number,
  queued: readonly { readonly id: string; readonly queuedAt: number }[],
): string[] {
  const room = Math.max(0, concurrencyCap(policy) - activeCount);
  return [...queued]
    .sort((a, b) => a.queuedAt - b.queuedAt || a.id.localeCompare(b.id))
    .slice(0, room)
    .map((r) => r.id);
}

/** Whether admission must count and claim slots: false when the job runs any number at once. */
export function limitsConcurrency(policy: ConcurrencyPolicy): boolean {
  return Number.isFinite(concurrencyCap(policy));
}

/**
 * A slot looked free, but another dispatch claimed the last one between the
 * read and the claim: the run is in the same place as one that found the cap
 * reached, except that `replace` cannot cancel a run it has not seen, so it
 * waits in the queue like `queue` does.
 */
export function decideAfterLostSlot(policy: ConcurrencyPolicy): Admission {
  if (policy.overlap === "forbid") {
    return { decision: "skip", reason: `overlap is forbid and every slot (max ${concurrencyCap(policy)}) was taken by a run admitted at the same moment` };
  }
  return { decision: "queue" };
}

/** How many queued runs one drain may start: the free slots, at most `perDrain` (the next drain starts more). */
export function queueRoom(policy: ConcurrencyPolicy, activeCount: number, perDrain: number): number {
  return Math.max(0, Math.min(perDrain, concurrencyCap(policy) - activeCount));
}

/** Slots held by runs that do not exist for this long are freed by the sweep (a crash between taking the slot and writing the run). */
export const DEFAULT_ORPHAN_SLOT_MS = 60_000;

/**
 * Whether a slot holder no longer holds its slot rightfully: its run ended,
 * or no run exists for it after `graceMs` (runs are written before they take
 * a slot; the grace covers a read racing a brand-new run on an eventually
 * consistent index).
 */
export function isOrphanSlot(
  holder: { readonly since: number },
  run: { readonly status: RunStatus } | undefined,
  now: number,
  graceMs: number = DEFAULT_ORPHAN_SLOT_MS,
): boolean {
  return run !== undefined ? isTerminal(run.status) : now - holder.since >= graceMs;
}
