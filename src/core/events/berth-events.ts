/**
 * Event shapes berth consumes and produces. AWS events (S3, CodeCommit, ECS)
 * arrive in their native EventBridge shape; berth's own events (a normalized
 * git push, a fired schedule, a manual run request, a run state change, an
 * event dispatch rejected) use
 * the EventBridge envelope (./envelope.ts) with the sources and detail types
 * defined here. Every trigger compiles to an EventBridge pattern over these
 * shapes, so the local bus and AWS route events identically.
 */
import { busEvent, type EnvelopeFields } from "./envelope.ts";

export const BERTH_SOURCE = "berth";
export const GIT_SOURCE = "berth.git";
export const SCHEDULER_SOURCE = "berth.scheduler";

export const DETAIL_TYPE = {
  gitPush: "Git Push",
  scheduleFired: "Berth Schedule Fired",
  manualRun: "Berth Manual Run",
  runStateChange: "Berth Run State Change",
  /** dispatch's answer to an event it cannot run (src/aws/rejected-events.ts): the stack routes it to the rejected-events queue. */
  eventRejected: "Berth Event Rejected",
  s3ObjectCreated: "Object Created",
  codeCommitStateChange: "CodeCommit Repository State Change",
  ecsTaskStateChange: "ECS Task State Change",
  ecsDeploymentStateChange: "ECS Deployment State Change",
} as const;

/** Published by the webhook (AWS) or the local webhook server for GitHub/GitLab pushes. */
export interface GitPushDetail {
  readonly provider: "github" | "gitlab";
  /** `owner/name`. */
  readonly repo: string;
  /** Full ref: `refs/heads/main`, `refs/tags/v1.2.0`. */
  readonly ref: string;
  /** Set when the ref is a branch. */
  readonly branch?: string;
  /** Set when the ref is a tag. */
  readonly tag?: string;
  /** Commit the ref now points at (all zeros when the ref was deleted). */
  readonly sha: string;
  /** Commit the ref pointed at before (all zeros when the ref was created). */
  readonly before: string;
  readonly pusher: string;
  readonly deleted: boolean;
  /**
   * When the pushed commit was made, ISO 8601 in UTC (`2024-11-26T09:53:48Z`): GitHub's
   * `head_commit.timestamp`, GitLab's timestamp of the listed commit whose id is `sha`. Absent when
   * the payload does not carry it (a deletion; a GitLab tag push lists no commits).
   */
  readonly committedAt?: string;
  /** The provider's delivery id, used to drop redelivered webhooks. */
  readonly deliveryId?: string;
}

/**
 * EventBridge Scheduler puts this on the bus (target: the bus, with
 * `<aws.scheduler.scheduled-time>` in the input); the local scheduler emits
 * the same.
 */
export interface ScheduleFiredDetail {
  readonly service: string;
  readonly job: string;
  /** ISO-8601 UTC instant the schedule was due. */
  readonly scheduledTime: string;
}

export interface ManualRunDetail {
  readonly service: string;
  readonly job: string;
  readonly params: Readonly<Record<string, string>>;
  /** Caller-chosen key; two requests with the same key start one run. */
  readonly idempotencyKey?: string;
  readonly requestedBy?: string;
}

/** A `Berth Run State Change` event; its detail is the run as published (runs/effects.ts `RunStateChangeDetail`). */
export const runStateChangeEvent = <D extends { readonly taskArn?: string }>(detail: D, f: EnvelopeFields) =>
  busEvent(BERTH_SOURCE, DETAIL_TYPE.runStateChange, detail, { ...f, resources: f.resources ?? (detail.taskArn ? [detail.taskArn] : []) });

export const manualRunEvent = (detail: ManualRunDetail, f: EnvelopeFields) => busEvent(BERTH_SOURCE, DETAIL_TYPE.manualRun, detail, f);

export const scheduleFiredEvent = (detail: ScheduleFiredDetail, f: EnvelopeFields) => busEvent(SCHEDULER_SOURCE, DETAIL_TYPE.scheduleFired, detail, f);
