/**
 * Applying `ECS Task State Change` events (and DescribeTasks answers, which
 * have the same shape) to a run.
 *
 * ECS events arrive late, twice, and out of order. Each one is a full snapshot
 * of the task with a `version` that increases with every change, so an event
 * whose version is not above the last one applied to the attempt changes
 * nothing; the transition table then keeps task progress moving forward only.
 * Together they make the final run independent of arrival order. A
 * DescribeTasks answer is ECS's own view of now, so where it and the last
 * event's version disagree it wins (runs/sweep.ts `reconcileTask`): a forged
 * version cannot make the real task stale.
 *
 * Which containers decide the outcome: the event's container entries carry
 * name, exit code, status and reason, but not whether the container is
 * essential (that lives in the task definition). The engine looks the task
 * definition up (`TaskLauncher.essentialContainers`, once per revision) and
 * passes `policy.essentialContainers`: exactly those decide, and one without
 * an exit code fails the attempt. A sidecar that ECS stopped with SIGTERM (143)
 * after the essential container exited 0 does not fail the run. Without that
 * list (a runtime that cannot tell) every container decides, and one with no
 * exit code fails the attempt: "no exit code" is never success.
 *
 * Failure classes, from the stop code first (Task.stopCode, whose values are
 * TaskFailedToStart, EssentialContainerExited, UserInitiated,
 * ServiceSchedulerInitiated, SpotInterruption, TerminationNotice,
 * InfrastructureHealth), then the exit codes:
 * - SpotInterruption → spot-interruption; TerminationNotice → spot-interruption
 *   on Spot, capacity otherwise; InfrastructureHealth (ECS stopped the task
 *   because its host was unhealthy) → capacity: not the job's fault.
 * - TaskFailedToStart → invalid when `stoppedReason` names a cause no retry can
 *   fix (an image or secret that does not exist, access denied), else
 *   failed-to-start.
 * - UserInitiated → cancelled.
 * - EssentialContainerExited, or no stop code → the deciding exit code.
 * - any other code (ServiceSchedulerInitiated, or one berth does not know yet)
 *   → unknown, never retried, with the code in the reason.
 */
import type { EcsContainerState, EcsTaskState } from "../events/ecs-task.ts";
import { publishEffect, type Effect } from "./effects.ts";
import { settleRun } from "./attempts.ts";
import { currentAttempt, withAttempt, type Attempt, type FailureClass, type Run, type RunPolicy } from "./model.ts";
import { isActive, isTerminal, type AttemptStatus, canTransition } from "./status.ts";
import { touch, transition } from "./transitions.ts";

export type TaskStateOutcome =
  /** The run record changed: store it, then execute the effects. */
  | "updated"
  /** The attempt already applied this version. */
  | "duplicate"
  /** An older snapshot than the one applied, or a move backwards: ignored. */
  | "stale"
  /** No attempt of this run has (or can adopt) the task. */
  | "unknown-task";

export interface TaskStateResult {
  readonly run: Run;
  readonly effects: readonly Effect[];
  readonly outcome: TaskStateOutcome;
}

const PROGRESS: Readonly<Record<string, AttemptStatus>> = {
  PROVISIONING: "PROVISIONING",
  PENDING: "PENDING",
  ACTIVATING: "PENDING",
  RUNNING: "RUNNING",
};

/** Causes ECS reports (in stoppedReason or a container's reason) for tasks that never ran. */
const START_FAILURE =
  /\b(CannotPullContainerError|ResourceInitializationError|CannotStartContainerError|CannotCreateContainerError|CannotCreateVolumeError|CannotInspectContainerError|ContainerRuntimeError|ContainerRuntimeTimeoutError)\b|Task failed to start/;

/**
 * Start failures no retry can fix: the image or its tag does not exist, a
 * secret or parameter the task definition names does not exist, or the
 * execution role may not read them (ECS Developer Guide, "CannotPullContainer
 * task errors" and "Troubleshoot ResourceInitializationError errors"). A
 * timeout, a network error or a registry's rate limit is worth a retry.
 */
const UNFIXABLE_START =
  /\bnot found\b|\bnotfound\b|manifest unknown|does not exist|repository .*not exist|ResourceNotFoundException|ParameterNotFound|InvalidParameters?\b|invalid reference format|AccessDenied|access denied|not authorized|is not authorized|pull access denied/i;

/** Stop codes whose class does not come from the exit codes (see the header). */
const STOP_CODES_BY_EXIT = new Set(["EssentialContainerExited"]);

/** How much of a stop code berth did not recognise goes into the reason. */
const MAX_CODE_IN_REASON = 64;

export interface StopVerdict {
  readonly status: "SUCCEEDED" | "FAILED" | "CANCELLED";
  readonly failureClass?: FailureClass;
  readonly exitCode?: number;
  /** Why, when the stop code or the start failure says more than the class (an unknown code, an unfixable start). */
  readonly reason?: string;
}

/**
 * The exit code that decides the attempt: the first non-zero one among the
 * deciding containers (the essential ones when known, else all), 0 when all
 * of them exited 0, undefined when one of them has none or none decides.
 */
export function decidingExitCode(task: EcsTaskState, essentialContainers?: readonly string[]): number | undefined {
  const containers = task.containers ?? [];
  const deciding: readonly (EcsContainerState | undefined)[] =
    essentialContainers !== undefined ? essentialContainers.map((name) => containers.find((c) => c.name === name)) : containers;
  const failed = deciding.find((c) => c?.exitCode !== undefined && c.exitCode !== 0);
  if (failed?.exitCode !== undefined) return failed.exitCode;
  if (deciding.length === 0 || deciding.some((c) => c?.exitCode === undefined)) return undefined;
  return 0;
}

function startFailureText(task: EcsTaskState): string {
  return [task.stoppedReason ?? "", ...(task.containers ?? []).map((c) => c.reason ?? "")].join("\n");
}

export function classifyStop(task: EcsTaskState, essentialContainers?: readonly string[]): StopVerdict {
  const exitCode = decidingExitCode(task, essentialContainers);
  const withExit = exitCode !== undefined ? { exitCode } : {};
  const code = task.stopCode;
  if (code === "SpotInterruption") return { status: "FAILED", failureClass: "spot-interruption", ...withExit };
  if (code === "TerminationNotice") {
    // Without Spot, a termination notice means the host went away: not the job's fault, so a capacity problem.
    const spot = /spot/i.test(task.capacityProviderName ?? "");
    return { status: "FAILED", failureClass: spot ? "spot-interruption" : "capacity", ...withExit };
  }
  // ECS replaced the task because its infrastructure was unhealthy: like a host going away.
  if (code === "InfrastructureHealth") return { status: "FAILED", failureClass: "capacity", ...withExit };
  const text = startFailureText(task);
  if (code === "TaskFailedToStart" || START_FAILURE.test(text)) {
    if (UNFIXABLE_START.test(text)) return { status: "FAILED", failureClass: "invalid", ...withExit, reason: "the task cannot start until its definition or permissions change" };
    return { status: "FAILED", failureClass: "failed-to-start", ...withExit };
  }
  if (code === "UserInitiated") return { status: "CANCELLED", failureClass: "cancelled", ...withExit };
  if (code !== undefined && !STOP_CODES_BY_EXIT.has(code)) {
    return { status: "FAILED", failureClass: "unknown", ...withExit, reason: `ECS stopped the task with stop code ${code.slice(0, MAX_CODE_IN_REASON)}` };
  }

  if (exitCode === undefined) return { status: "FAILED", failureClass: "unknown", reason: "a deciding container reported no exit code" };
  if (exitCode !== 0) return { status: "FAILED", failureClass: `exit:${exitCode}`, exitCode };
  return { status: "SUCCEEDED", exitCode: 0 };
}

function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The attempt an event is about: the one holding its task ARN, or else the
 * current attempt when it has no ARN yet (the event overtook the write of the
 * RunTask response).
 */
function findAttempt(run: Run, taskArn: string): Attempt | undefined {
  const byArn = run.attempts.find((a) => a.taskArn === taskArn);
  if (byArn !== undefined) return byArn;
  const current = currentAttempt(run);
  return current !== undefined && current.taskArn === undefined ? current : undefined;
}

export function recordTaskState(run: Run, task: EcsTaskState, now: number, policy: RunPolicy): TaskStateResult {
  const attempt = findAttempt(run, task.taskArn);
  if (attempt === undefined) return { run, effects: [], outcome: "unknown-task" };
  const last = attempt.lastEventVersion;
  if (last !== undefined && task.version <= last) {
    return { run, effects: [], outcome: task.version === last ? "duplicate" : "stale" };
  }

  const seen: Attempt = {
    ...attempt,
    taskArn: task.taskArn,
    lastEventVersion: task.version,
    ...(parseTime(task.startedAt) !== undefined ? { startedAt: parseTime(task.startedAt) } : {}),
  };
  const isCurrent = attempt.number === currentAttempt(run)?.number;

  if (task.lastStatus === "STOPPED") {
    const stopped: Attempt = {
      ...seen,
      stoppedAt: parseTime(task.stoppedAt) ?? attempt.stoppedAt ?? now,
      ...(task.stopCode !== undefined ? { stopCode: task.stopCode } : {}),
      ...(task.stoppedReason !== undefined ? { stoppedReason: task.stoppedReason } : {}),
    };
    if (isTerminal(attempt.status)) {
      // berth already ended this attempt (timeout, cancel): keep its verdict, add what ECS knows.
      const exitCode = decidingExitCode(task, policy.essentialContainers);
      const merged = { ...stopped, ...(exitCode !== undefined && attempt.exitCode === undefined ? { exitCode } : {}) };
      return { run: touch(withAttempt(run, attempt.number, () => merged), now), effects: [], outcome: "updated" };
    }
    const verdict = classifyStop(task, policy.essentialContainers);
    const ended: Attempt = {
      ...stopped,
      ...(verdict.reason !== undefined ? { stoppedReason: [verdict.reason, task.stoppedReason].filter(Boolean).join(": ") } : {}),
      status: verdict.status,
      ...(verdict.failureClass !== undefined ? { failureClass: verdict.failureClass } : {}),
      ...(verdict.exitCode !== undefined ? { exitCode: verdict.exitCode } : {}),
    };
    const recorded = touch(withAttempt(run, attempt.number, () => ended), now);
    if (!isCurrent) return { run: recorded, effects: [], outcome: "updated" };
    const settled = settleRun(recorded, now, policy);
    // settleRun only fails on a table violation, which an active run with a just-ended attempt cannot hit.
    return settled.ok ? { run: settled.run, effects: settled.effects, outcome: "updated" } : { run: recorded, effects: [], outcome: "updated" };
  }

  if (isTerminal(attempt.status)) {
    // berth ended this attempt (timeout, cancel) and the task is still alive: typically a task
    // whose ARN was never stored, so no StopTask was sent. Stop it unless a stop is already under way.
    const effects: Effect[] =
      task.desiredStatus === "STOPPED"
        ? []
        : [{ type: "stop", runId: run.id, taskArn: task.taskArn, reason: `berth: run ${run.id} already ended ${attempt.status}` }];
    return { run: touch(withAttempt(run, attempt.number, () => seen), now), effects, outcome: "updated" };
  }

  const target = PROGRESS[task.lastStatus];
  if (target === undefined || target === attempt.status) {
    // STOPPING, DEPROVISIONING …: no status of ours, but the version still orders later snapshots.
    return { run: touch(withAttempt(run, attempt.number, () => seen), now), effects: [], outcome: "updated" };
  }
  if (!canTransition(attempt.status, target)) return { run, effects: [], outcome: "stale" };

  const progressed = withAttempt(run, attempt.number, () => ({ ...seen, status: target }));
  if (isCurrent && isActive(run.status) && canTransition(run.status, target)) {
    const moved = transition(progressed, target, now);
    if (moved.ok) return { run: moved.run, effects: [publishEffect(moved.run)], outcome: "updated" };
  }
  return { run: touch(progressed, now), effects: [], outcome: "updated" };
}
