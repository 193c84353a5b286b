/** Tracking: an `ECS Task State Change` event → the attempt and run it is about. */
import { parseTaskStateEvent } from "../events/ecs-task.ts";
import { runIdFromStartedBy } from "../ids.ts";
import { recordTaskState, type TaskStateOutcome } from "../runs/index.ts";
import { apply } from "./apply.ts";
import type { EngineContext } from "./context.ts";

export type TrackOutcome =
  | { readonly kind: "rejected"; readonly reason: string }
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: TaskStateOutcome; readonly runId: string; readonly job: string; readonly status: string };

export async function track(ctx: EngineContext, input: unknown): Promise<TrackOutcome> {
  const parsed = parseTaskStateEvent(input);
  if (!parsed.ok) return { kind: "rejected", reason: parsed.error.message };
  const task = parsed.task;
  const runId = task.startedBy ? runIdFromStartedBy(task.startedBy) : undefined;
  if (!runId) return { kind: "ignored", reason: `task ${task.taskArn} was not started by berth (startedBy ${JSON.stringify(task.startedBy ?? null)})` };
  const run = await ctx.deps.store.getRun(runId);
  if (!run) return { kind: "ignored", reason: `task ${task.taskArn} names run ${runId}, which this store does not know` };
  let outcome: TaskStateOutcome = "stale";
  const stored = await apply(ctx, run, (r) => {
    const result = recordTaskState(r, task, ctx.now(), ctx.policyOf(r));
    outcome = result.outcome;
    return { ok: true, run: result.run, effects: result.effects };
  });
  return { kind: outcome, runId, job: run.job, status: (stored ?? run).status };
}
