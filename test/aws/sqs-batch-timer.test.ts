/**
 * The SQS batch timer through the real SDK SQS client (AWS JSON 1.0, SigV4, its MD5 check of the body)
 * against the local SQS endpoint (test/support/fake-sqs.ts), and the reminder format the batch function reads.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ConfigurationError, TransientError, ValidationError } from "../../src/core/errors.ts";
import { delaySeconds, MAX_DELAY_SECONDS, parseBatchReminder, SqsBatchTimer, sqsBatchTimer } from "../../src/aws/sqs-batch-timer.ts";
import { startFakeSqs, type FakeSqs } from "../support/fake-sqs.ts";

let sqs: FakeSqs;
let queueUrl: string;
beforeAll(async () => {
  sqs = await startFakeSqs();
  queueUrl = sqs.createQueue("acme-jobs-dev-batch");
});
afterAll(async () => {
  await sqs.close();
});
beforeEach(() => {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDBATCH");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
  vi.stubEnv("AWS_ENDPOINT_URL_SQS", sqs.url);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const NOW = Date.parse("2026-12-02T07:00:00Z");

describe("delaySeconds", () => {
  // SendMessage's DelaySeconds: 0 to 900 (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
  it.each([
    [NOW - 5_000, 0],
    [NOW, 0],
    [NOW + 1, 1],
    [NOW + 1_000, 1],
    [NOW + 1_001, 2],
    [NOW + 60_000, 60],
    [NOW + 900_000, 900],
    [NOW + 86_400_000, MAX_DELAY_SECONDS],
  ])("a reminder due at %d is held back %d s, never before it is due", (at, seconds) => {
    expect(delaySeconds(at, NOW)).toBe(seconds);
  });
});

describe("SqsBatchTimer", () => {
  const timer = (now = NOW) => new SqsBatchTimer(new SQSClient({ region: "us-east-1" }), queueUrl, () => now);

  it("sends one message per reminder, its body {job, batchId, at} and its delay the seconds left of the window", async () => {
    const before = sqs.messages(queueUrl).length;
    await timer().settleAt("gather", "b1", NOW + 60_000);
    await timer().settleAt("gather", "b2", NOW + 2 * 86_400_000);
    await timer().settleAt("gather", "b3", NOW - 1);
    const sent = sqs.messages(queueUrl).slice(before);
    expect(sent.map((m) => [JSON.parse(m.Body), m.DelaySeconds])).toEqual([
      [{ job: "gather", batchId: "b1", at: NOW + 60_000 }, 60],
      // Past SQS's 15 minutes: the settler gets `open` then, and asks again.
      [{ job: "gather", batchId: "b2", at: NOW + 2 * 86_400_000 }, 900],
      [{ job: "gather", batchId: "b3", at: NOW - 1 }, 0],
    ]);
    expect(sent.map((m) => parseBatchReminder(m.Body))).toEqual([
      { job: "gather", batchId: "b1", at: NOW + 60_000 },
      { job: "gather", batchId: "b2", at: NOW + 2 * 86_400_000 },
      { job: "gather", batchId: "b3", at: NOW - 1 },
    ]);
  });

  it("is made from the environment as the handlers make it", async () => {
    const before = sqs.messages(queueUrl).length;
    await sqsBatchTimer(process.env, queueUrl).settleAt("gather", "b4", Date.now() + 30_000);
    const [sent, ...more] = sqs.messages(queueUrl).slice(before);
    expect(more).toHaveLength(0);
    expect(sent!.DelaySeconds).toBeGreaterThanOrEqual(29);
    expect(sent!.DelaySeconds).toBeLessThanOrEqual(30);
  });

  it("says a missing queue is a configuration problem naming BERTH_BATCH_QUEUE", async () => {
    const gone = new SqsBatchTimer(new SQSClient({ region: "us-east-1" }), `${sqs.url}/123456789012/no-such-queue`, () => NOW);
    await expect(gone.settleAt("gather", "b1", NOW)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(gone.settleAt("gather", "b1", NOW)).rejects.toThrow(/BERTH_BATCH_QUEUE/);
  });

  it("passes a server failure that outlasts the SDK's retries on as transient, and sends after one it rides out", async () => {
    const once = new SqsBatchTimer(new SQSClient({ region: "us-east-1", maxAttempts: 1 }), queueUrl, () => NOW);
    sqs.inject({ serverErrors: 1 });
    await expect(once.settleAt("gather", "b5", NOW)).rejects.toBeInstanceOf(TransientError);
    const before = sqs.messages(queueUrl).length;
    sqs.inject({ serverErrors: 1 });
    await new SqsBatchTimer(new SQSClient({ region: "us-east-1", maxAttempts: 2 }), queueUrl, () => NOW).settleAt("gather", "b5", NOW);
    expect(sqs.messages(queueUrl).length - before).toBe(1);
  });
});

describe("parseBatchReminder", () => {
  it.each([
    ["not json", /not JSON/],
    ["[]", /JSON object/],
    ["null", /JSON object/],
    ['{"batchId":"b","at":1}', /names no job/],
    ['{"job":"","batchId":"b","at":1}', /names no job/],
    ['{"job":"gather","at":1}', /names no batch/],
    ['{"job":"gather","batchId":"b","at":"soon"}', /no due time/],
    ['{"job":"gather","batchId":"b"}', /no due time/],
  ])("rejects %s with the reason", (body, reason) => {
    expect(() => parseBatchReminder(body)).toThrow(ValidationError);
    expect(() => parseBatchReminder(body)).toThrow(reason);
  });
});
