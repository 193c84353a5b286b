/**
 * A catalog that batches its uploads, wired end to end through the template the real `serverless package` makes
 * of it (test/support/stack-harness.ts): real-shaped S3 `Object Created` events go through the job's rule and its
 * target input to the dispatch bundle; the reminder the batch timer leaves lands on the local SQS endpoint at the
 * queue URL the template gives the function; the template's event source mapping hands it, once its DelaySeconds
 * passed, to the batch function bundle as Lambda's poller hands SQS messages
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html); the manifest goes to the local S3 endpoint, in
 * the bucket the template names, and the run's task to the local ECS endpoint, its record to dynalite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { until } from "../support/until.ts";
import { WiredStack, type Invocation, type Template } from "../support/stack-harness.ts";
import { withJob } from "./catalogs.ts";
import { packageCatalog, removePackaged, type Packaged } from "./package.ts";

const STAGE = "dev";
const RUN = 'run: { taskDefinition: gatherer, container: app, command: [node, gather.js, "${batch.manifest}"] }';
/** A short window: its reminder comes 2 s after the batch opens. */
const BATCHED = withJob("gather", `on: { s3: { bucket: media-uploads, key: { prefix: gather/ } } }\nbatch: { window: 2s, maxItems: 500 }\n${RUN}`);
const UPLOADS = 4;

const parsed = loadCatalog(BATCHED, "berth.yml");
if (!parsed.ok) throw new Error(`the batched catalog must load: ${parsed.error.message}`);
const catalog: Catalog = parsed.catalog;
let packaged: Packaged;
let wired: WiredStack;

beforeAll(async () => {
  packaged = await packageCatalog(BATCHED, { stage: STAGE });
  wired = await WiredStack.start({ template: packaged.template as Template, artifacts: packaged.packageDir, catalog, stage: STAGE, samples: new URL("../../events/", import.meta.url) });
}, 120_000);

afterAll(async () => {
  await wired?.close();
  await removePackaged();
});

const fn = (handler: string) => {
  const found = [...wired.stack.functions.values()].find((f) => f.handler === handler);
  if (found === undefined) throw new Error(`the stack has no function with handler ${handler}`);
  return found;
};

function expectNoFailures(invocations: readonly Invocation[]): void {
  expect(invocations.filter((i) => i.error !== undefined).map((i) => `${i.functionId} (${i.cause}) threw ${String(i.error)}\n${i.logs}`)).toEqual([]);
}

describe("a batched job through the packaged stack", () => {
  it("gathers several uploads into one manifest in the template's bucket and one task reading it, reminded through the template's queue", async () => {
    const dispatch = fn("dist/handlers/dispatch.handler");
    const batch = fn("dist/handlers/batch.handler");
    const queueUrl = wired.stack.resolver.ref("BatchQueue");
    const bucket = wired.stack.resolver.ref("ManifestBucket");
    // The functions are told the queue and bucket the template makes.
    for (const f of [dispatch, batch]) {
      expect(f.environment.BERTH_BATCH_QUEUE, f.logicalId).toBe(queueUrl);
      expect(f.environment.BERTH_MANIFEST_BUCKET, f.logicalId).toBe(bucket);
    }
    const trigger = catalog.jobs.gather!.triggers[0]!;
    const before = { invocations: wired.cloud.invocations.length, runTask: wired.ecs.stats.runTaskCalls };
    const keys: string[] = [];
    for (let i = 0; i < UPLOADS; i++) {
      const built = wired.eventFor("gather", trigger)!;
      keys.push(built.event.detail.object.key as string);
      await wired.cloud.putEvent(built.bus, built.event, "s3 Object Created");
    }
    const dispatched = wired.cloud.invocations.slice(before.invocations);
    expectNoFailures(dispatched);
    expect(dispatched.filter((i) => i.functionId === dispatch.logicalId)).toHaveLength(UPLOADS);
    expect(JSON.stringify(dispatched.map((i) => i.result))).not.toMatch(/"kind":"(started|rejected)"/);
    // The batch's opener left a reminder on the template's queue, held back until the window ends; nothing ran yet.
    const reminders = wired.sqs.messages(queueUrl);
    expect(reminders.length).toBeGreaterThanOrEqual(1);
    expect(reminders.map((m) => (JSON.parse(m.Body) as { job: string }).job)).toEqual(reminders.map(() => "gather"));
    expect(reminders[0]!.DelaySeconds).toBeGreaterThanOrEqual(1);
    expect(reminders[0]!.DelaySeconds).toBeLessThanOrEqual(2);
    expect(wired.ecs.stats.runTaskCalls).toBe(before.runTask);

    // The event source hands the reminder to the batch function once SQS lets it be received.
    const polled: Invocation[] = [];
    const manifests = () => [...wired.s3.objects.keys()].filter((k) => k.startsWith(`${bucket}/gather/`));
    await until(
      "the batch to be handed off",
      async () => {
        polled.push(...(await wired.pollEventSources()));
        return manifests().length > 0 ? true : undefined;
      },
      60_000,
    );
    expectNoFailures(polled);
    expect(polled.every((i) => i.functionId === batch.logicalId)).toBe(true);
    expect(polled.map((i) => i.result)).toEqual(polled.map(() => ({ batchItemFailures: [] })));
    expect((polled[0]!.payload as { Records: { eventSource: string; eventSourceARN: string }[] }).Records[0]).toMatchObject({ eventSource: "aws:sqs", eventSourceARN: wired.stack.resolver.getAtt("BatchQueue", "Arn") });

    // One manifest, in the template's bucket under the job's prefix, listing each upload once.
    const [manifest, ...others] = manifests();
    expect(others).toEqual([]);
    expect(manifest).toMatch(new RegExp(`^${bucket}/gather/[^/]+\\.jsonl$`));
    const lines = wired.s3.objects.get(manifest!)!.body.toString("utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { bucket: string; key: string });
    expect(lines.map((l) => l.key).sort()).toEqual([...keys].sort());
    expect(new Set(lines.map((l) => l.bucket))).toEqual(new Set(["media-uploads"]));

    // One RunTask, its command carrying the manifest's location; the run in dynalite, started on that task.
    expect(wired.ecs.stats.runTaskCalls - before.runTask).toBe(1);
    const task = [...wired.ecs.tasks.values()].at(-1)!;
    expect(JSON.stringify(task.overrides)).toContain(`s3://${manifest}`);
    const runs = (await wired.runs()).filter((r) => r.job === "gather");
    expect(runs).toHaveLength(1);
    expect(runs[0]!.attempts[0]!.taskArn).toBe(task.taskArn);
    expect(runs[0]!.context["batch.manifest"]).toBe(`s3://${manifest}`);

    // Every reminder was deleted; polling again hands nothing to the function.
    expect(wired.sqs.pending(queueUrl)).toBe(0);
    expect(await wired.pollEventSources()).toEqual([]);

    // The task's own events, through the template's rules to track, end the run.
    await wired.driveTaskToEnd(task, 0);
    expect((await wired.runs()).find((r) => r.id === runs[0]!.id)?.status).toBe("SUCCEEDED");
  });

  it("rejects a malformed message on the batch queue with its reason and deletes it: no retry, no crash", async () => {
    const queueUrl = wired.stack.resolver.ref("BatchQueue");
    const batch = fn("dist/handlers/batch.handler");
    const client = new SQSClient({ region: wired.place.region, endpoint: wired.sqs.url, credentials: { accessKeyId: "local", secretAccessKey: "local" }, maxAttempts: 1 });
    try {
      await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "not a reminder" }));
    } finally {
      client.destroy();
    }
    const rejectedBefore = wired.bus.entries.filter((e) => e.DetailType === "Berth Event Rejected").length;
    const tasksBefore = wired.ecs.stats.runTaskCalls;
    const made = await wired.pollEventSources();
    expectNoFailures(made);
    expect(made.map((i) => i.functionId)).toEqual([batch.logicalId]);
    expect(made[0]!.result).toEqual({ batchItemFailures: [] });
    expect(made[0]!.logs).toMatch(/batch reminder rejected/);
    const rejected = wired.bus.entries.filter((e) => e.DetailType === "Berth Event Rejected").slice(rejectedBefore);
    expect(rejected).toHaveLength(1);
    expect(JSON.parse(rejected[0]!.Detail)).toMatchObject({ reason: expect.stringMatching(/not JSON/) });
    expect(wired.sqs.pending(queueUrl)).toBe(0);
    expect(await wired.pollEventSources()).toEqual([]);
    expect(wired.ecs.stats.runTaskCalls).toBe(tasksBefore);
  });
});
