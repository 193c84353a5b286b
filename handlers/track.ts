/** EventBridge rule target for `ECS Task State Change` events of tasks berth started, and `ECS Deployment State Change` events of its services. */
import { composeTrack } from "../src/aws/compose.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { TrackOutcome } from "../src/core/engine/engine.ts";
import { isDeploymentStateEvent } from "../src/core/events/ecs-deployment.ts";
import { logString } from "../src/core/events/untrusted.ts";

export const handler = lambdaHandler({
  init: (log) => composeTrack(process.env, log),
  // Log keys from untrusted input: strings only, cut short (a deep object would throw in the logger's JSON.stringify).
  describe: (event: unknown) => {
    const e = event as { resources?: unknown; detail?: { taskArn?: unknown; deploymentId?: unknown } } | null;
    if (e?.detail?.deploymentId !== undefined) {
      return { serviceArn: logString(Array.isArray(e.resources) ? e.resources[0] : undefined), deploymentId: logString(e.detail.deploymentId) };
    }
    return { taskArn: logString(e?.detail?.taskArn) };
  },
  async handle(recordTaskEvent, event, log): Promise<TrackOutcome> {
    const outcome = await recordTaskEvent(event);
    const what = isDeploymentStateEvent(event) ? "deployment event" : "task event";
    if (outcome.kind === "rejected") log("error", `malformed ${what} dropped: ${outcome.reason}`);
    else if (outcome.kind === "ignored") log("info", outcome.reason);
    else log(outcome.kind === "updated" ? "info" : "debug", `${what} ${outcome.kind}`, { ...outcome });
    return outcome;
  },
  answer: (error): TrackOutcome => ({ kind: "rejected", reason: error.message }),
});
