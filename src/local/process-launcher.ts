/**
 * The local stand-in for ECS RunTask: each task is a child process (or a
 * `docker run`) built from `local.taskDefinitions` plus the request's
 * container override, and its life is reported as `ECS Task State Change`
 * events (PROVISIONING → RUNNING → STOPPED) through `emit`, so the engine
 * tracks it exactly as it tracks a task on ECS.
 *
 * How processes are started, stopped and reported is shared with the
 * service deployer (process.ts); what is RunTask's own is here: task
 * definitions, container overrides, the docker engine and ECS's stop codes.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join, resolve } from "node:path";
import type { LocalTaskDefinition } from "../core/catalog/types.ts";
import type { RunTaskRequest } from "../core/ecs/types.ts";
import { runIdFromStartedBy } from "../core/ids.ts";
import type { LaunchFailure, LaunchOutcome, TaskLauncher } from "../core/ports.ts";
import type { EcsTaskState } from "../core/events/ecs-task.ts";
import {
  clusterNameOf,
  directoryProblem,
  ecsArn,
  errorMessage,
  exitDescription,
  iso,
  processExecutorSettings,
  ProcessGroup,
  ReportedTask,
  type ProcessExecutorOptions,
  type ProcessExecutorSettings,
  type TaskEnd,
} from "./process.ts";

export interface ProcessTaskLauncherOptions extends ProcessExecutorOptions {
  /** Output of run R goes to `<logDir>/R.log`, one section per attempt. */
  readonly logDir: string;
}

interface LocalTask {
  readonly id: string;
  readonly report: ReportedTask;
  readonly docker: boolean;
  group?: ProcessGroup;
  /** Settles once the STOPPED event has been delivered. */
  readonly done: Promise<void>;
  readonly finish: () => void;
}

const DOCKER_INFO_TIMEOUT_MS = 10_000;

/** `arn:…:task-definition/etl:7`, `etl:7`, `etl` → family `etl`, revision `7` (or undefined). */
function parseTaskDefinition(taskDefinition: string): { family: string; revision: string | undefined } {
  const name = taskDefinition.startsWith("arn:") ? taskDefinition.slice(taskDefinition.lastIndexOf("/") + 1) : taskDefinition;
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? { family: m[1] as string, revision: m[2] } : { family: name, revision: undefined };
}

function invalid(message: string): LaunchOutcome {
  const failure: LaunchFailure = { kind: "invalid", retryable: false, message };
  return { ok: false, failure };
}

/** A shell's convention, which container runtimes report too: death by signal N is exit code 128 + N. */
function signalExitCode(signal: NodeJS.Signals): number | undefined {
  const n = osConstants.signals[signal];
  return n === undefined ? undefined : 128 + n;
}

export class ProcessTaskLauncher implements TaskLauncher {
  readonly #definitions: Readonly<Record<string, LocalTaskDefinition>>;
  readonly #engine: "process" | "docker";
  readonly #settings: ProcessExecutorSettings;
  readonly #tasks = new Map<string, LocalTask>();
  /** clientToken → task ARN: a repeated RunTask starts nothing, as on ECS. */
  readonly #tokens = new Map<string, string>();
  #dockerCheck: Promise<string | undefined> | undefined;

  constructor(options: ProcessTaskLauncherOptions) {
    this.#definitions = options.catalog.local.taskDefinitions;
    this.#engine = options.catalog.local.engine;
    this.#settings = processExecutorSettings(options);
  }

  async runTask(request: RunTaskRequest): Promise<LaunchOutcome> {
    const known = this.#tokens.get(request.clientToken);
    if (known !== undefined) return { ok: true, taskArn: known };

    const s = this.#settings;
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
    const cwd = resolve(s.rootDir, definition.cwd ?? ".");
    const cwdProblem = await directoryProblem(cwd);
    if (cwdProblem !== undefined) {
      return invalid(`working directory ${cwd} of local task definition "${family}" ${cwdProblem}: fix local.taskDefinitions.${family}.cwd in berth.yml`);
    }
    try {
      await mkdir(s.logDir, { recursive: true });
    } catch (e) {
      return invalid(`cannot create the log folder ${s.logDir}: ${errorMessage(e)}`);
    }

    // Everything from here to the spawn is synchronous, so a concurrent call with the same token sees this one's ARN.
    const again = this.#tokens.get(request.clientToken);
    if (again !== undefined) return { ok: true, taskArn: again };

    const override = request.overrides?.containerOverrides?.[0];
    const command = override?.command !== undefined && override.command.length > 0 ? override.command : definition.command;
    const id = randomBytes(16).toString("hex");
    const clusterName = clusterNameOf(request.cluster);
    const arn = ecsArn(s, `task/${clusterName}/${id}`);
    const containerEnv: Record<string, string> = { ...s.environment, ...definition.environment };
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

    const logFile = join(s.logDir, `${runId ?? id}.log`);
    let logFd: number;
    try {
      logFd = openSync(logFile, "a");
    } catch (e) {
      return invalid(`cannot open the task log ${logFile}: ${errorMessage(e)}`);
    }

    const provider = request.capacityProviderStrategy?.[0]?.capacityProvider;
    const report = new ReportedTask(s, {
      arn,
      clusterName,
      family,
      revision: revision ?? "1",
      group: `family:${family}`,
      startedBy: request.startedBy,
      containerName: override?.name ?? family,
      overrides: request.overrides,
      launchType: request.launchType ?? (provider === undefined ? undefined : provider.startsWith("FARGATE") ? "FARGATE" : "EC2"),
      capacityProviderName: provider,
      logFile,
      name: `task ${id}`,
    });
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const task: LocalTask = { id, report, docker, done, finish };
    this.#tokens.set(request.clientToken, arn);
    this.#tasks.set(arn, task);
    void report.provisioning();

    task.group = new ProcessGroup(
      { argv, cwd, env, logFd, header: `── ${iso(report.createdAt)} task ${id} started: ${JSON.stringify(argv)} ──\n`, name: id, groupDir: s.groupDir },
      {
        spawned: () => void report.running(),
        failed: (message) => this.#failedToStart(task, message),
        exited: (code, signal) => this.#exited(task, code, signal),
      },
    );
    return { ok: true, taskArn: arn };
  }

  async stopTask(_cluster: string, taskArn: string, reason: string): Promise<void> {
    const task = this.#tasks.get(taskArn);
    if (task === undefined || !task.report.requestStop(reason)) return;
    const group = task.group;
    if (group?.pid === undefined) return; // never started: its failure is already on its way
    // The docker CLI relays SIGTERM to the container but cannot relay SIGKILL, so remove the container itself.
    const removeContainer = () => execFile("docker", ["rm", "--force", `berth-${task.id}`], () => {});
    group.stop(this.#settings.stopGraceMs, task.docker ? removeContainer : undefined);
  }

  async describeTasks(cluster: string, taskArns: readonly string[]): Promise<{ readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] }> {
    const name = clusterNameOf(cluster);
    const tasks: EcsTaskState[] = [];
    const missing: string[] = [];
    for (const arn of taskArns) {
      const task = this.#tasks.get(arn);
      if (task === undefined || task.report.clusterName !== name) missing.push(arn);
      else tasks.push(task.report.detail());
    }
    return { tasks, missing };
  }

  /** Stops every task that has not stopped; resolves once all have exited and their STOPPED events were delivered. */
  async stopAll(reason: string): Promise<void> {
    const open = [...this.#tasks.values()].filter((t) => !t.report.stopped);
    await Promise.all(open.map((t) => this.stopTask(t.report.clusterName, t.report.arn, reason)));
    await Promise.all(open.map((t) => t.done));
  }

  /** Tasks that have not stopped yet. */
  runningCount(): number {
    let n = 0;
    for (const t of this.#tasks.values()) if (!t.report.stopped) n += 1;
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

  #failedToStart(task: LocalTask, message: string): void {
    const reason = `CannotStartContainerError: ${message}`;
    this.#stop(task, { stopCode: "TaskFailedToStart", stoppedReason: reason, containerReason: reason }, `failed to start: ${message}`);
  }

  #exited(task: LocalTask, code: number | null, signal: NodeJS.Signals | null): void {
    const requested = task.report.stopRequested;
    const how = exitDescription(code, signal);
    this.#stop(
      task,
      {
        ...(requested !== undefined
          ? { stopCode: "UserInitiated", stoppedReason: requested }
          : { stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited" }),
        exitCode: code ?? (signal !== null ? signalExitCode(signal) : undefined),
        containerReason: signal !== null ? how : undefined,
      },
      requested !== undefined ? `${how} (stopped: ${requested})` : how,
    );
  }

  #stop(task: LocalTask, end: TaskEnd, footer: string): void {
    void task.report.stop(end, footer).then(task.finish);
  }
}
