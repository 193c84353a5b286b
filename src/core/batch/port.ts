/**
 * What batching needs from a store: single-record conditional writes, each deciding its condition as the
 * apply* function of model.ts named beside it does, and a strongly consistent read of each record. No
 * operation spans two records.
 */
import type { Applied, BatchHead, BatchSlot, HeadChange, ItemKeyChange, ItemKeyRecord } from "./model.ts";

export interface BatchStore {
  /** Strongly consistent. */
  getHead(job: string): Promise<BatchHead | undefined>;
  /** applyHeadChange; on success the head as stored (a `reserve`'s slot is its `count` − 1). */
  changeHead(job: string, change: HeadChange): Promise<Applied<BatchHead>>;
  /** Strongly consistent. */
  getItemKey(itemKey: string): Promise<ItemKeyRecord | undefined>;
  /** applyItemKeyChange. */
  changeItemKey(change: ItemKeyChange): Promise<Applied<ItemKeyRecord>>;
  /** applySlotWrite: written only into an empty slot; else the slot's record. */
  writeSlot(slot: BatchSlot): Promise<Applied<BatchSlot>>;
  /** Every written slot of the batch, by slot number: strongly consistent, every page. */
  listSlots(batchId: string): Promise<readonly BatchSlot[]>;
}

/** Where closed batches' manifests are written (AWS: S3 PutObject; locally: the S3 folder stand-in). */
export interface ManifestWriter {
  /**
   * Writes `body` (JSON Lines) as the object `key` of `bucket`. Idempotent: a batch's manifest has one key and
   * the same bytes whoever writes it, so a repeat after a crash overwrites it with itself.
   */
  putManifest(bucket: string, key: string, body: string): Promise<void>;
}

/** What closes a batch's window on time: a one-shot reminder to settle the job's batch. */
export interface BatchTimer {
  /**
   * Asks for the job's batch to be settled at `at` (epoch ms) or within a few seconds after it. It may fire early
   * (settling then answers `open`, and the settler asks again) or more than once (settling is idempotent), and
   * a lost reminder is caught up by the sweep.
   */
  settleAt(job: string, batchId: string, at: number): Promise<void>;
}
