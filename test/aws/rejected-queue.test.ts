/** The rejected-events queue through the real SQS client, over HTTP, against a local SQS endpoint. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { sqsClient } from "../../src/aws/clients.ts";
import { SqsRejectedQueue } from "../../src/aws/rejected-queue.ts";
import { ConfigurationError, TransientError } from "../../src/core/errors.ts";
import { md5OfMessageAttributes, startFakeSqs, type FakeSqs, type SqsMessageAttribute } from "../support/fake-sqs.ts";

const upload = JSON.parse(readFileSync(new URL("../../events/s3-object-created.json", import.meta.url), "utf8")) as Record<string, unknown>;

let sqs: FakeSqs;
beforeAll(async () => {
  sqs = await startFakeSqs();
});
afterAll(async () => {
  await sqs.close();
});
beforeEach(() => {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
  vi.stubEnv("AWS_ENDPOINT_URL_SQS", sqs.url);
  vi.stubEnv("AWS_MAX_ATTEMPTS", "");
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const queueNamed = (name: string) => new SqsRejectedQueue(sqsClient(process.env), sqs.createQueue(name));

describe("SqsRejectedQueue", () => {
  it("sends a rejection as one SendMessage in AWS JSON 1.0: the reason, the job and the event as received, with attributes to filter on", async () => {
    const queue = queueNamed("rejected-1");
    const calls = sqs.calls.length;
    const messageId = await queue.put({ reason: 'no job named "nope" in the catalog', job: "nope", event: upload });
    expect(sqs.calls.slice(calls)).toEqual([{ target: "AmazonSQS.SendMessage", contentType: "application/x-amz-json-1.0" }]);
    const [message, ...more] = sqs.messages(queue.queueUrl);
    expect(more).toEqual([]);
    expect(message?.MessageId).toBe(messageId);
    expect(JSON.parse(message!.Body)).toEqual({ reason: 'no job named "nope" in the catalog', job: "nope", event: upload });
    expect(message?.MessageAttributes).toEqual({
      job: { DataType: "String", StringValue: "nope" },
      eventSource: { DataType: "String", StringValue: "aws.s3" },
      eventDetailType: { DataType: "String", StringValue: "Object Created" },
      eventId: { DataType: "String", StringValue: upload.id },
    });
  });

  it("a rejection of a bare event, or of input that is no event, has job null and only the attributes the input has", async () => {
    const queue = queueNamed("rejected-2");
    await queue.put({ reason: "an event is a JSON object (an EventBridge event envelope)", event: "garbage" });
    const [message] = sqs.messages(queue.queueUrl);
    expect(JSON.parse(message!.Body)).toEqual({ reason: "an event is a JSON object (an EventBridge event envelope)", job: null, event: "garbage" });
    expect(message?.MessageAttributes).toEqual({});
  });

  it("an event holding code points SQS refuses (U+FFFF) is sent escaped and reads back as the same event", async () => {
    const queue = queueNamed("rejected-3");
    const event = { ...upload, detail: { object: { key: "incoming/\uFFFF\uFFFE.png" } } };
    await queue.put({ reason: "bad key", job: "thumbnails", event });
    const [message] = sqs.messages(queue.queueUrl);
    expect(message?.Body).not.toMatch(/[\uFFFE\uFFFF]/);
    expect(JSON.parse(message!.Body).event).toEqual(event);
  });

  it("leaves out attribute values SQS would refuse or that are long, which the body still holds", async () => {
    const queue = queueNamed("rejected-4");
    const event = { source: "my.app\u0000", "detail-type": "x".repeat(300), id: "e-1", detail: {} };
    await queue.put({ reason: "no trigger matches", job: "reports", event });
    const [message] = sqs.messages(queue.queueUrl);
    expect(message?.MessageAttributes).toEqual({ job: { DataType: "String", StringValue: "reports" }, eventId: { DataType: "String", StringValue: "e-1" } });
    expect(JSON.parse(message!.Body).event).toEqual(event);
  });

  it("a queue that does not exist is a ConfigurationError naming BERTH_REJECTED_QUEUE_URL, thrown so the event is not lost", async () => {
    const queue = new SqsRejectedQueue(sqsClient(process.env), `${sqs.url}/123456789012/no-such-queue`);
    const thrown = await queue.put({ reason: "r", event: upload }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).message).toMatch(/no-such-queue.*does not exist.*BERTH_REJECTED_QUEUE_URL/);
  });

  it.each([
    { env: "", attempts: 4 },
    { env: "2", attempts: 2 },
  ])("SQS answering 5xx is a TransientError once the SDK's $attempts attempts are spent (AWS_MAX_ATTEMPTS=$env)", async ({ env, attempts }) => {
    vi.stubEnv("AWS_MAX_ATTEMPTS", env);
    const queue = queueNamed("rejected-5");
    const calls = sqs.calls.length;
    sqs.inject({ serverErrors: attempts });
    const thrown = await queue.put({ reason: "r", event: upload }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientError);
    expect(thrown).toMatchObject({ retryable: true, message: expect.stringContaining(queue.queueUrl) });
    expect(sqs.calls.length - calls).toBe(attempts);
    expect(sqs.messages(queue.queueUrl)).toEqual([]);
  });

  it("an SQS endpoint that cannot be reached is a TransientError", async () => {
    vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    vi.stubEnv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:1");
    const queue = new SqsRejectedQueue(sqsClient(process.env), "http://127.0.0.1:1/123456789012/rejected");
    await expect(queue.put({ reason: "r", event: upload })).rejects.toBeInstanceOf(TransientError);
  });
});

describe("the local SQS endpoint", () => {
  it.each<{ attributes: Record<string, SqsMessageAttribute>; md5: string }>([
    { attributes: { attribName1: { DataType: "String", StringValue: "attribValue 1" } }, md5: "19e27d4e946b072f3f58da80d94fd778" },
    { attributes: { binaryAttribute: { DataType: "Binary", BinaryValue: Buffer.from("Hello binary world!").toString("base64") } }, md5: "31a92b15d92f8db860eda32aceb656c3" },
    {
      attributes: {
        attribName1: { DataType: "String", StringValue: "attribValue 1" },
        customNumberTypeAttrib: { DataType: "Number.float", StringValue: "4563442423554324324264524243.32543234" },
        binaryAttribute: { DataType: "Binary", BinaryValue: Buffer.from("Hello binary world!").toString("base64") },
      },
      md5: "c932db14a896c663f83c260297d594ff",
    },
  ])("computes MD5OfMessageAttributes as SQS does ($md5)", ({ attributes, md5 }) => {
    // The worked examples of the aws-md5-of-message-attributes package, which implements the algorithm of the SQS Developer Guide.
    expect(md5OfMessageAttributes(attributes)).toBe(md5);
  });

  it("refuses what SQS refuses: a body with characters outside the XML ranges, a reserved attribute name", async () => {
    const client = sqsClient(process.env);
    const QueueUrl = sqs.createQueue("strict");
    const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "a\uFFFFb" }))).rejects.toMatchObject({ name: "InvalidMessageContents" });
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "ok", MessageAttributes: { "AWS.trace": { DataType: "String", StringValue: "x" } } }))).rejects.toMatchObject({
      name: "InvalidAttributeName",
    });
    expect(sqs.messages(QueueUrl)).toEqual([]);
  });
});
