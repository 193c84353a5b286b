/**
 * `ECS Task State Change` events as the local executors emit them (built
 * by `ReportedTask` in process.ts): the fields ECS fills for a one-container
 * task, in the same envelope, so the engine's tracking reads local tasks
 * exactly as it reads ECS's.
 */
import { busEvent, type BusEvent } from "../core/events/envelope.ts";
import { DETAIL_TYPE } from "../core/events/berth-events.ts";
import type { TaskOverride } from "../core/ecs/types.ts";
import type { ECS_TASK_STATUS, EcsTaskStatus } from "../core/events/ecs-task.ts";

export const ECS_SOURCE = "aws.ecs";

export interface LocalContainerDetail {
  readonly name: string;
  readonly lastStatus: string;
  readonly exitCode?: number;
  readonly reason?: string;
}

export interface EcsTaskStateChangeDetail {
  readonly clusterArn: string;
  readonly taskArn: string;
  readonly taskDefinitionArn: string;
  readonly group: string;
  readonly startedBy: string;
  readonly lastStatus: Exclude<EcsTaskStatus, typeof ECS_TASK_STATUS.pending>;
  readonly desiredStatus: typeof ECS_TASK_STATUS.running | typeof ECS_TASK_STATUS.stopped;
  readonly version: number;
  readonly launchType?: string;
  readonly capacityProviderName?: string;
  readonly containers: readonly LocalContainerDetail[];
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly stoppingAt?: string;
  readonly stoppedAt?: string;
  readonly executionStoppedAt?: string;
  readonly updatedAt: string;
  readonly stopCode?: "EssentialContainerExited" | "TaskFailedToStart" | "UserInitiated";
  readonly stoppedReason?: string;
  readonly overrides: TaskOverride;
  readonly cpu?: string;
  readonly memory?: string;
}

export interface TaskEventEnvelope {
  readonly id: string;
  /** Epoch ms. */
  readonly time: number;
  readonly account: string;
  readonly region: string;
}

export function ecsTaskStateChangeEvent(detail: EcsTaskStateChangeDetail, f: TaskEventEnvelope): BusEvent<EcsTaskStateChangeDetail> {
  return busEvent(ECS_SOURCE, DETAIL_TYPE.ecsTaskStateChange, detail, { ...f, resources: [detail.taskArn] });
}
