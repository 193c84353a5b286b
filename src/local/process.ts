/**
 * The ground the two local executors share. `ProcessTaskLauncher` (RunTask)
 * and `LocalServiceDeployer` (service deployments) both start programs on
 * this machine, stop them, and report their work as ECS tasks; doing each of
 * those in one place keeps the two imitations of ECS from drifting apart.
 *
 * A program never goes through a shell: argv and environment values reach the
 * process byte for byte, whatever a rendered S3 key contains. Each program
 * leads its own process group, so stopping it (or its main process exiting,
 * as when a container's main process exits) ends everything it started, and
 * the group is recorded while it runs (leftovers.ts) so a later runtime can
 * end it if this one dies.
 *
 * What the engine sees of either is a `ReportedTask`: PROVISIONING →
 * RUNNING → STOPPED as `ECS Task State Change` events, delivered one at a
 * time in version order, so it tracks local work exactly as a task on ECS.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, writeSync } from "node:fs";
import { appendFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Catalog } from "../core/catalog/types.ts";
import type { TaskOverride } from "../core/ecs/types.ts";
import { ECS_TASK_STATUS } from "../core/events/ecs-task.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import { forgetGroup, recordGroup } from "./leftovers.ts";
import { ecsTaskStateChangeEvent, type EcsTaskStateChangeDetail, type LocalContainerDetail } from "./task-events.ts";

export type EmitTaskEvent = (event: BusEvent<EcsTaskStateChangeDetail>) => void | Promise<void>;

/** What both executors are built from; each adds its own. */
export interface ProcessExecutorOptions {
  readonly catalog: Pick<Catalog, "local">;
  /** The folder a definition's `cwd` is resolved against (where berth.yml lives). */
  readonly rootDir: string;
  /** Where output goes, resolved against `rootDir`. */
  readonly logDir: string;
  /** Receives every state change of the tasks it reports, in version order per task; a returned promise is awaited before the next event. */
  readonly emit: EmitTaskEvent;
  /** Epoch ms, for event times and log lines. Default `Date.now`. */
  readonly now?: () => number;
  /** How long a stopped process has between SIGTERM and SIGKILL. Default 5000 ms (ECS's default stopTimeout is 30 s; local runs stop faster). */
  readonly stopGraceMs?: number;
  /** Default "local". */
  readonly region?: string;
  /** Default "000000000000". */
  readonly account?: string;
  /** Where running process groups are recorded, so a later runtime can stop them if this one dies (leftovers.ts). Default: not recorded. */
  readonly groupDir?: string;
  /** Variables every process it starts gets on top of this process's environment; a definition's own `environment` and a request's overrides win. Default none. */
  readonly environment?: Readonly<Record<string, string>>;
}

/** The options with every default applied and every path absolute. */
export interface ProcessExecutorSettings {
  readonly rootDir: string;
  readonly logDir: string;
  readonly emit: EmitTaskEvent;
  readonly now: () => number;
  readonly stopGraceMs: number;
  readonly region: string;
  readonly account: string;
  readonly groupDir: string | undefined;
  readonly environment: Readonly<Record<string, string>>;
}

export function processExecutorSettings(options: ProcessExecutorOptions): ProcessExecutorSettings {
  return Object.freeze({
    rootDir: resolve(options.rootDir),
    logDir: resolve(options.rootDir, options.logDir),
    emit: options.emit,
    now: options.now ?? Date.now,
    stopGraceMs: options.stopGraceMs ?? 5000,
    region: options.region ?? "local",
    account: options.account ?? "000000000000",
    groupDir: options.groupDir,
    environment: Object.freeze({ ...options.environment }),
  });
}

export const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** `arn:aws:ecs:<region>:<account>:<resource>`, in the account and region the executor pretends to be. */
export function ecsArn(where: Pick<ProcessExecutorSettings, "region" | "account">, resource: string): string {
  return `arn:aws:ecs:${where.region}:${where.account}:${resource}`;
}

/** A cluster as a request names it (name or ARN) → its name. */
export function clusterNameOf(cluster: string): string {
  return cluster.startsWith("arn:") ? cluster.slice(cluster.lastIndexOf("/") + 1) : cluster;
}

/** Why `path` cannot be a working directory, or undefined when it can. */
export function directoryProblem(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => (s.isDirectory() ? undefined : "is not a directory"),
    () => "does not exist",
  );
}

/** How a process ended, as the logs and stop reasons put it. */
export function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
}

/** Sends `signal` to the whole process group led by `pid`. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export interface ProcessGroupSpec {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** An open descriptor of the log, which the group takes over: output goes there, and it is closed once the child holds its own copy. */
  readonly logFd: number;
  /** Written to the log before the program starts. */
  readonly header: string;
  /** The name the group is recorded under in `groupDir` while it runs. */
  readonly name: string;
  readonly groupDir: string | undefined;
}

export interface ProcessGroupEvents {
  /** The program runs. */
  readonly spawned: () => void;
  /** The program never ran; may come before the constructor returns. */
  readonly failed: (message: string) => void;
  /** The main process ended, and whatever it left behind in its group has been SIGKILLed. */
  readonly exited: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** One program in a process group of its own, with its output in a log file. */
export class ProcessGroup {
  readonly #child: ChildProcess | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(spec: ProcessGroupSpec, on: ProcessGroupEvents) {
    let child: ChildProcess | undefined;
    try {
      writeSync(spec.logFd, spec.header);
      const [program, ...args] = spec.argv;
      child = spawn(program as string, args, { cwd: spec.cwd, env: spec.env, shell: false, detached: true, stdio: ["ignore", spec.logFd, spec.logFd] });
    } catch (e) {
      // spawn throws for arguments it cannot pass at all, e.g. a NUL byte in argv or the environment.
      on.failed(errorMessage(e));
    } finally {
      closeSync(spec.logFd);
    }
    this.#child = child;
    if (child === undefined) return;
    const { groupDir, name } = spec;
    child.once("spawn", () => {
      if (groupDir !== undefined && child.pid !== undefined) recordGroup(groupDir, name, child.pid);
      on.spawned();
    });
    child.on("error", (e) => {
      // Without a pid the program never ran; errors once it has (a failed kill) change nothing.
      if (child.pid === undefined) on.failed(e.message);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(this.#killTimer);
      if (groupDir !== undefined) forgetGroup(groupDir, name);
      // As when a container's main process exits: nothing it left behind keeps running.
      this.signal("SIGKILL");
      on.exited(code, signal);
    });
  }

  /** The group leader's pid; undefined when the program never ran. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  signal(signal: NodeJS.Signals): void {
    signalGroup(this.#child?.pid, signal);
  }

  /** SIGTERM now; SIGKILL (then `killed`) once `graceMs` passed without the main process exiting. */
  stop(graceMs: number, killed?: () => void): void {
    this.signal("SIGTERM");
    this.#killTimer = setTimeout(() => {
      this.signal("SIGKILL");
      killed?.();
    }, graceMs);
  }
}

type TaskStatus = EcsTaskStateChangeDetail["lastStatus"];

/** What a reported task needs of the executor's settings. */
type Reporting = Pick<ProcessExecutorSettings, "emit" | "now" | "region" | "account">;

/** How a reported task ended, in ECS's words. */
export interface TaskEnd {
  readonly stopCode: NonNullable<EcsTaskStateChangeDetail["stopCode"]>;
  readonly stoppedReason: string;
  readonly exitCode?: number;
  /** The container's own reason, as `killed by SIGTERM`. */
  readonly containerReason?: string;
}

export interface ReportedTaskSpec {
  readonly arn: string;
  readonly clusterName: string;
  /** The task definition reported is `<family>:<revision>`. */
  readonly family: string;
  readonly revision: number | string;
  readonly group: string;
  readonly startedBy: string;
  readonly containerName: string;
  /** Default none. */
  readonly overrides?: TaskOverride;
  readonly launchType?: string;
  readonly capacityProviderName?: string;
  /** Where a footer and a failed delivery are noted. */
  readonly logFile: string;
  /** What those notes call it: `task <id>`, `deployment <id>`. */
  readonly name: string;
}

/**
 * The ECS task an executor reports its work as. Changes are made only through
 * its methods, each of which (but a stop request, as on ECS) emits the task's
 * new state; a task's events go out one at a time, in version order.
 */
export class ReportedTask {
  readonly arn: string;
  readonly clusterName: string;
  readonly createdAt: number;
  /** A deployment learns its revision only once it starts rolling out. */
  revision: number | string;
  readonly #spec: ReportedTaskSpec;
  readonly #settings: Reporting;
  #status: TaskStatus = ECS_TASK_STATUS.provisioning;
  #desiredStatus: EcsTaskStateChangeDetail["desiredStatus"] = ECS_TASK_STATUS.running;
  #version = 0;
  #startedAt: number | undefined;
  #stoppingAt: number | undefined;
  #stoppedAt: number | undefined;
  #stopRequested: string | undefined;
  #end: TaskEnd | undefined;
  /** Deliveries of this task's events, chained so they leave in version order. */
  #delivered: Promise<void> = Promise.resolve();

  constructor(settings: Reporting, spec: ReportedTaskSpec) {
    this.#settings = settings;
    this.#spec = spec;
    this.arn = spec.arn;
    this.clusterName = spec.clusterName;
    this.revision = spec.revision;
    this.createdAt = settings.now();
  }

  /** STOPPED has been emitted: nothing about the task changes any more. */
  get stopped(): boolean {
    return this.#status === ECS_TASK_STATUS.stopped;
  }

  /** The reason of the stop asked for, if one was. */
  get stopRequested(): string | undefined {
    return this.#stopRequested;
  }

  /** Emits the task as it stands: PROVISIONING, for an executor that reports the wait for its program. */
  provisioning(): Promise<void> {
    return this.#change(() => {});
  }

  running(): Promise<void> {
    if (this.#status !== ECS_TASK_STATUS.provisioning) return this.#delivered;
    return this.#change(() => {
      this.#status = ECS_TASK_STATUS.running;
      this.#startedAt = this.#settings.now();
    });
  }

  /** Marks the task as asked to stop, without an event (ECS reports it once it stops); false when it stopped or was asked already. */
  requestStop(reason: string): boolean {
    if (this.stopped || this.#stopRequested !== undefined) return false;
    this.#stopRequested = reason;
    this.#desiredStatus = ECS_TASK_STATUS.stopped;
    this.#stoppingAt = this.#settings.now();
    return true;
  }

  /** Emits STOPPED; resolves once it was delivered. A `footer` goes into the log first, so whoever reacts to STOPPED reads a complete log. */
  stop(end: TaskEnd, footer?: string): Promise<void> {
    if (this.stopped) return this.#delivered;
    const at = this.#settings.now();
    if (footer !== undefined) {
      const line = `── ${iso(at)} ${this.#spec.name} ${footer} ──\n`;
      this.#delivered = this.#delivered.then(() => appendFile(this.#spec.logFile, line).catch(() => {}));
    }
    return this.#change(() => {
      this.#end = end;
      this.#status = ECS_TASK_STATUS.stopped;
      this.#desiredStatus = ECS_TASK_STATUS.stopped;
      this.#stoppingAt ??= at;
      this.#stoppedAt = at;
    });
  }

  detail(): EcsTaskStateChangeDetail {
    const spec = this.#spec;
    const end = this.#end;
    const overrides = spec.overrides ?? {};
    const container: LocalContainerDetail = {
      name: spec.containerName,
      // A container is PENDING while its task provisions.
      lastStatus: this.#status === ECS_TASK_STATUS.provisioning ? ECS_TASK_STATUS.pending : this.#status,
      ...(end?.exitCode !== undefined ? { exitCode: end.exitCode } : {}),
      ...(end?.containerReason !== undefined ? { reason: end.containerReason } : {}),
    };
    const optional = {
      launchType: spec.launchType,
      capacityProviderName: spec.capacityProviderName,
      startedAt: iso(this.#startedAt),
      stoppingAt: iso(this.#stoppingAt),
      stoppedAt: iso(this.#stoppedAt),
      executionStoppedAt: iso(this.#stoppedAt),
      stopCode: end?.stopCode,
      stoppedReason: end?.stoppedReason,
      cpu: overrides.cpu,
      memory: overrides.memory,
    };
    return {
      clusterArn: ecsArn(this.#settings, `cluster/${spec.clusterName}`),
      taskArn: spec.arn,
      taskDefinitionArn: ecsArn(this.#settings, `task-definition/${spec.family}:${this.revision}`),
      group: spec.group,
      startedBy: spec.startedBy,
      lastStatus: this.#status,
      desiredStatus: this.#desiredStatus,
      version: this.#version,
      containers: [container],
      createdAt: iso(this.createdAt) as string,
      updatedAt: iso(this.#stoppedAt ?? this.#startedAt ?? this.createdAt) as string,
      overrides,
      ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    };
  }

  #change(apply: () => void): Promise<void> {
    apply();
    this.#version += 1;
    const { emit, now, account, region } = this.#settings;
    const event = ecsTaskStateChangeEvent(this.detail(), { id: randomUUID(), time: now(), account, region });
    this.#delivered = this.#delivered.then(async () => {
      try {
        await emit(event);
      } catch (e) {
        const line = `── could not deliver the ${event.detail.lastStatus} event of ${this.#spec.name}: ${errorMessage(e)} ──\n`;
        await appendFile(this.#spec.logFile, line).catch(() => {});
      }
    });
    return this.#delivered;
  }
}
