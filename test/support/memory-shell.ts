/**
 * In-memory TaskLauncher, ServiceDeployer, Publisher and Clock for engine tests and the
 * dispatch benchmark: they keep ECS's observable rules (a clientToken
 * launches at most one task; DescribeTasks reports unknown tasks missing)
 * and let tests inject failures at any call.
 */
import { createHash } from "node:crypto";
import type { Clock, LaunchFailure, LaunchOutcome, Publisher, ServiceDeployer, TaskLauncher } from "../../src/core/ports.ts";
import type { DeployPlan } from "../../src/core/ecs/deploy-plan.ts";
import type { DeploymentChange } from "../../src/core/events/ecs-deployment.ts";
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

export interface MemoryDeployment {
  readonly arn: string;
  readonly deploymentId: string;
  readonly serviceArn: string;
  readonly plan: DeployPlan;
  readonly startedBy: string;
  state: EcsTaskState;
}

/**
 * Deployments as the port promises them: the same clientToken starts one
 * deployment; each is a pseudo task (RUNNING, then STOPPED with exit code 0
 * or 1, or UserInitiated once stopped); `deploymentTask` answers ECS
 * Deployment State Change events by deployment id, as the ECS deployer reads
 * them back from the service. Tests end deployments with `finish`.
 */
export class MemoryDeployer implements ServiceDeployer {
  readonly deployments = new Map<string, MemoryDeployment>();
  readonly byToken = new Map<string, string>();
  /** Deployments started, in order (a repeated clientToken adds none). */
  readonly started: MemoryDeployment[] = [];
  readonly stops: { readonly arn: string; readonly reason: string }[] = [];
  deployCalls = 0;
  private seq = 0;

  async deploy(plan: DeployPlan, id: { readonly clientToken: string; readonly startedBy: string }): Promise<LaunchOutcome> {
    this.deployCalls++;
    const known = this.byToken.get(id.clientToken);
    if (known) return { ok: true, taskArn: known };
    const n = ++this.seq;
    const arn = `arn:aws:ecs:us-east-1:123456789012:task-definition/${plan.service}:${n}`;
    const d: MemoryDeployment = {
      arn,
      deploymentId: `ecs-svc/${1000 + n}`,
      serviceArn: `arn:aws:ecs:us-east-1:123456789012:service/${plan.cluster}/${plan.service}`,
      plan,
      startedBy: id.startedBy,
      state: { taskArn: arn, lastStatus: "RUNNING", version: 1, startedBy: id.startedBy, containers: [{ name: plan.container }] },
    };
    this.byToken.set(id.clientToken, arn);
    this.deployments.set(arn, d);
    this.started.push(d);
    return { ok: true, taskArn: arn };
  }

  /** The deployment ends: COMPLETED (exit code 0) or FAILED (1, with ECS's reason). */
  finish(arn: string, outcome: "COMPLETED" | "FAILED", reason = "ECS deployment circuit breaker: tasks failed to start."): void {
    const d = this.deployments.get(arn);
    if (!d || d.state.lastStatus === "STOPPED") return;
    const exitCode = outcome === "COMPLETED" ? 0 : 1;
    d.state = {
      ...d.state,
      lastStatus: "STOPPED",
      version: 2,
      stopCode: "EssentialContainerExited",
      ...(outcome === "FAILED" ? { stoppedReason: reason } : {}),
      containers: [{ name: d.plan.container, exitCode }],
    };
  }

  /** The `ECS Deployment State Change` event ECS sends for a deployment. */
  event(arn: string, eventName: "SERVICE_DEPLOYMENT_IN_PROGRESS" | "SERVICE_DEPLOYMENT_COMPLETED" | "SERVICE_DEPLOYMENT_FAILED", reason = ""): unknown {
    const d = this.deployments.get(arn);
    if (!d) throw new Error(`no deployment ${arn}`);
    return {
      version: "0",
      id: `dep-${d.deploymentId}-${eventName}`,
      "detail-type": "ECS Deployment State Change",
      source: "aws.ecs",
      account: "123456789012",
      time: "2026-03-01T12:00:00Z",
      region: "us-east-1",
      resources: [d.serviceArn],
      detail: { eventType: eventName.endsWith("FAILED") ? "ERROR" : "INFO", eventName, deploymentId: d.deploymentId, updatedAt: "2026-03-01T12:00:00.000Z", reason },
    };
  }

  async deploymentTask(change: DeploymentChange): Promise<EcsTaskState | undefined> {
    const d = [...this.deployments.values()].find((x) => x.deploymentId === change.deploymentId && x.serviceArn === change.serviceArn);
    return d?.state;
  }

  async stop(taskArn: string, reason: string): Promise<void> {
    this.stops.push({ arn: taskArn, reason });
    const d = this.deployments.get(taskArn);
    if (!d || d.state.lastStatus === "STOPPED") return;
    d.state = { ...d.state, lastStatus: "STOPPED", version: 2, stopCode: "UserInitiated", stoppedReason: reason, containers: [{ name: d.plan.container }] };
  }

  async describe(taskArns: readonly string[]) {
    const tasks = taskArns.flatMap((a) => (this.deployments.has(a) ? [this.deployments.get(a)!.state] : []));
    return { tasks, missing: taskArns.filter((a) => !this.deployments.has(a)) };
  }
}
