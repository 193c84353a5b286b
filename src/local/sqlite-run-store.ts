/**
 * RunStore in one SQLite file: the local runtime's history. `berth dev` and a
 * second process (the CLI asking for history, a dev server) may open the same
 * file at once, so the file is in WAL mode (readers never block the writer),
 * every connection waits up to `busyTimeoutMs` for a lock instead of failing,
 * and every read-then-write runs in a `BEGIN IMMEDIATE` transaction, which
 * takes the write lock before the read so two processes cannot both act on
 * the same snapshot.
 *
 * Runs are stored whole as JSON; the columns beside it exist only to index and
 * to enforce uniqueness.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { ConflictError, TransientError } from "../core/errors.ts";
import { runQueryLimit } from "../core/ports.ts";
import type { CreateRunResult, RunQuery, RunStore, UpdateRunResult } from "../core/ports.ts";
import { isOpen } from "../core/runs/model.ts";
import type { Run } from "../core/runs/model.ts";

/** Index i brings a database from user_version i to i + 1. Append; never edit a shipped step. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     job TEXT NOT NULL,
     status TEXT NOT NULL,
     idempotency_key TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     open INTEGER NOT NULL,
     version INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX runs_by_job ON runs (job, id);
   CREATE INDEX runs_open ON runs (job, id) WHERE open = 1;
   CREATE TABLE slots (
     job TEXT NOT NULL,
     run_id TEXT NOT NULL,
     since INTEGER NOT NULL,
     PRIMARY KEY (job, run_id)
   );`,
  // Admission reads the head of a job's queue; without this it would walk every open run of the job.
  `CREATE INDEX runs_queued ON runs (job, id) WHERE status = 'QUEUED';`,
  // What a read costs follows what it returns, not the history: the sweep walks the open runs alone, in
  // id order (the old open index was keyed by job first, so SQLite scanned every run in id order
  // instead of sorting), and a status listing reads its page however rare the status is. The queue
  // head is the QUEUED range of (job, status, id), so the partial queue index goes.
  `DROP INDEX runs_open;
   CREATE INDEX runs_open ON runs (id) WHERE open = 1;
   CREATE INDEX runs_by_status ON runs (status, id);
   CREATE INDEX runs_by_job_status ON runs (job, status, id);
   DROP INDEX runs_queued;`,
];

/** Writes between two checkpoints in the background; a run write adds about ten pages to the WAL. */
const CHECKPOINT_EVERY_WRITES = 100;
/** The writing connection's own automatic checkpoint (SQLite's default: 1000), kept as a backstop. */
const BACKSTOP_CHECKPOINT_PAGES = 10_000;

/**
 * A checkpoint copies the WAL into the database file and fsyncs both: milliseconds, tens of them on a
 * busy disk. SQLite runs it inside whichever commit takes the WAL past its size, so one write in a
 * hundred would wait for it; this second connection, on a worker thread, runs it beside the writes
 * instead (a PASSIVE checkpoint never blocks them). A failed checkpoint needs no handling: the next
 * one copies what it left.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on("message", () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
});`;

export interface SqliteRunStoreOptions {
  /** How long a call waits for another connection's write lock before failing with a TransientError. Default 5000. */
  readonly busyTimeoutMs?: number;
}

type Row = { readonly data: string };

const parse = (row: Row | undefined): Run | undefined => (row === undefined ? undefined : (JSON.parse(row.data) as Run));

/** Lock contention outlasted the busy timeout: the same call can succeed once the other writer is done. */
function translate(error: unknown): unknown {
  if (error instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(error.code)) {
    return new TransientError(`the run database is locked by another berth process (${error.message}); retry, or raise busyTimeoutMs`, {
      cause: error,
    });
  }
  return error;
}

type Holder = { readonly runId: string; readonly since: number };

/**
 * The reads that grow with the history unless an index serves them (their query plans are tested):
 * the sweep's open runs, the head of a job's queue, and a listing.
 */
export const OPEN_RUNS_SQL = "SELECT data FROM runs WHERE open = 1 ORDER BY id";
export const QUEUE_HEAD_SQL = "SELECT data FROM runs WHERE job = ? AND status = 'QUEUED' ORDER BY id LIMIT ?";

/** listRuns's statement for `query`'s filters, and its parameters but the limit. */
export function listingSql(query: RunQuery): { readonly sql: string; readonly values: readonly string[] } {
  const clauses: string[] = [];
  const values: string[] = [];
  for (const [clause, value] of [
    ["job = ?", query.job],
    ["status = ?", query.status],
    ["id < ?", query.before],
  ] as const) {
    if (value === undefined) continue;
    clauses.push(clause);
    values.push(value);
  }
  const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")} ` : "";
  return { sql: `SELECT data FROM runs ${where}ORDER BY id DESC LIMIT ?`, values };
}

function statements(db: Database.Database) {
  return {
    byId: db.prepare<[string], Row>("SELECT data FROM runs WHERE id = ?"),
    byKey: db.prepare<[string], Row>("SELECT data FROM runs WHERE idempotency_key = ?"),
    // Writes nothing when the id or the idempotency key is taken.
    insert: db.prepare<[string, string, string, string, number, number, number, string]>(
      "INSERT INTO runs (id, job, status, idempotency_key, created_at, open, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    update: db.prepare<[string, number, number, string, string, number]>(
      "UPDATE runs SET status = ?, open = ?, version = ?, data = ? WHERE id = ? AND version = ?",
    ),
    // SQLite rewrites an index whenever a statement sets one of its columns, even to the value it has;
    // most updates keep the status (a task ARN, a check time), so they leave the status and open indexes be.
    updateData: db.prepare<[number, string, string, number, string, number]>(
      "UPDATE runs SET version = ?, data = ? WHERE id = ? AND version = ? AND status = ? AND open = ?",
    ),
    open: db.prepare<[], Row>(OPEN_RUNS_SQL),
    queuedOfJob: db.prepare<[string, number], Row>(QUEUE_HEAD_SQL),
    holders: db.prepare<[string], Holder>("SELECT run_id AS runId, since FROM slots WHERE job = ? ORDER BY since, run_id"),
    take: db.prepare<[string, string, number]>("INSERT INTO slots (job, run_id, since) VALUES (?, ?, ?)"),
    free: db.prepare<[string, string]>("DELETE FROM slots WHERE job = ? AND run_id = ?"),
  };
}

const toRuns = (rows: readonly Row[]): Run[] => rows.map((row) => JSON.parse(row.data) as Run);

export class SqliteRunStore implements RunStore {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof statements>;
  /** listRuns's statements by SQL (one per combination of filters), prepared at first use. */
  readonly #listings = new Map<string, Database.Statement<(string | number)[], Row>>();
  #writes = 0;
  /** Started at the first checkpoint due, so a short-lived process (a CLI command) starts none. */
  #checkpointer: Worker | undefined;
  #checkpointsInBackground: boolean;

  /** `path`: a database file (created when missing) or `:memory:`. */
  constructor(path: string, options: SqliteRunStoreOptions = {}) {
    this.#db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      this.#db.pragma("journal_mode = WAL");
      // A commit survives a crash of any berth process; a power cut may undo the last ones, never
      // corrupt the file. better-sqlite3 already opens an existing WAL file so; without this line the
      // connection that creates the file would instead wait for an fsync at every commit.
      this.#db.pragma("synchronous = NORMAL");
      this.#checkpointsInBackground = !this.#db.memory;
      if (this.#checkpointsInBackground) this.#db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      this.#migrate();
      this.#sql = statements(this.#db);
    } catch (error) {
      this.#db.close();
      throw translate(error);
    }
  }

  /**
   * The connection, for tables kept beside the runs in the same file (SqliteBatchStore): one connection per
   * process, so their writes queue in this process instead of contending for the file's lock. Closed by `close`.
   */
  get database(): Database.Database {
    return this.#db;
  }

  close(): void {
    void this.#checkpointer?.terminate();
    this.#db.close();
  }

  #wrote(): void {
    this.#writes += 1;
    if (!this.#checkpointsInBackground || this.#writes % CHECKPOINT_EVERY_WRITES !== 0) return;
    this.#checkpointer ??= this.#startCheckpointer();
    this.#checkpointer.postMessage("checkpoint");
  }

  #startCheckpointer(): Worker {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { driver, file: this.#db.name } });
    worker.unref();
    // Without the worker the writing connection checkpoints as SQLite does by default.
    worker.on("error", () => {
      this.#checkpointsInBackground = false;
      if (this.#db.open) this.#db.pragma("wal_autocheckpoint = 1000");
    });
    return worker;
  }

  #migrate(): void {
    // Immediate, so two processes opening a new file at once do not both create the tables.
    this.#db
      .transaction(() => {
        const version = this.#db.pragma("user_version", { simple: true }) as number;
        if (version > MIGRATIONS.length) {
          throw new Error(
            `the run database ${this.#db.name} has schema version ${version}, newer than this berth understands (${MIGRATIONS.length}); upgrade berth or use another file`,
          );
        }
        for (const step of MIGRATIONS.slice(version)) this.#db.exec(step);
        this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  /** Runs `body` holding the write lock from its first read, so reads and writes see one state. */
  #locked<T>(body: () => T): T {
    return this.#write(() => this.#db.transaction(body).immediate());
  }

  /** Runs statements that are atomic on their own (each one waits for the write lock like a transaction does). */
  #write<T>(body: () => T): T {
    let result: T;
    try {
      result = body();
    } catch (error) {
      throw translate(error);
    }
    this.#wrote();
    return result;
  }

  async createRun(run: Run): Promise<CreateRunResult> {
    const open = isOpen(run) ? 1 : 0;
    const data = JSON.stringify(run);
    const { changes } = this.#write(() => this.#sql.insert.run(run.id, run.job, run.status, run.trigger.idempotencyKey, run.createdAt, open, run.version, data));
    if (changes === 1) return { created: true, run };
    // Runs are never deleted, so the run that holds the key or the id is still there to read.
    const existing = parse(this.#sql.byKey.get(run.trigger.idempotencyKey));
    if (existing !== undefined) return { created: false, existing };
    throw new ConflictError(`run id ${run.id} is already taken by a run with another idempotency key; create the run with a fresh id`, {
      existing: parse(this.#sql.byId.get(run.id)),
    });
  }

  async getRun(id: string): Promise<Run | undefined> {
    return parse(this.#sql.byId.get(id));
  }

  async updateRun(run: Run, expectedVersion: number): Promise<UpdateRunResult> {
    // Each conditional UPDATE is atomic by itself, and only one can match; the read happens only when both lost.
    const open = isOpen(run) ? 1 : 0;
    const data = JSON.stringify(run);
    const changes = this.#write(
      () =>
        this.#sql.updateData.run(run.version, data, run.id, expectedVersion, run.status, open).changes ||
        this.#sql.update.run(run.status, open, run.version, data, run.id, expectedVersion).changes,
    );
    return changes === 1 ? { ok: true, run } : { ok: false, current: await this.getRun(run.id) };
  }

  async listRuns(query: RunQuery): Promise<readonly Run[]> {
    const { sql, values } = listingSql(query);
    let statement = this.#listings.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare<(string | number)[], Row>(sql);
      this.#listings.set(sql, statement);
    }
    return toRuns(statement.all(...values, runQueryLimit(query)));
  }

  async listOpenRuns(): Promise<readonly Run[]> {
    return toRuns(this.#sql.open.all());
  }

  async listQueuedRuns(job: string, limit: number): Promise<readonly Run[]> {
    return toRuns(this.#sql.queuedOfJob.all(job, runQueryLimit({ limit })));
  }

  async acquireSlot(job: string, runId: string, max: number, now: number): Promise<boolean> {
    return this.#locked(() => {
      const held = this.#sql.holders.all(job);
      if (held.some((h) => h.runId === runId)) return true;
      if (held.length >= max) return false;
      this.#sql.take.run(job, runId, now);
      return true;
    });
  }

  async releaseSlot(job: string, runId: string): Promise<void> {
    this.#locked(() => this.#sql.free.run(job, runId));
  }

  async slotHolders(job: string): Promise<readonly Holder[]> {
    return this.#sql.holders.all(job);
  }
}
