/**
 * A burst of uploads to one batched job, through the engine as the stack deploys it (compose.ts
 * `buildEngine`): the batch records in the runs table on dynalite (DynamoBatchStore), the manifest written
 * with the S3 client to a local S3 endpoint, the window's timer on a local SQS queue, and RunTask against a
 * local ECS endpoint with Fargate's launch rate (token bucket: 20/s, burst 100). Real SDK clients over HTTP.
 *
 * Uploads are dispatched by WORKERS concurrent "Lambda" invocations (30 s each). An invocation that fails
 * (a batch completing its slots answers "deliver again") is retried as Lambda retries an asynchronous
 * invocation: twice, one and then two minutes later
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). A reminder the timer
 * sends is handed to the batch settler once its DelaySeconds have passed, as the SQS event source would
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html); the sweep runs every SWEEP_MS.
 *
 * `node --import tsx bench/batch.bench.ts [--base <ref>]` runs BATCH_BIG uploads once, then BATCH_SMALL uploads
 * BATCH_SMALL_RUNS times, on the base commit (default HEAD, checked out by worktree.ts) and on the working
 * tree, each measurement a fresh process; and records the section bench:batch beside the unbatched figure
 * that bench:burst recorded in BENCHMARKS.md.
 */
import { execFileSync } from "node:child_process";
import { Agent } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type * as Compose from "../src/aws/compose.ts";
import type * as Clients from "../src/aws/clients.ts";
import type * as BatchStoreModule from "../src/aws/dynamo-batch-store.ts";
import type * as RunStoreModule from "../src/aws/dynamo-run-store.ts";
import type * as Invocation from "../src/aws/invocation.ts";
import type * as Load from "../src/core/catalog/load.ts";
import type * as Errors from "../src/core/errors.ts";
import type * as Dynalite from "../test/contract/dynalite.ts";
import type * as FakeEcs from "../test/support/fake-ecs.ts";
import type * as FakeEventBridge from "../test/support/fake-eventbridge.ts";
import type * as FakeS3 from "../test/support/fake-s3.ts";
import type * as FakeSqs from "../test/support/fake-sqs.ts";
import type * as Catalogs from "../test/stack/catalogs.ts";
import { recordBenchmark, table } from "./report.ts";
import { baseRef, checkOut } from "./worktree.ts";

/**
 * The modules a measurement uses: berth's own from the tree under `root` (the base commit's, or the working
 * tree's); the stand-ins for AWS (dynalite, the fakes) from the working tree, the same world for both.
 */
async function modulesOf(root: string) {
  const here = fileURLToPath(new URL("..", import.meta.url));
  const from = async <T>(path: string) => (await import(join(path.startsWith("test/") ? here : root, path))) as T;
  return {
    ...(await from<typeof Compose>("src/aws/compose.ts")),
    ...(await from<typeof Clients>("src/aws/clients.ts")),
    ...(await from<typeof BatchStoreModule>("src/aws/dynamo-batch-store.ts")),
    ...(await from<typeof RunStoreModule>("src/aws/dynamo-run-store.ts")),
    ...(await from<typeof Invocation>("src/aws/invocation.ts")),
    ...(await from<typeof Load>("src/core/catalog/load.ts")),
    ...(await from<typeof Errors>("src/core/errors.ts")),
    ...(await from<typeof Dynalite>("test/contract/dynalite.ts")),
    ...(await from<typeof FakeEcs>("test/support/fake-ecs.ts")),
    ...(await from<typeof FakeEventBridge>("test/support/fake-eventbridge.ts")),
    ...(await from<typeof FakeS3>("test/support/fake-s3.ts")),
    ...(await from<typeof FakeSqs>("test/support/fake-sqs.ts")),
    ...(await from<typeof Catalogs>("test/stack/catalogs.ts")),
  };
}
type Modules = Awaited<ReturnType<typeof modulesOf>>;

const BIG = Number(process.env.BATCH_BIG ?? 10_000);
const SMALL = Number(process.env.BATCH_SMALL ?? 1_000);
const SMALL_RUNS = Number(process.env.BATCH_SMALL_RUNS ?? 3);
const WORKERS = Number(process.env.BATCH_WORKERS ?? 100);
const WINDOW_S = Number(process.env.BATCH_WINDOW_S ?? 60);
const MAX_ITEMS = 10_000;
const RATE = 20;
const BURST = 100;
const SWEEP_MS = Number(process.env.SWEEP_MS ?? 60_000);
/** When the first sweep comes after the first upload: a schedule's minute does not start with the burst. */
const SWEEP_PHASE_MS = Number(process.env.SWEEP_PHASE_MS ?? 30_000);
const LIMIT_MS = Number(process.env.BATCH_LIMIT_S ?? 900) * 1000;
const DISPATCH_TIMEOUT_MS = 30_000;
const BATCH_TIMEOUT_MS = 60_000;
/** Lambda's waits before the two retries of a failed asynchronous invocation. */
const ASYNC_RETRY_MS = [60_000, 120_000];
/** How often the stand-in event source looks at the queue. */
const POLL_MS = 50;

const JOB = "gather";
const TABLE = "berth-runs";
const MANIFESTS = "acme-jobs-bench-manifests";
const catalogOf = (withJob: Modules["withJob"]) =>
  withJob(
    JOB,
    `on: { s3: { bucket: media-uploads, key: { prefix: gather/ } } }\nbatch: { window: ${WINDOW_S}s, maxItems: ${MAX_ITEMS} }\nrun: { taskDefinition: gatherer, container: app, command: [node, gather.js, "\${batch.manifest}", "\${batch.count}"] }`,
  );

interface Measured {
  readonly uploads: number;
  readonly dispatchMs: number;
  readonly joinsPerSecond: number;
  /** Deliveries that failed and were retried (Lambda's async retries), and those that ran out of retries. */
  readonly redelivered: number;
  readonly failedForGood: number;
  /** The longest any upload took from its first delivery to its acceptance (retries included), and the longest one dispatch call took. */
  readonly longestWaitMs: number;
  readonly longestDispatchMs: number;
  readonly runTaskCalls: number;
  readonly throttled: number;
  readonly tasksLaunched: number;
  readonly manifests: number;
  readonly manifestLines: number;
  readonly duplicates: number;
  readonly lost: number;
  /** The batch holding the last accepted upload: its task's start after that acceptance, and after its window's end. */
  readonly fromLastUploadMs: number;
  readonly fromWindowEndMs: number;
  /** Who handed the batches off. */
  readonly handedOffByReminder: number;
  readonly handedOffBySweep: number;
  readonly reminders: number;
  readonly remindersSent: number;
  /** Deliveries the dispatch function would answer with an error, not retry. */
  readonly answered: number;
  readonly dynamoRequests: number;
  /** Strongly consistent Query pages of a batch's slots (every settler lists them), and manifest PutObject calls. */
  readonly slotQueries: number;
  readonly manifestPuts: number;
  /** Conditional writes of the batch head that lost their condition, by kind of write; and of the other records. */
  readonly headLost: Readonly<Record<string, number>>;
  readonly otherLost: Readonly<Record<string, number>>;
  readonly drained: boolean;
}

const sample = JSON.parse(readFileSync(new URL("../events/s3-object-created.json", import.meta.url), "utf8")) as { id: string; detail: Record<string, Record<string, unknown>> };
const keyOf = (i: number) => `gather/${i}.csv`;
const upload = (i: number) => ({
  ...sample,
  id: `batch-${i}`,
  detail: { ...sample.detail, bucket: { name: "media-uploads" }, object: { ...sample.detail.object, key: keyOf(i), size: 1000 + (i % 100), sequencer: i.toString(16).padStart(18, "0") } },
});

const invoker =
  ({ withDeadline, lambdaDeadline }: Modules) =>
  <T>(timeoutMs: number, work: () => Promise<T>): Promise<T> =>
    withDeadline(lambdaDeadline({ getRemainingTimeInMillis: () => timeoutMs }, Date.now())!, work);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the DynamoDB requests and, for each conditional write that lost, which record and which change. */
function countConditions(client: DynamoDBClient) {
  const counts = { requests: 0, slotQueries: 0, headLost: {} as Record<string, number>, otherLost: {} as Record<string, number> };
  client.middlewareStack.add(
    (next) => async (args) => {
      counts.requests++;
      if ((args.input as { KeyConditionExpression?: string }).KeyConditionExpression?.includes(":slot")) counts.slotQueries++;
      try {
        return await next(args);
      } catch (error) {
        if ((error as Error).name === "ConditionalCheckFailedException") {
          const input = args.input as { Key?: { PK?: { S?: string } }; Item?: { PK?: { S?: string } }; UpdateExpression?: string };
          const pk = input.Key?.PK?.S ?? input.Item?.PK?.S ?? "";
          if (pk.startsWith("BATCHHEAD#")) {
            const kind = input.Item !== undefined ? "open" : /#count/.test(input.UpdateExpression ?? "") ? "reserve" : /:closing,/.test(input.UpdateExpression ?? "") ? "close" : "hand-off";
            counts.headLost[kind] = (counts.headLost[kind] ?? 0) + 1;
          } else {
            const record = pk.startsWith("BATCHKEY#") ? "item key" : pk.startsWith("BATCH#") ? "slot" : "run";
            counts.otherLost[record] = (counts.otherLost[record] ?? 0) + 1;
          }
        }
        throw error;
      }
    },
    { step: "initialize", name: "countConditions" },
  );
  return counts;
}

async function measure(m: Modules, uploads: number): Promise<Measured> {
  const { startDynalite, startFakeEcs, startFakeEventBridge, startFakeS3, startFakeSqs, awsClientConfig, createTable, runTableDefinition, loadCatalog, buildEngine, DynamoBatchStore } = m;
  const { ConflictError, InvalidTransitionError, NotFoundError, ValidationError } = m;
  const invoke = invoker(m);
  const [dynamo, ecs, bus, s3, sqs] = await Promise.all([
    startDynalite(),
    startFakeEcs({ runTaskRateLimit: { ratePerSecond: RATE, burst: BURST } }),
    startFakeEventBridge(),
    startFakeS3({ [MANIFESTS]: {} }),
    startFakeSqs(),
  ]);
  const queueUrl = sqs.createQueue("acme-jobs-bench-batch");
  // The S3 and SQS clients of the batch adapters are made from the environment, as in the Lambda functions.
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "x",
    AWS_SECRET_ACCESS_KEY: "x",
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ENDPOINT_URL_SQS: sqs.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  });
  // One client of each stands in for every invocation's own: no shared cap on open connections.
  const agent = () => ({ httpAgent: new Agent({ keepAlive: true, maxSockets: WORKERS + 50 }) });
  const place = { region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } };
  const dynamoClient = new DynamoDBClient({ ...awsClientConfig({}), ...place, endpoint: dynamo.endpoint, requestHandler: agent() });
  const counts = countConditions(dynamoClient);
  await createTable(dynamoClient, runTableDefinition(TABLE));
  const clients = {
    dynamo: dynamoClient,
    ecs: new ECSClient({ ...awsClientConfig({}), ...place, endpoint: ecs.url, requestHandler: agent() }),
    eventBridge: new EventBridgeClient({ ...awsClientConfig({}), ...place, endpoint: bus.url, requestHandler: agent() }),
  };
  const loaded = loadCatalog(catalogOf(m.withJob), "berth.yml");
  if (!loaded.ok) throw loaded.error;
  const engine = buildEngine(loaded.catalog, clients, { table: TABLE, bus: "berth", batchQueue: queueUrl, manifestBucket: MANIFESTS }, { env: process.env });
  const heads = new DynamoBatchStore({ client: dynamoClient, tableName: TABLE });

  const t0 = Date.now();
  const closesAt = new Map<string, number>();
  let lastAccepted = 0;
  let accepted = 0;
  let redelivered = 0;
  let failedForGood = 0;
  let answered = 0;
  const firstTried = new Map<number, number>();
  let longestWaitMs = 0;
  let longestDispatchMs = 0;
  const pending: { i: number; attempt: number; at: number }[] = [];
  let next = 0;
  const deliver = async (i: number, attempt: number) => {
    const started = Date.now();
    if (!firstTried.has(i)) firstTried.set(i, started);
    try {
      const outcomes = await invoke(DISPATCH_TIMEOUT_MS, () => engine.dispatch(upload(i), JOB)).finally(() => void (longestDispatchMs = Math.max(longestDispatchMs, Date.now() - started)));
      for (const o of outcomes) {
        if (o.kind !== "batched" && o.kind !== "duplicate") throw new Error(`upload ${i}: ${JSON.stringify(o)}`);
        if (o.kind === "batched" && o.closesAt !== undefined) closesAt.set(o.batchId, o.closesAt);
      }
      accepted++;
      lastAccepted = Math.max(lastAccepted, Date.now());
      longestWaitMs = Math.max(longestWaitMs, Date.now() - firstTried.get(i)!);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith(`upload ${i}:`)) throw error;
      // The dispatch function answers these (handler.ts): the event is not retried.
      if (error instanceof ValidationError || error instanceof ConflictError || error instanceof NotFoundError || error instanceof InvalidTransitionError) {
        answered++;
        return;
      }
      if (attempt < ASYNC_RETRY_MS.length) {
        redelivered++;
        pending.push({ i, attempt: attempt + 1, at: Date.now() + ASYNC_RETRY_MS[attempt]! });
      } else failedForGood++;
    }
  };
  const worker = async () => {
    while (next < uploads) await deliver(next++, 0);
  };
  let dispatchMs: number | undefined;
  void Promise.all(Array.from({ length: WORKERS }, worker)).then(() => (dispatchMs = Date.now() - t0));
  const retries = setInterval(() => {
    const now = Date.now();
    for (let k = pending.length - 1; k >= 0; k--) {
      if (pending[k]!.at > now) continue;
      const [p] = pending.splice(k, 1);
      void deliver(p!.i, p!.attempt);
    }
  }, 200);

  // The event source: each reminder to the settler once its delay has passed; a failed one comes again after the visibility timeout.
  let seen = 0;
  let reminders = 0;
  let handedOffByReminder = 0;
  const due: { at: number; body: string }[] = [];
  const settling: Promise<void>[] = [];
  const source = setInterval(() => {
    const messages = sqs.messages(queueUrl);
    for (; seen < messages.length; seen++) due.push({ at: Date.now() + (messages[seen]!.DelaySeconds ?? 0) * 1000, body: messages[seen]!.Body });
    const now = Date.now();
    for (let k = due.length - 1; k >= 0; k--) {
      if (due[k]!.at > now) continue;
      const [d] = due.splice(k, 1);
      reminders++;
      const { job } = JSON.parse(d!.body) as { job: string };
      settling.push(
        invoke(BATCH_TIMEOUT_MS, () => engine.settleBatch(job)).then(
          (out) => void (out.kind === "handed-off" && handedOffByReminder++),
          () => void due.push({ at: Date.now() + 6 * BATCH_TIMEOUT_MS, body: d!.body }),
        ),
      );
    }
  }, POLL_MS);
  let handedOffBySweep = 0;
  const sweepOnce = () => settling.push(invoke(60_000, () => engine.sweep()).then((r) => void (handedOffBySweep += r.batchesHandedOff), () => undefined));
  let sweep: NodeJS.Timeout | undefined;
  const phase = setTimeout(() => {
    sweepOnce();
    sweep = setInterval(sweepOnce, SWEEP_MS);
  }, SWEEP_PHASE_MS);
  const progress = setInterval(() => {
    process.stderr.write(`  ${uploads}: ${((Date.now() - t0) / 1000).toFixed(0)} s, accepted ${accepted}, redelivered ${redelivered}, reminders ${reminders}, tasks ${ecs.stats.tasksLaunched}\n`);
  }, 15_000);

  // Drained: every upload accepted (or out of retries), the job's batch closed, and a task for every manifest.
  let drained = false;
  for (;;) {
    await sleep(200);
    if (Date.now() - t0 > LIMIT_MS) break;
    if (dispatchMs === undefined || pending.length > 0 || accepted + failedForGood + answered < uploads) continue;
    const head = await heads.getHead(JOB);
    const manifests = [...s3.objects.keys()].filter((k) => k.startsWith(`${MANIFESTS}/${JOB}/`)).length;
    if (head?.state === "closed" && ecs.stats.tasksLaunched >= manifests && manifests > 0) {
      drained = true;
      break;
    }
  }
  clearTimeout(phase);
  for (const t of [retries, source, sweep, progress]) clearInterval(t);
  await Promise.allSettled(settling);

  const manifestKeys = [...s3.objects.keys()].filter((k) => k.startsWith(`${MANIFESTS}/${JOB}/`));
  const listed = manifestKeys.flatMap((k) =>
    s3.objects
      .get(k)!
      .body.toString("utf8")
      .trimEnd()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { key: string }).key),
  );
  const distinct = new Set(listed);
  let lost = 0;
  for (let i = 0; i < uploads; i++) if (!distinct.has(keyOf(i))) lost++;
  // The batch of the last accepted upload is the one opened last; its task is the one whose overrides name its manifest.
  const batchOfTask = (overrides: unknown) => /\/([0-9a-f]{32})\.jsonl/.exec(JSON.stringify(overrides))?.[1];
  const lastBatch = [...closesAt].sort((a, b) => a[1] - b[1]).at(-1);
  const task = [...ecs.tasks.values()].find((t) => batchOfTask(t.overrides) === lastBatch?.[0]);
  const started = task?.createdAt ?? NaN;
  const s = ecs.stats;
  const result: Measured = {
    uploads,
    dispatchMs: dispatchMs ?? NaN,
    joinsPerSecond: uploads / ((lastAccepted - t0) / 1000),
    redelivered,
    failedForGood,
    longestWaitMs,
    longestDispatchMs,
    runTaskCalls: s.runTaskCalls,
    throttled: s.throttled,
    tasksLaunched: s.tasksLaunched,
    manifests: manifestKeys.length,
    manifestLines: listed.length,
    duplicates: listed.length - distinct.size,
    lost,
    fromLastUploadMs: started - lastAccepted,
    fromWindowEndMs: started - (lastBatch?.[1] ?? NaN),
    handedOffByReminder,
    handedOffBySweep,
    reminders,
    remindersSent: sqs.messages(queueUrl).length,
    answered,
    dynamoRequests: counts.requests,
    slotQueries: counts.slotQueries,
    manifestPuts: s3.calls.filter((c) => c.key !== undefined).length,
    headLost: counts.headLost,
    otherLost: counts.otherLost,
    drained,
  };
  await Promise.all([dynamo.close(), ecs.close(), bus.close(), s3.close(), sqs.close()]);
  for (const c of Object.values(clients)) c.destroy();
  return result;
}

/** The unbatched drain recorded by bench:burst: the working tree's row at 100 workers, as BENCHMARKS.md has it. */
function unbatched(): { readonly drainS: string; readonly runTaskCalls: string; readonly line: string } | undefined {
  const text = readFileSync(new URL("../BENCHMARKS.md", import.meta.url), "utf8");
  const section = text.slice(text.indexOf("<!-- bench:burst -->"), text.indexOf("<!-- /bench:burst -->"));
  const row = section.split("\n").find((l) => /^\| 100 \| after/.test(l));
  if (row === undefined) return undefined;
  const cells = row.split("|").map((c) => c.trim());
  return { drainS: cells[3]!, runTaskCalls: cells[8]!, line: row };
}

// A measurement in a process of its own: `--measure <root> <uploads>` prints one line of JSON.
const measureAt = process.argv.indexOf("--measure");
if (measureAt >= 0) {
  const root = process.argv[measureAt + 1]!;
  const result = await measure(await modulesOf(root), Number(process.argv[measureAt + 2]));
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

const repo = fileURLToPath(new URL("..", import.meta.url));
const base = checkOut(baseRef());
const sides = [
  { label: `before (${base.commit})`, root: base.root },
  { label: "after", root: repo },
] as const;
const runs: (Measured & { readonly side: string })[] = [];
try {
  for (const [n, times] of [
    [BIG, BIG > 0 ? 1 : 0],
    [SMALL, SMALL_RUNS],
  ] as const) {
    for (let k = 0; k < times; k++) {
      for (const side of sides) {
        console.log(`${side.label}: ${n} uploads, run ${k + 1}/${times} …`);
        const out = execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--measure", side.root, String(n)], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 });
        const line = out.split("\n").find((l) => l.startsWith("RESULT "));
        if (line === undefined) throw new Error(`${side.label}: no result from the measurement of ${n} uploads`);
        const m = JSON.parse(line.slice("RESULT ".length)) as Measured;
        console.log(`  ${JSON.stringify(m)}`);
        runs.push({ ...m, side: side.label });
      }
    }
  }
} finally {
  base.remove();
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: readonly number[], digits: number) =>
  xs.length === 1 ? xs[0]!.toFixed(digits) : `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}, ${Math.max(...xs).toFixed(digits)}]`;
const sizes = [...new Set(runs.map((r) => r.uploads))].flatMap((n) => sides.map((side) => ({ n, side: side.label })));
const lostText = (lost: Readonly<Record<string, number>>) => Object.entries(lost).map(([k, v]) => `${k} ${v}`).join(", ") || "0";
const rows = sizes.map(({ n, side }) => {
  const rs = runs.filter((r) => r.uploads === n && r.side === side);
  const all = (f: (r: Measured) => number) => spread(rs.map(f), 0);
  return [
    `${n.toLocaleString("en-US")} × ${rs.length}`,
    side,
    rs.every((r) => r.drained) ? "yes" : `no (limit ${LIMIT_MS / 1000} s)`,
    spread(rs.map((r) => r.dispatchMs / 1000), 1),
    spread(rs.map((r) => r.joinsPerSecond), 0),
    spread(rs.map((r) => r.dynamoRequests / r.uploads), 2),
    spread(rs.map((r) => r.longestWaitMs / 1000), 1),
    spread(rs.map((r) => r.longestDispatchMs / 1000), 1),
    all((r) => r.runTaskCalls),
    all((r) => r.tasksLaunched),
    all((r) => r.manifests),
    all((r) => r.manifestLines),
    `${rs.reduce((a, r) => a + r.duplicates, 0)} / ${rs.reduce((a, r) => a + r.lost, 0)}`,
    spread(rs.map((r) => r.fromLastUploadMs / 1000), 1),
    spread(rs.map((r) => r.fromWindowEndMs / 1000), 1),
    all((r) => r.redelivered),
    rs.map((r) => lostText(r.headLost)).join("; "),
    rs.map((r) => lostText(r.otherLost)).join("; "),
    rs.map((r) => `${r.handedOffByReminder}/${r.handedOffBySweep}`).join("; "),
    rs.map((r) => `${r.remindersSent}/${r.reminders}`).join("; "),
    all((r) => r.dynamoRequests),
    all((r) => r.slotQueries),
    all((r) => r.manifestPuts),
  ];
});
const before = unbatched();
const big = runs.find((r) => r.uploads === BIG && r.side === "after");
const bigBefore = runs.find((r) => r.uploads === BIG && r.side !== "after");

const md = `## Batched burst: many uploads, one task

Uploads to one job with \`batch: { window: ${WINDOW_S}s, maxItems: ${MAX_ITEMS.toLocaleString("en-US")} }\`, dispatched by ${WORKERS} concurrent "Lambda" invocations
(30 s each) through the engine as the stack composes it (compose.ts): batch records in the runs table on dynalite
(DynamoBatchStore), the manifest written with the S3 client to a local S3 endpoint, the window's reminder sent
with the SQS client to a local queue and handed to the batch settler when its DelaySeconds have passed (polled
every ${POLL_MS} ms, as the SQS event source would), the sweep every ${SWEEP_MS / 1000} s (the first ${SWEEP_PHASE_MS / 1000} s after the first upload), RunTask against a local ECS endpoint with
a token bucket of ${RATE}/s, burst ${BURST}. A failed dispatch is retried as Lambda retries an asynchronous invocation
(1 min, then 2 min later). Real SDK clients over HTTP, standard retries. ${runs.length === 1 ? "One run." : "Median [min, max] where a size ran more than once."}

${table(
  [
    "uploads × runs",
    "tree",
    "drained",
    "dispatch s",
    "joins/s",
    "DynamoDB requests / upload",
    "longest upload wait s",
    "longest dispatch s",
    "RunTask calls",
    "tasks",
    "manifests",
    "manifest lines",
    "duplicates / lost",
    "last upload → task s",
    "window end → task s",
    "dispatches retried",
    "head conditions lost",
    "other conditions lost",
    "handed off by reminder / sweep",
    "reminders sent / delivered",
    "DynamoDB requests",
    "slot Query pages",
    "manifest PutObjects",
  ],
  rows,
)}

"last upload → task": from the acceptance of the last upload to RunTask starting the task of the batch holding it;
"window end → task": from that batch's \`closesAt\` (its first upload + ${WINDOW_S} s) to the same start. Lines are checked
against the uploads: every upload in exactly one manifest line (duplicates: lines naming an upload twice; lost:
uploads in no manifest). "head conditions lost": conditional writes of the job's batch head that failed their
condition (each is read again and decided again), by kind; "other conditions lost": those of the other records, by record
(item keys, slots, and the runs table's run records, whose create is conditional on the run's idempotency key).

"tree": the base commit (before) and the working tree (after), side by side, each measurement a fresh process.
"longest upload wait": from an upload's first delivery to its acceptance, retries included; "longest dispatch": the
longest single delivery.

dynalite runs in the bench's own process, one event loop with the engine and the fakes on a shared machine, and
serves one request at a time: joins/s here are dynalite's, far below what one DynamoDB item takes (1,000 writes a
second).${
  big !== undefined && bigBefore !== undefined
    ? ` ${BIG.toLocaleString("en-US")} uploads: ${(bigBefore.dynamoRequests / bigBefore.uploads).toFixed(2)} → ${(big.dynamoRequests / big.uploads).toFixed(2)} DynamoDB requests per upload,
${bigBefore.joinsPerSecond.toFixed(0)} → ${big.joinsPerSecond.toFixed(0)} joins/s, ${bigBefore.slotQueries} → ${big.slotQueries} slot Query pages, ${bigBefore.manifestPuts} → ${big.manifestPuts} manifest PutObjects, the longest upload wait
${(bigBefore.longestWaitMs / 1000).toFixed(1)} s → ${(big.longestWaitMs / 1000).toFixed(1)} s. Before, every upload that found its job's batch closing helped hand it off (list the
slots, write the manifest, create the run) and the joins stalled while it lasted; now an upload that finds the batch
closing opens the next one beside it, and only the closer, the window's timer and the sweep hand a batch off. A first
delivery reads the item key and the head and writes the head (reserve), the item key (place) and the slot; the
settlers' reads and lists come on top.`
    : ""
}${
  big !== undefined && big.manifests > 1
    ? ` At ${big.joinsPerSecond.toFixed(0)} joins/s the ${BIG.toLocaleString("en-US")} uploads take longer than the ${WINDOW_S} s window: a batch closes at its window's end
with the uploads it has, and the next upload opens the next, so the burst made ${big.manifests} batches and ${big.tasksLaunched} tasks.`
    : ""
}

Unbatched (bench:burst, working tree, 100 workers, as recorded in this file): ${before === undefined ? "no row found" : `${before.drainS} s to drain 10,000 RunTask-launched tasks, ${before.runTaskCalls} RunTask calls`}.
${big === undefined ? "" : `Batched, ${BIG.toLocaleString("en-US")} uploads (after): ${big.runTaskCalls} RunTask call${big.runTaskCalls === 1 ? "" : "s"}, ${big.tasksLaunched} task${big.tasksLaunched === 1 ? "" : "s"}, the last one started ${(Math.max(0, big.fromLastUploadMs) / 1000).toFixed(1)} s after the last upload (${relativeToWindowEnd(big.fromWindowEndMs)}).`}
`;
console.log(md);
recordBenchmark("batch", md);
process.exit(0);

/** A start relative to its batch's window end: a full batch closes and starts before its window ends. */
function relativeToWindowEnd(ms: number): string {
  const s = (Math.abs(ms) / 1000).toFixed(1);
  return ms < 0 ? `${s} s before its window's end: the batch filled first` : `${s} s after its window's end`;
}
