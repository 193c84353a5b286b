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
 * The local runtime and the CLI drive this class. A Lambda function runs one
 * flow: it takes that flow alone (`dispatcher`, `taskEventRecorder`,
 * `sweeper`), so its bundle holds that flow and what it calls, not the others.
 */
import type { Catalog } from "../catalog/types.ts";
import { policyOf, runPolicyFor, type Run, type SweepOptions } from "../runs/index.ts";
import { drainQueue } from "./admission.ts";
import { cancel, supersede } from "./cancel.ts";
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

/** What the flows share over `deps`: the catalog's run policies and the steps flows ask of one another. */
function engineContext(deps: EngineDeps): EngineContext {
  const catalog = deps.router.catalog;
  const policies = Object.fromEntries(Object.values(catalog.jobs).map((j) => [j.name, runPolicyFor(j)]));
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
  };
  return ctx;
}

/** `Engine.dispatch` on its own. */
export function dispatcher(deps: EngineDeps): (input: unknown, jobName?: string) => Promise<DispatchOutcome[]> {
  const ctx = engineContext(deps);
  return (input, jobName) => dispatch(ctx, input, jobName);
}

/** `Engine.recordTaskEvent` on its own. */
export function taskEventRecorder(deps: EngineDeps): (input: unknown) => Promise<TrackOutcome> {
  const ctx = engineContext(deps);
  return (input) => track(ctx, input);
}

/** `Engine.sweep` on its own. */
export function sweeper(deps: EngineDeps): (overrides?: SweepOptions) => Promise<SweepReport> {
  const ctx = engineContext(deps);
  return (overrides = {}) => sweep(ctx, overrides);
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

  /** Timeouts, due retries, interrupted launches, queued runs, quiet tasks, leaked slots. Safe to run concurrently. */
  sweep(overrides: SweepOptions = {}): Promise<SweepReport> {
    return sweep(this.#ctx, overrides);
  }
}
