/**
 * EventBridge rule target: an event for one job becomes a run and an ECS task.
 * Input: `{ "job": "<name>", "event": <the event> }` (the rule's input
 * transformer names the job), or a bare event, which every matching job gets.
 * An event it rejects goes with the reason to berth's bus as a `Berth Event
 * Rejected` event, which the stack routes to the rejected-events queue, and
 * the invocation succeeds: a retry would fail the same way.
 */
import { composeDispatch } from "../src/aws/compose.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { Log } from "../src/aws/log.ts";
import type { RejectedEvents, Rejection } from "../src/aws/rejected-events.ts";
import { ValidationError } from "../src/core/errors.ts";
import type { DispatchOutcome } from "../src/core/engine/engine.ts";

function unwrap(input: unknown): { job?: string; event: unknown } {
  const i = input as { job?: unknown; event?: unknown } | null;
  return i !== null && typeof i === "object" && typeof i.job === "string" && "event" in i ? { job: i.job, event: i.event } : { event: input };
}

function short(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

async function reject(rejected: RejectedEvents, rejection: Rejection, log: Log): Promise<void> {
  const eventId = await rejected.put(rejection);
  const fields = { ...(rejection.job !== undefined ? { job: short(rejection.job) } : {}), reason: rejection.reason };
  if (eventId !== undefined) log("error", `event rejected: ${rejection.reason}`, { ...fields, rejectedOn: rejected.bus, rejectionEventId: eventId });
  else log("error", `a rejection event rejected, only logged (put back on the bus, it could loop): ${rejection.reason}`, fields);
}

export const handler = lambdaHandler({
  init: (log) => composeDispatch(process.env, log),
  // Only short strings go to the log's keys: the input is untrusted, of any size and depth.
  describe: (input: unknown) => {
    const { job, event } = unwrap(input);
    const id = (event as { id?: unknown } | null)?.id;
    return { ...(typeof id === "string" ? { eventId: short(id) } : {}), ...(job !== undefined ? { job: short(job) } : {}) };
  },
  async handle({ dispatch, rejected }, input, log): Promise<{ outcomes: DispatchOutcome[] }> {
    const { job, event } = unwrap(input);
    const outcomes = await dispatch(event, job);
    for (const o of outcomes) {
      if (o.kind === "rejected") await reject(rejected, { reason: o.reason, ...(o.job !== undefined ? { job: o.job } : {}), event }, log);
      else if (o.kind === "accepted" && o.deferred) log("warn", "ECS throttled the launch for as long as this invocation could wait; the next sweep re-sends it with the same clientToken", { ...o });
      else if (o.kind === "batched") log("info", `upload ${o.opened ? "opened" : "joined"} batch ${o.batchId} of ${o.job}`, { ...o });
      else log("info", o.kind === "duplicate" ? "duplicate delivery: nothing launched" : `run accepted: ${o.status}`, { ...o });
    }
    return { outcomes };
  },
  async answer(error, input, { rejected }, log): Promise<{ outcomes: DispatchOutcome[] }> {
    const { job, event } = unwrap(input);
    // Only a ValidationError says the event itself can never succeed; the other answered errors mean the work is done.
    if (error instanceof ValidationError) await reject(rejected, { reason: error.message, ...(job !== undefined ? { job } : {}), event }, log);
    return { outcomes: [{ kind: "rejected", ...(job !== undefined ? { job } : {}), reason: error.message }] };
  },
});
