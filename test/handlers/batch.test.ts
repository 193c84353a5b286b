/**
 * The batch function (handlers/batch.ts) as it runs on AWS, in this process: configured only through the
 * environment the stack gives it, its real SDK clients talking over HTTP to dynalite and the local ECS,
 * EventBridge, S3 and SQS endpoints. Uploads join batches through the dispatch function; the reminders the
 * timer left on the (local) batch queue are handed to the batch function as its SQS event source hands them
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { composeBatch, composeDispatch } from "../../src/aws/compose.ts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";
import { startFakeS3, type FakeS3 } from "../support/fake-s3.ts";
import { startFakeSqs, type FakeSqs, type SqsMessage } from "../support/fake-sqs.ts";
import { until } from "../support/until.ts";
import { withJob } from "../stack/catalogs.ts";
import { loaded } from "../stack/generated.ts";

const RUN = (family: string) => `run: { taskDefinition: ${family}, container: app, command: [node, gather.js, "\${batch.manifest}", "\${batch.count}"] }`;
const CATALOG = withJob("gather", `on: { s3: { bucket: media-uploads, key: { prefix: gather/ } } }\nbatch: { window: 1s, maxItems: 50 }\n${RUN("gatherer")}`).replace(
  "\nlocal:",
  // Its manifests go to a bucket that does not exist: settling its batch fails until the bucket is there.
  `\n  partner:\n    on: { s3: { bucket: partner-drop } }\n    batch: { window: 1s, maxItems: 50, manifest: "s3://no-such-bucket/batches/" }\n    ${RUN("partner-gatherer")}\n  slow:\n    on: { s3: { bucket: slow-drop } }\n    batch: { window: 1h, maxItems: 50 }\n    ${RUN("gatherer")}\n\nlocal:`,
);

let dynamo: LocalDynamo;
let ecs: FakeEcs;
let bus: FakeEventBridge;
let s3: FakeS3;
let sqs: FakeSqs;
let queueUrl: string;
let dir: string;
type Handler<I, O> = (input: I, context: { awsRequestId: string; functionName: string }) => Promise<O>;
let batch: Handler<SQSEvent, SQSBatchResponse>;
let dispatch: Handler<unknown, { outcomes: { kind: string; batchId?: string; closesAt?: number }[] }>;

beforeAll(async () => {
  [dynamo, ecs, bus, s3, sqs] = await Promise.all([startDynalite(), startFakeEcs(), startFakeEventBridge(), startFakeS3({ "acme-jobs-test-manifests": {} }), startFakeSqs()]);
  queueUrl = sqs.createQueue("acme-jobs-test-batch");
  await createTable(dynamo.client(), runTableDefinition("berth-runs"));
  dir = mkdtempSync(join(tmpdir(), "berth-batch-handler-"));
  writeFileSync(join(dir, "catalog.json"), JSON.stringify(compileCatalog(loaded(CATALOG))));
  const env: Record<string, string> = {
    BERTH_TABLE: "berth-runs",
    BERTH_BUS: "berth",
    BERTH_CATALOG: join(dir, "catalog.json"),
    BERTH_BATCH_QUEUE: queueUrl,
    BERTH_MANIFEST_BUCKET: "acme-jobs-test-manifests",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_MAX_ATTEMPTS: "1",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_ECS: ecs.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ENDPOINT_URL_SQS: sqs.url,
  };
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  // Each handler composes itself from the environment when its module loads, as at a Lambda cold start.
  ({ handler: batch } = (await import("../../handlers/batch.ts")) as unknown as { handler: typeof batch });
  ({ handler: dispatch } = (await import("../../handlers/dispatch.ts")) as unknown as { handler: typeof dispatch });
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([dynamo?.close(), ecs?.close(), bus?.close(), s3?.close(), sqs?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sample = JSON.parse(readFileSync(new URL("../../events/s3-object-created.json", import.meta.url), "utf8")) as { id: string; detail: Record<string, Record<string, unknown>> };
let uploads = 0;
/** A new upload of `key` to `bucket`, for `job` as its rule's input names it. */
function upload(job: string, bucket: string, key: string): unknown {
  const n = ++uploads;
  const event = { ...sample, id: `upload-${n}`, detail: { ...sample.detail, bucket: { name: bucket }, object: { ...sample.detail.object, key, size: 100 + n, sequencer: `00${String(n).padStart(6, "0")}` } } };
  return { job, event };
}

let requests = 0;
const context = (fn: string) => ({ awsRequestId: `request-${++requests}`, functionName: `acme-jobs-test-${fn}` });

/** SQS messages as the event source hands them to the function. */
function recordOf(m: Pick<SqsMessage, "MessageId" | "Body">): SQSRecord {
  return {
    messageId: m.MessageId,
    receiptHandle: `receipt-${m.MessageId}`,
    body: m.Body,
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "AROAEXAMPLE", ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:acme-jobs-test-batch",
    awsRegion: "us-east-1",
  };
}

const remindersOf = (job: string) => sqs.messages(queueUrl).filter((m) => (JSON.parse(m.Body) as { job: string }).job === job);
const manifestsUnder = (prefix: string) => [...s3.objects.keys()].filter((k) => k.startsWith(prefix));
const rejections = () => bus.entries.filter((e) => e.DetailType === "Berth Event Rejected").map((e) => JSON.parse(e.Detail) as { reason: string; job?: string });

describe("composing a function of a catalog that batches", () => {
  it.each([
    ["batch", composeBatch],
    ["dispatch", composeDispatch],
  ])("%s refuses to start without BERTH_BATCH_QUEUE, naming it and the batched jobs", (_fn, compose) => {
    const env = { ...process.env, BERTH_BATCH_QUEUE: undefined };
    expect(() => compose(env, () => undefined)).toThrow(/BERTH_BATCH_QUEUE is not set.*gather, partner, slow/);
  });

  it("refuses a BERTH_BATCH_QUEUE that is not a queue URL", () => {
    expect(() => composeBatch({ ...process.env, BERTH_BATCH_QUEUE: "acme-jobs-test-batch" }, () => undefined)).toThrow(/BERTH_BATCH_QUEUE "acme-jobs-test-batch" is not an SQS queue URL/);
  });
});

describe("the batch function", () => {
  it("closes a batch whose window has passed: one manifest of its uploads, one task reading it, no reminder reported failed", async () => {
    const outcomes = [];
    for (const key of ["gather/a.csv", "gather/b.csv", "gather/c.csv"]) outcomes.push(...(await dispatch(upload("gather", "media-uploads", key), context("dispatch"))).outcomes);
    expect(outcomes.map((o) => o.kind)).toEqual(["batched", "batched", "batched"]);
    const [reminder, ...more] = remindersOf("gather");
    // The batch's first upload asked for it to be settled when its window of 1 s ends.
    expect(more).toHaveLength(0);
    expect(reminder!.DelaySeconds).toBeLessThanOrEqual(1);
    const closesAt = outcomes[0]!.closesAt!;
    await until("the batch's window to end", () => (Date.now() > closesAt ? true : undefined), 30_000);

    const launched = ecs.stats.tasksLaunched;
    // The same reminder twice in one batch (SQS delivers at least once): settled once.
    const answer = await batch({ Records: [recordOf(reminder!), recordOf(reminder!)] }, context("batch"));
    expect(answer).toEqual({ batchItemFailures: [] });
    const [manifest, ...others] = manifestsUnder("acme-jobs-test-manifests/gather/");
    expect(others).toHaveLength(0);
    const lines = s3.objects.get(manifest!)!.body.toString("utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { key: string });
    expect(lines.map((l) => l.key)).toEqual(["gather/a.csv", "gather/b.csv", "gather/c.csv"]);
    expect(ecs.stats.tasksLaunched - launched).toBe(1);
    const task = [...ecs.tasks.values()].at(-1)!;
    expect(JSON.stringify(task)).toContain(`s3://${manifest!}`);

    // A reminder that comes again finds the batch closed: nothing more is written or launched.
    const writes = s3.calls.filter((c) => c.key !== undefined).length;
    expect(await batch({ Records: [recordOf(reminder!)] }, context("batch"))).toEqual({ batchItemFailures: [] });
    expect(s3.calls.filter((c) => c.key !== undefined).length).toBe(writes);
    expect(ecs.stats.tasksLaunched - launched).toBe(1);
  });

  it("asks again when a reminder comes before the window's end, and closes nothing", async () => {
    const [first] = (await dispatch(upload("slow", "slow-drop", "in/early.csv"), context("dispatch"))).outcomes;
    // The hour's window is longer than SQS holds a message back (900 s): the opener's reminder comes early by design.
    const [opener, ...none] = remindersOf("slow");
    expect(none).toHaveLength(0);
    expect(opener!.DelaySeconds).toBe(900);
    const objects = s3.objects.size;
    expect(await batch({ Records: [recordOf(opener!)] }, context("batch"))).toEqual({ batchItemFailures: [] });
    expect(s3.objects.size).toBe(objects);
    const [, again, ...more] = remindersOf("slow");
    expect(more).toHaveLength(0);
    expect(JSON.parse(again!.Body)).toEqual({ job: "slow", batchId: first!.batchId, at: first!.closesAt });
    expect(again!.DelaySeconds).toBe(900);
  });

  it("rejects malformed reminders, and reminders of a job that does not batch, with the reason, and deletes them", async () => {
    const before = rejections().length;
    const bodies = ["not json", "{}", JSON.stringify({ job: "gather", at: 1 }), JSON.stringify({ job: "thumbnails", batchId: "b", at: 1 })];
    const answer = await batch({ Records: bodies.map((Body, i) => recordOf({ MessageId: `bad-${i}`, Body })) }, context("batch"));
    expect(answer).toEqual({ batchItemFailures: [] });
    const reasons = rejections().slice(before);
    expect(reasons).toHaveLength(4);
    expect(reasons.map((r) => r.reason)).toEqual([
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/names no job/),
      expect.stringMatching(/names no batch/),
      expect.stringMatching(/thumbnails.*does not batch/),
    ]);
    expect(reasons[3]!.job).toBe("thumbnails");
  });

  it("reports only the reminders of a job whose settling failed, so the others are not settled again", async () => {
    const [partner] = (await dispatch(upload("partner", "partner-drop", "in/p.csv"), context("dispatch"))).outcomes;
    const [gather] = (await dispatch(upload("gather", "media-uploads", "gather/late.csv"), context("dispatch"))).outcomes;
    await until("both windows to end", () => (Date.now() > Math.max(partner!.closesAt!, gather!.closesAt!) ? true : undefined), 30_000);
    const failing = recordOf({ MessageId: "partner-1", Body: JSON.stringify({ job: "partner", batchId: partner!.batchId, at: partner!.closesAt }) });
    const passing = recordOf({ MessageId: "gather-1", Body: JSON.stringify({ job: "gather", batchId: gather!.batchId, at: gather!.closesAt }) });
    const answer = await batch({ Records: [failing, passing] }, context("batch"));
    // The partner's manifest bucket does not exist: its reminder comes again (and after maxReceiveCount waits in the dead-letter queue).
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "partner-1" }] });
    expect(manifestsUnder("acme-jobs-test-manifests/gather/").length).toBeGreaterThanOrEqual(2);
    expect(s3.calls.filter((c) => c.bucket === "no-such-bucket")).toHaveLength(1);
  });
});
