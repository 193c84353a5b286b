/**
 * Effects: what the core asks the shells to do after the returned run has
 * been stored. The run is always written before its effects run, so a crash
 * in between leaves a record the sweep can finish from (a STARTING attempt
 * without a task ARN is launched again with the same clientToken).
 */
import type { LaunchChoice, Run } from "./model.ts";
import type { Position } from "./position.ts";
import type { RunStatus } from "./status.ts";

/** The detail of a `Berth Run State Change` event: a run as it is published. */
export interface RunStateChangeDetail {
  readonly service: string;
  readonly job: string;
  readonly runId: string;
  readonly attempt: number;
  readonly status: RunStatus;
  readonly reason?: string;
  readonly taskArn?: string;
  readonly exitCode?: number;
  readonly startedAt?: string;
  readonly stoppedAt?: string;
  readonly trigger: { readonly kind: string; readonly summary: string };
  /** The push the run carries (`git.*` of its context, without the prefix): jobs chained after it read them. */
  readonly git?: Readonly<Record<string, string>>;
  /** Where the run's code stands (runs/position.ts), for chained jobs that supersede one another. */
  readonly position?: Position;
}

export type Effect =
  /** RunTask (or the local executor) for one attempt. */
  | {
      readonly type: "launch";
      readonly runId: string;
      readonly attempt: number;
      readonly clientToken: string;
      readonly launch: LaunchChoice;
    }
  /** StopTask. */
  | { readonly type: "stop"; readonly runId: string; readonly taskArn: string; readonly reason: string }
  /** PutEvents `Berth Run State Change`. */
  | { readonly type: "publish"; readonly detail: RunStateChangeDetail }
  /** A concurrency slot of `job` may be free: admit its queued runs (see decideQueueDrain). */
  | { readonly type: "start-queued"; readonly job: string }
  /** No news from ECS for too long: DescribeTasks, then reconcileTask. */
  | { readonly type: "reconcile"; readonly runId: string; readonly taskArn: string };

export type EffectType = Effect["type"];

function gitOf(run: Run): { git?: Record<string, string> } {
  const entries = Object.entries(run.context).filter(([k, v]) => k.startsWith("git.") && v !== "");
  return entries.length > 0 ? { git: Object.fromEntries(entries.map(([k, v]) => [k.slice("git.".length), v])) } : {};
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** The `Berth Run State Change` event for the run as it is now. */
export function publishEffect(run: Run): Effect {
  const attempt = run.attempts[run.attempts.length - 1];
  const startedAt = iso(attempt?.startedAt ?? run.startedAt);
  const stoppedAt = iso(attempt?.stoppedAt ?? run.endedAt);
  const detail: RunStateChangeDetail = {
    service: run.service,
    job: run.job,
    runId: run.id,
    attempt: attempt?.number ?? 0,
    status: run.status,
    trigger: { kind: run.trigger.kind, summary: run.trigger.summary },
    ...(run.reason !== undefined ? { reason: run.reason } : {}),
    ...(attempt?.taskArn !== undefined ? { taskArn: attempt.taskArn } : {}),
    ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(stoppedAt !== undefined ? { stoppedAt } : {}),
    ...gitOf(run),
    ...(run.position !== undefined ? { position: run.position } : {}),
  };
  return { type: "publish", detail };
}
