/**
 * The SQLite history at 100,000 runs: what the sweep's open-runs read (every second under `berth dev`)
 * and a listing of a rare status cost, side by side in one run: the store of `--base <ref>` (default
 * HEAD; `npm run bench -- history --base 195d6a6`, checked out into a temporary worktree) on a file
 * it created, and the working tree's store on a copy of that file, which it migrates when it opens it.
 * The two take turns, ROUNDS rounds; the table gives the median and the lowest and highest round.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { RunStore } from "../src/core/ports.ts";
import type { Run } from "../src/core/runs/model.ts";
import type { RunStatus } from "../src/core/runs/status.ts";
import type * as SqliteStore from "../src/local/sqlite-run-store.ts";
import { listingSql, OPEN_RUNS_SQL, SqliteRunStore } from "../src/local/sqlite-run-store.ts";
import { makeRun, T0 } from "../test/contract/run-fixtures.ts";
import { percentile, recordBenchmark, table } from "./report.ts";
import { baseRef, checkOut } from "./worktree.ts";

const RUNS = 100_000;
const OPEN = 100;
/** One run in this many failed: the rare status listed. */
const FAILED_EVERY = 1000;
const JOBS = 10;
const ROUNDS = 21;

/** The history, oldest first: runs of JOBS jobs every 30 s, the newest OPEN still open, one in FAILED_EVERY failed. */
function history(): Run[] {
  const open: readonly RunStatus[] = ["QUEUED", "STARTING", "RUNNING"];
  return Array.from({ length: RUNS }, (_, i) => {
    const status = i >= RUNS - OPEN ? open[i % open.length]! : i % FAILED_EVERY === FAILED_EVERY / 2 ? "FAILED" : "SUCCEEDED";
    const job = `job-${Math.floor(i / 3) % JOBS}`;
    const context = { "s3.bucket": "media-uploads", "s3.key": `incoming/2026/11/${i}/img-${i}.png`, "s3.size": "482133", "s3.etag": "9b2cf535f27731c974343645a3985328" };
    return makeRun({ job, status, at: T0 + i * 30_000, context, attempts: status === "QUEUED" ? 0 : 1 });
  });
}

/** Writes `runs` into the (empty) store file as the store itself does, in one transaction. */
function fill(file: string, runs: readonly Run[]): void {
  const db = new Database(file);
  const insert = db.prepare("INSERT INTO runs (id, job, status, idempotency_key, created_at, open, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (const r of runs) insert.run(r.id, r.job, r.status, r.trigger.idempotencyKey, r.createdAt, r.announced === true ? 0 : 1, r.version, JSON.stringify(r));
  })();
  db.close();
}

const plan = (file: string, sql: string): string => {
  const db = new Database(file, { readonly: true });
  const params = (sql.match(/\?/g) ?? []).map(() => "x");
  const steps = db.prepare<string[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((s) => s.detail);
  db.close();
  return steps.join("; ");
};

const base = checkOut(baseRef());
const dir = mkdtempSync(join(tmpdir(), "berth-history-"));
try {
  const { SqliteRunStore: BaseSqliteRunStore } = (await import(join(base.root, "src/local/sqlite-run-store.ts"))) as typeof SqliteStore;
  const beforeFile = join(dir, "before.db");
  const afterFile = join(dir, "after.db");
  new BaseSqliteRunStore(beforeFile).close();
  const runs = history();
  fill(beforeFile, runs);
  copyFileSync(beforeFile, afterFile);

  const opened = performance.now();
  const after: RunStore & { close(): void } = new SqliteRunStore(afterFile);
  const migrationMs = performance.now() - opened;
  const before: RunStore & { close(): void } = new BaseSqliteRunStore(beforeFile);

  const failed = runs.filter((r) => r.status === "FAILED");
  const reads = [
    { name: "sweep: open runs", returns: OPEN, read: (s: RunStore) => s.listOpenRuns(), sql: OPEN_RUNS_SQL },
    { name: "runs with status FAILED (a page of 50)", returns: 50, read: (s: RunStore) => s.listRuns({ status: "FAILED" }), sql: listingSql({ status: "FAILED" }).sql },
    {
      name: "runs of one job with status FAILED",
      returns: Math.min(50, failed.filter((r) => r.job === "job-0").length),
      read: (s: RunStore) => s.listRuns({ job: "job-0", status: "FAILED" }),
      sql: listingSql({ job: "job-0", status: "FAILED" }).sql,
    },
  ];
  const sides = [
    { label: `before (${base.commit})`, store: before, file: beforeFile },
    { label: "after (working tree)", store: after, file: afterFile },
  ];
  const times = new Map<string, number[]>();
  for (const r of reads) {
    // Both sides must answer alike, or the comparison means nothing.
    const answers = await Promise.all(sides.map((s) => r.read(s.store)));
    const ids = answers.map((a) => a.map((run) => run.id).join());
    if (ids[0] !== ids[1] || answers[0]!.length !== r.returns) throw new Error(`${r.name}: the two stores answer differently`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of reads) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const s = performance.now();
        await r.read(side.store);
        const key = `${r.name}|${side.label}`;
        times.set(key, [...(times.get(key) ?? []), performance.now() - s]);
      }
    }
  }
  before.close();
  after.close();

  const ms = (x: number): string => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
  const rows = reads.flatMap((r) =>
    sides.map((side) => {
      const t = [...times.get(`${r.name}|${side.label}`)!].sort((a, b) => a - b);
      return [r.name, r.returns, side.label, ms(percentile(t, 50)), `${ms(t[0]!)}–${ms(t.at(-1)!)}`, `\`${plan(side.file, r.sql)}\``];
    }),
  );
  const speedups = reads.map((r) => {
    const [b, a] = sides.map((side) => percentile([...times.get(`${r.name}|${side.label}`)!].sort((x, y) => x - y), 50));
    return `${r.name}: ${(b! / a!).toFixed(0)}×`;
  });

  const md = `## SQLite history at ${RUNS.toLocaleString("en-US")} runs

The reads of \`berth dev\`'s history (.berth/runs.db) that must cost what they return, not what the history holds:
the sweep's open runs (every second under \`berth dev\`) and a listing of a rare status (\`berth runs --status FAILED\`).
${RUNS.toLocaleString("en-US")} runs of ${JOBS} jobs, the newest ${OPEN} open, one in ${FAILED_EVERY.toLocaleString("en-US")} FAILED (about 1 KB of JSON each). Side by side in
one run: ${base.commit}'s store on a file it created, and the working tree's on a copy of that file, which it
migrated on opening it (${migrationMs.toFixed(0)} ms, once: it builds the new indexes). Each read through the store
(\`RunStore.listOpenRuns\`, \`listRuns\`: query and JSON parsing), the two taking turns, ${ROUNDS} rounds; median and the
fastest–slowest round, with SQLite's query plan.

${table(["read", "runs returned", "build", "median ms", "spread ms", "query plan"], rows)}

Median speed-up: ${speedups.join("; ")}. Before, the sweep walked every run in id order to find the open ones (the open
index was keyed by job first, which the query does not filter on) and a status listing walked the history newest
first until it had a page; now each reads an index in the order of its answer and stops with it.`;
  console.log(md);
  recordBenchmark("history", md);
} finally {
  rmSync(dir, { recursive: true, force: true });
  base.remove();
}
