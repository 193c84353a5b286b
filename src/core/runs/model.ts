/**
 * The run record. Runs are immutable values: every core function returns a
 * new run with `version` increased, and the store writes it on the condition
 * that the stored version is still the one that was read. All times are epoch
 * milliseconds.
 */
import type { Job, Launch, RetryPolicy, TriggerKind } from "../catalog/types.ts";
import type { Position } from "./position.ts";
import { isActive, isTerminal, type AttemptStatus, type RunStatus } from "./status.ts";

export type { AttemptStatus, RunStatus } from "./status.ts";

/** Statuses a run can be created in; every later status is reached through the transition table. */
export type InitialStatus = Extract<RunStatus, "QUEUED" | "STARTING" | "SKIPPED">;

/** Which half of the job's launch an attempt used: the launch itself, or its `fallback` (Fargate Spot → Fargate). */
export type LaunchChoice = "primary" | "fallback";

/**
 * Why an attempt failed. The first five can appear in `retry.on`
 * (`exit:any` there matches every non-zero `exit:<code>`); `timeout`,
 * `cancelled` and `unknown` are never retried.
 */
export type FailureClass =
  | "spot-interruption"
  | "failed-to-start"
  | "capacity"
  | `exit:${number}`
  | "timeout"
  | "cancelled"
  /** ECS refused the request (invalid parameters, access denied): retrying cannot help. */
  | "invalid"
  | "unknown";

export interface RunTrigger {
  readonly kind: TriggerKind;
  /** One human line: `s3://media/incoming/a.png`, `acme/web@main 1a2b3c4`. */
  readonly summary: string;
  readonly idempotencyKey: string;
}

export interface Attempt {
  /** 1-based. */
  readonly number: number;
  /** RunTask clientToken: a re-sent launch of the same attempt starts no second task. */
  readonly clientToken: string;
  readonly status: AttemptStatus;
  readonly taskArn?: string;
  readonly launch: LaunchChoice;
  /** The ECS task `version` of the last event applied; older or equal events change nothing. */
  readonly lastEventVersion?: number;
  /** When the launch was requested. */
  readonly requestedAt: number;
  /**
   * Until when the invocation sending this attempt's unanswered launch may still be sending it:
   * set when the sweep takes a launch over, and to the moment a sender gives up (ECS throttled it
   * for as long as the sender could wait). Nobody else sends it before then (runs/sweep.ts
   * `launchIsFree`). Absent: the writer that began the attempt holds it for the sweep's
   * `relaunchAfterMs` from `requestedAt`.
   */
  readonly heldUntil?: number;
  readonly startedAt?: number;
  readonly stoppedAt?: number;
  readonly stopCode?: string;
  readonly stoppedReason?: string;
  readonly exitCode?: number;
  readonly failureClass?: FailureClass;
}

export interface Run {
  /** ULID (see ../ids.ts). */
  readonly id: string;
  readonly job: string;
  /** The catalog's `service`; published with every run state change. */
  readonly service: string;
  readonly status: RunStatus;
  readonly trigger: RunTrigger;
  /** Template context (`s3.key`, `git.sha`, …) the attempts were rendered from. */
  readonly context: Readonly<Record<string, string>>;
  readonly params?: Readonly<Record<string, string>>;
  /** Where the run's code stands among its job's runs (`overlap: supersede`, runs/position.ts). */
  readonly position?: Position;
  readonly attempts: readonly Attempt[];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly queuedAt?: number;
  /** When the first attempt was requested. */
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly reason?: string;
  readonly exitCode?: number;
  /** RETRY_WAIT: when the next attempt is due, and which launch it uses. */
  readonly nextAttemptAt?: number;
  readonly nextLaunch?: LaunchChoice;
  /** Deadline of the current attempt. */
  readonly timeoutAt?: number;
  /** Last time the sweep confirmed the task with ECS (DescribeTasks) without news. */
  readonly checkedAt?: number;
  /**
   * The final state was published (`Berth Run State Change`). Until then an
   * ended run stays listed for the sweep, which publishes it again: a crash
   * between storing the end and publishing it must not lose the event that
   * chained jobs wait for.
   */
  readonly announced?: boolean;
  /** Optimistic-concurrency counter: strictly increases with every change. */
  readonly version: number;
}

/** What the run model needs to know about the run's job. */
export interface RunPolicy {
  readonly retry: RetryPolicy;
  /** Seconds per attempt; absent: no timeout. */
  readonly timeout?: number;
  /** Absent for deploy actions. */
  readonly launch?: Launch;
  /**
   * Names of the task's essential containers, when known: the engine reads
   * them from the task's definition revision (engine/essentials.ts). ECS task
   * events do not say which containers are essential; without this list every
   * container decides the outcome, and one with no exit code fails it (see
   * task-state.ts).
   */
  readonly essentialContainers?: readonly string[];
}

/** A run whose job left the catalog finishes what it started, once: no retries, no timeout. */
export const RETIRED_JOB_POLICY: RunPolicy = Object.freeze({ retry: { attempts: 1, backoff: { initial: 0, factor: 1, max: 0 }, on: [] } });

export function policyOf(policies: Readonly<Record<string, RunPolicy>>, job: string): RunPolicy {
  return Object.hasOwn(policies, job) ? (policies[job] as RunPolicy) : RETIRED_JOB_POLICY;
}

export function runPolicyFor(job: Job): RunPolicy {
  return {
    retry: job.retry,
    ...(job.timeout !== undefined ? { timeout: job.timeout } : {}),
    ...(job.action.kind === "run" ? { launch: job.action.launch } : {}),
  };
}

/** Runs the sweep must look at: not ended, or ended but not yet announced. Stores index exactly these. */
export function isOpen(run: Run): boolean {
  return !isTerminal(run.status) || run.announced !== true;
}

export function currentAttempt(run: Run): Attempt | undefined {
  return run.attempts[run.attempts.length - 1];
}

/** The attempt's launch was asked for and no task is known yet: RunTask has not answered (throttled, or a crash came in between). */
export function awaitsTask(attempt: Attempt): boolean {
  return attempt.status === "STARTING" && attempt.taskArn === undefined;
}

/** The current attempt, when it still awaits its task; re-sending its launch (same clientToken) starts no second one. */
export function pendingLaunch(run: Run): Attempt | undefined {
  const attempt = currentAttempt(run);
  return attempt !== undefined && isActive(run.status) && awaitsTask(attempt) ? attempt : undefined;
}

/** Returns a copy of `run` with attempt `number` replaced by `update(attempt)`. */
export function withAttempt(run: Run, number: number, update: (attempt: Attempt) => Attempt): Run {
  return { ...run, attempts: run.attempts.map((a) => (a.number === number ? update(a) : a)) };
}
