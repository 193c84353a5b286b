import type { Launch, RetryPolicy } from "../../../src/core/catalog/types.ts";
import { newRunId } from "../../../src/core/ids.ts";
import { createRun } from "../../../src/core/runs/lifecycle.ts";
import type { Run, RunPolicy } from "../../../src/core/runs/model.ts";
import type { EcsContainerState, EcsTaskState } from "../../../src/core/events/ecs-task.ts";

export const T0 = Date.parse("2025-03-01T12:00:00.000Z");
export const SEC = 1000;
export const MIN = 60 * SEC;

export function runId(n = 1): string {
  return newRunId(T0 + n, new Uint8Array(10).fill(n));
}

export const TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123456789abcdef0123456789abcdef";
export const TASK_ARN_2 = "arn:aws:ecs:us-east-1:123456789012:task/jobs/fedcba9876543210fedcba9876543210";

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return { attempts: 1, backoff: { initial: 30, factor: 2, max: 600 }, on: [], ...overrides };
}

export function runPolicy(overrides: Partial<RunPolicy> = {}): RunPolicy {
  return { retry: retryPolicy(), timeout: 900, launch: { type: "fargate" } satisfies Launch, ...overrides };
}

/** A run just admitted: STARTING, attempt 1 requested at T0. */
export function startingRun(policy: RunPolicy = runPolicy(), n = 1): Run {
  return createRun(
    {
      id: runId(n),
      job: "thumbnails",
      service: "acme-jobs",
      trigger: { kind: "s3", summary: "s3://media/incoming/a.png", idempotencyKey: `thumbnails#s3:media:incoming/a.png:${n}` },
      context: { "s3.bucket": "media", "s3.key": "incoming/a.png" },
    },
    { decision: "start" },
    T0,
    policy,
  ).run;
}

export function container(name: string, exitCode?: number, reason?: string): EcsContainerState {
  return {
    name,
    lastStatus: "STOPPED",
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}

export function taskEvent(lastStatus: string, version: number, overrides: Partial<EcsTaskState> = {}): EcsTaskState {
  const running = ["RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"].includes(lastStatus);
  return {
    taskArn: TASK_ARN,
    lastStatus,
    version,
    desiredStatus: lastStatus === "STOPPED" ? "STOPPED" : "RUNNING",
    ...(running ? { startedAt: "2025-03-01T12:00:40.000Z" } : {}),
    ...(lastStatus === "STOPPED"
      ? {
          stoppedAt: "2025-03-01T12:05:00.000Z",
          stopCode: "EssentialContainerExited",
          stoppedReason: "Essential container in task exited",
          containers: [container("worker", 0)],
        }
      : { containers: [{ name: "worker", lastStatus }] }),
    ...overrides,
  };
}

export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}
