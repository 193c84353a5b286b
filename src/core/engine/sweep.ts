/**
 * The sweep (every minute on AWS, every second locally): what no event will
 * do — timeouts, due retries, interrupted launches, queued runs, quiet tasks,
 * final states whose publish was interrupted, leaked concurrency slots. The
 * run model decides (runs/sweep.ts `decideSweep`); each change is applied
 * with the run re-decided as stored, so concurrent sweeps are safe.
 */
import { decideAnnouncements, decideSweep, isOrphanSlot, limitsConcurrency, type SweepOptions } from "../runs/index.ts";
import { announce, apply, execute } from "./apply.ts";
import type { EngineContext, QuietTask } from "./context.ts";

export interface SweepReport {
  readonly open: number;
  readonly changed: number;
  readonly relaunched: number;
  readonly reconciled: number;
  /** Ended runs whose final state change was published again (the first publish was interrupted). */
  readonly announced: number;
  readonly slotsFreed: number;
}

export async function sweep(ctx: EngineContext, overrides: SweepOptions = {}): Promise<SweepReport> {
  const now = ctx.now();
  const open = await ctx.deps.store.listOpenRuns();
  const options = { ...ctx.deps.sweep, ...overrides };
  const decision = decideSweep(open, now, ctx.policies, options);
  const byId = new Map(open.map((r) => [r.id, r]));
  let changed = 0;
  let relaunched = 0;
  const quiet: QuietTask[] = [];
  for (const item of decision.items) {
    const original = byId.get(item.run.id)!;
    // Quiet tasks are asked about together below, one DescribeTasks per cluster.
    const asks = item.effects.flatMap((e) => (e.type === "reconcile" ? [{ run: original, taskArn: e.taskArn }] : []));
    if (asks.length > 0) {
      quiet.push(...asks);
      continue;
    }
    if (item.changed) changed++;
    else if (item.effects.some((e) => e.type === "launch")) relaunched++;
    await apply(ctx, original, (r) => {
      const again = decideSweep([r], ctx.now(), ctx.policies, options).items[0];
      return { ok: true, run: again?.run ?? r, effects: again?.effects ?? [] };
    });
  }
  const reconciled = await ctx.reconcile(quiet);
  const unannounced = decideAnnouncements(open, now, options);
  for (const run of unannounced) await announce(ctx, run);
  const slotsFreed = await freeOrphanSlots(ctx, now);
  for (const e of decision.effects) await execute(ctx, undefined, [e]);
  return { open: open.length, changed, relaunched, reconciled, announced: unannounced.length, slotsFreed };
}

/** Slots whose run ended or never came to exist; freeing them may let queued runs start. */
async function freeOrphanSlots(ctx: EngineContext, now: number): Promise<number> {
  const store = ctx.deps.store;
  let freed = 0;
  for (const job of Object.values(ctx.catalog.jobs)) {
    if (!limitsConcurrency(job.concurrency)) continue;
    let freedHere = 0;
    for (const holder of await store.slotHolders(job.name)) {
      if (!isOrphanSlot(holder, await store.getRun(holder.runId), now, ctx.deps.orphanSlotAfterMs)) continue;
      await store.releaseSlot(job.name, holder.runId);
      freedHere++;
    }
    if (freedHere > 0) await ctx.drainQueue(job.name);
    freed += freedHere;
  }
  return freed;
}
