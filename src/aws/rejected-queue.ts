/**
 * Where dispatch puts the events it rejects (malformed, for no job of the catalog, with a key S3
 * would never send, for a job whose request cannot be built): an SQS queue the user can read and
 * redrive, one message per rejection. Dispatch then answers, so Lambda does not retry: the same
 * event fails the same way every time.
 *
 * Message body (JSON): `{ "reason": <why>, "job": <the job the rule named> | null, "event": <the event as received> }`.
 * Message attributes, for filtering without parsing the body, each present when the event has it:
 * `job`, `eventSource`, `eventDetailType`, `eventId` (all String).
 *
 * A message that cannot be sent is thrown, never answered: Lambda retries the invocation and,
 * after its retries, the on-failure destination keeps the event. A missing queue or a refused
 * permission is a ConfigurationError (the deployment needs fixing); anything else a TransientError.
 */
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from "@aws-sdk/client-sqs";
import { ConfigurationError, TransientError } from "../core/errors.ts";
import { translateAwsError } from "./errors.ts";

export interface Rejection {
  readonly reason: string;
  /** The job the rule's input named; absent for a bare event. */
  readonly job?: string;
  readonly event: unknown;
}

/** What SQS accepts in a message, per the W3C XML character ranges (SendMessage, MessageBody). */
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u;
/** Longer attribute values are left out: the body has them whole. */
const MAX_ATTRIBUTE_CHARS = 256;

/** The two code points JSON.stringify leaves as they are but SQS does not accept, escaped (they only occur inside JSON strings). */
function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

function attributes(rejection: Rejection): Record<string, MessageAttributeValue> {
  const event = rejection.event !== null && typeof rejection.event === "object" ? (rejection.event as Record<string, unknown>) : {};
  const candidates: Record<string, unknown> = { job: rejection.job, eventSource: event.source, eventDetailType: event["detail-type"], eventId: event.id };
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(candidates)) {
    if (typeof value === "string" && value.length <= MAX_ATTRIBUTE_CHARS && SQS_TEXT.test(value)) out[name] = { DataType: "String", StringValue: value };
  }
  return out;
}

/** Where rejected events go. */
export interface RejectedEvents {
  readonly queueUrl: string;
  /** Sends one rejection; returns the message id SQS gave it. */
  put(rejection: Rejection): Promise<string>;
}

export class SqsRejectedQueue implements RejectedEvents {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  get queueUrl(): string {
    return this.#queueUrl;
  }

  async put(rejection: Rejection): Promise<string> {
    const body = sqsSafeJson({ reason: rejection.reason, job: rejection.job ?? null, event: rejection.event ?? null });
    try {
      const out = await this.#client.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: body, MessageAttributes: attributes(rejection) }));
      return out.MessageId ?? "";
    } catch (e) {
      throw this.#failure(e);
    }
  }

  #failure(e: unknown): ConfigurationError | TransientError {
    const action = `send the rejected event to ${this.#queueUrl}`;
    const hint = "check BERTH_REJECTED_QUEUE_URL and the function's sqs:SendMessage permission";
    const translated = translateAwsError(e, action, { hint });
    if (translated instanceof ConfigurationError) return translated;
    const name = e instanceof Error ? e.name : "";
    if (name === "QueueDoesNotExist") return new ConfigurationError(`failed to ${action}: the queue does not exist (${hint})`, { cause: e });
    if (translated instanceof TransientError) return translated;
    return new TransientError(translated?.message ?? `failed to ${action}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
