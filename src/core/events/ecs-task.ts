/**
 * `ECS Task State Change` events are untrusted input: read only the fields
 * berth uses, check their types, and say exactly what is wrong otherwise.
 */
import type { EcsContainerState, EcsTaskState } from "../runs/task-state.ts";
import { DETAIL_TYPE } from "./berth-events.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";

/** A failure lists every problem found in `error.problems`. */
export type TaskEventResult = { readonly ok: true; readonly task: EcsTaskState } | Failure<ValidationError>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function optionalString(o: Record<string, unknown>, field: string, errors: string[]): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") errors.push(`detail.${field} must be a string`);
  return typeof v === "string" ? v : undefined;
}

export function parseTaskStateEvent(event: unknown): TaskEventResult {
  if (!isObject(event)) return failure(new ValidationError("not an EventBridge event (expected a JSON object)"));
  if (event.source !== "aws.ecs" || event["detail-type"] !== DETAIL_TYPE.ecsTaskStateChange) {
    return failure(
      new ValidationError(`not an ECS Task State Change event (source ${JSON.stringify(event.source)}, detail-type ${JSON.stringify(event["detail-type"])})`),
    );
  }
  const d = event.detail;
  if (!isObject(d)) return failure(new ValidationError("detail is missing or not an object", { field: "detail" }));
  const errors: string[] = [];
  if (typeof d.taskArn !== "string" || d.taskArn === "") errors.push("detail.taskArn must be a non-empty string");
  if (typeof d.lastStatus !== "string" || d.lastStatus === "") errors.push("detail.lastStatus must be a non-empty string");
  if (typeof d.version !== "number" || !Number.isInteger(d.version)) errors.push("detail.version must be an integer");
  const containers: EcsContainerState[] = [];
  if (d.containers !== undefined) {
    if (!Array.isArray(d.containers)) errors.push("detail.containers must be a list");
    else
      d.containers.forEach((c, i) => {
        if (!isObject(c) || typeof c.name !== "string") {
          errors.push(`detail.containers[${i}] must be an object with a name`);
          return;
        }
        if (c.exitCode !== undefined && c.exitCode !== null && typeof c.exitCode !== "number") errors.push(`detail.containers[${i}].exitCode must be a number`);
        containers.push({
          name: c.name,
          ...(typeof c.exitCode === "number" ? { exitCode: c.exitCode } : {}),
          ...(typeof c.lastStatus === "string" ? { lastStatus: c.lastStatus } : {}),
          ...(typeof c.reason === "string" ? { reason: c.reason } : {}),
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
