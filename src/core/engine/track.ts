/**
 * Tracking: an `ECS Task State Change` event → the attempt and run it is
 * about. An `ECS Deployment State Change` event is about a deploy run's
 * pseudo task: the service deployer reads that deployment's state back from
 * ECS (with the run's `startedBy`), and it is recorded like a task's.
 */
import { isDeploymentStateEvent, parseDeploymentStateEvent } from "../events/ecs-deployment.ts";
import { parseTaskStateEvent, type EcsTaskState } from "../events/ecs-task.ts";
import { runIdFromStartedBy } from "../ids.ts";
import { recordTaskState, type TaskStateOutcome } from "../runs/index.ts";
import { apply } from "./apply.ts";
import { policyForTask } from "./essentials.ts";
import { describeValue } from "../events/untrusted.ts";
import type { EngineContext } from "./context.ts";

export type TrackOutcome =
  | { readonly kind: "rejected"; readonly reason: string }
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: TaskStateOutcome; readonly runId: string; readonly job: string; readonly status: string };

type TaskRead = { readonly ok: true; readonly task: EcsTaskState } | { readonly ok: false; readonly outcome: TrackOutcome };

async function taskOf(ctx: EngineContext, input: unknown): Promise<TaskRead> {
  if (!isDeploymentStateEvent(input)) {
    const parsed = parseTaskStateEvent(input);
    return parsed.ok ? parsed : { ok: false, outcome: { kind: "rejected", reason: parsed.error.message } };
  }
  const parsed = parseDeploymentStateEvent(input);
  if (!parsed.ok) return { ok: false, outcome: { kind: "rejected", reason: parsed.error.message } };
  const { serviceArn, deploymentId } = parsed.change;
  const deployer = ctx.deps.deployer;
  if (!deployer?.deploymentTask) {
    return { ok: false, outcome: { kind: "ignored", reason: `deployment ${deploymentId} of ${serviceArn}: this runtime reads no deployment events (no deploy jobs)` } };
  }
  const task = await deployer.deploymentTask(parsed.change);
  if (!task) return { ok: false, outcome: { kind: "ignored", reason: `deployment ${deploymentId} of ${serviceArn} was not started by berth` } };
  return { ok: true, task };
}

export async function track(ctx: EngineContext, input: unknown): Promise<TrackOutcome> {
  const read = await taskOf(ctx, input);
  if (!read.ok) return read.outcome;
  const task = read.task;
  const runId = task.startedBy ? runIdFromStartedBy(task.startedBy) : undefined;
  if (!runId) return { kind: "ignored", reason: `task ${task.taskArn} was not started by berth (startedBy ${describeValue(task.startedBy ?? null)})` };
  const run = await ctx.deps.store.getRun(runId);
  if (!run) return { kind: "ignored", reason: `task ${task.taskArn} names run ${runId}, which this store does not know` };
  const policy = await policyForTask(ctx, run, task);
  let outcome: TaskStateOutcome = "stale";
  const stored = await apply(ctx, run, (r) => {
    const result = recordTaskState(r, task, ctx.now(), policy);
    outcome = result.outcome;
    return { ok: true, run: result.run, effects: result.effects };
  });
  return { kind: outcome, runId, job: run.job, status: (stored ?? run).status };
}
