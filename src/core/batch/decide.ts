/**
 * The decisions of batching, made on what the stores answered and `now`; the stores then apply the
 * result conditionally, and a lost condition means: read again and decide again.
 */
import type { BatchPolicy, S3Trigger } from "../catalog/types.ts";
import type { TemplateContext } from "../context/index.ts";
import type { BusEvent } from "../events/envelope.ts";
import { failure, isBerthError, type Failure } from "../errors.ts";
import { idempotencyKey, type Sha256 } from "../runs/idempotency.ts";
import { occurrenceOf } from "../runs/occurrence.ts";
import { closeReasonOf, fullReason, isTombstone, previousOf, type BatchHead, type BatchItem, type BatchItemRecord, type BatchSlot, type CloseReason, type FullReason, type HeadChange, type ItemKeyRecord, type SlotRef, type Tombstone } from "./model.ts";

const utf8 = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * A batch's id: 32 hex digits of the SHA-256 of the job, the batch it replaces and its first item's key. A
 * head is replaced only once (the `open` condition names the closed batch), so no two batches of a job share
 * an id, even when an item whose first slot became a tombstone opens the next batch too.
 */
export function batchIdFor(job: string, replaces: string | undefined, firstItemKey: string, sha256: Sha256): string {
  return hex(sha256(utf8.encode(`${job}\n${replaces ?? ""}\n${firstItemKey}`))).slice(0, 32);
}

/**
 * The item an S3 event brings to `job`, with the object's idempotency key: the very key the upload's run
 * would have unbatched. An event without version id or sequencer cannot be told from a redelivery: a
 * validation failure, as for an unbatched run.
 */
export function batchItemOf(job: string, trigger: S3Trigger, context: TemplateContext, event: BusEvent, sha256: Sha256): { readonly ok: true; readonly item: BatchItem } | Failure {
  let itemKey: string;
  try {
    itemKey = idempotencyKey(job, occurrenceOf(trigger, context, event, ""), sha256);
  } catch (e) {
    if (isBerthError(e) && !e.retryable) return failure(e);
    throw e;
  }
  const v = (name: string) => context[name] ?? "";
  return {
    ok: true,
    item: {
      itemKey,
      bucket: v("s3.bucket"),
      key: v("s3.key"),
      size: Number(v("s3.size")),
      etag: v("s3.etag"),
      versionId: v("s3.versionId"),
      sequencer: v("s3.sequencer"),
      eventTime: event.time,
    },
  };
}

/** What the job's current batch needs before anything else can happen to it. */
export type BatchStep =
  /** Close it (open → closing): its window passed or it is full. */
  | { readonly kind: "close"; readonly change: Extract<HeadChange, { kind: "close" }> }
  /** Complete its slots (`completion`), make its manifest and run, then mark it closed (manifest.ts `handOff`). */
  | { readonly kind: "hand-off"; readonly head: BatchHead }
  /** Open, with room: nothing to do before `until` (its window's end). */
  | { readonly kind: "wait"; readonly until: number }
  /** Closed, its run made: nothing left to do. */
  | { readonly kind: "none" };

/** The next step for a job's head, its own batch (a `previous` is handed off first, flow.ts `settleBatch`): what the window's timer, the sweep and an arriving item each ask. */
export function nextStep(head: BatchHead, policy: BatchPolicy, now: number): BatchStep {
  if (head.state === "closed") return { kind: "none" };
  if (head.state === "closing") return { kind: "hand-off", head };
  const reason = closeReasonOf(head, policy, now);
  return reason !== undefined ? closeStep(head, now, reason) : { kind: "wait", until: head.closesAt };
}

function closeStep(head: BatchHead, now: number, reason: CloseReason): Extract<BatchStep, { kind: "close" }> {
  return { kind: "close", change: { kind: "close", batchId: head.batchId, closedAt: now, reason } };
}

/** Where an item of `size` bytes goes, by the job's head alone. */
export type Placement =
  /** Into a new batch: the job has none, or its last one is closed. */
  | { readonly kind: "open" }
  /** Into the open batch (a reserved slot), which is then `head`; `full`: the item fills it, so it closes at once. */
  | { readonly kind: "join"; readonly head: BatchHead; readonly full?: FullReason }
  /**
   * The current batch takes no more (due, full, no room for the item, or closing). `close`: close it first
   * (whoever wins the close hands it off), then decide again. `hand-off` (it is closing): the item opens the
   * next batch beside it (`decideItem`), or waits while the job still has a previous batch being handed off.
   */
  | { readonly kind: "settle"; readonly step: Extract<BatchStep, { kind: "close" | "hand-off" }> };

/**
 * An item that would take a batch past maxBytes opens the next one, so a batch passes maxBytes only when
 * its one item does.
 */
export function placeItem(head: BatchHead | undefined, policy: BatchPolicy, size: number, now: number): Placement {
  if (head === undefined || head.state === "closed") return { kind: "open" };
  const step = nextStep(head, policy, now);
  if (step.kind === "close" || step.kind === "hand-off") return { kind: "settle", step };
  if (policy.maxBytes !== undefined && head.bytes + size > policy.maxBytes) return { kind: "settle", step: closeStep(head, now, "max-bytes") };
  const joined: BatchHead = { ...head, count: head.count + 1, bytes: head.bytes + size };
  const full = fullReason(joined, policy);
  return { kind: "join", head: joined, ...(full ? { full } : {}) };
}

/** What follows an item's record in its slot. */
export type AfterItem =
  /** The item opened the batch, which has room: close it at `at` (a one-time timer; the sweep closes it too if that is lost). */
  | { readonly kind: "schedule-close"; readonly batchId: string; readonly at: number }
  /** The item's reservation filled the batch: close it now. */
  | { readonly kind: "close"; readonly change: Extract<HeadChange, { kind: "close" }> }
  | { readonly kind: "none" };

/** What follows a successful reservation, from the head the store answered (other items may have reserved since the read). */
export function afterReserve(head: BatchHead, opened: boolean, policy: BatchPolicy, now: number): AfterItem {
  const full = fullReason(head, policy);
  if (full !== undefined) return { kind: "close", change: closeStep(head, now, full).change };
  return opened ? { kind: "schedule-close", batchId: head.batchId, at: head.closesAt } : { kind: "none" };
}

/** How long an item waits, when the job has two batches closing, before it is delivered again. */
export const BATCH_WAIT_MS = 1_000;

/**
 * The item protocol, one step per decision, each step one conditional write of one record (the item key
 * was read first, so a known item reserves nothing):
 * 1. `write` the item's record into the slot its key names, if the slot is empty (flow.ts: the same item's
 *    record there is a duplicate; a tombstone: reserve again, moving the key from that slot);
 * 2. `reserve` a slot: open a batch (slot 0) or reserve the next slot of the open one;
 * 2'. `place` the key at that slot, if the key has no record (or, moving, is placed at `from`) (flow.ts: a lost
 *    place means another delivery of the item placed it first, so this one's slot is tombstoned and it
 *    follows that placement); then 1.
 * Uploads never hand a batch off, except the one that closed it: one finding the batch closing opens the
 * next beside it.
 */
export type ItemDecision =
  /** Reserve a slot with `change`; then place the key record there, moving it from `from` (a tombstoned slot) if set. */
  | { readonly kind: "reserve"; readonly change: Extract<HeadChange, { kind: "open" | "reserve" }>; readonly from?: SlotRef }
  /** Write the item's record into the slot its key record names. */
  | { readonly kind: "write"; readonly record: BatchItemRecord }
  /** The open batch takes no more items: close it (this delivery then owes its hand-off), then decide again. */
  | { readonly kind: "close"; readonly change: Extract<HeadChange, { kind: "close" }> }
  /** The job's batch is closing and the one before it still is too: deliver again at `until`. */
  | { readonly kind: "wait"; readonly until: number };

export interface ItemFacts {
  readonly job: string;
  readonly policy: BatchPolicy;
  /** The job's head as read; undefined when it has none (or when not read: the key is placed and not tombstoned). */
  readonly head: BatchHead | undefined;
  /** The item key's record as read, live (model.ts `liveItemKey`); undefined when it has none. */
  readonly key: ItemKeyRecord | undefined;
  /** The slot `key.placed` names was found holding a tombstone: the item is placed again. */
  readonly tombstoned?: boolean;
  readonly item: BatchItem;
  readonly now: number;
  readonly sha256: Sha256;
}

/** Whether deciding needs the job's head: the item has no slot to write into. */
export const needsHead = (key: ItemKeyRecord | undefined, tombstoned: boolean): boolean => key === undefined || tombstoned;

/** The next step of an item's protocol, from what was read. */
export function decideItem(f: ItemFacts): ItemDecision {
  const { key, item, now } = f;
  if (key !== undefined && f.tombstoned !== true) return { kind: "write", record: { ...item, job: f.job, ...key.placed, joinedAt: now } };
  const from = key !== undefined ? { from: key.placed } : {};
  const { head, policy } = f;
  const place = placeItem(head, policy, item.size, now);
  if (place.kind === "settle" && place.step.kind === "close") return { kind: "close", change: place.step.change };
  if (place.kind === "settle" && head?.previous !== undefined) return { kind: "wait", until: now + BATCH_WAIT_MS };
  if (place.kind === "open" || place.kind === "settle") {
    // No batch, a closed one, or a closing one without a previous: which then stays on the head as the new batch's previous.
    const closing = head?.state === "closing" ? { previous: previousOf(head) } : {};
    const opened: BatchHead = {
      job: f.job,
      batchId: batchIdFor(f.job, head?.batchId, item.itemKey, f.sha256),
      state: "open",
      opened: now,
      closesAt: now + policy.window * 1000,
      count: 1,
      bytes: item.size,
      ...closing,
    };
    return { kind: "reserve", change: { kind: "open", head: opened, ...(head ? { replaces: head.batchId } : {}) }, ...from };
  }
  const change: HeadChange = {
    kind: "reserve",
    batchId: place.head.batchId,
    size: item.size,
    now,
    maxItems: policy.maxItems,
    ...(policy.maxBytes !== undefined ? { bytesAtMost: policy.maxBytes - item.size } : {}),
  };
  return { kind: "reserve", change, ...from };
}

/** How long a closing batch waits for a reserved slot's record before tombstoning it. Default of BatchFlow's `graceMs`. */
export const DEFAULT_SLOT_GRACE_MS = 30_000;

/**
 * How soon a closer looks again at a closing batch whose slots are still being written: at first this long
 * after the close, then twice as long after it each time, until the grace is over. Default of BatchFlow's `recheckMs`.
 */
export const DEFAULT_SLOT_RECHECK_MS = 1_000;

/** When to look again at a closing batch missing slots at `now`, closed at `closedAt`: doubling the wait since the close, at most `graceEnd`. */
export function recheckAt(closedAt: number, now: number, graceEnd: number, recheckMs: number): number {
  return Math.min(graceEnd, now + Math.max(recheckMs, now - closedAt));
}

/** Whether a closing batch's listing holds every slot it reserved. */
export type Completion =
  /** Every slot 0 … count − 1 is written: the listing is the batch, final. */
  | { readonly kind: "complete"; readonly slots: readonly BatchSlot[] }
  /** Slots are missing but their writers may still be at work: look again at `until` (the end of the grace). */
  | { readonly kind: "wait"; readonly until: number; readonly missing: readonly number[] }
  /** The grace is over: write these tombstones (each only into an empty slot), then list again. */
  | { readonly kind: "tombstone"; readonly tombstones: readonly Tombstone[] };

/**
 * A closing batch reserves no more slots, so its slots are 0 … count − 1, each written at most once. Once
 * all are written the listing cannot change; a slot still missing `graceMs` after the close is tombstoned:
 * its writer died, or is so late that it finds the tombstone and reserves a slot in a later batch.
 */
export function completion(head: BatchHead, slots: readonly BatchSlot[], now: number, graceMs: number): Completion {
  const seen = new Set(slots.filter((s) => s.batchId === head.batchId).map((s) => s.slot));
  const missing: number[] = [];
  for (let n = 0; n < head.count; n++) if (!seen.has(n)) missing.push(n);
  if (missing.length === 0) return { kind: "complete", slots: slots.filter((s) => s.batchId === head.batchId && s.slot < head.count) };
  const until = (head.closedAt ?? now) + graceMs;
  if (now < until) return { kind: "wait", until, missing };
  return { kind: "tombstone", tombstones: missing.map((slot) => ({ job: head.job, batchId: head.batchId, slot, tombstone: true, at: now })) };
}

/** The item records of a complete listing, without its tombstones. */
export const itemsOf = (slots: readonly BatchSlot[]): BatchItemRecord[] => slots.filter((s): s is BatchItemRecord => !isTombstone(s));
