/**
 * The `BatchTimer` port on SQS: a reminder to settle a job's batch is one message on the stage's batch
 * queue, held back with `DelaySeconds` until the window ends; the batch function (handlers/batch.ts)
 * receives it and settles. SQS holds a message back for at most 900 seconds
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html), so a longer
 * window gets a reminder 15 minutes on, whose settling answers `open` with the window's end and asks again.
 * Delivery is at least once: a reminder that comes twice settles twice, which is idempotent.
 */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { ConfigurationError, ValidationError } from "../core/errors.ts";
import type { BatchTimer } from "../core/batch/port.ts";
import type { ClientPlace } from "./clients.ts";
import { translateAwsError } from "./errors.ts";
import { sqsClient } from "./lazy-clients.ts";

/** SendMessage's longest DelaySeconds. */
export const MAX_DELAY_SECONDS = 900;

/** A reminder's body, as the timer sends it and the batch function reads it. */
export interface BatchReminder {
  readonly job: string;
  readonly batchId: string;
  /** Epoch ms the batch is due to be settled. */
  readonly at: number;
}

/** Whole seconds from `now` until `at`, rounded up so a reminder never comes before it is due, within SQS's 0–900. */
export function delaySeconds(at: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((at - now) / 1000)));
}

/** A reminder from a message body; a ValidationError saying what is wrong with anything else. */
export function parseBatchReminder(body: string): BatchReminder {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ValidationError(`a batch reminder must be JSON {job, batchId, at}; got ${body.length} characters that are not JSON`);
  }
  const r = value as Partial<Record<keyof BatchReminder, unknown>> | null;
  if (r === null || typeof r !== "object" || Array.isArray(r)) throw new ValidationError("a batch reminder must be a JSON object {job, batchId, at}");
  if (typeof r.job !== "string" || r.job === "") throw new ValidationError("a batch reminder names no job (a non-empty string `job`)");
  if (typeof r.batchId !== "string" || r.batchId === "") throw new ValidationError(`the batch reminder for ${r.job.slice(0, 100)} names no batch (a non-empty string \`batchId\`)`);
  if (typeof r.at !== "number" || !Number.isFinite(r.at)) throw new ValidationError(`the batch reminder for ${r.job.slice(0, 100)} has no due time (a number \`at\`, epoch ms)`);
  return { job: r.job, batchId: r.batchId, at: r.at };
}

export class SqsBatchTimer implements BatchTimer {
  readonly #client: Pick<SQSClient, "send">;
  readonly #queueUrl: string;
  readonly #now: () => number;

  constructor(client: Pick<SQSClient, "send">, queueUrl: string, now: () => number) {
    this.#client = client;
    this.#queueUrl = queueUrl;
    this.#now = now;
  }

  async settleAt(job: string, batchId: string, at: number): Promise<void> {
    const reminder: BatchReminder = { job, batchId, at };
    try {
      await this.#client.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: JSON.stringify(reminder), DelaySeconds: delaySeconds(at, this.#now()) }));
    } catch (error) {
      const action = `ask the batch queue to settle ${job}'s batch ${batchId}`;
      if (error instanceof Error && error.name === "QueueDoesNotExist") {
        throw new ConfigurationError(`failed to ${action}: the queue ${this.#queueUrl} does not exist (BERTH_BATCH_QUEUE names the stage's batch queue: deploy the stack again)`, { cause: error });
      }
      throw translateAwsError(error, action, { hint: "the function's role needs sqs:SendMessage on the batch queue" }) ?? error;
    }
  }
}

/** The timer on the queue at `queueUrl`, with its own SQS client (lazy-clients.ts). */
export function sqsBatchTimer(env: Readonly<Record<string, string | undefined>>, queueUrl: string, place?: ClientPlace): SqsBatchTimer {
  return new SqsBatchTimer(sqsClient(env, place), queueUrl, () => Date.now());
}
