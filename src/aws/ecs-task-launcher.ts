/**
 * The `TaskLauncher` port on Amazon ECS.
 *
 * RunTask never throws for anything AWS can answer: every failure becomes a
 * `LaunchFailure` whose `kind` tells core whether waiting helps. A throttled
 * (or 5xx) launch is sent again here, the same request with the same
 * `clientToken`, with jittered backoff until the invocation's time is up
 * (core/ecs/launch-retry.ts decides, invocation.ts knows the time): the SDK's
 * own retries draw on one retry quota per client, which a burst of concurrent
 * launches empties within seconds. What is still throttled then goes back to
 * core, which leaves the launch to the sweep; the clientToken means a later
 * re-send starts no second task.
 */
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type ECSClient, type Failure, type Task } from "@aws-sdk/client-ecs";
import { classifyAwsError, translateAwsError } from "./errors.ts";
import { TransientError } from "../core/errors.ts";
import { nextLaunchRetry } from "../core/ecs/launch-retry.ts";
import { waitDeadline } from "./invocation.ts";
import type { RunTaskRequest } from "../core/ecs/types.ts";
import type { LaunchFailure, LaunchOutcome, TaskLauncher } from "../core/ports.ts";
import type { EcsContainerState, EcsTaskState } from "../core/events/ecs-task.ts";

/** StopTask rejects longer reasons. */
export const MAX_STOP_REASON_LENGTH = 255;
/** DescribeTasks takes at most this many tasks per call. */
export const DESCRIBE_TASKS_BATCH = 100;

/**
 * RunTask `failures[].reason` values that mean "no room right now": EC2
 * placement (RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:PORTS*, RESOURCE:ENI,
 * RESOURCE:GPU), a disconnected agent, Fargate running out of capacity in
 * the chosen zones, the account's concurrent task or vCPU quota, and the
 * per-cluster quota of tasks in the PROVISIONING state that managed scaling
 * works through (a ClientException "Tasks provisioning capacity limit
 * exceeded."; ECS Developer Guide, "Amazon ECS service quotas": Tasks in the
 * PROVISIONING state per cluster), all of which free up as other tasks start
 * or end. Every other reason (MISSING, ATTRIBUTE, INACTIVE, …) needs someone
 * to change something.
 */
const CAPACITY_REASONS: readonly RegExp[] = [
  /^RESOURCE:/,
  /^AGENT$/,
  /capacity is unavailable/i,
  /reached the limit on the number of (tasks|vcpus)/i,
  /tasks provisioning capacity limit exceeded/i,
];

function failure(kind: LaunchFailure["kind"], message: string, retryAfterMs?: number, existingTaskArns?: readonly string[]): LaunchFailure {
  return {
    kind,
    retryable: kind === "capacity" || kind === "throttled",
    message,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(existingTaskArns !== undefined && existingTaskArns.length > 0 ? { existingTaskArns } : {}),
  };
}

/**
 * Sorts an error from an ECS call into a launch failure kind, from the AWS error classifier's
 * verdict. Returns undefined for errors that are not AWS's answer (a TypeError, a bug) and for a
 * machine with no region: those are thrown, since no launch was even attempted.
 */
export function classifyEcsError(error: unknown, now: number = Date.now()): LaunchFailure | undefined {
  const verdict = classifyAwsError(error, now);
  if (verdict === undefined || verdict.kind === "region") return undefined;
  const e = error as Error & { readonly resourceIds?: readonly string[] };
  const message = e.message || e.name;
  switch (verdict.kind) {
    case "throttled":
      return failure("throttled", message, verdict.retryAfterMs);
    case "credentials":
    case "access-denied":
      return failure("access-denied", message);
    case "conflict": {
      // "The resourceIds are the existing task ARNs which are already associated with the clientToken" (API reference, ConflictException).
      const arns = Array.isArray(e.resourceIds) ? e.resourceIds.filter((id): id is string => typeof id === "string" && id !== "") : [];
      const existing = arns.length > 0 ? ` (tasks already started with that token: ${arns.join(", ")})` : "";
      return failure(
        "conflict",
        `RunTask refused: its clientToken was already used by a RunTask request with different parameters${existing}. AWS said: ${message}`,
        undefined,
        arns,
      );
    }
  }
  // Fargate sometimes reports missing capacity as an error rather than in failures[].
  if (CAPACITY_REASONS.some((pattern) => pattern.test(message))) return failure("capacity", message);
  return verdict.kind === "unavailable" ? failure("throttled", message, verdict.retryAfterMs) : failure("invalid", message);
}

export function classifyRunTaskFailures(failures: readonly Failure[]): LaunchFailure {
  const reasons = failures.map((f) => f.reason ?? "");
  const message = failures.map((f) => [f.reason ?? "unknown reason", f.detail].filter(Boolean).join(": ")).join("; ");
  const capacity = reasons.length > 0 && reasons.every((reason) => CAPACITY_REASONS.some((pattern) => pattern.test(reason)));
  return failure(capacity ? "capacity" : "invalid", message || "RunTask reported a failure without a reason");
}

const CONFIGURATION_HINT = "check the cluster name and the function's IAM permissions";

/** Cuts at `max` UTF-16 units without splitting a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

function isTaskNotFound(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    (error.name === "InvalidParameterException" || error.name === "ClientException") &&
    /referenced task was not found|task (was )?not found|could not find task/i.test(error.message)
  );
}

function iso(date: Date | undefined): string | undefined {
  return date === undefined || Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function defined<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
}

/** A DescribeTasks task in the shape of an `ECS Task State Change` detail. */
export function toEcsTaskState(task: Task & { taskArn: string }): EcsTaskState {
  const containers: EcsContainerState[] | undefined = task.containers?.map((c) =>
    defined({ name: c.name ?? "", exitCode: c.exitCode ?? undefined, lastStatus: c.lastStatus, reason: c.reason }),
  );
  return defined({
    taskArn: task.taskArn,
    lastStatus: task.lastStatus ?? "UNKNOWN",
    version: task.version ?? 0,
    desiredStatus: task.desiredStatus,
    stopCode: task.stopCode,
    stoppedReason: task.stoppedReason,
    startedAt: iso(task.startedAt),
    stoppedAt: iso(task.stoppedAt),
    capacityProviderName: task.capacityProviderName,
    launchType: task.launchType,
    startedBy: task.startedBy,
    taskDefinitionArn: task.taskDefinitionArn,
    containers,
  });
}

/** Revisions whose essential containers one launcher keeps (a Lambda container's lifetime sees few). */
const ESSENTIALS_CACHE_SIZE = 1000;

/** The time and randomness the re-sending of throttled launches runs on; tests pass their own. */
export interface LaunchRetryShell {
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random?: () => number;
  /** When waits begun at `now` must end (default: the invocation's deadline, invocation.ts). */
  readonly deadline?: (now: number) => number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class EcsTaskLauncher implements TaskLauncher {
  readonly #client: ECSClient;
  /** Task definition ARN → its essential containers' names; a revision never changes. */
  readonly #essentials = new Map<string, readonly string[] | undefined>();
  readonly #retry: Required<LaunchRetryShell>;

  constructor(client: ECSClient, retry: LaunchRetryShell = {}) {
    this.#client = client;
    this.#retry = { now: Date.now, sleep, random: Math.random, deadline: waitDeadline, ...retry };
  }

  async essentialContainers(taskDefinitionArn: string): Promise<readonly string[] | undefined> {
    if (this.#essentials.has(taskDefinitionArn)) return this.#essentials.get(taskDefinitionArn);
    let names: readonly string[] | undefined;
    try {
      const output = await this.#client.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
      // "If the essential parameter of a container is marked as true … If this parameter is omitted, a container is assumed to be essential"
      // (API reference, ContainerDefinition.essential).
      const found = (output.taskDefinition?.containerDefinitions ?? []).filter((c) => c.essential !== false && c.name).map((c) => c.name!);
      names = found.length > 0 ? found : undefined;
    } catch (error) {
      const translated = translateAwsError(error, `describe task definition ${taskDefinitionArn}`);
      if (translated === undefined || translated instanceof TransientError) throw translated ?? error;
      // Not answerable (unknown revision, no permission): every container decides; not cached, a later call may be allowed.
      return undefined;
    }
    if (this.#essentials.size >= ESSENTIALS_CACHE_SIZE) this.#essentials.clear();
    this.#essentials.set(taskDefinitionArn, names);
    return names;
  }

  async runTask(request: RunTaskRequest): Promise<LaunchOutcome> {
    const { now, sleep: wait, random, deadline } = this.#retry;
    const startedAt = now();
    const until = deadline(startedAt);
    for (let throttled = 1; ; throttled++) {
      const outcome = await this.#runTaskOnce(request);
      if (outcome.ok || outcome.failure.kind !== "throttled") return outcome;
      const at = now();
      const next = nextLaunchRetry({ throttled, startedAt, now: at, deadline: until, ...(outcome.failure.retryAfterMs !== undefined ? { retryAfterMs: outcome.failure.retryAfterMs } : {}) }, random());
      if (next === undefined) return outcome;
      await wait(next);
    }
  }

  async #runTaskOnce(request: RunTaskRequest): Promise<LaunchOutcome> {
    let output;
    try {
      output = await this.#client.send(new RunTaskCommand(request));
    } catch (error) {
      const classified = classifyEcsError(error);
      if (classified === undefined) throw translateAwsError(error, `run a task of ${request.taskDefinition} in cluster ${request.cluster}`) ?? error;
      return { ok: false, failure: classified };
    }
    const taskArn = output.tasks?.find((t) => t.taskArn !== undefined)?.taskArn;
    if (taskArn !== undefined) return { ok: true, taskArn };
    const failures = output.failures ?? [];
    if (failures.length > 0) return { ok: false, failure: classifyRunTaskFailures(failures) };
    return { ok: false, failure: failure("invalid", "RunTask answered with neither a task nor a failure; nothing was started") };
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    try {
      await this.#client.send(new StopTaskCommand({ cluster, task: taskArn, reason: truncate(reason, MAX_STOP_REASON_LENGTH) }));
    } catch (error) {
      // ECS forgets stopped tasks after about an hour: the task is as stopped as it gets.
      if (isTaskNotFound(error)) return;
      throw translateAwsError(error, `stop task ${taskArn} in cluster ${cluster}`, { hint: CONFIGURATION_HINT }) ?? error;
    }
  }

  /**
   * Tasks ECS answered neither as found nor MISSING (any other failure
   * reason) appear in neither list: ask again later.
   */
  async describeTasks(cluster: string, taskArns: readonly string[]): Promise<{ tasks: EcsTaskState[]; missing: string[] }> {
    const tasks: EcsTaskState[] = [];
    const missing: string[] = [];
    const unique = [...new Set(taskArns)];
    for (let start = 0; start < unique.length; start += DESCRIBE_TASKS_BATCH) {
      const batch = unique.slice(start, start + DESCRIBE_TASKS_BATCH);
      let output;
      try {
        output = await this.#client.send(new DescribeTasksCommand({ cluster, tasks: batch }));
      } catch (error) {
        throw translateAwsError(error, `describe ${batch.length} task(s) in cluster ${cluster}`, { hint: CONFIGURATION_HINT }) ?? error;
      }
      for (const task of output.tasks ?? []) {
        if (task.taskArn !== undefined) tasks.push(toEcsTaskState({ ...task, taskArn: task.taskArn }));
      }
      for (const f of output.failures ?? []) {
        if (f.reason === "MISSING" && f.arn !== undefined) missing.push(f.arn);
      }
    }
    return { tasks, missing };
  }
}
