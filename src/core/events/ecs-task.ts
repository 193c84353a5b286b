/**
 * `ECS Task State Change` events are untrusted input: read only the fields
 * berth uses, check their types, and say exactly what is wrong otherwise.
 */
import { DETAIL_TYPE } from "./berth-events.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";
import { describeValue } from "./untrusted.ts";

/**
 * The `lastStatus` values of the ECS task lifecycle that berth's local
 * executors report (ECS's own vocabulary, not run statuses; those are the
 * lifecycle table's, runs/status.ts).
 */
export const ECS_TASK_STATUS = { provisioning: "PROVISIONING", pending: "PENDING", running: "RUNNING", stopped: "STOPPED" } as const;

export type EcsTaskStatus = (typeof ECS_TASK_STATUS)[keyof typeof ECS_TASK_STATUS];

export interface EcsContainerState {
  readonly name: string;
  readonly exitCode?: number;
  readonly lastStatus?: string;
  readonly reason?: string;
}

/** The fields of an `ECS Task State Change` detail (or a DescribeTasks task) berth reads. */
export interface EcsTaskState {
  readonly taskArn: string;
  /** PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED. */
  readonly lastStatus: string;
  readonly version: number;
  readonly desiredStatus?: string;
  /** TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated, SpotInterruption, TerminationNotice. */
  readonly stopCode?: string;
  readonly stoppedReason?: string;
  /** ISO-8601 timestamps. */
  readonly startedAt?: string;
  readonly stoppedAt?: string;
  readonly capacityProviderName?: string;
  readonly launchType?: string;
  readonly startedBy?: string;
  /** The revision the task runs: which of its containers are essential is looked up from it. */
  readonly taskDefinitionArn?: string;
  readonly containers?: readonly EcsContainerState[];
}

/**
 * The largest task `version` berth accepts. ECS adds one with every change of
 * a task, so a real task stays far below; a larger one is forged or broken,
 * and applying it would make every later real snapshot look stale.
 */
export const MAX_TASK_VERSION = 1_000_000;
/** Longer strings than ECS ever sends (its longest, stoppedReason, is a few hundred characters). */
export const MAX_TASK_FIELD_LENGTH = 4096;
/** More container entries than a task can have (a task definition holds at most 10 containers). */
export const MAX_TASK_CONTAINERS = 100;

/** A failure lists every problem found in `error.problems`. */
export type TaskEventResult = { readonly ok: true; readonly task: EcsTaskState } | Failure<ValidationError>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function optionalString(o: Record<string, unknown>, field: string, errors: string[], path = `detail.${field}`): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") errors.push(`${path} must be a string`);
  else if (v.length > MAX_TASK_FIELD_LENGTH) errors.push(`${path} is longer than ${MAX_TASK_FIELD_LENGTH} characters`);
  return typeof v === "string" && v.length <= MAX_TASK_FIELD_LENGTH ? v : undefined;
}

export function parseTaskStateEvent(event: unknown): TaskEventResult {
  if (!isObject(event)) return failure(new ValidationError("not an EventBridge event (expected a JSON object)"));
  if (event.source !== "aws.ecs" || event["detail-type"] !== DETAIL_TYPE.ecsTaskStateChange) {
    return failure(
      new ValidationError(`not an ECS Task State Change event (source ${describeValue(event.source)}, detail-type ${describeValue(event["detail-type"])})`),
    );
  }
  const d = event.detail;
  if (!isObject(d)) return failure(new ValidationError("detail is missing or not an object", { field: "detail" }));
  const errors: string[] = [];
  const required = (field: "taskArn" | "lastStatus") => {
    const v = d[field];
    if (typeof v !== "string" || v === "") errors.push(`detail.${field} must be a non-empty string`);
    else if (v.length > MAX_TASK_FIELD_LENGTH) errors.push(`detail.${field} is longer than ${MAX_TASK_FIELD_LENGTH} characters`);
  };
  required("taskArn");
  required("lastStatus");
  if (typeof d.version !== "number" || !Number.isInteger(d.version)) errors.push("detail.version must be an integer");
  else if (d.version < 0 || d.version > MAX_TASK_VERSION) errors.push(`detail.version must be between 0 and ${MAX_TASK_VERSION}`);
  const containers: EcsContainerState[] = [];
  if (d.containers !== undefined) {
    if (!Array.isArray(d.containers)) errors.push("detail.containers must be a list");
    else if (d.containers.length > MAX_TASK_CONTAINERS) errors.push(`detail.containers has more than ${MAX_TASK_CONTAINERS} entries`);
    else
      d.containers.forEach((c, i) => {
        if (!isObject(c) || typeof c.name !== "string") {
          errors.push(`detail.containers[${i}] must be an object with a name`);
          return;
        }
        const path = `detail.containers[${i}]`;
        const name = optionalString(c, "name", errors, `${path}.name`);
        if (c.exitCode !== undefined && c.exitCode !== null && typeof c.exitCode !== "number") errors.push(`${path}.exitCode must be a number`);
        const lastStatus = optionalString(c, "lastStatus", errors, `${path}.lastStatus`);
        const reason = optionalString(c, "reason", errors, `${path}.reason`);
        containers.push({
          name: name ?? "",
          ...(typeof c.exitCode === "number" ? { exitCode: c.exitCode } : {}),
          ...(lastStatus !== undefined ? { lastStatus } : {}),
          ...(reason !== undefined ? { reason } : {}),
        });
      });
  }
  const opt = (f: string) => optionalString(d, f, errors);
  const fields = {
    desiredStatus: opt("desiredStatus"),
    stopCode: opt("stopCode"),
    stoppedReason: opt("stoppedReason"),
    startedAt: opt("startedAt"),
    stoppedAt: opt("stoppedAt"),
    capacityProviderName: opt("capacityProviderName"),
    launchType: opt("launchType"),
    startedBy: opt("startedBy"),
    taskDefinitionArn: opt("taskDefinitionArn"),
  };
  if (errors.length > 0) return failure(new ValidationError(errors));
  const task: EcsTaskState = {
    taskArn: d.taskArn as string,
    lastStatus: d.lastStatus as string,
    version: d.version as number,
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
    ...(d.containers !== undefined ? { containers } : {}),
  };
  return { ok: true, task };
}

/** `arn:aws:ecs:us-east-1:123456789012:task/jobs/0a1b…` → `jobs` (StopTask needs the cluster). */
export function clusterOfTaskArn(taskArn: string): string | undefined {
  const m = /:task\/([^/]+)\/[^/]+$/.exec(taskArn);
  return m?.[1];
}
