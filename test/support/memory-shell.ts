/**
 * In-memory TaskLauncher, Publisher and Clock for engine tests and the
 * dispatch benchmark: they keep ECS's observable rules (a clientToken
 * launches at most one task; DescribeTasks reports unknown tasks missing)
 * and let tests inject failures at any call.
 */
import { createHash } from "node:crypto";
import type { Clock, LaunchFailure, LaunchOutcome, Publisher, TaskLauncher } from "../../src/core/ports.ts";
import type { RunTaskRequest } from "../../src/core/ecs/types.ts";
import type { EcsTaskState } from "../../src/core/events/ecs-task.ts";
import type { RunStateChangeDetail } from "../../src/core/runs/effects.ts";

/** node:crypto's SHA-256, as the shells pass it to the engine. */
export const sha256 = (data: Uint8Array): Uint8Array => createHash("sha256").update(data).digest();

export class ManualClock implements Clock {
  constructor(public ms = Date.parse("2026-03-01T12:00:00Z")) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface LaunchedTask {
  readonly taskArn: string;
  readonly request: RunTaskRequest;
  stopped?: string;
}

export class MemoryLauncher implements TaskLauncher {
  readonly tasks = new Map<string, LaunchedTask>();
  readonly byToken = new Map<string, string>();
  runTaskCalls = 0;
  /** Answer the next RunTask calls with these failures (then succeed). */
  failNext: LaunchFailure[] = [];
  /** Throw (a crash, or a network cut after ECS acted) on the next RunTask, after launching. */
  crashAfterLaunch = false;
  describe = new Map<string, EcsTaskState>();
  private seq = 0;

  async runTask(request: RunTaskRequest): Promise<LaunchOutcome> {
    this.runTaskCalls++;
    const failure = this.failNext.shift();
    if (failure) return { ok: false, failure };
    const token = request.clientToken ?? "";
    let arn = this.byToken.get(token);
    if (!arn) {
      arn = `arn:aws:ecs:us-east-1:123456789012:task/${request.cluster ?? "default"}/${(++this.seq).toString(16).padStart(32, "0")}`;
      this.byToken.set(token, arn);
      this.tasks.set(arn, { taskArn: arn, request });
    }
    if (this.crashAfterLaunch) {
      this.crashAfterLaunch = false;
      throw new Error("injected crash after RunTask");
    }
    return { ok: true, taskArn: arn };
  }

  async stopTask(_cluster: string, taskArn: string, reason: string): Promise<void> {
    const t = this.tasks.get(taskArn);
    if (t) t.stopped = reason;
  }

  async describeTasks(_cluster: string, taskArns: readonly string[]) {
    const tasks = taskArns.flatMap((a) => (this.describe.has(a) ? [this.describe.get(a)!] : []));
    return { tasks, missing: taskArns.filter((a) => !this.describe.has(a)) };
  }
}

export class MemoryPublisher implements Publisher {
  readonly published: RunStateChangeDetail[] = [];
  async publish(details: readonly RunStateChangeDetail[]): Promise<void> {
    this.published.push(...details);
  }
  statuses(runId: string): string[] {
    return this.published.filter((d) => d.runId === runId).map((d) => d.status);
  }
}

let counter = 0;
/** Deterministic "random" bytes: unique per call. */
export function countingBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let c = ++counter;
  for (let i = n - 1; i >= 0 && c > 0; i--) {
    out[i] = c & 0xff;
    c = Math.floor(c / 256);
  }
  return out;
}

/** An `ECS Task State Change` event for a task berth launched. */
export function taskEvent(task: LaunchedTask, lastStatus: string, version: number, extra: Record<string, unknown> = {}): unknown {
  return {
    version: "0",
    id: `evt-${task.taskArn.slice(-6)}-${version}`,
    "detail-type": "ECS Task State Change",
    source: "aws.ecs",
    account: "123456789012",
    time: "2026-03-01T12:00:00Z",
    region: "us-east-1",
    resources: [task.taskArn],
    detail: {
      taskArn: task.taskArn,
      lastStatus,
      desiredStatus: lastStatus === "STOPPED" ? "STOPPED" : "RUNNING",
      startedBy: task.request.startedBy,
      version,
      containers: [{ name: task.request.overrides?.containerOverrides?.[0]?.name ?? "main", lastStatus, ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}) }],
      ...(lastStatus === "STOPPED" ? { stopCode: extra.stopCode ?? "EssentialContainerExited", stoppedReason: extra.stoppedReason ?? "Essential container in task exited", stoppedAt: "2026-03-01T12:05:00Z" } : {}),
      ...(lastStatus === "RUNNING" ? { startedAt: "2026-03-01T12:01:00Z" } : {}),
    },
  };
}
