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
 * The AWS handlers and the local runtime both drive this class.
 */
import type { Catalog } from "../catalog/types.ts";
import { policyOf, runPolicyFor, type Run, type SweepOptions } from "../runs/index.ts";
import { drainQueue } from "./admission.ts";
import { cancel } from "./cancel.ts";
import type { EngineContext, EngineDeps } from "./context.ts";
import { dispatch, type DispatchOutcome } from "./dispatch.ts";
import { launch } from "./launch.ts";
import { reconcile } from "./reconcile.ts";
import { sweep, type SweepReport } from "./sweep.ts";
import { track, type TrackOutcome } from "./track.ts";

export type { EngineDeps } from "./context.ts";
export type { DispatchOutcome } from "./dispatch.ts";
export type { TrackOutcome } from "./track.ts";
export type { SweepReport } from "./sweep.ts";

export class Engine {
  readonly #ctx: EngineContext;

  constructor(deps: EngineDeps) {
    const catalog = deps.router.catalog;
    const policies = Object.fromEntries(Object.values(catalog.jobs).map((j) => [j.name, runPolicyFor(j)]));
    const ctx: EngineContext = {
      deps,
      catalog,
      policies,
      now: () => deps.clock.now(),
      policyOf: (run) => policyOf(policies, run.job),
      cancel: (runId, reason) => cancel(ctx, runId, reason),
      launch: (run, attempt) => launch(ctx, run, attempt),
      drainQueue: (job) => drainQueue(ctx, job),
      reconcile: (quiet) => reconcile(ctx, quiet),
    };
    this.#ctx = ctx;
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

  /** Timeouts, due retries, interrupted launches, queued runs, quiet tasks, leaked slots. Safe to run concurrently. */
  sweep(overrides: SweepOptions = {}): Promise<SweepReport> {
    return sweep(this.#ctx, overrides);
  }
}
