/**
 * Reconciliation: ask ECS (DescribeTasks, one call per cluster) or the
 * service deployer about tasks whose events stopped coming, and apply the
 * answers as if they were task events. A task nobody knows any more failed
 * unobserved (runs/sweep.ts `reconcileTask`).
 */
import { clusterOfTaskArn, type EcsTaskState } from "../events/ecs-task.ts";
import { reconcileTask } from "../runs/index.ts";
import { apply } from "./apply.ts";
import { policyForTask } from "./essentials.ts";
import { TransientError } from "../errors.ts";
import { deploysService, type EngineContext, type QuietTask } from "./context.ts";

type Described = { readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] };

export async function reconcile(ctx: EngineContext, quiet: readonly QuietTask[]): Promise<number> {
  const deploys = quiet.filter((q) => deploysService(ctx, q.run));
  let answered = 0;
  if (deploys.length > 0 && ctx.deps.deployer) {
    answered += await applyDescribed(ctx, deploys, await ctx.deps.deployer.describe(deploys.map((d) => d.taskArn)));
  }
  const byCluster = new Map<string, QuietTask[]>();
  for (const q of quiet) {
    if (deploys.includes(q)) continue;
    const cluster = clusterOfTaskArn(q.taskArn) ?? ctx.catalog.jobs[q.run.job]?.action.cluster;
    if (cluster) byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), q]);
  }
  for (const [cluster, list] of byCluster) {
    answered += await applyDescribed(ctx, list, await ctx.deps.launcher.describeTasks(cluster, list.map((q) => q.taskArn)));
  }
  return answered;
}

async function applyDescribed(ctx: EngineContext, list: readonly QuietTask[], described: Described): Promise<number> {
  let answered = 0;
  for (const q of list) {
    const task = described.tasks.find((t) => t.taskArn === q.taskArn);
    const answer = task ?? (described.missing.includes(q.taskArn) ? "missing" : undefined);
    if (answer === undefined) continue;
    let policy;
    try {
      policy = answer === "missing" ? ctx.policyOf(q.run) : await policyForTask(ctx, q.run, answer);
    } catch (error) {
      // ECS could not say which containers are essential right now: ask about this task at the next sweep.
      if (error instanceof TransientError) continue;
      throw error;
    }
    answered++;
    await apply(ctx, q.run, (r) => {
      const result = reconcileTask(r, answer, ctx.now(), policy);
      return { ok: true, run: result.run, effects: result.effects };
    });
  }
  return answered;
}
