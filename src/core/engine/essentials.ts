/**
 * Which containers decide a stopped task's result: the ones berth.yml's run
 * policy names, else the essential containers of the task's definition
 * revision, which the launcher looks up (once per revision) from the event's
 * `taskDefinitionArn`. Read only when the task stopped, the one time it
 * matters; the decision itself is the run model's (runs/task-state.ts).
 */
import type { EcsTaskState } from "../events/ecs-task.ts";
import type { Run, RunPolicy } from "../runs/index.ts";
import { deploysService, type EngineContext } from "./context.ts";

export async function policyForTask(ctx: EngineContext, run: Run, task: EcsTaskState): Promise<RunPolicy> {
  const policy = ctx.policyOf(run);
  const launcher = ctx.deps.launcher;
  if (task.lastStatus !== "STOPPED" || policy.essentialContainers !== undefined || task.taskDefinitionArn === undefined) return policy;
  if (launcher.essentialContainers === undefined || deploysService(ctx, run)) return policy;
  const names = await launcher.essentialContainers(task.taskDefinitionArn);
  return names === undefined ? policy : { ...policy, essentialContainers: names };
}
