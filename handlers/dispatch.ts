/**
 * EventBridge rule target: an event for one job becomes a run and an ECS task.
 * Input: `{ "job": "<name>", "event": <the event> }` (the rule's input
 * transformer names the job), or a bare event, which every matching job gets.
 */
import { composeEngine } from "../src/aws/compose.ts";
import { log } from "../src/aws/log.ts";
import type { DispatchOutcome } from "../src/core/engine/engine.ts";

const engine = composeEngine();

function unwrap(input: unknown): { job?: string; event: unknown } {
  const i = input as { job?: unknown; event?: unknown } | null;
  return i !== null && typeof i === "object" && typeof i.job === "string" && "event" in i ? { job: i.job, event: i.event } : { event: input };
}

export async function handler(input: unknown): Promise<{ outcomes: DispatchOutcome[] }> {
  const { job, event } = unwrap(input);
  const outcomes = await engine.dispatch(event, job);
  for (const o of outcomes) {
    if (o.kind === "rejected") log("error", `event rejected: ${o.reason}`, { ...o, eventId: (event as { id?: unknown } | null)?.id });
    else if (o.kind === "accepted" && o.deferred) log("warn", "ECS throttled the launch; it will be re-sent with the same clientToken", o);
    else log("info", o.kind === "duplicate" ? "duplicate delivery: nothing launched" : `run ${o.status.toLowerCase()}`, o);
  }
  return { outcomes };
}
