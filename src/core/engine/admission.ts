/**
 * Concurrency in the engine: admitting a run (may it start now?) and
 * draining a job's queue when slots free up. The rules are the run model's
 * (runs/concurrency.ts); this file reads slot holders and the head of the
 * queue, claims slots atomically, and applies the decision.
 */
import { admissionFor, admitRun, concurrencyCap, decideAfterLostSlot, decideQueueDrain, limitsConcurrency, queueRoom, startQueuedRun, type Admission, type Run } from "../runs/index.ts";
import { apply } from "./apply.ts";
import type { EngineContext } from "./context.ts";

/** Queued runs started per drain; the next drain (a run ending, the sweep) starts more. */
const MAX_DRAIN = 1000;

/** A QUEUED run → STARTING (a slot was free), SKIPPED (forbid), or still QUEUED. */
export async function admit(ctx: EngineContext, run: Run, options: { readonly announceQueued: boolean }): Promise<Run> {
  const job = ctx.catalog.jobs[run.job];
  if (!job) return run;
  const policy = job.concurrency;
  const store = ctx.deps.store;
  let admission: Admission = { decision: "start" };
  // Without a limit there is nothing to count and nothing ever waits.
  if (limitsConcurrency(policy)) {
    admission = admissionFor(policy, run.id, await store.slotHolders(job.name), await store.listQueuedRuns(job.name, 1));
    if (admission.decision === "replace") {
      for (const id of admission.cancel) await ctx.cancel(id, `replaced by run ${run.id} (overlap: replace)`);
    }
    const starts = admission.decision === "start" || admission.decision === "replace";
    if (starts && !(await store.acquireSlot(job.name, run.id, concurrencyCap(policy), ctx.now()))) admission = decideAfterLostSlot(policy);
  }
  const decided = admission;
  return (await apply(ctx, run, (r) => admitRun(r, decided, ctx.now(), ctx.policyOf(r), options))) ?? run;
}

export async function drainQueue(ctx: EngineContext, jobName: string): Promise<void> {
  const job = ctx.catalog.jobs[jobName];
  if (!job) return;
  const store = ctx.deps.store;
  const limited = limitsConcurrency(job.concurrency);
  const active = limited ? (await store.slotHolders(jobName)).length : 0;
  const room = queueRoom(job.concurrency, active, MAX_DRAIN);
  if (room <= 0) return;
  const queued = await store.listQueuedRuns(jobName, room);
  if (queued.length === 0) return;
  const ids = decideQueueDrain(job.concurrency, active, queued.map((r) => ({ id: r.id, queuedAt: r.queuedAt ?? r.createdAt })));
  for (const id of ids) {
    const run = queued.find((r) => r.id === id)!;
    if (limited && !(await store.acquireSlot(jobName, id, concurrencyCap(job.concurrency), ctx.now()))) break;
    await apply(ctx, run, (r) => startQueuedRun(r, ctx.now(), ctx.policyOf(r)));
  }
}
