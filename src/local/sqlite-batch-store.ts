/**
 * BatchStore in the local runtime's SQLite database, beside the runs (it takes the run store's file handle,
 * or any better-sqlite3 Database). Its tables are its own, created if missing, so opening the store is
 * idempotent and leaves the run store's schema version alone.
 *
 * Each write is a `BEGIN IMMEDIATE` transaction that reads the record, applies the model.ts rule to it and
 * writes the result: the write lock is taken before the read, so two processes on one file cannot both
 * act on the same record, and the condition is the core's own function rather than a copy of it in SQL.
 */
import Database from "better-sqlite3";
import { applyHeadChange, applyItemKeyChange, applySlotWrite, type Applied, type BatchHead, type BatchSlot, type HeadChange, type ItemKeyChange, type ItemKeyRecord } from "../core/batch/model.ts";
import type { BatchStore } from "../core/batch/port.ts";
import { TransientError } from "../core/errors.ts";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS batch_heads (job TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS batch_item_keys (item_key TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS batch_slots (batch_id TEXT NOT NULL, slot INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (batch_id, slot)) WITHOUT ROWID;`;

type Row = { readonly data: string };

function statements(db: Database.Database) {
  return {
    head: db.prepare<[string], Row>("SELECT data FROM batch_heads WHERE job = ?"),
    putHead: db.prepare<[string, string]>("INSERT INTO batch_heads (job, data) VALUES (?, ?) ON CONFLICT (job) DO UPDATE SET data = excluded.data"),
    key: db.prepare<[string], Row>("SELECT data FROM batch_item_keys WHERE item_key = ?"),
    putKey: db.prepare<[string, string]>("INSERT INTO batch_item_keys (item_key, data) VALUES (?, ?) ON CONFLICT (item_key) DO UPDATE SET data = excluded.data"),
    slot: db.prepare<[string, number], Row>("SELECT data FROM batch_slots WHERE batch_id = ? AND slot = ?"),
    putSlot: db.prepare<[string, number, string]>("INSERT INTO batch_slots (batch_id, slot, data) VALUES (?, ?, ?)"),
    slots: db.prepare<[string], Row>("SELECT data FROM batch_slots WHERE batch_id = ? ORDER BY slot"),
  };
}

const parse = <T>(row: Row | undefined): T | undefined => (row === undefined ? undefined : (JSON.parse(row.data) as T));

export class SqliteBatchStore implements BatchStore {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof statements>;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#locked(() => db.exec(SCHEMA));
    this.#sql = statements(db);
  }

  async getHead(job: string): Promise<BatchHead | undefined> {
    return parse(this.#sql.head.get(job));
  }

  async changeHead(job: string, change: HeadChange): Promise<Applied<BatchHead>> {
    return this.#apply(
      () => parse<BatchHead>(this.#sql.head.get(job)),
      (current) => applyHeadChange(current, change),
      (head) => this.#sql.putHead.run(job, JSON.stringify(head)),
    );
  }

  async getItemKey(itemKey: string): Promise<ItemKeyRecord | undefined> {
    return parse(this.#sql.key.get(itemKey));
  }

  async changeItemKey(change: ItemKeyChange): Promise<Applied<ItemKeyRecord>> {
    return this.#apply(
      () => parse<ItemKeyRecord>(this.#sql.key.get(change.itemKey)),
      (current) => applyItemKeyChange(current, change),
      (record) => this.#sql.putKey.run(change.itemKey, JSON.stringify(record)),
    );
  }

  async writeSlot(slot: BatchSlot): Promise<Applied<BatchSlot>> {
    return this.#apply(
      () => parse<BatchSlot>(this.#sql.slot.get(slot.batchId, slot.slot)),
      (current) => applySlotWrite(current, slot),
      (written) => this.#sql.putSlot.run(written.batchId, written.slot, JSON.stringify(written)),
    );
  }

  async listSlots(batchId: string): Promise<readonly BatchSlot[]> {
    return this.#sql.slots.all(batchId).map((row) => JSON.parse(row.data) as BatchSlot);
  }

  /** Read, decide by the rule, write what it allows: one immediate transaction. */
  #apply<T>(read: () => T | undefined, rule: (current: T | undefined) => Applied<T>, write: (record: T) => void): Applied<T> {
    return this.#locked(() => {
      const applied = rule(read());
      if (applied.ok) write(applied.record);
      return applied;
    });
  }

  #locked<T>(body: () => T): T {
    try {
      return this.#db.transaction(body).immediate();
    } catch (error) {
      if (error instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(error.code)) {
        throw new TransientError(`the batch tables are locked by another berth process (${error.message}); retry`, { cause: error });
      }
      throw error;
    }
  }
}
