/**
 * What ECS reports about a service deployment → the pseudo task state of
 * berth's deployment (ports.ts `ServiceDeployer`): the task-definition
 * revision berth registered for one attempt, reported like a task so that
 * tracking, retries and timeouts apply unchanged.
 *
 * ECS tells about a deployment in two places, and they say different things:
 * - DescribeServices `deployments[]` (API reference, Deployment): `status`
 *   PRIMARY (the most recent), ACTIVE (still has tasks, being replaced) or
 *   INACTIVE, and `rolloutState` IN_PROGRESS → COMPLETED once the service
 *   reaches a steady state, or FAILED when it cannot and the circuit breaker
 *   is on. A deployment is listed only until it has been replaced.
 * - the service deployment history (ListServiceDeployments,
 *   DescribeServiceDeployments; developer guide, "View service history using
 *   Amazon ECS service deployments"): `status` PENDING, IN_PROGRESS,
 *   STOP_REQUESTED, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS (ongoing) and
 *   SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED (completed),
 *   with `deploymentCircuitBreaker.status` and `alarms.status` TRIGGERED when
 *   those detected the failure. It keeps 90 days, and it is the only place
 *   that tells a rollback the circuit breaker triggered from one someone asked
 *   for (StopServiceDeployment ROLLBACK: "stopped by berth").
 *
 * The mapping: in progress → RUNNING, `version` 1; ended → STOPPED, version 2,
 * so an ended state always outranks progress however late it arrives:
 * completed → exit code 0 (EssentialContainerExited); failed → exit code 1
 * with ECS's reason and whether the previous revision was rolled back to;
 * stopped on request → stop code UserInitiated (runs/task-state.ts
 * `classifyStop`: CANCELLED). The ended states name nothing that differs
 * between the two sources, so the listed and the historic view of a
 * completed deployment are the same state.
 */
import type { EcsTaskState } from "../events/ecs-task.ts";

/** DescribeServices `deployments[].rolloutState` (API reference, DeploymentRolloutState). */
export const ROLLOUT_STATE = { inProgress: "IN_PROGRESS", completed: "COMPLETED", failed: "FAILED" } as const;

/** DescribeServices `deployments[].status`. */
export const LISTED_DEPLOYMENT_STATUS = { primary: "PRIMARY", active: "ACTIVE", inactive: "INACTIVE" } as const;

/** ServiceDeployment `status` (API reference, ServiceDeploymentStatus). */
export const SERVICE_DEPLOYMENT_STATUS = {
  pending: "PENDING",
  inProgress: "IN_PROGRESS",
  stopRequested: "STOP_REQUESTED",
  rollbackRequested: "ROLLBACK_REQUESTED",
  rollbackInProgress: "ROLLBACK_IN_PROGRESS",
  successful: "SUCCESSFUL",
  stopped: "STOPPED",
  rollbackSuccessful: "ROLLBACK_SUCCESSFUL",
  rollbackFailed: "ROLLBACK_FAILED",
} as const;

/** ServiceDeployment `deploymentCircuitBreaker.status` / `alarms.status` (ServiceDeploymentRollbackMonitorsStatus). */
export const ROLLBACK_MONITOR_STATUS = { triggered: "TRIGGERED", monitoring: "MONITORING", monitoringComplete: "MONITORING_COMPLETE", disabled: "DISABLED" } as const;

/** The statuses a deployment of the history is still going in: the ones StopServiceDeployment moves to ROLLBACK_REQUESTED. */
export const STOPPABLE_STATUSES: readonly string[] = [SERVICE_DEPLOYMENT_STATUS.pending, SERVICE_DEPLOYMENT_STATUS.inProgress];

/** A DescribeServices deployment, the fields read. Times in epoch milliseconds. */
export interface ListedDeployment {
  readonly id: string;
  readonly status?: string;
  readonly taskDefinition?: string;
  readonly rolloutState?: string;
  readonly rolloutStateReason?: string;
  readonly createdAt?: number;
}

/** A DescribeServiceDeployments service deployment, the fields read. */
export interface HistoricDeployment {
  readonly status?: string;
  readonly statusReason?: string;
  readonly circuitBreakerStatus?: string;
  readonly alarmsStatus?: string;
  readonly rollbackReason?: string;
  readonly createdAt?: number;
}

/** Whose deployment it is: the revision berth registered, the run's startedBy, the container the deploy changes. */
export interface DeploymentOwner {
  readonly taskArn: string;
  readonly startedBy?: string;
  readonly container: string;
}

/**
 * What the listed deployments say about the revision's deployment:
 * - `conclusive`: the listed deployment alone gives its state (completed, or rolling out as the service's newest);
 * - `history`: the history must be read — the revision is not listed, or the listed deployment failed or was
 *   replaced before it completed (only the history tells why), or it may be a later deployment of the same
 *   revision (a rollback to it), in which case `deployment` is absent and the listed one must not be used.
 */
export type ListedReading =
  | { readonly kind: "conclusive"; readonly deployment: ListedDeployment }
  | { readonly kind: "history"; readonly deployment?: ListedDeployment };

/** `arn:…:task-definition/web:12` → family `web`, revision 12. */
export function revisionOf(taskDefinitionArn: string): { readonly family: string; readonly revision: number } | undefined {
  const m = /^arn:[^:]+:ecs:[^:]*:\d*:task-definition\/([A-Za-z0-9_-]{1,255}):([1-9]\d{0,9})$/.exec(taskDefinitionArn);
  return m ? { family: m[1] as string, revision: Number(m[2]) } : undefined;
}

/** True when `other` is certainly a revision registered before `revision` (same family, lower number). */
function registeredBefore(other: string | undefined, revision: { family: string; revision: number }): boolean {
  const o = other === undefined ? undefined : revisionOf(other);
  return o !== undefined && o.family === revision.family && o.revision < revision.revision;
}

/**
 * Reads the listed deployments for berth's deployment of `revisionArn`: the first one created with that
 * task definition. A deployment of it created after a deployment of a newer revision is a later deployment
 * of the same revision (the circuit breaker rolling back to it, a forced redeploy), not berth's: berth's
 * UpdateService came right after the revision was registered, before any newer revision existed.
 */
export function readListedDeployments(revisionArn: string, deployments: readonly ListedDeployment[]): ListedReading {
  const mine = deployments.filter((d) => d.taskDefinition === revisionArn);
  if (mine.length === 0) return { kind: "history" };
  const first = mine.reduce((a, b) => ((b.createdAt ?? Infinity) < (a.createdAt ?? Infinity) ? b : a));
  const revision = revisionOf(revisionArn);
  const laterDeployment =
    first.createdAt === undefined ||
    revision === undefined ||
    deployments.some((d) => d.taskDefinition !== revisionArn && (d.createdAt === undefined || d.createdAt < first.createdAt!) && !registeredBefore(d.taskDefinition, revision));
  if (laterDeployment) return { kind: "history" };
  const conclusive =
    first.rolloutState === ROLLOUT_STATE.completed || (first.rolloutState === ROLLOUT_STATE.inProgress && first.status === LISTED_DEPLOYMENT_STATUS.primary);
  return conclusive ? { kind: "conclusive", deployment: first } : { kind: "history", deployment: first };
}

const COMPLETED_REASON = "the service reached a steady state on this revision: it serves the new version";

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}

type Ending =
  | { readonly kind: "completed" }
  | { readonly kind: "failed"; readonly reason: string }
  | { readonly kind: "stopped"; readonly reason: string };

const triggered = (h: HistoricDeployment) =>
  h.circuitBreakerStatus === ROLLBACK_MONITOR_STATUS.triggered || h.alarmsStatus === ROLLBACK_MONITOR_STATUS.triggered;

function ecsReason(listed: ListedDeployment | undefined, history: HistoricDeployment | undefined): string {
  const said = listed?.rolloutStateReason?.trim() || history?.statusReason?.trim() || history?.rollbackReason?.trim();
  return said ? said.replace(/\.$/, "") : "the deployment failed";
}

/** How the history says the deployment ended; undefined while it is going (or in a status ECS may add later). */
function endingFromHistory(history: HistoricDeployment, listed: ListedDeployment | undefined): Ending | undefined {
  const S = SERVICE_DEPLOYMENT_STATUS;
  const byMonitor = triggered(history);
  const failed = (outcome: string): Ending => ({ kind: "failed", reason: `${ecsReason(listed, history)}; ${outcome}` });
  const stopped = (outcome: string): Ending => ({ kind: "stopped", reason: `stopped before it completed; ${outcome}` });
  switch (history.status) {
    case S.successful:
      return { kind: "completed" };
    case S.stopRequested:
    case S.stopped:
      return byMonitor ? failed("not rolled back (the circuit breaker's rollback is off): the service keeps what runs") : stopped("not rolled back");
    case S.rollbackRequested:
    case S.rollbackInProgress:
    case S.rollbackSuccessful:
      return byMonitor ? failed("the circuit breaker rolled back to the previous revision, which keeps serving") : stopped("rolled back to the previous revision, which keeps serving");
    case S.rollbackFailed:
      return byMonitor ? failed("the circuit breaker's rollback to the previous revision failed") : stopped("the rollback to the previous revision failed");
    default:
      return undefined;
  }
}

function endingFromListed(listed: ListedDeployment, history: HistoricDeployment | undefined): Ending | undefined {
  if (listed.rolloutState === ROLLOUT_STATE.completed) return { kind: "completed" };
  if (listed.rolloutState === ROLLOUT_STATE.failed) {
    const unknown = history === undefined ? "ECS has no service deployment history of it" : "its service deployment had not said so yet";
    return { kind: "failed", reason: `${ecsReason(listed, history)}; whether it was rolled back is unknown (${unknown})` };
  }
  return undefined;
}

/**
 * The pseudo task state of berth's deployment from what ECS reports of it: the listed deployment
 * (DescribeServices), the history's (DescribeServiceDeployments), or both. The history decides an ending
 * when it has one (it alone tells why); undefined when ECS reports neither.
 */
export function deploymentTaskState(
  owner: DeploymentOwner,
  seen: { readonly listed?: ListedDeployment; readonly history?: HistoricDeployment },
): EcsTaskState | undefined {
  const { listed, history } = seen;
  if (listed === undefined && history === undefined) return undefined;
  const ending = (history !== undefined ? endingFromHistory(history, listed) : undefined) ?? (listed !== undefined ? endingFromListed(listed, history) : undefined);
  const startedAt = iso(listed?.createdAt ?? history?.createdAt);
  const base = {
    taskArn: owner.taskArn,
    ...(owner.startedBy !== undefined ? { startedBy: owner.startedBy } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
  };
  if (ending === undefined) {
    return { ...base, lastStatus: "RUNNING", desiredStatus: "RUNNING", version: 1, containers: [{ name: owner.container, lastStatus: "RUNNING" }] };
  }
  const ended = { ...base, lastStatus: "STOPPED", desiredStatus: "STOPPED", version: 2 };
  switch (ending.kind) {
    case "completed":
      return { ...ended, stopCode: "EssentialContainerExited", stoppedReason: COMPLETED_REASON, containers: [{ name: owner.container, lastStatus: "STOPPED", exitCode: 0 }] };
    case "failed":
      return { ...ended, stopCode: "EssentialContainerExited", stoppedReason: ending.reason, containers: [{ name: owner.container, lastStatus: "STOPPED", exitCode: 1 }] };
    case "stopped":
      return { ...ended, stopCode: "UserInitiated", stoppedReason: ending.reason, containers: [{ name: owner.container, lastStatus: "STOPPED" }] };
  }
}
