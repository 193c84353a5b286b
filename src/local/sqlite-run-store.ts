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
];

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

function statements(db: Database.Database) {
  return {
    byId: db.prepare<[string], Row>("SELECT data FROM runs WHERE id = ?"),
    byKey: db.prepare<[string], Row>("SELECT data FROM runs WHERE idempotency_key = ?"),
    insert: db.prepare<[string, string, string, string, number, number, number, string]>(
      "INSERT INTO runs (id, job, status, idempotency_key, created_at, open, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    update: db.prepare<[string, number, number, string, string, number]>(
      "UPDATE runs SET status = ?, open = ?, version = ?, data = ? WHERE id = ? AND version = ?",
    ),
    open: db.prepare<[], Row>("SELECT data FROM runs WHERE open = 1 ORDER BY id"),
    // The status is a literal, not a parameter: SQLite uses a partial index only when the query repeats its condition.
    queuedOfJob: db.prepare<[string, number], Row>("SELECT data FROM runs WHERE job = ? AND status = 'QUEUED' ORDER BY id LIMIT ?"),
    holders: db.prepare<[string], Holder>("SELECT run_id AS runId, since FROM slots WHERE job = ? ORDER BY since, run_id"),
    take: db.prepare<[string, string, number]>("INSERT INTO slots (job, run_id, since) VALUES (?, ?, ?)"),
    free: db.prepare<[string, string]>("DELETE FROM slots WHERE job = ? AND run_id = ?"),
  };
}

const toRuns = (rows: readonly Row[]): Run[] => rows.map((row) => JSON.parse(row.data) as Run);

export class SqliteRunStore implements RunStore {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof statements>;

  /** `path`: a database file (created when missing) or `:memory:`. */
  constructor(path: string, options: SqliteRunStoreOptions = {}) {
    this.#db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      this.#db.pragma("journal_mode = WAL");
      this.#migrate();
      this.#sql = statements(this.#db);
    } catch (error) {
      this.#db.close();
      throw translate(error);
    }
  }

  close(): void {
    this.#db.close();
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
    try {
      return this.#db.transaction(body).immediate();
    } catch (error) {
      throw translate(error);
    }
  }

  async createRun(run: Run): Promise<CreateRunResult> {
    return this.#locked(() => {
      const existing = parse(this.#sql.byKey.get(run.trigger.idempotencyKey));
      if (existing !== undefined) return { created: false, existing };
      const taken = parse(this.#sql.byId.get(run.id));
      if (taken !== undefined) {
        throw new ConflictError(`run id ${run.id} is already taken by a run with another idempotency key; create the run with a fresh id`, {
          existing: taken,
        });
      }
      const open = isOpen(run) ? 1 : 0;
      this.#sql.insert.run(run.id, run.job, run.status, run.trigger.idempotencyKey, run.createdAt, open, run.version, JSON.stringify(run));
      return { created: true, run };
    });
  }

  async getRun(id: string): Promise<Run | undefined> {
    return parse(this.#sql.byId.get(id));
  }

  async updateRun(run: Run, expectedVersion: number): Promise<UpdateRunResult> {
    // A single conditional UPDATE is atomic by itself; the read happens only when it lost.
    const open = isOpen(run) ? 1 : 0;
    const { changes } = this.#locked(() => this.#sql.update.run(run.status, open, run.version, JSON.stringify(run), run.id, expectedVersion));
    return changes === 1 ? { ok: true, run } : { ok: false, current: await this.getRun(run.id) };
  }

  async listRuns(query: RunQuery): Promise<readonly Run[]> {
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
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    const rows = this.#db
      .prepare<(string | number)[], Row>(`SELECT data FROM runs ${where} ORDER BY id DESC LIMIT ?`)
      .all(...values, runQueryLimit(query));
    return toRuns(rows);
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
