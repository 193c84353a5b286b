/**
 * The batch protocols over a BatchStore: an item's arrival (`addItem`) and a batch's close and hand-off
 * (`settleBatch`). Each step is one conditional write of one record, decided by decide.ts on what was
 * read; a lost condition means: read again and decide again. A crash between any two steps leaves records
 * from which the next delivery of the item, the window's timer or the sweep carries on (README.md).
 */
import type { BatchPolicy, ManifestLocation } from "../catalog/types.ts";
import { TransientError } from "../errors.ts";
import type { Sha256 } from "../runs/idempotency.ts";
import { afterReserve, completion, decideItem, DEFAULT_SLOT_GRACE_MS, DEFAULT_SLOT_RECHECK_MS, needsHead, nextStep, recheckAt, type AfterItem, type BatchStep } from "./decide.ts";
import { handOff, type HandOff } from "./manifest.ts";
import { isTombstone, liveItemKey, previousHead, reservedSlot, type BatchHead, type BatchItem, type ItemKeyRecord, type SlotRef } from "./model.ts";
import type { BatchStore } from "./port.ts";

/** The side effects, each named after the write just done. */
export type FaultPoint = "reserved" | "placed" | "written" | "closed" | "tombstoned" | "handed-off";

export interface BatchFlow {
  readonly store: BatchStore;
  readonly job: string;
  readonly policy: BatchPolicy;
  readonly location: ManifestLocation;
  readonly service: string;
  readonly sha256: Sha256;
  /** Writes the manifest, then creates the run; both are idempotent (the same key and bytes, the same run). */
  publish(handOff: Extract<HandOff, { empty: false }>): Promise<void>;
  /** How long after its close a batch waits for a reserved slot's record before tombstoning it. Default DEFAULT_SLOT_GRACE_MS. */
  readonly graceMs?: number;
  /** How soon after its close a batch missing slots is looked at again (then doubling). Default DEFAULT_SLOT_RECHECK_MS. */
  readonly recheckMs?: number;
  /** Called after each write; whatever it throws ends the flow there, as a crash would. */
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

/** A previous batch handed off on the way to the head's own outcome. */
export interface HandedOff {
  readonly batchId: string;
  readonly runId?: string;
}

export type SettleOutcome =
  /** The job has no batch, or its batch is closed. */
  | { readonly kind: "none"; readonly previous?: HandedOff }
  /** The batch is open with room: close it at `until`. */
  | { readonly kind: "open"; readonly until: number; readonly previous?: HandedOff }
  /** A closing batch's slots are still being written (the head's, or its previous's): settle again at `until`. */
  | { readonly kind: "wait"; readonly until: number; readonly previous?: HandedOff }
  /** The batch is closed; `runId` absent for a batch of tombstones. */
  | ({ readonly kind: "handed-off"; readonly previous?: HandedOff } & HandedOff);

export type ItemOutcome =
  /**
   * The item's record is in `at`. `then`: what the caller still owes the batch (a timer). `settled`: this
   * delivery closed a batch and settled it. `head`: the batch as this delivery's reservation left it (absent
   * when an earlier delivery reserved the slot).
   */
  | { readonly kind: "added"; readonly at: SlotRef; readonly then: AfterItem; readonly head?: BatchHead; readonly settled?: SettleOutcome }
  /** A delivery before this one put the item in `at`: this one reserved nothing. */
  | { readonly kind: "duplicate"; readonly at: SlotRef }
  /** The job has two batches closing: deliver again at `until`. */
  | { readonly kind: "wait"; readonly until: number; readonly settled?: SettleOutcome };

/** Rounds of read-decide-write before an item gives up as transient: each lost round means the head moved on (a close, a new batch). */
const MAX_ROUNDS = 20;

async function effect(flow: BatchFlow, point: FaultPoint): Promise<void> {
  await flow.fault?.(point);
}

/**
 * One delivery of `item`: the item protocol (decide.ts `ItemDecision`) until the item is in a slot. A first
 * delivery reads the item key and the head and writes three records: the head (reserve), the item key
 * (place), the slot. A delivery that wins a `close` hands that batch off once its own item is in.
 */
export async function addItem(flow: BatchFlow, item: BatchItem, now: number): Promise<ItemOutcome> {
  const { store, job, policy, sha256 } = flow;
  let key: ItemKeyRecord | undefined = liveItemKey(await store.getItemKey(item.itemKey), now);
  let tombstoned = false;
  let then: AfterItem = { kind: "none" };
  let reservedIn: BatchHead | undefined;
  let closer = false;
  let settled: SettleOutcome | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const head = needsHead(key, tombstoned) ? await store.getHead(job) : undefined;
    const decision = decideItem({ job, policy, head, key, tombstoned, item, now, sha256 });
    switch (decision.kind) {
      case "close": {
        const closed = await store.changeHead(job, decision.change);
        if (closed.ok) {
          await effect(flow, "closed");
          closer = true;
        }
        break;
      }
      case "wait": {
        // A closer that finds the batch before still closing hands both off first, then tries again.
        if (closer) {
          closer = false;
          settled = await settleBatch(flow, now);
          break;
        }
        return { kind: "wait", until: decision.until, ...(settled ? { settled } : {}) };
      }
      case "reserve": {
        const reserved = await store.changeHead(job, decision.change);
        if (!reserved.ok) break;
        await effect(flow, "reserved");
        const at = reservedSlot(reserved.record);
        reservedIn = reserved.record;
        then = afterReserve(reserved.record, decision.change.kind === "open", policy, now);
        const placed = await store.changeItemKey({ kind: "place", itemKey: item.itemKey, job, at, now, ...(decision.from ? { from: decision.from } : {}) });
        if (placed.ok) {
          await effect(flow, "placed");
          key = placed.record;
        } else {
          // Another delivery of this item placed it first: the slot just reserved will hold nothing.
          if ((await store.writeSlot({ job, ...at, tombstone: true, at: now })).ok) await effect(flow, "tombstoned");
          key = liveItemKey(placed.current, now);
        }
        tombstoned = false;
        break;
      }
      case "write": {
        const { record } = decision;
        const at = { batchId: record.batchId, slot: record.slot };
        const written = await store.writeSlot(record);
        if (written.ok) await effect(flow, "written");
        else if (written.current !== undefined && isTombstone(written.current)) {
          // The batch closed and gave up on the slot: the item goes to a later batch.
          tombstoned = true;
          break;
        } else if (written.current?.itemKey !== item.itemKey) {
          throw new Error(`slot ${record.slot} of batch ${record.batchId} holds ${written.current?.itemKey ?? "nothing"}, not ${item.itemKey}, though ${item.itemKey} was placed there`);
        } else if (reservedIn === undefined) {
          // The item's record is in its slot and this delivery reserved nothing: a redelivery.
          return { kind: "duplicate", at };
        }
        // The head of the batch the item is in: a reservation of a slot the item later left (a tombstone) names another batch.
        const inHead = reservedIn?.batchId === at.batchId ? { head: reservedIn } : {};
        if (then.kind === "close" || closer) settled = await settleBatch(flow, now);
        return { kind: "added", at, then, ...inHead, ...(settled ? { settled } : {}) };
      }
    }
  }
  throw new TransientError(`item ${item.itemKey} found no batch of ${job} to join in ${MAX_ROUNDS} rounds: the job's batches turn over faster than it can read them; deliver it again`);
}

/**
 * What the job's batches need at `now`: the head's previous batch is completed and handed off first; then
 * the head's own step (decide.ts `nextStep`): close it when due or full, hand it off once its slots are complete.
 */
export async function settleBatch(flow: BatchFlow, now: number): Promise<SettleOutcome> {
  let previous: HandedOff | undefined;
  const withPrevious = <T extends SettleOutcome>(out: T): T => (previous !== undefined && out.previous === undefined ? { ...out, previous } : out);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const head = await flow.store.getHead(flow.job);
    if (head === undefined) return withPrevious({ kind: "none" });
    let waiting: number | undefined;
    if (head.previous !== undefined) {
      const done = await completeBatch(flow, previousHead({ ...head, previous: head.previous }), now, true);
      if (done.kind === "handed-off") {
        previous = { batchId: done.batchId, ...(done.runId !== undefined ? { runId: done.runId } : {}) };
        continue;
      }
      if (done.kind === "wait") waiting = done.until;
    }
    const step = nextStep(head, flow.policy, now);
    if (waiting !== undefined) {
      // The head is handed off only after its previous: close it when due, and come back when the previous's slots may be in.
      if (step.kind === "close" && (await flow.store.changeHead(flow.job, step.change)).ok) await effect(flow, "closed");
      return withPrevious({ kind: "wait", until: step.kind === "wait" ? Math.min(waiting, step.until) : waiting });
    }
    if (step.kind === "none") return withPrevious({ kind: "none" });
    if (step.kind === "wait") return withPrevious({ kind: "open", until: step.until });
    const settled = await settleStep(flow, step, now);
    if (settled.kind !== "again") return withPrevious(settled);
  }
  throw new TransientError(`batch of ${flow.job} changed under every one of ${MAX_ROUNDS} attempts to settle it; settle it again`);
}

async function settleStep(flow: BatchFlow, step: Extract<BatchStep, { kind: "close" | "hand-off" }>, now: number): Promise<SettleOutcome | { readonly kind: "again" }> {
  if (step.kind === "hand-off") return completeBatch(flow, step.head, now, false);
  const closed = await flow.store.changeHead(flow.job, step.change);
  if (!closed.ok) return { kind: "again" };
  await effect(flow, "closed");
  return completeBatch(flow, closed.record, now, false);
}

/**
 * A closing batch (the head's own, or its `previous`): wait for its slots (looking again soon, tombstoning
 * them after the grace), then manifest, run, and the hand-off change.
 */
async function completeBatch(flow: BatchFlow, head: BatchHead, now: number, previous: boolean): Promise<Extract<SettleOutcome, { kind: "wait" | "handed-off" }>> {
  const { store, sha256 } = flow;
  const graceMs = flow.graceMs ?? DEFAULT_SLOT_GRACE_MS;
  for (;;) {
    const slots = await store.listSlots(head.batchId);
    const state = completion(head, slots, now, graceMs);
    if (state.kind === "wait") return { kind: "wait", until: recheckAt(head.closedAt ?? now, now, state.until, flow.recheckMs ?? DEFAULT_SLOT_RECHECK_MS) };
    if (state.kind === "tombstone") {
      // Each lands only in a still empty slot; a late writer's record keeps its slot. Then list again.
      for (const tombstone of state.tombstones) if ((await store.writeSlot(tombstone)).ok) await effect(flow, "tombstoned");
      continue;
    }
    const made = handOff(head, state.slots, flow.location, flow.service, sha256);
    if (!made.ok) throw made.error;
    if (!made.handOff.empty) await flow.publish(made.handOff);
    const change = previous ? { ...made.handOff.change, previous: true as const } : made.handOff.change;
    const handed = await store.changeHead(flow.job, change);
    if (handed.ok) await effect(flow, "handed-off");
    // An upload opened the next batch beside this one while it was completed: it is the head's previous now.
    else if (!previous && handed.current?.previous?.batchId === head.batchId && (await store.changeHead(flow.job, { ...change, previous: true })).ok) await effect(flow, "handed-off");
    const runId = change.runId;
    return { kind: "handed-off", batchId: head.batchId, ...(runId !== undefined ? { runId } : {}) };
  }
}
