/**
 * A local SQS endpoint speaking the wire protocol the SDK v3 SQSClient uses, AWS JSON 1.0
 * (`POST /`, `X-Amz-Target: AmazonSQS.SendMessage`, `Content-Type: application/x-amz-json-1.0`;
 * errors as `{"__type": "com.amazonaws.sqs#<Error>", "message"}` with the query-compatible code in
 * `x-amzn-query-error`), so the real client — signing, serialisation, its MD5 check of the body,
 * error parsing, retries — runs against it unchanged
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-json.html,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html).
 *
 * It models SendMessage as the API reference states it: the queue must exist (QueueDoesNotExist);
 * the body holds 1 character to 1 MiB, only of the W3C XML character ranges (InvalidMessageContents);
 * at most 10 message attributes with valid names, types and non-empty values; the answer carries
 * MD5OfMessageBody and MD5OfMessageAttributes, the latter computed as "Calculating the MD5 message
 * digest for message attributes" describes; DelaySeconds, when given, is a whole number from 0 to 900
 * (InvalidParameterValue), kept with the message. Requests must be SigV4-signed for the `sqs` service.
 *
 * GetQueueAttributes (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html):
 * `{ QueueUrl, AttributeNames }` → `{ Attributes }`, each value a string, only the names asked for (`All`
 * for every one this fake keeps: ApproximateNumberOfMessages, the messages sent and not yet taken,
 * ApproximateNumberOfMessagesNotVisible and ApproximateNumberOfMessagesDelayed, always 0 since nothing
 * receives or delays here, and QueueArn); an unknown name is InvalidAttributeName, an unknown queue
 * QueueDoesNotExist.
 *
 * What SQS does for a Lambda event source (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html), in
 * process: `receive` takes the messages that are visible (their DelaySeconds passed, and not in flight), up to a
 * batch, counting each receive and keeping each one invisible for the queue's visibility timeout; `delete` removes
 * one by its receipt handle; a message received `maxReceiveCount` times moves, on its next receive, to the
 * redrive policy's dead-letter queue
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
 * Messages deleted no longer count in ApproximateNumberOfMessages.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface SqsMessageAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

export interface SqsMessage {
  readonly MessageId: string;
  readonly Body: string;
  readonly MessageAttributes: Readonly<Record<string, SqsMessageAttribute>>;
  /** As sent; absent when the request gave none (the queue's own delay applies). */
  readonly DelaySeconds?: number;
}

/** A message as a receive hands it out. */
export interface ReceivedSqsMessage extends SqsMessage {
  readonly ReceiptHandle: string;
  readonly MD5OfBody: string;
  /** Receives so far, this one included. */
  readonly ApproximateReceiveCount: number;
  /** Epoch ms it was sent, and first received. */
  readonly SentTimestamp: number;
  readonly ApproximateFirstReceiveTimestamp: number;
}

export interface ReceiveOptions {
  /** Messages at most (an event source's BatchSize). */
  readonly max: number;
  readonly visibilityTimeoutSeconds: number;
  /** The queue's redrive policy. */
  readonly redrive?: { readonly deadLetterQueueUrl: string; readonly maxReceiveCount: number };
}

export interface FakeSqsCall {
  readonly target: string;
  readonly contentType: string;
}

export interface FakeSqs {
  /** `http://127.0.0.1:<port>`: pass as AWS_ENDPOINT_URL_SQS (queue URLs are on it too). */
  readonly url: string;
  /** Every request that reached the endpoint, answered or not. */
  readonly calls: FakeSqsCall[];
  /** Creates a queue (idempotent) and returns its URL. */
  createQueue(name: string): string;
  /** The messages sent to the queue at `queueUrl`, oldest first (deleted or not). */
  messages(queueUrl: string): readonly SqsMessage[];
  /** Takes the visible messages of the queue, oldest first, as SQS hands them to a poller. */
  receive(queueUrl: string, options: ReceiveOptions): ReceivedSqsMessage[];
  /** Deletes the message a receive handed out with `receiptHandle`; false when that handle is no longer valid. */
  delete(queueUrl: string, receiptHandle: string): boolean;
  /** Messages of the queue not deleted: visible, delayed or in flight. */
  pending(queueUrl: string): number;
  /** The next n requests answer HTTP 500 InternalFailure before doing anything. */
  inject(faults: { readonly serverErrors: number }): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const QUEUE_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed", "QueueArn"] as const;
const MAX_ATTRIBUTES = 10;
const XML_CHARS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;

class SqsError extends Error {
  constructor(
    readonly type: string,
    readonly queryCode: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The MD5 SQS returns for message attributes: per attribute, in name order, length-prefixed name, type, transport byte and value. */
export function md5OfMessageAttributes(attributes: Readonly<Record<string, SqsMessageAttribute>>): string {
  const hash = createHash("md5");
  const prefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const a = attributes[name]!;
    prefixed(Buffer.from(name, "utf8"));
    prefixed(Buffer.from(a.DataType, "utf8"));
    if (a.StringValue !== undefined) {
      hash.update(Buffer.from([1]));
      prefixed(Buffer.from(a.StringValue, "utf8"));
    } else {
      hash.update(Buffer.from([2]));
      prefixed(Buffer.from(a.BinaryValue ?? "", "base64"));
    }
  }
  return hash.digest("hex");
}

function checkAttributes(attributes: Record<string, SqsMessageAttribute>): number {
  const names = Object.keys(attributes);
  if (names.length > MAX_ATTRIBUTES) throw new SqsError("InvalidParameterValue", "InvalidParameterValue", `Number of message attributes [${names.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  let bytes = 0;
  for (const name of names) {
    const a = attributes[name]!;
    const reserved = /^(aws\.|amazon\.)/i.test(name) || name.startsWith(".") || name.endsWith(".") || name.includes("..");
    if (!ATTRIBUTE_NAME.test(name) || reserved) throw new SqsError("InvalidAttributeName", "InvalidAttributeName", `Message attribute name '${name}' is invalid.`);
    if (!/^(String|Number|Binary)(\..+)?$/.test(a.DataType ?? "")) throw new SqsError("InvalidParameterValue", "InvalidParameterValue", `The type of message attribute '${name}' is invalid.`);
    const value = a.DataType.startsWith("Binary") ? a.BinaryValue : a.StringValue;
    if (value === undefined || value === "") throw new SqsError("InvalidParameterValue", "InvalidParameterValue", `Message attribute '${name}' must contain a non-empty value of type '${a.DataType}'.`);
    if (!a.DataType.startsWith("Binary") && !XML_CHARS.test(value)) throw new SqsError("InvalidParameterValue", "InvalidParameterValue", `Message attribute '${name}' contains invalid characters.`);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(a.DataType) + (a.DataType.startsWith("Binary") ? Buffer.from(value, "base64").length : Buffer.byteLength(value));
  }
  return bytes;
}

function isSigned(headers: IncomingHttpHeaders): boolean {
  return /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/sqs\/aws4_request, SignedHeaders=.+, Signature=[0-9a-f]{64}$/.test(headers.authorization ?? "");
}

export async function startFakeSqs(options: { readonly accountId?: string } = {}): Promise<FakeSqs> {
  const accountId = options.accountId ?? "123456789012";
  const queues = new Map<string, SqsMessage[]>();
  /** Per message: when sent, when next visible, its receives and current receipt handle, whether deleted. */
  const states = new Map<SqsMessage, { sentAt: number; visibleAt: number; receives: number; firstReceivedAt?: number; receipt?: string; deleted: boolean }>();
  const calls: FakeSqsCall[] = [];
  let serverErrors = 0;
  let url = "";

  const sendMessage = (input: { QueueUrl?: string; MessageBody?: string; MessageAttributes?: Record<string, SqsMessageAttribute>; DelaySeconds?: number }) => {
    const queue = input.QueueUrl === undefined ? undefined : queues.get(input.QueueUrl);
    if (!queue) throw nonExistentQueue();
    const body = input.MessageBody ?? "";
    if (body.length === 0) throw new SqsError("InvalidParameterValue", "InvalidParameterValue", "The request must contain the parameter MessageBody.");
    if (!XML_CHARS.test(body)) throw new SqsError("InvalidMessageContents", "InvalidMessageContents", "Invalid binary character in message body.");
    const attributes = input.MessageAttributes ?? {};
    const size = Buffer.byteLength(body) + checkAttributes(attributes);
    if (size > MAX_BODY_BYTES) throw new SqsError("InvalidParameterValue", "InvalidParameterValue", `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_BODY_BYTES} bytes.`);
    const delay = input.DelaySeconds;
    if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0 && delay <= 900)) {
      throw new SqsError("InvalidParameterValue", "InvalidParameterValue", `Value ${String(delay)} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.`);
    }
    const message: SqsMessage = { MessageId: randomUUID(), Body: body, MessageAttributes: attributes, ...(delay !== undefined ? { DelaySeconds: delay } : {}) };
    queue.push(message);
    const now = Date.now();
    states.set(message, { sentAt: now, visibleAt: now + (delay ?? 0) * 1000, receives: 0, deleted: false });
    return {
      MessageId: message.MessageId,
      MD5OfMessageBody: createHash("md5").update(body, "utf8").digest("hex"),
      ...(Object.keys(attributes).length > 0 ? { MD5OfMessageAttributes: md5OfMessageAttributes(attributes) } : {}),
    };
  };

  const nonExistentQueue = () => new SqsError("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.");

  const getQueueAttributes = (input: { QueueUrl?: string; AttributeNames?: string[] }) => {
    const queue = input.QueueUrl === undefined ? undefined : queues.get(input.QueueUrl);
    if (!queue) throw nonExistentQueue();
    const values: Record<(typeof QUEUE_ATTRIBUTES)[number], string> = {
      ApproximateNumberOfMessages: String(queue.filter((m) => !states.get(m)!.deleted).length),
      ApproximateNumberOfMessagesNotVisible: "0",
      ApproximateNumberOfMessagesDelayed: "0",
      QueueArn: `arn:aws:sqs:us-east-1:${accountId}:${input.QueueUrl!.slice(input.QueueUrl!.lastIndexOf("/") + 1)}`,
    };
    const asked = input.AttributeNames ?? [];
    const attributes: Record<string, string> = {};
    for (const name of asked.includes("All") ? QUEUE_ATTRIBUTES : asked) {
      if (!(QUEUE_ATTRIBUTES as readonly string[]).includes(name)) throw new SqsError("InvalidAttributeName", "InvalidAttributeName", `Unknown Attribute ${name}.`);
      attributes[name] = values[name as (typeof QUEUE_ATTRIBUTES)[number]];
    }
    return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const contentType = String(req.headers["content-type"] ?? "");
      calls.push({ target, contentType });
      const headers = { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": randomUUID() };
      const fail = (e: SqsError) =>
        res.writeHead(e.status, { ...headers, "x-amzn-query-error": `${e.queryCode};Sender` }).end(JSON.stringify({ __type: `com.amazonaws.sqs#${e.type}`, message: e.message }));
      try {
        if (serverErrors > 0) {
          serverErrors--;
          throw new SqsError("InternalFailure", "InternalFailure", "We encountered an internal error. Please try again.", 500);
        }
        if (!isSigned(req.headers)) throw new SqsError("MissingAuthenticationToken", "MissingAuthenticationToken", "Request is missing Authentication Token", 403);
        if (req.method !== "POST" || contentType !== "application/x-amz-json-1.0") throw new SqsError("InvalidAction", "InvalidAction", `not an AWS JSON 1.0 request (${req.method} ${contentType})`);
        const operation = target === "AmazonSQS.SendMessage" ? sendMessage : target === "AmazonSQS.GetQueueAttributes" ? getQueueAttributes : undefined;
        if (operation === undefined) throw new SqsError("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", `${target} is not implemented by this fake`);
        const answer = JSON.stringify(operation(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
        res.writeHead(200, headers).end(answer);
      } catch (e) {
        if (!(e instanceof SqsError)) throw e;
        fail(e);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    createQueue(name) {
      const queueUrl = `${url}/${accountId}/${name}`;
      if (!queues.has(queueUrl)) queues.set(queueUrl, []);
      return queueUrl;
    },
    messages: (queueUrl) => queues.get(queueUrl) ?? [],
    receive(queueUrl, options) {
      const queue = queues.get(queueUrl);
      if (queue === undefined) throw new Error(`fake SQS: no queue ${queueUrl}`);
      const now = Date.now();
      const out: ReceivedSqsMessage[] = [];
      for (const message of [...queue]) {
        if (out.length >= options.max) break;
        const state = states.get(message)!;
        if (state.deleted || state.visibleAt > now) continue;
        if (options.redrive !== undefined && state.receives >= options.redrive.maxReceiveCount) {
          const dead = queues.get(options.redrive.deadLetterQueueUrl);
          if (dead === undefined) throw new Error(`fake SQS: no dead-letter queue ${options.redrive.deadLetterQueueUrl}`);
          state.deleted = true;
          const moved: SqsMessage = { ...message };
          dead.push(moved);
          states.set(moved, { sentAt: state.sentAt, visibleAt: now, receives: 0, deleted: false });
          continue;
        }
        state.receives++;
        state.firstReceivedAt ??= now;
        state.visibleAt = now + options.visibilityTimeoutSeconds * 1000;
        state.receipt = randomUUID();
        out.push({
          ...message,
          ReceiptHandle: state.receipt,
          MD5OfBody: createHash("md5").update(message.Body, "utf8").digest("hex"),
          ApproximateReceiveCount: state.receives,
          SentTimestamp: state.sentAt,
          ApproximateFirstReceiveTimestamp: state.firstReceivedAt,
        });
      }
      return out;
    },
    delete(queueUrl, receiptHandle) {
      const state = (queues.get(queueUrl) ?? []).map((m) => states.get(m)!).find((s) => s.receipt === receiptHandle && !s.deleted);
      if (state === undefined) return false;
      state.deleted = true;
      return true;
    },
    pending: (queueUrl) => (queues.get(queueUrl) ?? []).filter((m) => !states.get(m)!.deleted).length,
    inject(faults) {
      serverErrors += faults.serverErrors;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
