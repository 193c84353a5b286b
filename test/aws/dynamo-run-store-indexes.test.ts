/**
 * What DynamoRunStore's listings read and where its index writes go, counted on dynalite: a
 * listing reads index entries and runs in proportion to what it returns, never the history
 * around them, and the indexes over every run spread their writes over many partition keys
 * (one partition key takes at most 1,000 write units a second on DynamoDB: "Best practices for
 * designing and using partition keys effectively", burst and adaptive capacity).
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoRunStore, runTableDefinition, SHARDS } from "../../src/aws/dynamo-run-store.ts";
import type { Run } from "../../src/core/runs/model.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { advance, makeRun, T0 } from "../contract/run-fixtures.ts";
import { emptyMeter, meteredSender, type CapacityMeter } from "./dynamo-run-store-meter.ts";

let dynamo: LocalDynamo;
let client: DynamoDBClient;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynalite();
  client = dynamo.client();
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

async function meteredStore(): Promise<{ store: DynamoRunStore; meter: CapacityMeter; reset: () => void }> {
  const definition = runTableDefinition(`indexes-${(tables += 1)}`);
  await createTable(client, definition);
  const meter = emptyMeter();
  const store = new DynamoRunStore({ client: meteredSender(client, definition, meter), tableName: definition.TableName! });
  return { store, meter, reset: () => Object.assign(meter, emptyMeter()) };
}

const minutes = (n: number) => T0 + n * 60_000;

/** Seeding writes hundreds of runs through dynalite, a few seconds on an idle machine: a generous deadline for a busy one. */
const SEED_DEADLINE_MS = 180_000;

/** Creates runs `count` at a time in parallel. */
async function seed(store: DynamoRunStore, runs: readonly Run[]): Promise<void> {
  for (let i = 0; i < runs.length; i += 25) await Promise.all(runs.slice(i, i + 25).map((r) => store.createRun(r)));
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe("DynamoRunStore listings read what they return", () => {
  // 400 runs of two jobs, 3 of them TIMED_OUT, far apart; 2 RUNNING among them.
  const history = (): Run[] =>
    Array.from({ length: 400 }, (_, i) =>
      makeRun({ job: i % 2 === 0 ? "render" : "thumbs", status: i % 150 === 7 ? "TIMED_OUT" : i === 390 || i === 391 ? "RUNNING" : "SUCCEEDED", at: minutes(i) }),
    );
  let fixture: Awaited<ReturnType<typeof meteredStore>>;
  let runs: Run[];
  beforeAll(async () => {
    fixture = await meteredStore();
    runs = history();
    await seed(fixture.store, runs);
  }, SEED_DEADLINE_MS);

  it.each([
    { query: { status: "TIMED_OUT" as const }, index: "byStatus" },
    { query: { job: "thumbs", status: "TIMED_OUT" as const }, index: "byJobStatus" },
  ])("listing a rare status ($query) evaluates only the runs in it", async ({ query, index }) => {
    const expected = runs.filter((r) => r.status === query.status && (query.job === undefined || r.job === query.job)).reverse();
    expect(expected.length).toBeGreaterThan(0);
    fixture.reset();
    expect((await fixture.store.listRuns(query)).map((r) => r.id)).toEqual(expected.map((r) => r.id));
    expect(fixture.meter.evaluatedByIndex).toEqual({ [index]: expected.length });
    expect(fixture.meter.itemsRead).toBe(expected.length);
    expect(fixture.meter.requests["GetItem"]).toBe(expected.length);
    // Key-only entries and runs are each well under 4 KB: at most half a unit per query and per run (eventually consistent).
    expect(fixture.meter.readUnits).toBeLessThanOrEqual(((fixture.meter.requests["Query"] ?? 0) + expected.length) * 0.5);
  });

  it("listing a status no run has evaluates nothing", async () => {
    fixture.reset();
    expect(await fixture.store.listRuns({ status: "CANCELLED" })).toEqual([]);
    expect(sum(fixture.meter.evaluatedByIndex)).toBe(0);
    expect(fixture.meter.requests["GetItem"]).toBeUndefined();
  });

  it("the newest 20 of everyone's history read at most a page of keys per shard", async () => {
    fixture.reset();
    const newest = await fixture.store.listRuns({ limit: 20 });
    expect(newest.map((r) => r.id)).toEqual(runs.slice(-20).reverse().map((r) => r.id));
    expect(fixture.meter.requests["GetItem"]).toBe(20);
    // One query per shard, each of ceil(20 / shards) + a margin of keys, and a few second pages where a shard held more.
    expect(fixture.meter.evaluatedByIndex["byTime"]).toBeLessThanOrEqual(2 * SHARDS * (Math.ceil(20 / SHARDS) + 4));
    expect(fixture.meter.evaluatedByIndex["byTime"]).toBeLessThan(runs.length / 2);
  });

  it("open runs are read from the open index alone: the two running runs, not the 400 ended", async () => {
    fixture.reset();
    expect((await fixture.store.listOpenRuns()).map((r) => r.id)).toEqual([runs[390]!.id, runs[391]!.id]);
    expect(fixture.meter.evaluatedByIndex).toEqual({ open: 2 });
    expect(fixture.meter.requests["GetItem"]).toBe(2);
  });

  it("an open status is looked up among open runs, not the history", async () => {
    fixture.reset();
    expect((await fixture.store.listRuns({ status: "RUNNING" })).map((r) => r.id)).toEqual([runs[391]!.id, runs[390]!.id]);
    expect(fixture.meter.evaluatedByIndex).toEqual({ open: 2 });
  });
});

describe("DynamoRunStore spreads index writes over partition keys", () => {
  it("the runs of one job spread over every shard of the indexes over every run; per-job indexes write one key per job", async () => {
    const { store, meter } = await meteredStore();
    const runs = Array.from({ length: 320 }, (_, i) => makeRun({ job: i < 300 ? "render" : "thumbs", at: minutes(i) }));
    await seed(store, runs);
    // Every run starts, ends and is announced; the ended ones land in the status indexes.
    await Promise.all(
      runs.map(async (run) => {
        const running = advance(run, "RUNNING");
        await store.updateRun(running, run.version);
        const ended = advance(running, "FAILED");
        await store.updateRun(ended, running.version);
        await store.updateRun({ ...ended, announced: true, version: ended.version + 1 }, ended.version);
      }),
    );

    for (const index of ["byTime", "open", "byStatus"]) {
      const byKey = meter.indexWritesByKey[index] ?? {};
      expect(Object.keys(byKey), index).toHaveLength(SHARDS);
      // With 320 runs over 16 keys (20 each on average), no key takes more than a quarter of the index's writes.
      expect(Math.max(...Object.values(byKey)) / sum(byKey), index).toBeLessThan(0.25);
    }
    for (const index of ["byJob", "queued", "byJobStatus"]) expect(Object.keys(meter.indexWritesByKey[index] ?? {}).sort(), index).toHaveLength(2);

    // Key-only entries are written when a run enters or leaves an index, never for its other changes.
    expect(meter.indexWriteUnitsByIndex).toEqual({
      byTime: runs.length,
      byJob: runs.length,
      // Entered on create, left once announced.
      open: 2 * runs.length,
      // Entered on create, left when it ran.
      queued: 2 * runs.length,
      byStatus: runs.length,
      byJobStatus: runs.length,
    });
  }, SEED_DEADLINE_MS);
});
