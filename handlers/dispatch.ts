/**
 * EventBridge rule target: an event for one job becomes a run and an ECS task.
 * Input: `{ "job": "<name>", "event": <the event> }` (the rule's input
 * transformer names the job), or a bare event, which every matching job gets.
 */
import { composeEngine } from "../src/aws/compose.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { DispatchOutcome } from "../src/core/engine/engine.ts";

function unwrap(input: unknown): { job?: string; event: unknown } {
  const i = input as { job?: unknown; event?: unknown } | null;
  return i !== null && typeof i === "object" && typeof i.job === "string" && "event" in i ? { job: i.job, event: i.event } : { event: input };
}

export const handler = lambdaHandler({
  init: () => composeEngine(),
  describe: (input: unknown) => ({ eventId: (unwrap(input).event as { id?: unknown } | null)?.id }),
  async handle(engine, input, log): Promise<{ outcomes: DispatchOutcome[] }> {
    const { job, event } = unwrap(input);
    const outcomes = await engine.dispatch(event, job);
    for (const o of outcomes) {
      if (o.kind === "rejected") log("error", `event rejected: ${o.reason}`, o);
      else if (o.kind === "accepted" && o.deferred) log("warn", "ECS throttled the launch; it will be re-sent with the same clientToken", o);
      else log("info", o.kind === "duplicate" ? "duplicate delivery: nothing launched" : `run ${o.status.toLowerCase()}`, o);
    }
    return { outcomes };
  },
  answer: (error, input): { outcomes: DispatchOutcome[] } => {
    const { job } = unwrap(input);
    return { outcomes: [{ kind: "rejected", ...(job !== undefined ? { job } : {}), reason: error.message }] };
  },
});
