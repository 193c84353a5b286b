/**
 * The DynamoDB run store, before and after in one run: the store of a base commit (`--base <ref>`,
 * default 195d6a6, loaded from a git worktree of its own) beside the working tree's, each in its own
 * table of one dynalite server, each request sent with ReturnConsumedCapacity INDEXES and index
 * writes counted by DynamoDB's rules (test/aws/dynamo-run-store-meter.ts).
 *
 * - Units per run: one run's versions as the engine writes them (created QUEUED with its idempotency
 *   key, STARTING, its task ARN, PROVISIONING, RUNNING, SUCCEEDED, announced), replayed through
 *   each store: read and write units, per index.
 * - Where index writes go: the hottest partition key's share of each index's writes over that
 *   run's lifecycle for 1,000 runs of one job (one key takes at most 1,000 WRU a second).
 * - Listings at each history size (`--runs 10000,100000`): runs of 20 jobs, 0.1 % of them TIMED_OUT,
 *   1 % FAILED, 100 open, each store's own run items written with BatchWriteItem; per listing the
 *   units, the entries and items read, the runs returned and the time, median [min, max] of the
 *   repetitions (`--repeat`, default 5), the two stores taking turns.
 */
import { execFileSync } from "node:child_process";
import { existsSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BatchWriteItemCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoCommandSender, RunTableDefinition } from "../src/aws/dynamo-run-store.ts";
import * as current from "../src/aws/dynamo-run-store.ts";
import type { RunQuery, RunStore } from "../src/core/ports.ts";
import { clientTokenFor } from "../src/core/ids.ts";
import type { Run } from "../src/core/runs/model.ts";
import type { RunStatus } from "../src/core/runs/status.ts";
import { createTable, startDynalite } from "../test/contract/dynalite.ts";
import { makeRun, T0 } from "../test/contract/run-fixtures.ts";
import { emptyMeter, meteredSender, type CapacityMeter } from "../test/aws/dynamo-run-store-meter.ts";
import { percentile, recordBenchmark, table } from "./report.ts";

const arg = (name: string) => process.argv.flatMap((a, i) => (a === name && process.argv[i + 1] ? [process.argv[i + 1]!] : []))[0];
const BASE_REF = arg("--base") ?? "195d6a6";
const SIZES = (arg("--runs") ?? "10000,100000").split(",").map(Number);
const REPEAT = Number(arg("--repeat") ?? 5);
const JOBS = 20;
const OPEN_RUNS = 100;
const SEED_IN_FLIGHT = 48;

type StoreModule = {
  DynamoRunStore: new (o: { client: DynamoCommandSender; tableName: string }) => RunStore;
  runTableDefinition: (name: string) => RunTableDefinition;
};

const root = process.cwd();
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const baseCommit = git("rev-parse", "--short", BASE_REF);
const worktree = join(tmpdir(), `berth-dynamo-bench-${baseCommit}`);
if (!existsSync(worktree)) {
  git("worktree", "add", "--detach", worktree, baseCommit);
  symlinkSync(join(root, "node_modules"), join(worktree, "node_modules"), "dir");
}
const base = (await import(pathToFileURL(join(worktree, "src/aws/dynamo-run-store.ts")).href)) as StoreModule;
const variants: { readonly name: string; readonly module: StoreModule }[] = [
  { name: `before (${baseCommit})`, module: base },
  { name: "after", module: current as unknown as StoreModule },
];

const dynamo = await startDynalite();
const client: DynamoDBClient = dynamo.client({ maxAttempts: 10 });
let tables = 0;

async function meteredStore(module: StoreModule): Promise<{ store: RunStore; tableName: string; meter: CapacityMeter; reset: () => void }> {
  const definition = module.runTableDefinition(`bench-${(tables += 1)}`);
  await createTable(client, definition);
  const meter = emptyMeter();
  const tableName = definition.TableName!;
  return { store: new module.DynamoRunStore({ client: meteredSender(client, definition, meter), tableName }), tableName, meter, reset: () => Object.assign(meter, emptyMeter()) };
}

/** A run as dispatch writes it for an S3 upload: the context a `s3` trigger fills in. */
function uploadRun(i: number, job: string, at: number): Run {
  const run = makeRun({
    job,
    at,
    key: `${job}#s3:media-uploads:incoming/2024/05/01/photo-${i}.jpg:${(i * 7919).toString(16).padStart(8, "0")}`,
    context: {
      "s3.bucket": "media-uploads",
      "s3.key": `incoming/2024/05/01/photo-${i}.jpg`,
      "s3.size": "2483713",
      "s3.etag": "9b2cf535f27731c974343645a3985328",
      "s3.versionId": "",
      "s3.sequencer": "0062E99A88DC407460",
      "event.id": `17793124-05d4-b198-2fde-7ededc63b10${i % 10}`,
      "event.time": new Date(at).toISOString(),
      "event.region": "us-east-1",
      "event.account": "123456789012",
    },
  });
  return { ...run, service: "acme-jobs", trigger: { ...run.trigger, kind: "s3", summary: `s3 upload s3://media-uploads/incoming/2024/05/01/photo-${i}.jpg` } };
}

/** The versions after creation, as the engine writes them for a task that runs and succeeds. */
function lifecycle(run: Run): Run[] {
  const t = run.createdAt;
  const requested = { number: 1, clientToken: clientTokenFor(run.id, 1), status: "STARTING" as const, launch: "primary" as const, requestedAt: t + 40 };
  const taskArn = `arn:aws:ecs:us-east-1:123456789012:task/jobs/${run.id.toLowerCase().slice(0, 32)}`;
  const starting: Run = { ...run, status: "STARTING", attempts: [requested], startedAt: t + 40, timeoutAt: t + 900_040, updatedAt: t + 40, version: 2 };
  const launched: Run = { ...starting, attempts: [{ ...requested, taskArn }], updatedAt: t + 310, version: 3 };
  const provisioning: Run = { ...launched, status: "PROVISIONING", attempts: [{ ...requested, taskArn, status: "PROVISIONING", lastEventVersion: 1 }], updatedAt: t + 1_200, version: 4 };
  const running: Run = { ...provisioning, status: "RUNNING", attempts: [{ ...requested, taskArn, status: "RUNNING", lastEventVersion: 3, startedAt: t + 31_000 }], updatedAt: t + 31_000, version: 5 };
  const stopped = {
    ...requested,
    taskArn,
    status: "SUCCEEDED" as const,
    lastEventVersion: 5,
    startedAt: t + 31_000,
    stoppedAt: t + 95_000,
    stopCode: "EssentialContainerExited",
    stoppedReason: "Essential container in task exited",
    exitCode: 0,
  };
  const succeeded: Run = { ...running, status: "SUCCEEDED", attempts: [stopped], endedAt: t + 95_000, exitCode: 0, updatedAt: t + 95_000, version: 6 };
  const announced: Run = { ...succeeded, announced: true, updatedAt: t + 95_200, version: 7 };
  return [starting, launched, provisioning, running, succeeded, announced];
}

async function replay(store: RunStore, run: Run): Promise<void> {
  await store.createRun(run);
  let previous = run;
  for (const next of lifecycle(run)) {
    const result = await store.updateRun(next, previous.version);
    if (!result.ok) throw new Error(`the update of ${run.id} to version ${next.version} was refused`);
    previous = next;
  }
}

async function inParallel<T>(items: readonly T[], inFlight: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Writes the run items `module`'s store writes for `runs` (captured from its requests, so each
 * store's own item format) 25 at a time with BatchWriteItem: a history to list, without the
 * idempotency keys and conditions that creating the runs one by one would add.
 */
async function seedHistory(module: StoreModule, tableName: string, runs: readonly Run[]): Promise<void> {
  const items: Record<string, AttributeValue>[] = [];
  const capture = {
    send: async (command: { input: { Item?: Record<string, AttributeValue> } }) => {
      if (command.input.Item?.["SK"]?.S === "RUN") items.push(command.input.Item);
      return {};
    },
  };
  const store = new module.DynamoRunStore({ client: capture as unknown as DynamoCommandSender, tableName });
  for (const run of runs) await store.createRun(run);
  const batches = Array.from({ length: Math.ceil(items.length / 25) }, (_, i) => items.slice(i * 25, i * 25 + 25));
  await inParallel(batches, 8, async (batch) => {
    let requests: Record<string, { PutRequest: { Item: Record<string, AttributeValue> } }[]> = { [tableName]: batch.map((Item) => ({ PutRequest: { Item } })) };
    while (Object.keys(requests).length > 0) {
      const { UnprocessedItems = {} } = await client.send(new BatchWriteItemCommand({ RequestItems: requests }));
      requests = UnprocessedItems as typeof requests;
    }
  });
}

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 1 }));
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const perIndex = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([ix, n]) => `${ix} ${fmt(n)}`)
    .join(", ");

try {
  // 1. Units per run.
  const perRun: (string | number)[][] = [];
  const spread: (string | number)[][] = [];
  for (const v of variants) {
    const { store, meter, reset } = await meteredStore(v.module);
    await replay(store, uploadRun(0, "scan-image", T0));
    const writes = meter.tableWriteUnits + meter.indexWriteUnits;
    perRun.push([
      v.name,
      Object.entries(meter.requests)
        .map(([op, n]) => `${op} ${n}`)
        .join(", "),
      fmt(meter.tableWriteUnits),
      `${fmt(meter.indexWriteUnits)} (${perIndex(meter.indexWriteUnitsByIndex)})`,
      fmt(writes),
      `$${(writes * 0.625).toFixed(2)}`,
    ]);
    reset();
    const runs = Array.from({ length: 1000 }, (_, i) => uploadRun(i + 1, "scan-image", T0 + i * 37));
    await inParallel(runs, SEED_IN_FLIGHT, (r) => replay(store, r));
    for (const [index, byKey] of Object.entries(meter.indexWritesByKey)) {
      const total = sum(byKey);
      spread.push([v.name, index, Object.keys(byKey).length, fmt(total), `${((100 * Math.max(...Object.values(byKey))) / total).toFixed(1)} %`]);
    }
  }

  // 2. Listings over long histories.
  const listings: { readonly name: string; readonly query: (job: string) => RunQuery | "open" | "queued" }[] = [
    { name: "newest 50, everyone's", query: () => ({ limit: 50 }) },
    { name: "newest 50 of one job", query: (job) => ({ job, limit: 50 }) },
    { name: "TIMED_OUT (0.1 %), 50", query: () => ({ status: "TIMED_OUT", limit: 50 }) },
    { name: "FAILED (1 %) of one job, 50", query: () => ({ job: "job-10", status: "FAILED", limit: 50 }) },
    { name: "RUNNING, 50", query: () => ({ status: "RUNNING", limit: 50 }) },
    { name: "open runs (the sweep)", query: () => "open" },
    { name: "head of one job's queue (admission)", query: () => "queued" },
  ];
  const listingRows: (string | number)[][] = [];
  for (const size of SIZES) {
    const stores = await Promise.all(variants.map((v) => meteredStore(v.module)));
    // Job i % 20: the FAILED runs (i % 100 = 50) are job-10's, the TIMED_OUT ones (i % 1000 = 7) job-7's.
    const statusOf = (i: number): RunStatus => (i % 1000 === 7 ? "TIMED_OUT" : i % 100 === 50 ? "FAILED" : "SUCCEEDED");
    const history = Array.from({ length: size }, (_, i) => makeRun({ job: `job-${i % JOBS}`, status: statusOf(i), at: T0 + i * 1_000 }));
    const open = Array.from({ length: OPEN_RUNS }, (_, i) => makeRun({ job: `job-${i % JOBS}`, status: i % 2 === 0 ? "RUNNING" : "QUEUED", at: T0 + (size + i) * 1_000 }));
    const started = performance.now();
    for (const [i, s] of stores.entries()) await seedHistory(variants[i]!.module, s.tableName, [...history, ...open]);
    console.log(`seeded ${size} runs into ${stores.length} tables in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    for (const listing of listings) {
      const samples = variants.map(() => [] as number[]);
      const counted = variants.map(() => ({ meter: emptyMeter(), returned: 0 }));
      for (let r = 0; r < REPEAT; r += 1) {
        for (const [i, s] of stores.entries()) {
          const query = listing.query("job-1");
          s.reset();
          const t0 = performance.now();
          const runs = query === "open" ? await s.store.listOpenRuns() : query === "queued" ? await s.store.listQueuedRuns("job-1", 1) : await s.store.listRuns(query);
          samples[i]!.push(performance.now() - t0);
          if (r === 0) counted[i] = { meter: structuredClone(s.meter), returned: runs.length };
        }
      }
      for (const [i, v] of variants.entries()) {
        const sorted = samples[i]!.sort((a, b) => a - b);
        const { meter, returned } = counted[i]!;
        listingRows.push([
          fmt(size),
          listing.name,
          v.name,
          fmt(returned),
          `${fmt(meter.requests["Query"] ?? 0)} / ${fmt(meter.requests["GetItem"] ?? 0)}`,
          fmt(sum(meter.evaluatedByIndex)),
          fmt(meter.readUnits),
          `${percentile(sorted, 50).toFixed(1)} [${sorted[0]!.toFixed(1)}, ${sorted[sorted.length - 1]!.toFixed(1)}]`,
        ]);
      }
    }
  }

  const markdown = [
    "## DynamoDB run store: units per run, where index writes go, listings over long histories",
    "",
    `The store of ${baseCommit} ("before") beside the working tree's ("after"), in one run, each in its own table of one`,
    "dynalite server; every request asks for ReturnConsumedCapacity INDEXES. Read units and table write units are",
    "dynalite's (a Query is charged for the entries it evaluates, before any filter; 0.5 per 4 KB eventually",
    "consistent, 1 strongly consistent); index write units, which dynalite does not report, are counted by",
    "DynamoDB's rules from each write's item before and after (an entry put, deleted, or both when its key",
    "changes; one write when only a projected attribute changes; 1 unit per KB of the entry).",
    "",
    "One run of an S3-triggered job, created and taken through STARTING, its task ARN, PROVISIONING, RUNNING,",
    "SUCCEEDED and announced (the versions the engine writes), priced at $0.625 per 1M write request units:",
    "",
    table(["store", "requests", "table write units", "index write units", "write units per run", "writes per 1M runs"], perRun),
    "",
    "Index writes of 1,000 such runs of one job: the partition key values they went to and the hottest key's",
    "share (DynamoDB takes at most 1,000 write units a second per partition key value, so one key is a ceiling",
    "for the whole stack; the per-job indexes have one key per job):",
    "",
    table(["store", "index", "keys written", "writes", "hottest key"], spread),
    "",
    `Listings over histories of runs of ${JOBS} jobs (0.1 % TIMED_OUT, 1 % FAILED, the rest SUCCEEDED) and ${OPEN_RUNS} open runs`,
    `(half RUNNING, half QUEUED): requests, index entries or items the queries evaluated, read units, and the`,
    `time in ms, median [min, max] of ${REPEAT} runs, the stores taking turns:`,
    "",
    table(["runs", "listing", "store", "returned", "Query / GetItem", "evaluated", "read units", "ms"], listingRows),
    "",
    "Where the units go: the working tree's indexes project keys only, so a run's later versions write no index",
    "entry, and a listing reads keys and then each run it returns with GetItem, half a unit a run (eventually",
    "consistent; admission's queue head is read strongly consistent) where a fully projected index returned up to",
    "4 KB of runs for half a unit. A listing over every run queries each shard in parallel, at least half a unit",
    "each. A status reads only the runs that ended in it (byStatus, byJobStatus), however long the history; an open",
    "status is looked up among the open runs. The times are dynalite's, which serves one request at a time, so the",
    "GetItems of a listing cost it more than they cost DynamoDB, which serves them in parallel.",
  ].join("\n");
  console.log(markdown);
  recordBenchmark("dynamo", markdown);
} finally {
  client.destroy();
  await dynamo.close();
  git("worktree", "remove", "--force", worktree);
}
