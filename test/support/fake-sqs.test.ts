/** The local SQS endpoint (./fake-sqs.ts) refuses and answers what SQS does, so tests against it mean something. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { sqsClient } from "../../src/aws/lazy-clients.ts";
import { md5OfMessageAttributes, startFakeSqs, type FakeSqs, type SqsMessageAttribute } from "./fake-sqs.ts";

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
});
afterEach(() => {
  vi.unstubAllEnvs();
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
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "a\uFFFFb" }))).rejects.toMatchObject({ name: "InvalidMessageContents" });
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "ok", MessageAttributes: { "AWS.trace": { DataType: "String", StringValue: "x" } } }))).rejects.toMatchObject({
      name: "InvalidAttributeName",
    });
    expect(sqs.messages(QueueUrl)).toEqual([]);
  });
});
