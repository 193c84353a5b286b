/**
 * The step every flow ends with: store the decision about a run on the
 * condition that nobody changed it since it was read (optimistic
 * concurrency: on a lost race, re-read and decide again), then execute its
 * effects in order. Storing first means a crash between the two leaves a
 * record the sweep or a redelivery can finish from.
 */
import { TransientError, type Failure } from "../errors.ts";
import { clusterOfTaskArn } from "../events/ecs-task.ts";
import { isTerminal, limitsConcurrency, publishEffect, touch, type Effect, type Run } from "../runs/index.ts";
import { deploysService, type EngineContext } from "./context.ts";

/** A decision about the run as it is now: the run to store, then the effects to execute; or why it does not apply (any more). */
export type Decide = (run: Run) => { readonly ok: true; readonly run: Run; readonly effects: readonly Effect[] } | Failure;

const MAX_CONFLICT_RETRIES = 8;

/** Returns the run as stored last; undefined only when the run no longer exists. */
export async function apply(ctx: EngineContext, run: Run, decide: Decide): Promise<Run | undefined> {
  let current = run;
  for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
    const step = decide(current);
    // Not applicable (any more): e.g. another writer already moved the run. Report the run as it is.
    if (!step.ok) return current;
    if (step.run.version === current.version) return (await execute(ctx, current, step.effects)) ?? current;
    const res = await ctx.deps.store.updateRun(step.run, current.version);
    if (res.ok) {
      if (!isTerminal(res.run.status)) return (await execute(ctx, res.run, step.effects)) ?? res.run;
      // A slot is held from admission until the run ends; a job without a limit takes none.
      const job = ctx.catalog.jobs[res.run.job];
      if (job === undefined || limitsConcurrency(job.concurrency)) await ctx.deps.store.releaseSlot(res.run.job, res.run.id);
      await execute(ctx, res.run, step.effects);
      return markAnnounced(ctx, res.run);
    }
    if (!res.current) return undefined;
    current = res.current;
  }
  throw new TransientError(`run ${run.id} kept changing under concurrent updates; try again`);
}

/** Executes effects in order; returns the run as last stored (launch results change it). */
export async function execute(ctx: EngineContext, run: Run | undefined, effects: readonly Effect[]): Promise<Run | undefined> {
  let current = run;
  await publish(ctx, effects);
  for (const e of effects) {
    switch (e.type) {
      case "publish":
        break;
      case "launch":
        if (current) current = await ctx.launch(current, e.attempt);
        break;
      case "stop": {
        const reason = e.reason.slice(0, 255);
        if (deploysService(ctx, current)) {
          await ctx.deps.deployer?.stop(e.taskArn, reason);
          break;
        }
        const cluster = clusterOfTaskArn(e.taskArn) ?? (current ? ctx.catalog.jobs[current.job]?.action.cluster : undefined);
        if (cluster) await ctx.deps.launcher.stopTask(cluster, e.taskArn, reason);
        break;
      }
      case "start-queued":
        await ctx.drainQueue(e.job);
        break;
      case "reconcile":
        if (current) await ctx.reconcile([{ run: current, taskArn: e.taskArn }]);
        break;
    }
  }
  return current;
}

/** Publishes an ended run's final state again (the first publish was interrupted), then records it as announced. */
export async function announce(ctx: EngineContext, run: Run): Promise<Run> {
  await publish(ctx, [publishEffect(run)]);
  return markAnnounced(ctx, run);
}

/**
 * Records that an ended run's final state was published, so stores stop
 * listing it as open. Publishing happens before this write: a crash in
 * between publishes twice, which chained jobs absorb (their idempotency
 * key is the upstream run and status), never zero times.
 */
async function markAnnounced(ctx: EngineContext, run: Run): Promise<Run> {
  if (run.announced) return run;
  const res = await ctx.deps.store.updateRun(touch(run, ctx.now(), { announced: true }), run.version);
  return res.ok ? res.run : (res.current ?? run);
}

async function publish(ctx: EngineContext, effects: readonly Effect[]): Promise<void> {
  const details = effects.flatMap((e) => (e.type === "publish" ? [e.detail] : []));
  if (details.length > 0) await ctx.deps.publisher.publish(details);
}
