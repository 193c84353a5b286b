/**
 * BatchStore in Maps: for tests and benchmarks. Each method applies its model.ts rule synchronously before
 * its promise settles, so every call is atomic with respect to every other, as the port asks of a store.
 */
import { applyHeadChange, applyItemKeyChange, applySlotWrite, type Applied, type BatchHead, type BatchSlot, type HeadChange, type ItemKeyChange, type ItemKeyRecord } from "../../src/core/batch/model.ts";
import type { BatchStore } from "../../src/core/batch/port.ts";

export class MemoryBatchStore implements BatchStore {
  readonly #heads = new Map<string, BatchHead>();
  readonly #keys = new Map<string, ItemKeyRecord>();
  /** By batch id, then slot number. */
  readonly #slots = new Map<string, Map<number, BatchSlot>>();

  async getHead(job: string): Promise<BatchHead | undefined> {
    return this.#heads.get(job);
  }

  async changeHead(job: string, change: HeadChange): Promise<Applied<BatchHead>> {
    return keep(applyHeadChange(this.#heads.get(job), change), (head) => this.#heads.set(job, head));
  }

  async getItemKey(itemKey: string): Promise<ItemKeyRecord | undefined> {
    return this.#keys.get(itemKey);
  }

  async changeItemKey(change: ItemKeyChange): Promise<Applied<ItemKeyRecord>> {
    return keep(applyItemKeyChange(this.#keys.get(change.itemKey), change), (record) => this.#keys.set(change.itemKey, record));
  }

  async writeSlot(slot: BatchSlot): Promise<Applied<BatchSlot>> {
    const batch = this.#slots.get(slot.batchId) ?? new Map<number, BatchSlot>();
    this.#slots.set(slot.batchId, batch);
    return keep(applySlotWrite(batch.get(slot.slot), slot), (written) => batch.set(slot.slot, written));
  }

  async listSlots(batchId: string): Promise<readonly BatchSlot[]> {
    return [...(this.#slots.get(batchId)?.values() ?? [])].sort((a, b) => a.slot - b.slot);
  }
}

/** Stores what the rule wrote; records are frozen, so a caller cannot change a stored one. */
function keep<T extends object>(applied: Applied<T>, store: (record: T) => void): Applied<T> {
  if (applied.ok) store(Object.freeze({ ...applied.record }));
  return applied;
}
