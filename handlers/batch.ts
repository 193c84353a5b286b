/**
 * The batch queue's consumer (an SQS event source): each message is a reminder, sent by the batch timer
 * (src/aws/sqs-batch-timer.ts) when a batch opened or asked again, to settle one job's batch: close it
 * once its window has passed, hand it off as its manifest and run, or remind again later.
 *
 * The answer is a partial batch response (ReportBatchItemFailures,
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): only the reminders of a job
 * whose settling failed come again, after the queue's visibility timeout, and after the queue's
 * maxReceiveCount they wait in its dead-letter queue, whose alarm says so. Reminders of one job in one
 * batch are settled once. A malformed reminder, or one for a job that does not batch here, is rejected: put
 * with the reason on berth's bus (the rejected-events queue), and deleted, since it would fail the same
 * way every time.
 */
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { composeBatch, type Settler } from "../src/aws/compose.ts";
import { asBerthError } from "../src/aws/errors.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { Log } from "../src/aws/log.ts";
import { parseBatchReminder } from "../src/aws/sqs-batch-timer.ts";
import { TransientError, ValidationError } from "../src/core/errors.ts";
import { logString } from "../src/core/events/untrusted.ts";

const recordsOf = (event: SQSEvent | null): SQSRecord[] => (Array.isArray(event?.Records) ? event.Records : []);

/** The job a record reminds of, or the reason it names none. */
function jobOf(record: SQSRecord): { job: string } | { reason: string } {
  try {
    return { job: parseBatchReminder(typeof record.body === "string" ? record.body : "").job };
  } catch (e) {
    if (e instanceof ValidationError) return { reason: e.message };
    throw e;
  }
}

/** Each record to the rejected-events queue with the reason; one the bus does not take comes again (and in the end waits in the dead-letter queue). */
async function rejectOrRetry({ rejected }: Settler, records: readonly SQSRecord[], reason: string, job: string | undefined, failures: SQSBatchItemFailure[], log: Log): Promise<void> {
  for (const record of records) {
    try {
      const eventId = await rejected.put({ reason, ...(job !== undefined ? { job } : {}), event: { messageId: record.messageId, body: record.body } });
      log("error", `batch reminder rejected: ${reason}`, { messageId: logString(record.messageId), rejectedOn: rejected.bus, ...(eventId !== undefined ? { rejectionEventId: eventId } : {}) });
    } catch (thrown) {
      log("warn", `a rejected batch reminder could not be put on berth's bus: ${asBerthError(thrown)?.message ?? String(thrown)}`, { messageId: logString(record.messageId) });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
}

export const handler = lambdaHandler({
  init: (log) => composeBatch(process.env, log),
  describe: (event: SQSEvent | null) => ({ reminders: recordsOf(event).length }),
  async handle(settler, event, log): Promise<SQSBatchResponse> {
    const failures: SQSBatchItemFailure[] = [];
    const byJob = new Map<string, SQSRecord[]>();
    for (const record of recordsOf(event)) {
      const found = jobOf(record);
      if ("reason" in found) await rejectOrRetry(settler, [record], found.reason, undefined, failures, log);
      else byJob.set(found.job, [...(byJob.get(found.job) ?? []), record]);
    }
    await Promise.all(
      [...byJob].map(async ([job, records]) => {
        try {
          const outcome = await settler.settle(job);
          log(outcome.kind === "handed-off" ? "info" : "debug", `batch of ${job} settled: ${outcome.kind}`, { job, reminders: records.length, ...outcome });
        } catch (thrown) {
          const error = asBerthError(thrown);
          // A job this catalog does not batch: every reminder of it would fail the same way.
          if (error instanceof ValidationError) return rejectOrRetry(settler, records, error.message, job, failures, log);
          log(error instanceof TransientError ? "warn" : "error", `settling the batch of ${logString(job)} failed, its reminders come again: ${error?.message ?? String(thrown)}`, {
            job: logString(job),
            error: error ?? thrown,
          });
          failures.push(...records.map((r) => ({ itemIdentifier: r.messageId })));
        }
      }),
    );
    return { batchItemFailures: failures };
  },
  // Not an SQS event: no record to settle or to report failed.
  answer: (): SQSBatchResponse => ({ batchItemFailures: [] }),
});
