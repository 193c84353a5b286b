/**
 * The SQLite store's schema: what each version of berth left in a .berth database, the migration
 * from it, and the query plans that keep the sweep and the listings proportional to what they
 * return rather than to the history (counted as index searches and scans, never timed).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunQuery } from "../../src/core/ports.ts";
import { listingSql, OPEN_RUNS_SQL, QUEUE_HEAD_SQL, SqliteRunStore } from "../../src/local/sqlite-run-store.ts";
import type { Run } from "../../src/core/runs/model.ts";
import type { RunStatus } from "../../src/core/runs/status.ts";
import { advance, makeRun, T0 } from "../contract/run-fixtures.ts";

/** The schema berth wrote at user_version 1. */
const VERSION_1_SCHEMA = `
  CREATE TABLE runs (
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
  );`;

/** user_version 2 added the queue index. */
const VERSION_2_SCHEMA = `${VERSION_1_SCHEMA}
  CREATE INDEX runs_queued ON runs (job, id) WHERE status = 'QUEUED';`;

const LATEST_VERSION = 3;

/** Writes `runs` into a new file with an old schema, as that berth would have. */
function oldDatabase(file: string, schema: string, version: number, runs: readonly Run[]): void {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec(schema);
  const insert = db.prepare("INSERT INTO runs (id, job, status, idempotency_key, created_at, open, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (const r of runs) {
    const open = r.announced === true ? 0 : 1;
    insert.run(r.id, r.job, r.status, r.trigger.idempotencyKey, r.createdAt, open, r.version, JSON.stringify(r));
  }
  db.pragma(`user_version = ${version}`);
  db.close();
}

/** The steps of SQLite's plan for `sql` (parameters bound to placeholders; a plan does not depend on their values). */
function plan(db: Database.Database, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map(() => "x");
  return db
    .prepare<string[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...params)
    .map((step) => step.detail);
}

const listing = (query: RunQuery): string => listingSql(query).sql;

/**
 * What each read may do: one search (or, for the open runs, one pass) over the index whose order is
 * the answer's, so it stops after the rows it returns; never a scan of the table or of an index of
 * every run, never a sort (which would read every match first).
 */
const PLANS: readonly { readonly read: string; readonly sql: string; readonly steps: readonly RegExp[] }[] = [
  { read: "the sweep's open runs", sql: OPEN_RUNS_SQL, steps: [/^SCAN runs USING INDEX runs_open$/] },
  { read: "the head of a job's queue", sql: QUEUE_HEAD_SQL, steps: [/^SEARCH runs USING INDEX runs_by_job_status \(job=\? AND status=\?\)$/] },
  { read: "a status listing", sql: listing({ status: "FAILED" }), steps: [/^SEARCH runs USING INDEX runs_by_status \(status=\?\)$/] },
  { read: "a status listing's next page", sql: listing({ status: "FAILED", before: "x" }), steps: [/^SEARCH runs USING INDEX runs_by_status \(status=\? AND id<\?\)$/] },
  { read: "a job's listing of a status", sql: listing({ job: "resize", status: "FAILED" }), steps: [/^SEARCH runs USING INDEX runs_by_job_status \(job=\? AND status=\?\)$/] },
  { read: "a job's listing", sql: listing({ job: "resize" }), steps: [/^SEARCH runs USING INDEX runs_by_job \(job=\?\)$/] },
  { read: "the whole history's newest page", sql: listing({}), steps: [/^SCAN runs USING INDEX sqlite_autoindex_runs_1$/] },
];

/** Polls `condition` every 20 ms until it holds, failing after `deadlineMs`. */
async function eventually(condition: () => boolean, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("the condition did not hold in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The open-runs index holds one entry per open run, whatever the history's length. */
function openIndexEntries(db: Database.Database): number {
  return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM runs INDEXED BY runs_open WHERE open = 1").get()!.n;
}

describe("SqliteRunStore schema", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "berth-sqlite-"));
    file = join(dir, "runs.db");
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function expectLatestPlans(): void {
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma("user_version", { simple: true })).toBe(LATEST_VERSION);
    for (const { read, sql, steps } of PLANS) expect(plan(raw, sql), read).toEqual(steps.map((s) => expect.stringMatching(s)));
    raw.close();
  }

  it(`creates the schema at version ${LATEST_VERSION} in WAL mode and keeps runs across reopening`, async () => {
    const run = makeRun();
    const first = new SqliteRunStore(file);
    await first.createRun(run);
    first.close();

    const raw = new Database(file, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
    expectLatestPlans();
    const again = new SqliteRunStore(file);
    expect(await again.getRun(run.id)).toEqual(run);
    again.close();
  });

  it.each([
    { version: 1, schema: VERSION_1_SCHEMA },
    { version: 2, schema: VERSION_2_SCHEMA },
  ])("migrates a version-$version file in place: its runs stay, every read goes through an index", async ({ version, schema }) => {
    const queued = [makeRun({ at: T0 + 3 }), makeRun({ at: T0 })];
    const running = makeRun({ status: "RUNNING", at: T0 + 1 });
    const failed = makeRun({ status: "FAILED", at: T0 + 2 });
    const done = makeRun({ status: "SUCCEEDED", at: T0 + 4 });
    oldDatabase(file, schema, version, [...queued, running, failed, done]);

    const store = new SqliteRunStore(file);
    expect(await store.listQueuedRuns("resize", 10)).toEqual([queued[1], queued[0]]);
    expect(await store.listOpenRuns()).toEqual([queued[1], running, queued[0]]);
    expect(await store.listRuns({ status: "FAILED" })).toEqual([failed]);
    expect(await store.listRuns({ job: "resize", status: "SUCCEEDED" })).toEqual([done]);
    // And it keeps working: writes after the migration land in the new indexes.
    const started = advance(queued[1]!, "STARTING");
    expect((await store.updateRun(started, queued[1]!.version)).ok).toBe(true);
    expect(await store.listQueuedRuns("resize", 10)).toEqual([queued[0]]);
    expect(await store.listRuns({ status: "STARTING" })).toEqual([started]);
    store.close();

    expectLatestPlans();
  });

  it("keeps its plans once SQLite has statistics of a long history with few open runs", async () => {
    const statuses: readonly RunStatus[] = ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"];
    const runs = Array.from({ length: 2_000 }, (_, i) => makeRun({ job: `job-${i % 5}`, status: i % 200 === 0 ? "QUEUED" : statuses[i % 4]!, at: T0 + i }));
    oldDatabase(file, VERSION_2_SCHEMA, 2, runs);
    new SqliteRunStore(file).close();

    const raw = new Database(file);
    expect(openIndexEntries(raw)).toBe(10);
    raw.exec("ANALYZE");
    raw.close();
    expectLatestPlans();
  });

  it("drops a run from the open-runs index once its end is announced", async () => {
    const store = new SqliteRunStore(file);
    const run = makeRun();
    await store.createRun(run);
    const ended = advance(run, "SUCCEEDED");
    await store.updateRun(ended, run.version);
    const raw = new Database(file, { readonly: true });
    expect(openIndexEntries(raw)).toBe(1);
    await store.updateRun({ ...ended, announced: true, version: ended.version + 1 }, ended.version);
    expect(openIndexEntries(raw)).toBe(0);
    raw.close();
    store.close();
  });

  it("copies the WAL into the database file from a second connection while the store writes on", async () => {
    const store = new SqliteRunStore(file);
    const empty = statSync(file).size;
    // 250 runs add about 2,500 pages to the WAL, well short of the writing connection's own checkpoint.
    for (let i = 0; i < 250; i++) await store.createRun(makeRun({ at: T0 + i }));
    // In WAL mode only a checkpoint writes the database file.
    await eventually(() => statSync(file).size > empty);
    expect(await store.listRuns({ limit: 1000 })).toHaveLength(250);
    store.close();
  });
});
