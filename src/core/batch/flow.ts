/**
 * The batch protocols over a BatchStore: an item's arrival (`addItem`) and a batch's close and hand-off
 * (`settleBatch`). Each step is one conditional write of one record, decided by decide.ts on what was
 * read; a lost condition means: read again and decide again. A crash between any two steps leaves records
 * from which the next delivery of the item, the window's timer or the sweep carries on (README.md).
 */
import type { BatchPolicy, ManifestLocation } from "../catalog/types.ts";
import { TransientError } from "../errors.ts";
import type { Sha256 } from "../runs/idempotency.ts";
import { afterReserve, completion, decideItem, DEFAULT_SLOT_GRACE_MS, nextStep, type AfterItem, type BatchStep } from "./decide.ts";
import { handOff, type HandOff } from "./manifest.ts";
import { isTombstone, reservedSlot, type BatchHead, type BatchItem, type ItemKeyRecord, type SlotRef } from "./model.ts";
import type { BatchStore } from "./port.ts";

/** The side effects, each named after the write just done. */
export type FaultPoint = "claimed" | "reserved" | "placed" | "written" | "done" | "closed" | "tombstoned" | "handed-off";

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
  /** Called after each write; whatever it throws ends the flow there, as a crash would. */
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

export type SettleOutcome =
  /** The job has no batch, or its batch is closed. */
  | { readonly kind: "none" }
  /** The batch is open with room: close it at `until`. */
  | { readonly kind: "open"; readonly until: number }
  /** The batch is closing and slots are still being written: settle again at `until` (the grace's end). */
  | { readonly kind: "wait"; readonly until: number }
  /** The batch is closed; `runId` absent for a batch of tombstones. */
  | { readonly kind: "handed-off"; readonly batchId: string; readonly runId?: string };

export type ItemOutcome =
  /**
   * The item's record is in `at`. `then`: what the caller still owes the batch (a timer); a `close` was done.
   * `head`: the batch as this delivery's reservation left it (absent when an earlier delivery reserved the slot).
   */
  | { readonly kind: "added"; readonly at: SlotRef; readonly then: AfterItem; readonly head?: BatchHead; readonly settled?: SettleOutcome }
  /** A delivery before this one put the item in `at`. */
  | { readonly kind: "duplicate"; readonly at: SlotRef }
  /** The current batch takes no more items and is still completing its slots: deliver again at `until`. */
  | { readonly kind: "wait"; readonly until: number };

/** Rounds of read-decide-write before an item gives up as transient: each lost round means the head moved on (a close, a new batch). */
const MAX_ROUNDS = 20;

async function effect(flow: BatchFlow, point: FaultPoint): Promise<void> {
  await flow.fault?.(point);
}

/** One delivery of `item`: the item protocol (decide.ts `ItemDecision`) until the item is in a slot. */
export async function addItem(flow: BatchFlow, item: BatchItem, now: number): Promise<ItemOutcome> {
  const { store, job, policy, sha256 } = flow;
  let key: ItemKeyRecord | undefined = await store.getItemKey(item.itemKey);
  let tombstoned = false;
  let then: AfterItem = { kind: "none" };
  let reservedIn: BatchHead | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const needsHead = key !== undefined && !key.done && (key.placed === undefined || tombstoned);
    const head = needsHead ? await store.getHead(job) : undefined;
    const decision = decideItem({ job, policy, head, key, tombstoned, item, now, sha256 });
    switch (decision.kind) {
      case "duplicate":
        return { kind: "duplicate", at: decision.at };
      case "claim": {
        const claimed = await store.changeItemKey(decision.change);
        if (claimed.ok) await effect(flow, "claimed");
        key = claimed.ok ? claimed.record : claimed.current;
        break;
      }
      case "settle": {
        const settled = await settleStep(flow, decision.step, now);
        if (settled.kind === "wait") return settled;
        break;
      }
      case "reserve": {
        const reserved = await store.changeHead(job, decision.change);
        if (!reserved.ok) break;
        await effect(flow, "reserved");
        const at = reservedSlot(reserved.record);
        reservedIn = reserved.record;
        then = afterReserve(reserved.record, decision.change.kind === "open", policy, now);
        const placed = await store.changeItemKey({ kind: "place", itemKey: item.itemKey, at, ...(decision.from ? { from: decision.from } : {}) });
        if (placed.ok) {
          await effect(flow, "placed");
          key = placed.record;
        } else {
          // Another delivery of this item placed it first: the slot just reserved will hold nothing.
          if ((await store.writeSlot({ job, ...at, tombstone: true, at: now })).ok) await effect(flow, "tombstoned");
          key = placed.current;
        }
        tombstoned = false;
        break;
      }
      case "write": {
        const { record } = decision;
        const written = await store.writeSlot(record);
        if (written.ok) await effect(flow, "written");
        else if (written.current !== undefined && isTombstone(written.current)) {
          // The batch closed and gave up on the slot: the item goes to a later batch.
          tombstoned = true;
          break;
        } else if (written.current?.itemKey !== item.itemKey) {
          throw new Error(`slot ${record.slot} of batch ${record.batchId} holds ${written.current?.itemKey ?? "nothing"}, not ${item.itemKey}, though ${item.itemKey} was placed there`);
        }
        const at = { batchId: record.batchId, slot: record.slot };
        if ((await store.changeItemKey({ kind: "done", itemKey: item.itemKey, at })).ok) await effect(flow, "done");
        // The head of the batch the item is in: a reservation of a slot the item later left (a tombstone) names another batch.
        const head = reservedIn?.batchId === at.batchId ? { head: reservedIn } : {};
        if (then.kind !== "close") return { kind: "added", at, then, ...head };
        return { kind: "added", at, then, ...head, settled: await settleBatch(flow, now) };
      }
    }
  }
  throw new TransientError(`item ${item.itemKey} found no batch of ${job} to join in ${MAX_ROUNDS} rounds: the job's batches turn over faster than it can read them; deliver it again`);
}

/** What the job's batch needs at `now` (decide.ts `nextStep`): close it when due or full, and hand it off once its slots are complete. */
export async function settleBatch(flow: BatchFlow, now: number): Promise<SettleOutcome> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const head = await flow.store.getHead(flow.job);
    if (head === undefined) return { kind: "none" };
    const step = nextStep(head, flow.policy, now);
    if (step.kind === "none") return { kind: "none" };
    if (step.kind === "wait") return { kind: "open", until: step.until };
    const settled = await settleStep(flow, step, now);
    if (settled.kind !== "again") return settled;
  }
  throw new TransientError(`batch of ${flow.job} changed under every one of ${MAX_ROUNDS} attempts to settle it; settle it again`);
}

async function settleStep(flow: BatchFlow, step: Extract<BatchStep, { kind: "close" | "hand-off" }>, now: number): Promise<SettleOutcome | { readonly kind: "again" }> {
  if (step.kind === "hand-off") return completeBatch(flow, step.head, now);
  const closed = await flow.store.changeHead(flow.job, step.change);
  if (!closed.ok) return { kind: "again" };
  await effect(flow, "closed");
  return completeBatch(flow, closed.record, now);
}

/** A closing batch: wait for its slots (or tombstone them after the grace), then manifest, run, closed. */
async function completeBatch(flow: BatchFlow, head: BatchHead, now: number): Promise<SettleOutcome> {
  const { store, sha256 } = flow;
  for (;;) {
    const slots = await store.listSlots(head.batchId);
    const state = completion(head, slots, now, flow.graceMs ?? DEFAULT_SLOT_GRACE_MS);
    if (state.kind === "wait") return { kind: "wait", until: state.until };
    if (state.kind === "tombstone") {
      // Each lands only in a still empty slot; a late writer's record keeps its slot. Then list again.
      for (const tombstone of state.tombstones) if ((await store.writeSlot(tombstone)).ok) await effect(flow, "tombstoned");
      continue;
    }
    const made = handOff(head, state.slots, flow.location, flow.service, sha256);
    if (!made.ok) throw made.error;
    if (!made.handOff.empty) await flow.publish(made.handOff);
    if ((await store.changeHead(flow.job, made.handOff.change)).ok) await effect(flow, "handed-off");
    const runId = made.handOff.change.runId;
    return { kind: "handed-off", batchId: head.batchId, ...(runId !== undefined ? { runId } : {}) };
  }
}
