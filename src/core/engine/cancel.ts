/** Cancel: a run's task is stopped and its slot freed. Ending an ended run is a no-op. */
import { cancelRun, isTerminal, supersedeRun, type Run } from "../runs/index.ts";
import { apply } from "./apply.ts";
import { deploysService, type EngineContext } from "./context.ts";

export async function cancel(ctx: EngineContext, runId: string, reason: string): Promise<Run | undefined> {
  const run = await ctx.deps.store.getRun(runId);
  if (!run) return undefined;
  if (isTerminal(run.status)) return run;
  return (await apply(ctx, run, (r) => cancelRun(r, ctx.now(), reason))) ?? run;
}

/** A newer run supersedes this one: it ends CANCELLED with `reason`; its task is stopped, a deployment is left for the newer one to replace. */
export async function supersede(ctx: EngineContext, runId: string, reason: string): Promise<Run | undefined> {
  const run = await ctx.deps.store.getRun(runId);
  if (!run) return undefined;
  if (isTerminal(run.status)) return run;
  const stop = !deploysService(ctx, run);
  return (await apply(ctx, run, (r) => supersedeRun(r, ctx.now(), reason, { stop }))) ?? run;
}
