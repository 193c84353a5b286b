/**
 * Concurrency in the engine: admitting a run (may it start now?) and
 * draining a job's queue when slots free up. The rules are the run model's
 * (runs/concurrency.ts); this file reads slot holders and the head of the
 * queue, claims slots atomically, and applies the decision.
 */
import type { Job } from "../catalog/types.ts";
import {
  admissionFor,
  admitRun,
  concurrencyCap,
  decideAfterLostSlot,
  decideQueueDrain,
  decideSupersede,
  isTerminal,
  limitsConcurrency,
  newestOf,
  queueRoom,
  startQueuedRun,
  type Admission,
  waitsInQueue,
  type Run,
  type SupersedePeers,
} from "../runs/index.ts";
import { apply } from "./apply.ts";
import type { EngineContext } from "./context.ts";

/** Queued runs started per drain; the next drain (a run ending, the sweep) starts more. */
const MAX_DRAIN = 1000;

/** Queued runs a superseding job looks at: only runs that lost the race for the slot wait, so there are few. */
const SUPERSEDE_QUEUE_LOOK = 100;

/** Recent runs a superseding job reads the push chain from (runs/position.ts `PushChain`). */
const SUPERSEDE_HISTORY = 100;

/** A QUEUED run → STARTING (a slot was free), SKIPPED (forbid), or still QUEUED. */
export async function admit(ctx: EngineContext, run: Run, options: { readonly announceQueued: boolean }): Promise<Run> {
  const job = ctx.catalog.jobs[run.job];
  if (!job) return run;
  const policy = job.concurrency;
  const store = ctx.deps.store;
  let admission: Admission = { decision: "start" };
  // Without a limit there is nothing to count and nothing ever waits.
  if (limitsConcurrency(policy)) {
    if (policy.overlap === "supersede") {
      admission = decideSupersede(run, await supersedePeers(ctx, job, run));
      if (admission.decision === "supersede") {
        for (const id of admission.cancel) await ctx.supersede(id, admission.reason);
      }
    } else {
      const head = await store.listQueuedRuns(job.name, 1);
      admission = admissionFor(policy, run.id, waitsInQueue(policy, run.id, head) ? [] : await store.slotHolders(job.name), head);
    }
    if (admission.decision === "replace") {
      for (const id of admission.cancel) await ctx.cancel(id, `replaced by run ${run.id} (overlap: replace)`);
    }
    const starts = admission.decision === "start" || admission.decision === "replace" || admission.decision === "supersede";
    if (starts && !(await store.acquireSlot(job.name, run.id, concurrencyCap(policy), ctx.now()))) admission = decideAfterLostSlot(policy);
  }
  const decided = admission;
  return (await apply(ctx, run, (r) => admitRun(r, decided, ctx.now(), ctx.policyOf(r), options))) ?? run;
}

/** What a superseding run is weighed against: the runs in flight, the queued ones, and what the job last deployed. */
async function supersedePeers(ctx: EngineContext, job: Job, run: Run): Promise<SupersedePeers> {
  const store = ctx.deps.store;
  const holders = (await store.slotHolders(job.name)).filter((h) => h.runId !== run.id);
  const active = (await Promise.all(holders.map((h) => store.getRun(h.runId)))).filter((r): r is Run => r !== undefined && !isTerminal(r.status));
  const queued = (await store.listQueuedRuns(job.name, SUPERSEDE_QUEUE_LOOK)).filter((r) => r.id !== run.id);
  const recent = await store.listRuns({ job: job.name, limit: SUPERSEDE_HISTORY });
  // Newest first: the last deployed run is usually among the recent ones; only a longer history needs its own query.
  const deployed = recent.find((r) => r.status === "SUCCEEDED") ?? (recent.length < SUPERSEDE_HISTORY ? undefined : (await store.listRuns({ job: job.name, status: "SUCCEEDED", limit: 1 }))[0]);
  return { active, queued, recent, ...(deployed ? { deployed } : {}) };
}

/** A superseding job's queue: admit the newest queued run (which supersedes the older ones), or skip it and try the next. */
async function drainSuperseding(ctx: EngineContext, job: Job): Promise<void> {
  const store = ctx.deps.store;
  if ((await store.slotHolders(job.name)).length > 0) return;
  let queued = await store.listQueuedRuns(job.name, SUPERSEDE_QUEUE_LOOK);
  while (queued.length > 0) {
    const next = newestOf(queued)!;
    const admitted = await admit(ctx, next, { announceQueued: false });
    if (admitted.status !== "SKIPPED") return;
    queued = queued.filter((r) => r.id !== next.id);
  }
}

export async function drainQueue(ctx: EngineContext, jobName: string): Promise<void> {
  const job = ctx.catalog.jobs[jobName];
  if (!job) return;
  if (job.concurrency.overlap === "supersede") return drainSuperseding(ctx, job);
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
