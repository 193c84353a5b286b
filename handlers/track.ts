/** EventBridge rule target for `ECS Task State Change` events of tasks berth started. */
import { composeEngine } from "../src/aws/compose.ts";
import { log } from "../src/aws/log.ts";
import type { TrackOutcome } from "../src/core/engine/engine.ts";

const engine = composeEngine();

export async function handler(event: unknown): Promise<TrackOutcome> {
  const outcome = await engine.recordTaskEvent(event);
  const taskArn = (event as { detail?: { taskArn?: unknown } } | null)?.detail?.taskArn;
  if (outcome.kind === "rejected") log("error", `malformed task event dropped: ${outcome.reason}`, { taskArn });
  else if (outcome.kind === "ignored") log("info", outcome.reason, { taskArn });
  else log(outcome.kind === "updated" ? "info" : "debug", `task event ${outcome.kind}`, { ...outcome, taskArn });
  return outcome;
}
