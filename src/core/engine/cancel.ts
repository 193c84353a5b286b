/** Cancel: a run's task is stopped and its slot freed. Ending an ended run is a no-op. */
import { cancelRun, isTerminal, type Run } from "../runs/index.ts";
import { apply } from "./apply.ts";
import type { EngineContext } from "./context.ts";

export async function cancel(ctx: EngineContext, runId: string, reason: string): Promise<Run | undefined> {
  const run = await ctx.deps.store.getRun(runId);
  if (!run) return undefined;
  if (isTerminal(run.status)) return run;
  return (await apply(ctx, run, (r) => cancelRun(r, ctx.now(), reason))) ?? run;
}
