/**
 * The sweep (every minute on AWS, every second locally): what no event will
 * do — timeouts, due retries, interrupted launches, queued runs, quiet tasks,
 * final states whose publish was interrupted, leaked concurrency slots. The
 * run model decides (runs/sweep.ts `decideSweep`); each change is applied
 * with the run re-decided as stored, so concurrent sweeps are safe.
 */
import { decideAnnouncements, decideSweep, isOrphanSlot, launchGivenUp, limitsConcurrency, type Run, type SweepItem, type SweepOptions } from "../runs/index.ts";
import { announce, apply, execute } from "./apply.ts";
import { settleBatches } from "./batch.ts";
import type { EngineContext, QuietTask } from "./context.ts";

export interface SweepReport {
  readonly open: number;
  readonly changed: number;
  readonly relaunched: number;
  readonly reconciled: number;
  /** Ended runs whose final state change was published again (the first publish was interrupted). */
  readonly announced: number;
  readonly slotsFreed: number;
  /** Batches whose window had passed (or that a crash left unfinished) handed off to their run. */
  readonly batchesHandedOff: number;
  /** Batching jobs whose batch could not be settled this pass, and why: the next pass tries again. */
  readonly batchFailures: readonly { readonly job: string; readonly reason: string }[];
}

export async function sweep(ctx: EngineContext, overrides: SweepOptions = {}): Promise<SweepReport> {
  // Batches first, so a run a hand-off makes is admitted in this same pass.
  const batches = await settleBatches(ctx);
  const now = ctx.now();
  const open = await ctx.deps.store.listOpenRuns();
  const options = { ...ctx.deps.sweep, ...overrides };
  const decision = decideSweep(open, now, ctx.policies, options);
  let changed = 0;
  let relaunched = 0;
  const quiet: QuietTask[] = [];
  const launches: SweepItem[] = [];
  const byId = new Map(open.map((r) => [r.id, r]));
  for (const item of decision.items) {
    // Quiet tasks are asked about together below, one DescribeTasks per cluster.
    const asks = item.effects.flatMap((e) => (e.type === "reconcile" ? [{ run: byId.get(item.run.id)!, taskArn: e.taskArn }] : []));
    if (asks.length > 0) quiet.push(...asks);
    else if (item.effects.some((e) => e.type === "launch")) launches.push(item);
    else {
      changed++;
      await applyItem(ctx, byId.get(item.run.id)!, options);
    }
  }
  const reconciled = await ctx.reconcile(quiet);
  const unannounced = decideAnnouncements(open, now, options);
  for (const run of unannounced) await announce(ctx, run);
  const slotsFreed = await freeOrphanSlots(ctx, now);
  for (const e of decision.effects) await execute(ctx, undefined, [e]);

  // Launches last, for as long as ECS takes them: the backlog may take the sweep's whole time.
  let pass = launches.map((item) => ({ item, stored: byId.get(item.run.id)! }));
  while (pass.length > 0) {
    const { givenUp } = await launchPaced(pass, async ({ item, stored }) => {
      const after = await applyItem(ctx, stored, options);
      if (item.relaunch) relaunched++;
      else changed++;
      return after !== undefined && launchGivenUp(after, ctx.now());
    });
    if (givenUp) break;
    // Senders that gave up their launches while these went out added to the backlog: take those too.
    const again = await ctx.deps.store.listOpenRuns();
    const relaunches = new Map(again.map((r) => [r.id, r]));
    pass = decideSweep(again, ctx.now(), ctx.policies, options).items.flatMap((item) => (item.relaunch ? [{ item, stored: relaunches.get(item.run.id)! }] : []));
  }
  const batchFailures = batches.failures.map((f) => ({ job: f.job, reason: f.error instanceof Error ? f.error.message : String(f.error) }));
  return { open: open.length, changed, relaunched, reconciled, announced: unannounced.length, slotsFreed, batchesHandedOff: batches.handedOff, batchFailures };
}

/** Applies a sweep decision decided again on the run as stored: another writer may have moved it, or taken its launch. */
function applyItem(ctx: EngineContext, stored: Run, options: SweepOptions): Promise<Run | undefined> {
  return apply(ctx, stored, (r) => {
    const again = decideSweep([r], ctx.now(), ctx.policies, options).items[0];
    return { ok: true, run: again?.run ?? r, effects: again?.effects ?? [] };
  });
}

/**
 * Launches in flight at once. The launcher re-sends each throttled one until a token is free, so
 * enough of them wait at once to take every token ECS refills (Fargate: 20 a second) while each
 * RunTask takes a round trip.
 */
export const SWEEP_LAUNCH_CONCURRENCY = 20;

/**
 * Sends the launches at the rate ECS takes them: up to SWEEP_LAUNCH_CONCURRENCY at once, oldest
 * first. Once one comes back given up (throttled for as long as this invocation may wait), no
 * further one is begun: they stay for the next sweep, untouched, rather than each being taken
 * over and given up in turn.
 */
async function launchPaced<T>(items: readonly T[], send: (item: T) => Promise<boolean>): Promise<{ givenUp: boolean }> {
  let next = 0;
  let givenUp = false;
  const lane = async (): Promise<void> => {
    while (!givenUp && next < items.length) {
      if (await send(items[next++]!)) givenUp = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_LAUNCH_CONCURRENCY, items.length) }, lane));
  return { givenUp };
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
