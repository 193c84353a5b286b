/**
 * Dispatch: an event → the runs it asks for. For each job the event fires:
 * the run is written first, QUEUED, under its idempotency key (a duplicate
 * delivery finds it and only finishes what a crash interrupted), then
 * admitted, which may launch it. An upload for a job with `batch:` joins the
 * job's batch instead (batch.ts), whose hand-off starts its run the same way.
 */
import type { Route } from "../router.ts";
import { asBusEvent, type BusEvent } from "../events/envelope.ts";
import { newRunId } from "../ids.ts";
import { runContext } from "../plan.ts";
import { createRun, decideResume, DEFAULT_RELAUNCH_AFTER_MS, newRunFor, pendingLaunch, positionOf, type NewRun, type Run } from "../runs/index.ts";
import { execute } from "./apply.ts";
import { admit } from "./admission.ts";
import { BatchWait, isBatchedRoute, joinBatch, type BatchedOutcome } from "./batch.ts";
import type { EngineContext, StartedRun } from "./context.ts";

/**
 * The largest new run record dispatch writes, as characters of its JSON. The store keeps a run in one item
 * (DynamoDB caps items at 400 KB) that also gathers its attempts as it goes; a trigger's facts are a few
 * short strings (each bounded when the context is read), so a record past this was built from forged input.
 */
export const MAX_NEW_RUN_CHARS = 64 * 1024;

export type DispatchOutcome =
  | { readonly kind: "rejected"; readonly job?: string; readonly reason: string }
  | { readonly kind: "duplicate"; readonly job: string; readonly runId: string; readonly status: string }
  | { readonly kind: "accepted"; readonly job: string; readonly runId: string; readonly status: string; readonly reason?: string; readonly deferred?: boolean }
  /** An upload of a job with `batch:` joined a batch (batch.ts), or was already in one. */
  | BatchedOutcome;

/**
 * An event for the catalog (every job it fires), or for one job (`jobName`:
 * on AWS each rule's target names its job). Returns one outcome per job.
 */
export async function dispatch(ctx: EngineContext, input: unknown, jobName?: string): Promise<DispatchOutcome[]> {
  const parsed = asBusEvent(input);
  if (!parsed.ok) return [{ kind: "rejected", ...(jobName ? { job: jobName } : {}), reason: parsed.error.message }];
  const event = parsed.event;
  if (jobName !== undefined && !Object.hasOwn(ctx.catalog.jobs, jobName)) {
    const named = jobName.length > 60 ? `${jobName.slice(0, 60)}…` : jobName;
    return [{ kind: "rejected", job: named, reason: `no job named ${JSON.stringify(named)} in the catalog` }];
  }
  // A job with two triggers matching the same event runs once: the first trigger wins.
  const seen = new Set<string>();
  const routes = ctx.deps.router.match(event).filter((r) => (jobName === undefined || r.job.name === jobName) && !seen.has(r.job.name) && seen.add(r.job.name));
  if (routes.length === 0 && jobName !== undefined) {
    return [{ kind: "rejected", job: jobName, reason: `the event does not match any trigger of job "${jobName}"` }];
  }
  const out: DispatchOutcome[] = [];
  // A batch that cannot take the upload yet keeps the event unacknowledged, after the other jobs had theirs.
  let wait: BatchWait | undefined;
  for (const route of routes) {
    try {
      out.push(await dispatchRoute(ctx, route, event));
    } catch (e) {
      if (!(e instanceof BatchWait)) throw e;
      wait ??= e;
    }
  }
  if (wait) throw wait;
  return out;
}

async function dispatchRoute(ctx: EngineContext, route: Route, event: BusEvent): Promise<DispatchOutcome> {
  const job = route.job.name;
  const context = runContext(route, event);
  if (!context.ok) return { kind: "rejected", job, reason: context.error.message };
  if (isBatchedRoute(route)) return joinBatch(ctx, route, event, context.context);
  const now = ctx.now();
  const id = newRunId(now, ctx.deps.randomBytes(10));
  const planned = newRunFor({ job, service: ctx.catalog.service, trigger: route.trigger, context: context.context, event }, id, ctx.deps.sha256);
  if (!planned.ok) return { kind: "rejected", job, reason: planned.error.message };
  const size = JSON.stringify(planned.run).length;
  if (size > MAX_NEW_RUN_CHARS) {
    return { kind: "rejected", job, reason: `the run this event asks for is ${size} characters of JSON, more than the ${MAX_NEW_RUN_CHARS} berth stores for a new run; the event carries oversized values` };
  }

  // Runs that supersede one another are ordered by their code (runs/position.ts).
  const superseding = route.job.concurrency.overlap === "supersede";
  const started = await startRun(ctx, superseding ? { ...planned.run, position: positionOf(route.trigger, context.context, event, now) } : planned.run);
  const admitted = started.run;
  if (!started.created) return { kind: "duplicate", job, runId: admitted.id, status: admitted.status };
  // Still awaiting its task: ECS kept throttling the launch for as long as this invocation could wait; the sweep or a redelivery re-sends it.
  const deferred = pendingLaunch(admitted) !== undefined;
  return {
    kind: "accepted",
    job,
    runId: admitted.id,
    status: admitted.status,
    ...(admitted.reason ? { reason: admitted.reason } : {}),
    ...(deferred ? { deferred: true } : {}),
  };
}

/**
 * A new run, as dispatch and a batch's hand-off make one: written first, QUEUED, under its idempotency key,
 * then admitted (which may launch it). A run already under the key (a redelivery, a repeated hand-off) is
 * resumed instead: only what a crash interrupted is done again.
 */
export async function startRun(ctx: EngineContext, newRun: NewRun): Promise<StartedRun> {
  const { run } = createRun(newRun, { decision: "queue" }, ctx.now(), ctx.policies[newRun.job]!);
  const created = await ctx.deps.store.createRun(run);
  if (!created.created) return { created: false, run: await resume(ctx, created.existing) };
  return { created: true, run: await admit(ctx, created.run, { announceQueued: true }) };
}

async function resume(ctx: EngineContext, run: Run): Promise<Run> {
  const next = decideResume(run, ctx.now(), ctx.deps.sweep?.relaunchAfterMs ?? DEFAULT_RELAUNCH_AFTER_MS);
  if (next.resume === "admit") return admit(ctx, run, { announceQueued: false });
  return (await execute(ctx, run, next.effects)) ?? run;
}
