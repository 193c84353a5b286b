/**
 * The engine runs berth's flows over the ports, one flow per file: dispatch
 * (event → run → task), track (task events → run), sweep, cancel. Each flow
 * loads what it needs, lets the pure run model (../runs) decide, and applies
 * the decision (apply.ts: store first, then effects), so a crash between any
 * two side effects is repaired by a redelivery or the next sweep:
 *
 *   1. the run is written first, QUEUED, under its idempotency key
 *      (a duplicate delivery finds it and resumes, never launches twice);
 *   2. admission takes a concurrency slot atomically, then STARTING is stored;
 *   3. RunTask is sent with the attempt's clientToken (a re-send after a
 *      crash starts no second task); the task ARN is stored;
 *   4. run state changes are published after they are stored.
 *
 * An upload for a job with `batch:` joins the job's batch instead (batch.ts);
 * the batch's hand-off writes its manifest and starts its run by steps 1–4.
 *
 * The local runtime and the CLI drive this class. A Lambda function runs one
 * flow: it takes that flow alone (`dispatcher`, `taskEventRecorder`,
 * `sweeper`, `batchSettler`), so its bundle holds that flow and what it calls, not the others.
 */
import type { BatchFlow, SettleOutcome } from "../batch/flow.ts";
import type { Catalog } from "../catalog/types.ts";
import { policyOf, runPolicyFor, type Run, type SweepOptions } from "../runs/index.ts";
import { drainQueue } from "./admission.ts";
import { batchFlowsFor, settleJobBatch } from "./batch.ts";
import { cancel, supersede } from "./cancel.ts";
import type { EngineContext, EngineDeps } from "./context.ts";
import { dispatch, startRun, type DispatchOutcome } from "./dispatch.ts";
import { launch } from "./launch.ts";
import { reconcile } from "./reconcile.ts";
import { sweep, type SweepReport } from "./sweep.ts";
import { track, type TrackOutcome } from "./track.ts";

export type { BatchDeps, EngineDeps } from "./context.ts";
export type { DispatchOutcome } from "./dispatch.ts";
export type { BatchedOutcome, BatchSweepReport } from "./batch.ts";
export type { SettleOutcome } from "../batch/flow.ts";
export type { TrackOutcome } from "./track.ts";
export type { SweepReport } from "./sweep.ts";

/**
 * What the flows share over `deps`: the catalog's run policies and the steps flows ask of one another. With
 * `batching` (every flow but track, which never meets a batch), the catalog's batching jobs get their batch
 * protocol, or composition fails with a ConfigurationError naming them (batch.ts `batchFlowsFor`). Exported
 * for flows called with a context of their own (batch.ts `settleBatches`).
 */
export function engineContext(deps: EngineDeps, batching = true): EngineContext {
  const catalog = deps.router.catalog;
  const policies = Object.fromEntries(Object.values(catalog.jobs).map((j) => [j.name, runPolicyFor(j)]));
  const batchFlows = new Map<string, BatchFlow>();
  const ctx: EngineContext = {
    deps,
    catalog,
    policies,
    now: () => deps.clock.now(),
    policyOf: (run) => policyOf(policies, run.job),
    cancel: (runId, reason) => cancel(ctx, runId, reason),
    supersede: (runId, reason) => supersede(ctx, runId, reason),
    launch: (run, attempt) => launch(ctx, run, attempt),
    drainQueue: (job) => drainQueue(ctx, job),
    reconcile: (quiet) => reconcile(ctx, quiet),
    startRun: (run) => startRun(ctx, run),
    batchFlows,
  };
  if (batching) for (const [job, flow] of batchFlowsFor(ctx)) batchFlows.set(job, flow);
  return ctx;
}

/** `Engine.dispatch` on its own. */
export function dispatcher(deps: EngineDeps): (input: unknown, jobName?: string) => Promise<DispatchOutcome[]> {
  const ctx = engineContext(deps);
  return (input, jobName) => dispatch(ctx, input, jobName);
}

/** `Engine.recordTaskEvent` on its own. */
export function taskEventRecorder(deps: EngineDeps): (input: unknown) => Promise<TrackOutcome> {
  const ctx = engineContext(deps, false);
  return (input) => track(ctx, input);
}

/** `Engine.sweep` on its own. */
export function sweeper(deps: EngineDeps): (overrides?: SweepOptions) => Promise<SweepReport> {
  const ctx = engineContext(deps);
  return (overrides = {}) => sweep(ctx, overrides);
}

/** `Engine.settleBatch` on its own: the batch timer's reminder for a job. */
export function batchSettler(deps: EngineDeps): (job: string) => Promise<SettleOutcome> {
  const ctx = engineContext(deps);
  return (job) => settleJobBatch(ctx, job);
}

export class Engine {
  readonly #ctx: EngineContext;

  constructor(deps: EngineDeps) {
    this.#ctx = engineContext(deps);
  }

  get catalog(): Catalog {
    return this.#ctx.catalog;
  }

  /** An event for the catalog (local bus), or for one job (`jobName`: on AWS each rule's target names its job). One outcome per job fired. */
  dispatch(input: unknown, jobName?: string): Promise<DispatchOutcome[]> {
    return dispatch(this.#ctx, input, jobName);
  }

  /** An `ECS Task State Change` event. */
  recordTaskEvent(input: unknown): Promise<TrackOutcome> {
    return track(this.#ctx, input);
  }

  /** Cancel a run: its task is stopped, its slot freed. Ending an ended run is a no-op. */
  cancel(runId: string, reason: string): Promise<Run | undefined> {
    return cancel(this.#ctx, runId, reason);
  }

  /**
   * Settles the job's batch (its timer's reminder): closes it when its window has passed or it is full, hands it
   * off once its slots are complete (manifest, run, admission and launch as any run), and asks the timer again
   * for what is left. A ValidationError for a job that does not batch.
   */
  settleBatch(job: string): Promise<SettleOutcome> {
    return settleJobBatch(this.#ctx, job);
  }

  /** Timeouts, due retries, interrupted launches, queued runs, quiet tasks, leaked slots. Safe to run concurrently. */
  sweep(overrides: SweepOptions = {}): Promise<SweepReport> {
    return sweep(this.#ctx, overrides);
  }
}
