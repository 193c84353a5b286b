/** EventBridge rule target for `ECS Task State Change` events of tasks berth started. */
import { composeTrack } from "../src/aws/compose.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { TrackOutcome } from "../src/core/engine/engine.ts";

export const handler = lambdaHandler({
  init: (log) => composeTrack(process.env, log),
  describe: (event: unknown) => ({ taskArn: (event as { detail?: { taskArn?: unknown } } | null)?.detail?.taskArn }),
  async handle(recordTaskEvent, event, log): Promise<TrackOutcome> {
    const outcome = await recordTaskEvent(event);
    if (outcome.kind === "rejected") log("error", `malformed task event dropped: ${outcome.reason}`);
    else if (outcome.kind === "ignored") log("info", outcome.reason);
    else log(outcome.kind === "updated" ? "info" : "debug", `task event ${outcome.kind}`, { ...outcome });
    return outcome;
  },
  answer: (error): TrackOutcome => ({ kind: "rejected", reason: error.message }),
});
