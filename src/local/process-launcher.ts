/**
 * The local stand-in for ECS RunTask: each task is a child process (or a
 * `docker run`) built from `local.taskDefinitions` plus the request's
 * container override, and its life is reported as `ECS Task State Change`
 * events (PROVISIONING → RUNNING → STOPPED) through `emit`, so the engine
 * tracks it exactly as it tracks a task on ECS.
 *
 * A task never goes through a shell: argv and environment values reach the
 * process byte for byte, whatever a rendered S3 key contains. Each task
 * leads its own process group, so stopping it (or its essential process
 * exiting, as when a container's main process exits) ends everything it
 * started.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { appendFile, mkdir, stat } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join, resolve } from "node:path";
import type { Catalog, LocalTaskDefinition } from "../core/catalog/types.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import type { RunTaskRequest } from "../core/ecs/types.ts";
import { runIdFromStartedBy } from "../core/ids.ts";
import type { LaunchFailure, LaunchOutcome, TaskLauncher } from "../core/ports.ts";
import type { EcsTaskState } from "../core/runs/task-state.ts";
import { ecsTaskStateChangeEvent, type EcsTaskStateChangeDetail, type LocalContainerDetail } from "./task-events.ts";
import { forgetGroup, recordGroup } from "./leftovers.ts";

export interface ProcessTaskLauncherOptions {
  readonly catalog: Pick<Catalog, "local">;
  /** The folder `cwd` of a local task definition is resolved against (where berth.yml lives). */
  readonly rootDir: string;
  /** Output of run R goes to `<logDir>/R.log`, one section per attempt. */
  readonly logDir: string;
  /** Receives every task state change, in version order per task; a returned promise is awaited before the next event. */
  readonly emit: (event: BusEvent<EcsTaskStateChangeDetail>) => void | Promise<void>;
  /** Epoch ms. Default `Date.now`. */
  readonly now?: () => number;
  /** How long a stopped task has between SIGTERM and SIGKILL. Default 5000 ms (ECS's default stopTimeout is 30 s; local runs stop faster). */
  readonly stopGraceMs?: number;
  /** Default "local". */
  readonly region?: string;
  /** Default "000000000000". */
  readonly account?: string;
  /** Where running process groups are recorded, so a later runtime can stop them if this one dies (leftovers.ts). */
  readonly groupDir?: string;
}

type Status = "PROVISIONING" | "RUNNING" | "STOPPED";

interface LocalTask {
  readonly id: string;
  readonly arn: string;
  readonly clusterName: string;
  readonly family: string;
  readonly revision: string;
  readonly request: RunTaskRequest;
  readonly containerName: string;
  readonly argv: readonly string[];
  readonly logFile: string;
  readonly docker: boolean;
  readonly createdAt: number;
  status: Status;
  desiredStatus: "RUNNING" | "STOPPED";
  version: number;
  child?: ChildProcess;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stopRequested?: string;
  stopCode?: EcsTaskStateChangeDetail["stopCode"];
  stoppedReason?: string;
  exitCode?: number;
  containerReason?: string;
  killTimer?: NodeJS.Timeout;
  /** Deliveries of this task's events, chained so they leave in version order. */
  delivered: Promise<void>;
  /** Settles once the STOPPED event has been delivered. */
  readonly done: Promise<void>;
  finish: () => void;
}

const DEFAULT_STOP_GRACE_MS = 5000;
const DOCKER_INFO_TIMEOUT_MS = 10_000;

/** `arn:…:task-definition/etl:7`, `etl:7`, `etl` → family `etl`, revision `7` (or undefined). */
function parseTaskDefinition(taskDefinition: string): { family: string; revision: string | undefined } {
  const name = taskDefinition.startsWith("arn:") ? taskDefinition.slice(taskDefinition.lastIndexOf("/") + 1) : taskDefinition;
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? { family: m[1] as string, revision: m[2] } : { family: name, revision: undefined };
}

function clusterNameOf(cluster: string): string {
  return cluster.startsWith("arn:") ? cluster.slice(cluster.lastIndexOf("/") + 1) : cluster;
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

function invalid(message: string): LaunchOutcome {
  const failure: LaunchFailure = { kind: "invalid", retryable: false, message };
  return { ok: false, failure };
}

/** A shell's convention, which container runtimes report too: death by signal N is exit code 128 + N. */
function signalExitCode(signal: NodeJS.Signals): number | undefined {
  const n = osConstants.signals[signal];
  return n === undefined ? undefined : 128 + n;
}

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ProcessTaskLauncher implements TaskLauncher {
  readonly #definitions: Readonly<Record<string, LocalTaskDefinition>>;
  readonly #engine: "process" | "docker";
  readonly #rootDir: string;
  readonly #logDir: string;
  readonly #emit: ProcessTaskLauncherOptions["emit"];
  readonly #now: () => number;
  readonly #stopGraceMs: number;
  readonly #region: string;
  readonly #account: string;
  readonly #groupDir: string | undefined;
  readonly #tasks = new Map<string, LocalTask>();
  /** clientToken → task ARN: a repeated RunTask starts nothing, as on ECS. */
  readonly #tokens = new Map<string, string>();
  #dockerCheck: Promise<string | undefined> | undefined;

  constructor(options: ProcessTaskLauncherOptions) {
    this.#definitions = options.catalog.local.taskDefinitions;
    this.#engine = options.catalog.local.engine;
    this.#rootDir = resolve(options.rootDir);
    this.#logDir = resolve(options.rootDir, options.logDir);
    this.#emit = options.emit;
    this.#now = options.now ?? Date.now;
    this.#stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.#region = options.region ?? "local";
    this.#account = options.account ?? "000000000000";
    this.#groupDir = options.groupDir;
  }

  async runTask(request: RunTaskRequest): Promise<LaunchOutcome> {
    const known = this.#tokens.get(request.clientToken);
    if (known !== undefined) return { ok: true, taskArn: known };

    const { family, revision } = parseTaskDefinition(request.taskDefinition);
    const definition = Object.hasOwn(this.#definitions, family) ? this.#definitions[family] : undefined;
    if (definition === undefined) {
      return invalid(`no local task definition "${family}": add local.taskDefinitions.${family} (command, cwd, environment) to berth.yml`);
    }
    const docker = this.#engine === "docker";
    if (docker) {
      if (definition.image === undefined) {
        return invalid(`local task definition "${family}" has no image: local.engine is docker, so add local.taskDefinitions.${family}.image to berth.yml, or set local.engine: process`);
      }
      const unreachable = await this.#checkDocker();
      if (unreachable !== undefined) {
        return invalid(`the docker engine is not reachable (docker info: ${unreachable}): start it, or set local.engine: process in berth.yml to run tasks as local processes`);
      }
    }
    const cwd = resolve(this.#rootDir, definition.cwd ?? ".");
    const cwdProblem = await stat(cwd).then(
      (s) => (s.isDirectory() ? undefined : "is not a directory"),
      () => "does not exist",
    );
    if (cwdProblem !== undefined) {
      return invalid(`working directory ${cwd} of local task definition "${family}" ${cwdProblem}: fix local.taskDefinitions.${family}.cwd in berth.yml`);
    }
    try {
      await mkdir(this.#logDir, { recursive: true });
    } catch (e) {
      return invalid(`cannot create the log folder ${this.#logDir}: ${errorMessage(e)}`);
    }

    // Everything from here to the spawn is synchronous, so a concurrent call with the same token sees this one's ARN.
    const again = this.#tokens.get(request.clientToken);
    if (again !== undefined) return { ok: true, taskArn: again };

    const override = request.overrides?.containerOverrides?.[0];
    const command = override?.command !== undefined && override.command.length > 0 ? override.command : definition.command;
    const id = randomBytes(16).toString("hex");
    const clusterName = clusterNameOf(request.cluster);
    const arn = `arn:aws:ecs:${this.#region}:${this.#account}:task/${clusterName}/${id}`;
    const containerEnv: Record<string, string> = { ...definition.environment };
    for (const { name, value } of override?.environment ?? []) containerEnv[name] = value;
    const runId = runIdFromStartedBy(request.startedBy);
    if (runId !== undefined) containerEnv.BERTH_RUN_ID = runId;
    containerEnv.BERTH_TASK_ARN = arn;

    let argv: string[];
    let env: Record<string, string | undefined>;
    if (docker) {
      argv = ["docker", "run", "--rm", "--name", `berth-${id}`];
      for (const [name, value] of Object.entries(containerEnv)) argv.push("-e", `${name}=${value}`);
      argv.push(definition.image as string, ...command);
      env = { ...process.env };
    } else {
      if (command.length === 0) {
        return invalid(`local task definition "${family}" has no command and the request overrides none: add local.taskDefinitions.${family}.command to berth.yml`);
      }
      argv = [...command];
      env = { ...process.env, ...containerEnv };
    }

    const logFile = join(this.#logDir, `${runId ?? id}.log`);
    let fd: number;
    try {
      fd = openSync(logFile, "a");
    } catch (e) {
      return invalid(`cannot open the task log ${logFile}: ${errorMessage(e)}`);
    }

    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const task: LocalTask = {
      id,
      arn,
      clusterName,
      family,
      revision: revision ?? "1",
      request,
      containerName: override?.name ?? family,
      argv,
      logFile,
      docker,
      createdAt: this.#now(),
      status: "PROVISIONING",
      desiredStatus: "RUNNING",
      version: 0,
      delivered: Promise.resolve(),
      done,
      finish,
    };
    this.#tokens.set(request.clientToken, arn);
    this.#tasks.set(arn, task);
    void this.#queue(task, this.#change(task, () => {}));

    try {
      writeSync(fd, `── ${iso(task.createdAt)} task ${id} started: ${JSON.stringify(argv)} ──\n`);
      const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, shell: false, detached: true, stdio: ["ignore", fd, fd] });
      task.child = child;
      child.once("spawn", () => {
        if (this.#groupDir !== undefined && child.pid !== undefined) recordGroup(this.#groupDir, id, child.pid);
        this.#started(task);
      });
      child.on("error", (e) => {
        // Before `spawn`, an error means the program never ran; later ones (a failed kill) change nothing.
        if (task.status === "PROVISIONING") this.#failedToStart(task, e.message);
      });
      child.once("exit", (code, signal) => {
        if (this.#groupDir !== undefined) forgetGroup(this.#groupDir, id);
        this.#exited(task, code, signal);
      });
    } catch (e) {
      // spawn throws for arguments it cannot pass at all, e.g. a NUL byte in argv or the environment.
      this.#failedToStart(task, errorMessage(e));
    } finally {
      // The child holds its own copy of the descriptor from here on.
      closeSync(fd);
    }
    return { ok: true, taskArn: arn };
  }

  async stopTask(_cluster: string, taskArn: string, reason: string): Promise<void> {
    const task = this.#tasks.get(taskArn);
    if (task === undefined || task.status === "STOPPED" || task.stopRequested !== undefined) return;
    task.stopRequested = reason;
    task.desiredStatus = "STOPPED";
    task.stoppingAt = this.#now();
    const pid = task.child?.pid;
    if (pid === undefined) return; // never started: its failure is already on its way
    this.#signalGroup(task, "SIGTERM");
    task.killTimer = setTimeout(() => this.#kill(task), this.#stopGraceMs);
  }

  async describeTasks(cluster: string, taskArns: readonly string[]): Promise<{ readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] }> {
    const name = clusterNameOf(cluster);
    const tasks: EcsTaskState[] = [];
    const missing: string[] = [];
    for (const arn of taskArns) {
      const task = this.#tasks.get(arn);
      if (task === undefined || task.clusterName !== name) missing.push(arn);
      else tasks.push(this.#detail(task));
    }
    return { tasks, missing };
  }

  /** Stops every task that has not stopped; resolves once all have exited and their STOPPED events were delivered. */
  async stopAll(reason: string): Promise<void> {
    const open = [...this.#tasks.values()].filter((t) => t.status !== "STOPPED");
    await Promise.all(open.map((t) => this.stopTask(t.clusterName, t.arn, reason)));
    await Promise.all(open.map((t) => t.done));
  }

  /** Tasks that have not stopped yet. */
  runningCount(): number {
    let n = 0;
    for (const t of this.#tasks.values()) if (t.status !== "STOPPED") n += 1;
    return n;
  }

  #checkDocker(): Promise<string | undefined> {
    this.#dockerCheck ??= new Promise((done) => {
      execFile("docker", ["info"], { timeout: DOCKER_INFO_TIMEOUT_MS }, (error, _stdout, stderr) => {
        if (error === null) return done(undefined);
        const detail = String(stderr).trim().split("\n").find((l) => l.trim() !== "") ?? error.message;
        done(detail.trim());
      });
    });
    return this.#dockerCheck;
  }

  #signalGroup(task: LocalTask, signal: NodeJS.Signals): void {
    const pid = task.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  #kill(task: LocalTask): void {
    this.#signalGroup(task, "SIGKILL");
    // The docker CLI relays SIGTERM to the container but cannot relay SIGKILL, so remove the container itself.
    if (task.docker) execFile("docker", ["rm", "--force", `berth-${task.id}`], () => {});
  }

  #started(task: LocalTask): void {
    if (task.status !== "PROVISIONING") return;
    const event = this.#change(task, () => {
      task.status = "RUNNING";
      task.startedAt = this.#now();
    });
    void this.#queue(task, event);
  }

  #failedToStart(task: LocalTask, message: string): void {
    const reason = `CannotStartContainerError: ${message}`;
    this.#stop(task, `failed to start: ${message}`, () => {
      task.stopCode = "TaskFailedToStart";
      task.stoppedReason = reason;
      task.containerReason = reason;
    });
  }

  #exited(task: LocalTask, code: number | null, signal: NodeJS.Signals | null): void {
    if (task.status === "STOPPED") return;
    // As when a container's main process exits: nothing it left behind keeps running.
    this.#signalGroup(task, "SIGKILL");
    const exitCode = code ?? (signal !== null ? signalExitCode(signal) : undefined);
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    const footer = task.stopRequested !== undefined ? `${how} (stopped: ${task.stopRequested})` : how;
    this.#stop(task, footer, () => {
      if (exitCode !== undefined) task.exitCode = exitCode;
      if (signal !== null) task.containerReason = `killed by ${signal}`;
      if (task.stopRequested !== undefined) {
        task.stopCode = "UserInitiated";
        task.stoppedReason = task.stopRequested;
      } else {
        task.stopCode = "EssentialContainerExited";
        task.stoppedReason = "Essential container in task exited";
      }
    });
  }

  #stop(task: LocalTask, footer: string, apply: () => void): void {
    if (task.status === "STOPPED") return;
    if (task.killTimer !== undefined) clearTimeout(task.killTimer);
    const at = this.#now();
    const event = this.#change(task, () => {
      apply();
      task.status = "STOPPED";
      task.desiredStatus = "STOPPED";
      task.stoppingAt ??= at;
      task.stoppedAt = at;
    });
    // The footer goes in before STOPPED is delivered, so whoever reacts to STOPPED reads a complete log.
    const line = `── ${iso(at)} task ${task.id} ${footer} ──\n`;
    task.delivered = task.delivered.then(() => appendFile(task.logFile, line).catch(() => {}));
    void this.#queue(task, event).then(() => task.finish());
  }

  #change(task: LocalTask, apply: () => void): BusEvent<EcsTaskStateChangeDetail> {
    apply();
    task.version += 1;
    return ecsTaskStateChangeEvent(this.#detail(task), { id: randomUUID(), time: this.#now(), account: this.#account, region: this.#region });
  }

  #queue(task: LocalTask, event: BusEvent<EcsTaskStateChangeDetail>): Promise<void> {
    task.delivered = task.delivered.then(async () => {
      try {
        await this.#emit(event);
      } catch (e) {
        await appendFile(task.logFile, `── could not deliver the ${event.detail.lastStatus} event of task ${task.id}: ${errorMessage(e)} ──\n`).catch(() => {});
      }
    });
    return task.delivered;
  }

  #detail(task: LocalTask): EcsTaskStateChangeDetail {
    const r = task.request;
    const provider = r.capacityProviderStrategy?.[0]?.capacityProvider;
    const launchType = r.launchType ?? (provider === undefined ? undefined : provider.startsWith("FARGATE") ? "FARGATE" : "EC2");
    const container: LocalContainerDetail = {
      name: task.containerName,
      lastStatus: task.status === "PROVISIONING" ? "PENDING" : task.status,
      ...(task.exitCode !== undefined ? { exitCode: task.exitCode } : {}),
      ...(task.containerReason !== undefined ? { reason: task.containerReason } : {}),
    };
    const optional = {
      launchType,
      capacityProviderName: provider,
      startedAt: iso(task.startedAt),
      stoppingAt: iso(task.stoppingAt),
      stoppedAt: iso(task.stoppedAt),
      executionStoppedAt: iso(task.stoppedAt),
      stopCode: task.stopCode,
      stoppedReason: task.stoppedReason,
      cpu: r.overrides?.cpu,
      memory: r.overrides?.memory,
    };
    return {
      clusterArn: `arn:aws:ecs:${this.#region}:${this.#account}:cluster/${task.clusterName}`,
      taskArn: task.arn,
      taskDefinitionArn: `arn:aws:ecs:${this.#region}:${this.#account}:task-definition/${task.family}:${task.revision}`,
      group: `family:${task.family}`,
      startedBy: r.startedBy,
      lastStatus: task.status,
      desiredStatus: task.desiredStatus,
      version: task.version,
      containers: [container],
      createdAt: iso(task.createdAt) as string,
      updatedAt: iso(task.stoppedAt ?? task.startedAt ?? task.createdAt) as string,
      overrides: r.overrides ?? {},
      ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    };
  }
}
