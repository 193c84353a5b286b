/**
 * What every flow of the engine shares: the ports, the catalog's run
 * policies, the clock, and the steps flows ask of one another through this
 * context (cancel a run, launch an attempt, drain a queue, reconcile quiet
 * tasks). engine.ts wires them, so flow files never import each other in a circle.
 */
import type { BatchFlow, FaultPoint } from "../batch/flow.ts";
import type { Catalog } from "../catalog/types.ts";
import type { Router } from "../router.ts";
import type { BatchStore, BatchTimer, Clock, ManifestWriter, Publisher, RunStore, ServiceDeployer, TaskLauncher } from "../ports.ts";
import type { NewRun } from "../runs/lifecycle.ts";
import type { Run, RunPolicy, Sha256, SweepOptions } from "../runs/index.ts";

/** What batching uploads needs (batch.ts): a catalog with a `batch:` job cannot be composed without it. */
export interface BatchDeps {
  readonly store: BatchStore;
  readonly manifests: ManifestWriter;
  readonly timer: BatchTimer;
  /** Where the manifests of jobs without their own `batch.manifest` go (the stage's manifest bucket). */
  readonly stageManifestBucket?: string;
  /** How long a closed batch waits for a reserved slot's record before tombstoning it (batch/decide.ts DEFAULT_SLOT_GRACE_MS). */
  readonly graceMs?: number;
  /** Called after each write of the batch protocol (batch/flow.ts): whatever it throws ends the flow there, as a crash would. */
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

export interface EngineDeps {
  readonly router: Router;
  readonly store: RunStore;
  readonly launcher: TaskLauncher;
  readonly publisher: Publisher;
  /** For deploy actions; without one, deploy runs fail with a message saying so. */
  readonly deployer?: ServiceDeployer;
  readonly clock: Clock;
  /** Cryptographic randomness for run ids. */
  readonly randomBytes: (n: number) => Uint8Array;
  /** SHA-256, for idempotency keys too long to store whole. */
  readonly sha256: Sha256;
  readonly sweep?: SweepOptions;
  /** Slots held by runs that do not exist for this long are freed by the sweep (a crash between taking the slot and writing the run). */
  readonly orphanSlotAfterMs?: number;
  /** Required when the catalog batches uploads (a job with `batch:`). */
  readonly batches?: BatchDeps;
}

/** A quiet task to ask ECS (or the deployer) about. */
export interface QuietTask {
  readonly run: Run;
  readonly taskArn: string;
}

export interface EngineContext {
  readonly deps: EngineDeps;
  readonly catalog: Catalog;
  readonly policies: Readonly<Record<string, RunPolicy>>;
  now(): number;
  policyOf(run: Run): RunPolicy;
  cancel(runId: string, reason: string): Promise<Run | undefined>;
  /** Ends a run a newer one supersedes (`overlap: supersede`), without draining the queue. */
  supersede(runId: string, reason: string): Promise<Run | undefined>;
  /** Sends the launch of attempt `attempt` and records the answer; returns the run as stored last. */
  launch(run: Run, attempt: number): Promise<Run>;
  /** Starts as many queued runs of `job` as free slots allow, oldest first. */
  drainQueue(job: string): Promise<void>;
  /** Asks about quiet tasks and applies the answers; returns how many got one. */
  reconcile(tasks: readonly QuietTask[]): Promise<number>;
  /** Writes a new run under its idempotency key and admits it, or resumes the run already there (dispatch.ts `startRun`). */
  startRun(run: NewRun): Promise<StartedRun>;
  /** The batch protocol of each job with `batch:`, by job name (batch.ts); empty in a flow that never batches (track). */
  readonly batchFlows: ReadonlyMap<string, BatchFlow>;
}

/** A run `startRun` wrote (`created`), or the one already under its idempotency key, as stored last. */
export interface StartedRun {
  readonly created: boolean;
  readonly run: Run;
}

/** Deploy runs' pseudo tasks belong to the service deployer; every other task to the task launcher. */
export function deploysService(ctx: EngineContext, run: Run | undefined): boolean {
  return run !== undefined && ctx.catalog.jobs[run.job]?.action.kind === "deploy";
}
