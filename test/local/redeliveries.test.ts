/**
 * Redeliveries on a real berth.db (a temp dir's SQLite file): a dispatch that fails transiently is delivered
 * again until it goes through, across a stop and a crash of the runtime, and ends, with a warning, at a
 * failure for good or the retry policy's limits. Counts are asserted, never timings.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { formatIssue } from "../../src/core/catalog/issues.ts";
import { BatchWait } from "../../src/core/engine/batch.ts";
import type { DispatchOutcome } from "../../src/core/engine/dispatch.ts";
import { manualRunEvent } from "../../src/core/events/berth-events.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import { Redeliveries, type RedeliveriesOptions } from "../../src/local/redeliveries.ts";
import { LocalRuntime } from "../../src/local/runtime.ts";
import { SqliteRunStore } from "../../src/local/sqlite-run-store.ts";
import { until } from "../support/until.ts";

const dirs: string[] = [];
const stores: SqliteRunStore[] = [];
const instances: Redeliveries[] = [];
afterEach(() => {
  for (const r of instances.splice(0)) r.stop();
  for (const s of stores.splice(0)) if (s.database.open) s.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dbFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-redeliver-"));
  dirs.push(dir);
  return join(dir, "berth.db");
}

function open(file: string): SqliteRunStore {
  const store = new SqliteRunStore(file);
  stores.push(store);
  return store;
}

type Row = { event_id: string; job: string; attempts: number };
const rows = (store: SqliteRunStore): Row[] => store.database.prepare<[], Row>("SELECT event_id, job, attempts FROM redeliveries ORDER BY event_id").all();

/** A dispatch that fails with each of `failures` in turn, then succeeds; `calls` counts every delivery. */
function scripted(failures: readonly Error[]) {
  const script = { calls: 0, delivered: [] as string[] };
  const dispatch = async (event: BusEvent, job: string): Promise<DispatchOutcome[]> => {
    script.calls += 1;
    const failure = failures[script.calls - 1];
    if (failure) throw failure;
    script.delivered.push(`${event.id}→${job}`);
    return [];
  };
  return { script, dispatch };
}

function redeliveries(store: SqliteRunStore, dispatch: ReturnType<typeof scripted>["dispatch"], warnings: string[], options: Omit<RedeliveriesOptions, "db"> = {}) {
  const r = new Redeliveries(dispatch, (m) => warnings.push(m), { firstDelayMs: 5, ...options, db: store.database });
  instances.push(r);
  return r;
}

const event = (id: string) => manualRunEvent({ service: "rd", job: "peek", params: {} }, { id, time: 0 });
const wait = () => new BatchWait("batch completing its slots");

describe("Redeliveries in berth.db", () => {
  it("delivers a transiently failing dispatch again until it goes through, then forgets it", async () => {
    const store = open(dbFile());
    const warnings: string[] = [];
    const { script, dispatch } = scripted([wait(), wait(), wait()]);
    const r = redeliveries(store, dispatch, warnings);
    r.start();
    await expect(r.dispatch(event("e1"), "peek")).rejects.toBeInstanceOf(BatchWait);
    expect(rows(store)).toEqual([{ event_id: "e1", job: "peek", attempts: 1 }]);
    await until("the fourth delivery", () => (script.delivered.length === 1 ? true : undefined));
    await until("the row gone", () => (rows(store).length === 0 && r.pending === 0 ? true : undefined));
    expect(script.calls).toBe(4);
    expect(script.delivered).toEqual(["e1→peek"]);
    expect(warnings).toEqual([]);
  });

  it("keeps a redelivery pending at stop in berth.db, and delivers it after a restart on the same file", async () => {
    const file = dbFile();
    const first = open(file);
    const before = scripted([wait()]);
    const stopped = redeliveries(first, before.dispatch, [], { firstDelayMs: 60_000 });
    stopped.start();
    await expect(stopped.dispatch(event("e2"), "peek")).rejects.toBeInstanceOf(BatchWait);
    stopped.stop();
    expect(stopped.pending).toBe(0);
    first.close();

    const second = open(file);
    expect(rows(second)).toEqual([{ event_id: "e2", job: "peek", attempts: 1 }]);
    const after = scripted([]);
    // A delay of a minute, as recorded, is not yet due: a clock an hour on makes it due at once.
    const restarted = redeliveries(second, after.dispatch, [], { now: () => Date.now() + 3_600_000 });
    restarted.start();
    await until("the redelivery after the restart", () => (after.script.delivered.length === 1 && rows(second).length === 0 ? true : undefined));
    expect(after.script.delivered).toEqual(["e2→peek"]);
    expect(before.script.calls).toBe(1);
  });

  it("delivers after a crash (no stop) a redelivery the dead process recorded", async () => {
    const file = dbFile();
    const require = createRequire(import.meta.url);
    const child = spawn(process.execPath, ["--import", require.resolve("tsx"), join(import.meta.dirname, "redeliveries-crash.child.ts"), file], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, s) => resolve(s)));
    expect({ signal, stderr }).toEqual({ signal: "SIGKILL", stderr: "" });

    const store = open(file);
    expect(rows(store)).toEqual([{ event_id: "crashed-1", job: "peek", attempts: 1 }]);
    const after = scripted([]);
    const r = redeliveries(store, after.dispatch, []);
    r.start();
    await until("the redelivery after the crash", () => (after.script.delivered.length === 1 && rows(store).length === 0 ? true : undefined));
    expect(after.script.delivered).toEqual(["crashed-1→peek"]);
  });

  it("does not deliver again a dispatch that fails for good, and records nothing", async () => {
    const store = open(dbFile());
    const warnings: string[] = [];
    const { script, dispatch } = scripted([new Error("malformed")]);
    const r = redeliveries(store, dispatch, warnings);
    r.start();
    await expect(r.dispatch(event("e3"), "peek")).rejects.toThrow("malformed");
    expect([rows(store), r.pending, script.calls, warnings]).toEqual([[], 0, 1, []]);
  });

  it("drops, with a warning naming the event and the job, a redelivery that fails for good", async () => {
    const store = open(dbFile());
    const warnings: string[] = [];
    const { script, dispatch } = scripted([wait(), new Error("job removed")]);
    const r = redeliveries(store, dispatch, warnings);
    r.start();
    await expect(r.dispatch(event("e4"), "peek")).rejects.toBeInstanceOf(BatchWait);
    await until("the warning", () => warnings[0]);
    expect(warnings).toEqual(["dropped event e4 (Berth Manual Run from berth) to job peek after 2 deliveries: it failed, not transiently: job removed"]);
    expect([rows(store), r.pending, script.calls]).toEqual([[], 0, 2]);
  });

  it("ends at the retry limit with a warning naming the event and the job, and keeps no row", async () => {
    const store = open(dbFile());
    const warnings: string[] = [];
    const { script, dispatch } = scripted(Array.from({ length: 10 }, wait));
    const r = redeliveries(store, dispatch, warnings, { maxRetryAttempts: 2 });
    r.start();
    await expect(r.dispatch(event("e5"), "peek")).rejects.toBeInstanceOf(BatchWait);
    await until("the warning", () => warnings[0]);
    expect(warnings).toEqual([expect.stringMatching(/^gave up on event e5 \(.*\) to job peek after 3 deliveries, at the retry limit \(2\)/)]);
    expect([rows(store), r.pending, script.calls]).toEqual([[], 0, 3]);
  });

  it("ends at the age limit with a warning, and keeps no row", async () => {
    const store = open(dbFile());
    const warnings: string[] = [];
    let now = 1_000_000;
    const { script, dispatch } = scripted(Array.from({ length: 10 }, wait));
    const r = redeliveries(store, dispatch, warnings, { maxEventAgeMs: 60_000, now: () => now });
    r.start();
    await expect(r.dispatch(event("e6"), "peek")).rejects.toBeInstanceOf(BatchWait);
    expect(rows(store)).toHaveLength(1);
    now += 59_999; // the next retry, 10 ms on, would be past the limit
    await until("the warning", () => warnings[0]);
    expect(warnings).toEqual([expect.stringMatching(/^gave up on event e6 \(.*\) to job peek after 2 deliveries, at the age limit \(60 s since it first failed\)/)]);
    expect([rows(store), r.pending, script.calls]).toEqual([[], 0, 2]);
  });

  it("rejects a policy that is not a whole number, naming the field", () => {
    const store = open(dbFile());
    expect(() => redeliveries(store, scripted([]).dispatch, [], { firstDelayMs: 0.5 })).toThrow("redeliveries.firstDelayMs is 0.5: it must be a whole number of at least 1");
  });
});

describe("LocalRuntime and pending redeliveries", () => {
  const catalogText = `version: 1
service: rd
defaults:
  network: { subnets: [subnet-1] }
jobs:
  peek:
    on: { manual: true }
    run: { taskDefinition: peek }
local:
  taskDefinitions:
    peek: { command: [${JSON.stringify(process.execPath)}, -e, "console.log('peeked')"] }
`;

  it("delivers on start what a previous berth dev left pending in berth.db, and forgets it", async () => {
    const loaded = loadCatalog(catalogText, "berth.yml");
    if (!loaded.ok) throw new Error(loaded.error.issues.map(formatIssue).join("\n"));
    const file = dbFile();
    const stateDir = join(file, "..");
    const previous = open(file);
    const left = redeliveries(previous, scripted([wait()]).dispatch, []);
    await expect(left.dispatch(event("left-1"), "peek")).rejects.toBeInstanceOf(BatchWait);
    left.stop();
    previous.close();

    const rt = new LocalRuntime({ catalog: loaded.catalog, rootDir: stateDir, stateDir });
    await rt.start();
    try {
      const run = await until("the redelivered run", async () => (await rt.shell.store.listRuns({ job: "peek" }))[0]);
      expect(run.job).toBe("peek");
      await until("the row gone", () => (rows(rt.shell.store).length === 0 ? true : undefined));
      expect(await rt.shell.store.listRuns({ job: "peek" })).toHaveLength(1);
    } finally {
      await rt.stop();
    }
  });
});
