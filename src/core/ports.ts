/**
 * Ports: what the core needs from the world. The AWS shell implements them
 * with ECS, DynamoDB and EventBridge; the local shell with child processes,
 * SQLite and the local bus. Every adapter of a port passes the same contract
 * test suite (test/contract/).
 */
import type { RunStateChangeDetail } from "./runs/effects.ts";
import type { RunTaskRequest } from "./ecs/types.ts";
import type { DeployPlan } from "./ecs/deploy-plan.ts";
import type { EcsTaskState } from "./events/ecs-task.ts";
import type { DeploymentChange } from "./events/ecs-deployment.ts";
import type { LaunchOutcome } from "./runs/lifecycle.ts";
import type { Run } from "./runs/model.ts";
import type { RunStatus } from "./runs/status.ts";
import { ValidationError } from "./errors.ts";

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

// Batching's ports (a batch's records, its manifest, the timer that closes its window) are defined beside the
// protocol that uses them: src/core/batch/port.ts.
export type { BatchStore, BatchTimer, ManifestWriter } from "./batch/port.ts";

// What a launch answers is part of the run model, which records it (runs/lifecycle.ts `launchResultOf`).
export type { LaunchFailure, LaunchOutcome } from "./runs/lifecycle.ts";

export interface TaskLauncher {
  /** RunTask with the request's clientToken: sending the same request twice starts one task. */
  runTask(request: RunTaskRequest): Promise<LaunchOutcome>;
  /** StopTask; stopping a task that already stopped is not an error. `reason` ≤ 255 characters. */
  stopTask(cluster: string, taskArn: string, reason: string): Promise<void>;
  /**
   * DescribeTasks. Tasks ECS no longer knows (stopped more than about an hour
   * ago, or never existed) come back in `missing`.
   */
  describeTasks(cluster: string, taskArns: readonly string[]): Promise<{ readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] }>;
  /**
   * The names of a task definition revision's essential containers (DescribeTaskDefinition), which
   * decide a stopped task's result (runs/task-state.ts). A revision never changes, so an adapter asks
   * once per revision and keeps the answer. Undefined when it cannot be known (the revision is gone,
   * or the caller may not read it): every container then decides. Throws TransientError when ECS
   * could not answer now. Runtimes whose tasks have one container leave it out.
   */
  essentialContainers?(taskDefinitionArn: string): Promise<readonly string[] | undefined>;
}

/**
 * Rolls out a new version of a service for a deploy action. Progress is
 * reported like a task's: the deployment is a pseudo task (its ARN is
 * returned here) whose `ECS Task State Change`-shaped events carry the run's
 * `startedBy` — RUNNING while it rolls out, STOPPED with exit code 0 once the
 * new version is healthy and serving, non-zero when it failed (and was rolled
 * back). Tracking, retries and timeouts then apply unchanged.
 */
export interface ServiceDeployer {
  /** Starts the deployment; the same `clientToken` twice starts one deployment. */
  deploy(plan: DeployPlan, id: { readonly runId: string; readonly attempt: number; readonly clientToken: string; readonly startedBy: string }): Promise<LaunchOutcome>;
  /** Abandons a deployment in progress (timeout, cancel): the previous version keeps serving. */
  stop(taskArn: string, reason: string): Promise<void>;
  describe(taskArns: readonly string[]): Promise<{ readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] }>;
  /**
   * The pseudo task an `ECS Deployment State Change` event is about, as the
   * service reports it now (so a late or repeated event cannot move a run
   * backwards), with the run's `startedBy`; `undefined` when the deployment is
   * not one this deployer started. Deployers that report their deployments as
   * pseudo task events themselves (the local one) leave it out.
   */
  deploymentTask?(change: DeploymentChange): Promise<EcsTaskState | undefined>;
}

export interface Publisher {
  /** PutEvents `Berth Run State Change` (batches of ≤ 10, failed entries retried); throws only when entries could not be delivered. */
  publish(details: readonly RunStateChangeDetail[]): Promise<void>;
}

export type CreateRunResult = { readonly created: true; readonly run: Run } | { readonly created: false; readonly existing: Run };

export type UpdateRunResult = { readonly ok: true; readonly run: Run } | { readonly ok: false; readonly current: Run | undefined };

export interface RunQuery {
  readonly job?: string;
  readonly status?: RunStatus;
  /** Default 50, at most 1000. */
  readonly limit?: number;
  /** Only runs whose id sorts before this (ids sort by creation time): for paging. */
  readonly before?: string;
}

export const DEFAULT_RUN_QUERY_LIMIT = 50;
export const MAX_RUN_QUERY_LIMIT = 1000;

/** The number of runs a query asks for, after defaults; every RunStore adapter uses it. */
export function runQueryLimit(query: RunQuery): number {
  const limit = query.limit ?? DEFAULT_RUN_QUERY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUN_QUERY_LIMIT) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_RUN_QUERY_LIMIT}, got ${limit}`, { field: "limit" });
  }
  return limit;
}

export interface RunStore {
  /**
   * Writes a new run unless a run with the same `trigger.idempotencyKey`
   * exists; then returns that run and writes nothing. Atomic.
   */
  createRun(run: Run): Promise<CreateRunResult>;
  getRun(id: string): Promise<Run | undefined>;
  /**
   * Replaces the run if the stored `version` is still `expectedVersion`
   * (the caller's copy has `version` > expectedVersion). Otherwise writes
   * nothing and returns the current record.
   */
  updateRun(run: Run, expectedVersion: number): Promise<UpdateRunResult>;
  /** Newest first. */
  listRuns(query: RunQuery): Promise<readonly Run[]>;
  /** Open runs (runs/model.ts `isOpen`: not ended, or ended but not yet announced), oldest first: what the sweep looks at. */
  listOpenRuns(): Promise<readonly Run[]>;
  /**
   * QUEUED runs of `job`, oldest first (by id, which sorts by creation time), at most
   * `limit` (an integer from 1 to MAX_RUN_QUERY_LIMIT, else ValidationError): admission
   * only looks at the head of the queue, however long it is. The listing may lag
   * (DynamoDB reads an eventually consistent index): a run queued a moment ago can be
   * missing from it, and one that just left the queue can still be in it.
   */
  listQueuedRuns(job: string, limit: number): Promise<readonly Run[]>;
  /**
   * Takes one of `max` concurrency slots of `job` for `runId`. Atomic: of
   * two callers racing for the last slot exactly one gets it. Taking a slot
   * the run already holds succeeds (idempotent).
   */
  acquireSlot(job: string, runId: string, max: number, now: number): Promise<boolean>;
  /** Frees the run's slot; freeing a slot not held is a no-op. */
  releaseSlot(job: string, runId: string): Promise<void>;
  /** Runs holding slots of `job`, with when they took them (epoch ms): the sweep frees slots of ended or missing runs. */
  slotHolders(job: string): Promise<readonly { readonly runId: string; readonly since: number }[]>;
}
