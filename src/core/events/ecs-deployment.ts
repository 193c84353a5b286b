/**
 * `ECS Deployment State Change` events (ECS developer guide, "Amazon ECS
 * service deployment state change events") are untrusted input like task
 * events: read the fields berth uses, check their types, say what is wrong.
 * The event names the service (its only resource) and the deployment
 * (`ecs-svc/<digits>`); which run it is about, and the deployment's state,
 * the service deployer reads back from ECS (ports.ts `deploymentTask`).
 */
import { DETAIL_TYPE } from "./berth-events.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";
import { describeValue } from "./untrusted.ts";

/** The event names ECS documents; IN_PROGRESS is sent for initial and rollback deployments alike. */
export const DEPLOYMENT_EVENT = {
  inProgress: "SERVICE_DEPLOYMENT_IN_PROGRESS",
  completed: "SERVICE_DEPLOYMENT_COMPLETED",
  failed: "SERVICE_DEPLOYMENT_FAILED",
} as const;

export interface DeploymentChange {
  /** `arn:aws:ecs:<region>:<account>:service/<cluster>/<service>` (or the older `service/<service>`). */
  readonly serviceArn: string;
  /** `ecs-svc/1234567890123456789`. */
  readonly deploymentId: string;
  /** One of DEPLOYMENT_EVENT's values, or a name ECS may add later. */
  readonly eventName: string;
  readonly reason?: string;
  /** ISO-8601. */
  readonly updatedAt?: string;
}

export type DeploymentEventResult = { readonly ok: true; readonly change: DeploymentChange } | Failure<ValidationError>;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export function isDeploymentStateEvent(event: unknown): boolean {
  return isObject(event) && event.source === "aws.ecs" && event["detail-type"] === DETAIL_TYPE.ecsDeploymentStateChange;
}

export function parseDeploymentStateEvent(event: unknown): DeploymentEventResult {
  if (!isDeploymentStateEvent(event)) {
    const e = isObject(event) ? event : {};
    return failure(
      new ValidationError(`not an ECS Deployment State Change event (source ${describeValue(e.source)}, detail-type ${describeValue(e["detail-type"])})`),
    );
  }
  const { detail: d, resources } = event as Record<string, unknown>;
  if (!isObject(d)) return failure(new ValidationError("detail is missing or not an object", { field: "detail" }));
  const errors: string[] = [];
  const serviceArn = Array.isArray(resources) ? resources.find((r): r is string => typeof r === "string" && /^arn:[^:]+:ecs:[^:]*:\d*:service\/./.test(r)) : undefined;
  if (serviceArn === undefined) errors.push("resources must name the service (arn:aws:ecs:<region>:<account>:service/...)");
  if (typeof d.deploymentId !== "string" || d.deploymentId === "") errors.push("detail.deploymentId must be a non-empty string");
  if (typeof d.eventName !== "string" || d.eventName === "") errors.push("detail.eventName must be a non-empty string");
  for (const field of ["reason", "updatedAt"] as const) {
    if (d[field] !== undefined && d[field] !== null && typeof d[field] !== "string") errors.push(`detail.${field} must be a string`);
  }
  if (errors.length > 0) return failure(new ValidationError(errors));
  return {
    ok: true,
    change: {
      serviceArn: serviceArn!,
      deploymentId: d.deploymentId as string,
      eventName: d.eventName as string,
      ...(typeof d.reason === "string" ? { reason: d.reason } : {}),
      ...(typeof d.updatedAt === "string" ? { updatedAt: d.updatedAt } : {}),
    },
  };
}
