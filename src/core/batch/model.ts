/**
 * The records a batch is made of, as the stores keep them, and the one rule for each conditional write to
 * them. No write spans two records: DynamoDB's TransactWriteItems is not used (the test server has none,
 * and it would make one job's items contend), so every step is a single-record conditional write, and
 * the apply* functions below are the conditions. The memory and SQLite stores call them; the DynamoDB
 * store states each as the condition expression named beside it.
 *
 * | record   | one per                 | holds                                                             |
 * |----------|-------------------------|-------------------------------------------------------------------|
 * | head     | job                     | its current batch: state, window, slots reserved (`count`), bytes |
 * | item key | item key (per job)      | the slot the item was placed in                                   |
 * | slot     | batch and slot number   | an item's record, or a tombstone (the slot will never hold one)   |
 */
import type { BatchPolicy } from "../catalog/types.ts";

/** One upload as a batch records it: the object's facts from its S3 event, and its idempotency key. */
export interface BatchItem {
  /** The object's idempotency key (runs/idempotency.ts), the key its run would have unbatched: a redelivery has the same one. */
  readonly itemKey: string;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** `""` when the event carried none. */
  readonly etag: string;
  /** `""` in an unversioned bucket. */
  readonly versionId: string;
  readonly sequencer: string;
  /** The event's `time`: when S3 finished the write (ISO-8601). */
  readonly eventTime: string;
}

/** A slot of a batch: slot numbers are 0 … the head's `count` − 1, each reserved by exactly one head change. */
export interface SlotRef {
  readonly batchId: string;
  readonly slot: number;
}

/** An item in its slot. */
export interface BatchItemRecord extends BatchItem, SlotRef {
  readonly job: string;
  /** Epoch ms. */
  readonly joinedAt: number;
}

/** A slot that holds no item and never will: its reserver died, or lost the race to place the item. */
export interface Tombstone extends SlotRef {
  readonly job: string;
  readonly tombstone: true;
  /** Epoch ms. */
  readonly at: number;
}

/** A written slot. Written once (put if absent), never changed. */
export type BatchSlot = BatchItemRecord | Tombstone;

export const isTombstone = (slot: BatchSlot): slot is Tombstone => "tombstone" in slot;

/**
 * `open`: reserves slots. `closing`: reserves none; its slots are being completed and its manifest and run
 * made (by anyone: every step is idempotent). `closed`: its run exists, and the next item may replace the
 * head with a new batch.
 */
export type BatchState = "open" | "closing" | "closed";

/** A batch is full: it reserved maxItems slots, or maxBytes. */
export type FullReason = "max-items" | "max-bytes";
export type CloseReason = "window" | FullReason;

/** The head: one per job, its current batch. */
export interface BatchHead {
  readonly job: string;
  /** batchIdFor(job, the batch it replaced, its first item's key). */
  readonly batchId: string;
  readonly state: BatchState;
  /** Epoch ms: when the first item reserved its slot. */
  readonly opened: number;
  /** Epoch ms: `opened` + the window; the batch closes then at the latest. */
  readonly closesAt: number;
  /**
   * Slots reserved, which is the next slot's number, and their items' bytes. An upper bound on the items:
   * a slot whose writer died becomes a tombstone. The manifest counts the item records.
   */
  readonly count: number;
  readonly bytes: number;
  /** Set when the batch leaves `open`: epoch ms, and why. */
  readonly closedAt?: number;
  readonly closeReason?: CloseReason;
  /** Set when it is `closed` with a run (a batch whose every slot is a tombstone has none). */
  readonly runId?: string;
  /**
   * The batch before this one, still `closing`: the item that found it closing opened this batch beside it.
   * Its closer, the window's timer or the sweep hands it off (`hand-off` with `previous`), which removes it.
   */
  readonly previous?: PreviousBatch;
}

/** A closing batch kept on the head of the batch that replaced it: what its completion and hand-off need. */
export interface PreviousBatch {
  readonly batchId: string;
  readonly opened: number;
  readonly closesAt: number;
  readonly count: number;
  readonly bytes: number;
  readonly closedAt: number;
  readonly closeReason: CloseReason;
}

/** The closing head `head` as the previous batch of the one that replaces it. */
export function previousOf(head: BatchHead): PreviousBatch {
  return { batchId: head.batchId, opened: head.opened, closesAt: head.closesAt, count: head.count, bytes: head.bytes, closedAt: head.closedAt ?? head.closesAt, closeReason: head.closeReason ?? "window" };
}

/** The head's previous batch as a closing head of its own: what completion and handOff read. */
export function previousHead(head: BatchHead & { readonly previous: PreviousBatch }): BatchHead {
  return { job: head.job, ...head.previous, state: "closing" };
}

/** A conditional write's outcome: the record as written, or the record that failed the condition (undefined: none). */
export type Applied<T> = { readonly ok: true; readonly record: T } | { readonly ok: false; readonly current: T | undefined };

/**
 * A conditional change to a job's head. A store applies it only if its condition holds on the stored head,
 * else writes nothing and answers the head it has.
 */
export type HeadChange =
  /**
   * A new batch, its slot 0 reserved for its first item (`count` 1). Condition: the job has no head, or its
   * head is the batch `replaces` without a previous, and `closed` — or `closing` when `head.previous` is set
   * (it is that batch, which stays on the head until handed off). DynamoDB: `attribute_not_exists(PK) OR
   * (#batchId = :replaces AND #state = :closed|:closing AND attribute_not_exists(#prevBatchId))`.
   */
  | { readonly kind: "open"; readonly head: BatchHead; readonly replaces?: string }
  /**
   * Reserves slot `count` (the head answered has it as `count` − 1) and `size` bytes: count + 1, bytes + size.
   * Condition: the head is batch `batchId`, open, `now` < closesAt, count < maxItems and, with a byte limit,
   * bytes ≤ `bytesAtMost` (maxBytes − size: DynamoDB conditions compare, they do not add). Concurrent
   * reservations commute: none needs another's result, and each gets its own slot.
   */
  | { readonly kind: "reserve"; readonly batchId: string; readonly size: number; readonly now: number; readonly maxItems: number; readonly bytesAtMost?: number }
  /** open → closing: no slot can be reserved after it. Condition: the head is batch `batchId`, open. */
  | { readonly kind: "close"; readonly batchId: string; readonly closedAt: number; readonly reason: CloseReason }
  /**
   * A closing batch's run is made (none for a batch of tombstones). Without `previous`: closing → closed;
   * condition: the head is batch `batchId`, closing, with no previous (DynamoDB: `#batchId = :batch AND
   * #state = :closing AND attribute_not_exists(#prevBatchId)`). With `previous`: the previous batch is removed;
   * condition: the head's previous is batch `batchId` (DynamoDB: `#prevBatchId = :batch`).
   */
  | { readonly kind: "hand-off"; readonly batchId: string; readonly runId?: string; readonly previous?: true };

export function applyHeadChange(current: BatchHead | undefined, change: HeadChange): Applied<BatchHead> {
  const refuse: Applied<BatchHead> = { ok: false, current };
  if (change.kind === "open") {
    const replacing = change.head.previous !== undefined ? "closing" : "closed";
    const free = current === undefined || (current.batchId === change.replaces && current.state === replacing && current.previous === undefined);
    return free ? { ok: true, record: change.head } : refuse;
  }
  if (change.kind === "hand-off" && change.previous === true) {
    if (current?.previous?.batchId !== change.batchId) return refuse;
    const { previous: _, ...rest } = current;
    return { ok: true, record: rest };
  }
  if (current === undefined || current.batchId !== change.batchId) return refuse;
  switch (change.kind) {
    case "reserve": {
      const room = current.count < change.maxItems && (change.bytesAtMost === undefined || current.bytes <= change.bytesAtMost);
      if (current.state !== "open" || change.now >= current.closesAt || !room) return refuse;
      return { ok: true, record: { ...current, count: current.count + 1, bytes: current.bytes + change.size } };
    }
    case "close":
      return current.state === "open" ? { ok: true, record: { ...current, state: "closing", closedAt: change.closedAt, closeReason: change.reason } } : refuse;
    case "hand-off":
      return current.state === "closing" && current.previous === undefined ? { ok: true, record: { ...current, state: "closed", ...(change.runId !== undefined ? { runId: change.runId } : {}) } } : refuse;
  }
}

/** The slot a successful `reserve` (or `open`) gave: the last one reserved. */
export const reservedSlot = (head: BatchHead): SlotRef => ({ batchId: head.batchId, slot: head.count - 1 });

/**
 * What makes an item key unique across a job's batches, and where its item went. Written by the first
 * placement (put if absent, after a slot is reserved); `placed` names the slot the item's record goes to,
 * moved only away from a slot that turned out a tombstone. Whether the item is in is the slot's to say.
 */
export interface ItemKeyRecord {
  readonly itemKey: string;
  readonly job: string;
  readonly placed: SlotRef;
  /** Epoch seconds after which the record counts as absent (DynamoDB: the table's TTL attribute); absent: never. */
  readonly expiresAt?: number;
}

export type ItemKeyChange =
  /**
   * Places the item key at `at` (epoch ms `now`). Condition without `from`: the key has no live record
   * (none, or one expired at `now`: `liveItemKey`). DynamoDB: `attribute_not_exists(PK) OR
   * attribute_not_exists(#placedBatch) OR #expiresAt < :now`. With `from` (a move away from a tombstoned
   * slot): the record is placed at `from`. DynamoDB: `#placedBatch = :fromBatch AND #placedSlot = :fromSlot`.
   */
  { readonly kind: "place"; readonly itemKey: string; readonly job: string; readonly at: SlotRef; readonly from?: SlotRef; readonly now: number };

export const sameSlot = (a: SlotRef | undefined, b: SlotRef | undefined): boolean => (a === undefined || b === undefined ? a === b : a.batchId === b.batchId && a.slot === b.slot);

/**
 * The record as it counts at `now` (epoch ms): undefined when there is none, it expired (`expiresAt`, epoch
 * seconds, before `now`'s second: TTL deletes it some time later), or it was never placed (a claim written by
 * an earlier protocol).
 */
export function liveItemKey(record: ItemKeyRecord | undefined, now: number): ItemKeyRecord | undefined {
  if (record === undefined || record.placed === undefined) return undefined;
  return record.expiresAt !== undefined && record.expiresAt < Math.floor(now / 1000) ? undefined : record;
}

export function applyItemKeyChange(current: ItemKeyRecord | undefined, change: ItemKeyChange): Applied<ItemKeyRecord> {
  const ok = change.from === undefined ? liveItemKey(current, change.now) === undefined : current !== undefined && sameSlot(current.placed, change.from);
  return ok ? { ok: true, record: { itemKey: change.itemKey, job: change.job, placed: change.at } } : { ok: false, current };
}

/** A slot is written once. Condition: nothing is in the slot. DynamoDB: `attribute_not_exists(PK)`. */
export function applySlotWrite(current: BatchSlot | undefined, slot: BatchSlot): Applied<BatchSlot> {
  return current === undefined ? { ok: true, record: slot } : { ok: false, current };
}

/** Why the batch takes no more items whatever the time, or undefined: it reserved maxItems slots, or maxBytes. */
export function fullReason(head: Pick<BatchHead, "count" | "bytes">, policy: BatchPolicy): FullReason | undefined {
  if (head.count >= policy.maxItems) return "max-items";
  if (policy.maxBytes !== undefined && head.bytes >= policy.maxBytes) return "max-bytes";
  return undefined;
}

/** Why the open batch must close at `now`, or undefined: it is full, or its window passed. */
export function closeReasonOf(head: BatchHead, policy: BatchPolicy, now: number): CloseReason | undefined {
  if (head.state !== "open") return undefined;
  return fullReason(head, policy) ?? (now >= head.closesAt ? "window" : undefined);
}
