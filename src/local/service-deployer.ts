/**
 * The local stand-in for an ECS service deployment: each `local.services`
 * entry is a long-running process, and a deploy rolls it out blue/green on
 * one machine.
 *
 * A service with a `port` gets a small TCP proxy on 127.0.0.1:<port> that
 * forwards every new connection to the active version; each version listens
 * on a free port of its own, given to it as `PORT`. A deploy starts the new
 * version beside the old one (which keeps serving through the proxy), waits
 * for its health check, switches the proxy and only then stops the old one.
 * When the check fails, or the new version exits first, the new version is
 * stopped and the old one never stopped serving: that is the rollback.
 *
 * The deployment is reported as a pseudo task (`…:task/<cluster>/deploy-<hex>`)
 * whose `ECS Task State Change` events carry the run's `startedBy`, so the
 * engine tracks it exactly like a task: STOPPED with exit code 0 means the new
 * version serves, exit code 1 means it failed and was rolled back.
 *
 * Versions are started and stopped, and deployments reported, as the task
 * launcher does it for tasks (process.ts), so both behave alike.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { appendFile, mkdir } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join, relative, resolve } from "node:path";
import type { LocalService } from "../core/catalog/types.ts";
import type { DeployPlan } from "../core/ecs/deploy-plan.ts";
import type { LaunchOutcome, ServiceDeployer } from "../core/ports.ts";
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
  signalGroup,
  type ProcessExecutorOptions,
  type ProcessExecutorSettings,
} from "./process.ts";

export interface LocalServiceDeployerOptions extends ProcessExecutorOptions {
  /** Output of service S (every version) goes to `<logDir>/service-S.log`. */
  readonly logDir: string;
  /** A free TCP port on 127.0.0.1 for a new version to listen on. Default: one the OS hands out. */
  readonly portFinder?: () => Promise<number>;
}

/** What `start()` did for one service. */
export type ServiceStartReport =
  | { readonly service: string; readonly ok: true; readonly version: string; readonly pid: number; readonly port?: number }
  | { readonly service: string; readonly ok: false; readonly error: string };

const DEFAULT_HEALTH_TIMEOUT_S = 30;
const TIMED_OUT = "did not finish in time";

/** A service without a port or health command counts as healthy once it has stayed up this long. */
const STAY_UP_MS = 1000;
const HEALTH_RETRY_MS = 200;
const CONNECT_TIMEOUT_MS = 1000;
const INITIAL_LABEL = "initial";

interface Version {
  readonly service: string;
  /** Short id, also `BERTH_VERSION`. */
  readonly id: string;
  /** The image it stands for, or `initial`. */
  readonly label: string;
  /** Where it listens (its `PORT`), for services with a port. */
  readonly port?: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  group?: ProcessGroup;
  /** Set once the process is gone (or never started): how it ended. */
  ended?: string;
  /** Settles when the process is gone (or never started). */
  readonly gone: Promise<void>;
  /** Settles when the process has spawned (true) or failed to (false). */
  readonly spawned: Promise<boolean>;
  stopping: boolean;
}

interface ServiceState {
  readonly name: string;
  readonly definition: LocalService;
  readonly logFile: string;
  active?: Version;
  proxy?: Server;
  readonly sockets: Set<Socket>;
  /** The last deployment queued for this service: deployments of one service run one after another. */
  tail: Promise<void>;
  revision: number;
}

interface Deployment {
  /** The pseudo task the deployment is reported as. */
  readonly report: ReportedTask;
  readonly plan: DeployPlan;
  readonly abort: AbortController;
  /** Settles once the deployment ended and its STOPPED event was delivered. */
  done: Promise<void>;
}

type HealthResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Asks the OS for a free port; another process may take it before the version binds it, which then fails its health check. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? fail(new Error("the OS gave no port")) : done(port)));
    });
  });
}

/** Resolves when a TCP connection to 127.0.0.1:port succeeds; otherwise with the error code (ECONNREFUSED, …). */
function tryConnect(port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    const finish = (error: string | undefined) => {
      socket.destroy();
      done(error);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => finish("ETIMEDOUT"));
    socket.once("connect", () => finish(undefined));
    socket.once("error", (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

export class LocalServiceDeployer implements ServiceDeployer {
  readonly #definitions: Readonly<Record<string, LocalService>>;
  readonly #settings: ProcessExecutorSettings;
  readonly #portFinder: () => Promise<number>;
  readonly #services = new Map<string, ServiceState>();
  readonly #deployments = new Map<string, Deployment>();
  /** clientToken → deployment ARN: a repeated deploy starts nothing, as a repeated RunTask on ECS. */
  readonly #tokens = new Map<string, string>();
  #closed = false;
  /** Aborted by stopAll, so nothing waits out a health check while berth shuts down. */
  readonly #shutdown = new AbortController();

  constructor(options: LocalServiceDeployerOptions) {
    this.#definitions = options.catalog.local.services;
    this.#settings = processExecutorSettings(options);
    this.#portFinder = options.portFinder ?? freePort;
  }

  /**
   * Starts the current version of every service (once), and its proxy, and
   * waits for each to pass its health check, so services serve before any
   * deploy. A service that cannot start is reported, not thrown: the rest of
   * the runtime works without it, and a deploy of it can still succeed later.
   */
  async start(): Promise<readonly ServiceStartReport[]> {
    const names = Object.keys(this.#definitions);
    return Promise.all(
      names.map(async (name): Promise<ServiceStartReport> => {
        const state = this.#state(name) as ServiceState;
        if (state.active !== undefined) return this.#startReport(state, state.active);
        let finish!: () => void;
        const turn = state.tail;
        state.tail = new Promise<void>((r) => (finish = r));
        await turn;
        try {
          if (this.#closed) return { service: name, ok: false, error: "the service deployer was stopped" };
          if (state.active !== undefined) return this.#startReport(state, state.active);
          const proxyError = await this.#ensureProxy(state);
          if (proxyError !== undefined) return { service: name, ok: false, error: proxyError };
          const version = await this.#startVersion(state, INITIAL_LABEL, undefined);
          const health = await this.#checkHealth(state, version, this.#shutdown.signal);
          if (!health.ok) {
            await this.#stopVersion(state, version);
            return { service: name, ok: false, error: `service ${name} did not start: ${health.reason}; its output is in ${state.logFile}` };
          }
          state.active = version;
          return this.#startReport(state, version);
        } catch (e) {
          return { service: name, ok: false, error: `service ${name} did not start: ${errorMessage(e)}` };
        } finally {
          finish();
        }
      }),
    );
  }

  async deploy(plan: DeployPlan, id: { readonly runId: string; readonly attempt: number; readonly clientToken: string; readonly startedBy: string }): Promise<LaunchOutcome> {
    const known = this.#tokens.get(id.clientToken);
    if (known !== undefined) return { ok: true, taskArn: known };
    const state = this.#state(plan.service);
    if (state === undefined) {
      return {
        ok: false,
        failure: { kind: "invalid", retryable: false, message: `no local service "${plan.service}": add local.services.${plan.service} (command, port) to berth.yml` },
      };
    }
    if (this.#closed) {
      return { ok: false, failure: { kind: "invalid", retryable: false, message: "the local service deployer was stopped (berth dev is shutting down); deploy again after a restart" } };
    }

    const hex = randomBytes(16).toString("hex");
    const clusterName = clusterNameOf(plan.cluster);
    const report = new ReportedTask(this.#settings, {
      arn: ecsArn(this.#settings, `task/${clusterName}/deploy-${hex}`),
      clusterName,
      family: plan.service,
      revision: state.revision,
      group: `service:${plan.service}`,
      startedBy: id.startedBy,
      containerName: plan.container,
      logFile: state.logFile,
      name: `deployment ${hex}`,
    });
    const deployment: Deployment = { report, plan, abort: new AbortController(), done: Promise.resolve() };
    // Synchronous from the token check to here, so a concurrent call with the same token sees this ARN.
    this.#tokens.set(id.clientToken, report.arn);
    this.#deployments.set(report.arn, deployment);

    deployment.done = state.tail.then(() =>
      this.#rollOut(state, deployment).catch((e: unknown) => this.#finish(deployment, { exitCode: 1, reason: `the deployment of ${plan.service} failed: ${errorMessage(e)}` })),
    );
    state.tail = deployment.done;
    return { ok: true, taskArn: report.arn };
  }

  async stop(taskArn: string, reason: string): Promise<void> {
    const d = this.#deployments.get(taskArn);
    if (d === undefined || !d.report.requestStop(reason)) return;
    d.abort.abort();
  }

  async describe(taskArns: readonly string[]): Promise<{ readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] }> {
    const tasks: EcsTaskState[] = [];
    const missing: string[] = [];
    for (const arn of taskArns) {
      const d = this.#deployments.get(arn);
      if (d === undefined) missing.push(arn);
      else tasks.push(d.report.detail());
    }
    return { tasks, missing };
  }

  /**
   * Abandons deployments in progress, stops every version's process group
   * (SIGTERM, SIGKILL after the grace) and closes the proxies; resolves once
   * all of them are gone. Deploys after this are refused.
   */
  async stopAll(reason = "berth dev stopped"): Promise<void> {
    this.#closed = true;
    this.#shutdown.abort();
    const open = [...this.#deployments.values()].filter((d) => !d.report.stopped);
    await Promise.all(open.map((d) => this.stop(d.report.arn, reason)));
    await Promise.all(open.map((d) => d.done));
    await Promise.all(
      [...this.#services.values()].map(async (state) => {
        await state.tail;
        const active = state.active;
        state.active = undefined;
        if (active !== undefined) await this.#stopVersion(state, active);
        await this.#closeProxy(state);
      }),
    );
  }

  /** Process ids of the versions serving now, by service: for status lines and tests. */
  activePids(): Readonly<Record<string, number>> {
    const pids: Record<string, number> = {};
    for (const [name, state] of this.#services) {
      const pid = state.active?.group?.pid;
      if (pid !== undefined && state.active?.ended === undefined) pids[name] = pid;
    }
    return pids;
  }

  #state(name: string): ServiceState | undefined {
    const existing = this.#services.get(name);
    if (existing !== undefined) return existing;
    const definition = Object.hasOwn(this.#definitions, name) ? this.#definitions[name] : undefined;
    if (definition === undefined) return undefined;
    const state: ServiceState = {
      name,
      definition,
      logFile: join(this.#settings.logDir, `service-${name}.log`),
      sockets: new Set(),
      tail: Promise.resolve(),
      revision: 1,
    };
    this.#services.set(name, state);
    return state;
  }

  #startReport(state: ServiceState, version: Version): ServiceStartReport {
    const pid = version.group?.pid ?? 0;
    return { service: state.name, ok: true, version: version.id, pid, ...(state.definition.port !== undefined ? { port: state.definition.port } : {}) };
  }

  async #rollOut(state: ServiceState, d: Deployment): Promise<void> {
    if (d.report.stopRequested !== undefined) return this.#finish(d, { stopCode: "UserInitiated", reason: d.report.stopRequested });
    state.revision += 1;
    d.report.revision = state.revision;
    const plan = d.plan;
    const previous = state.active;
    // Asked when the deployment fails: the previous version may have died meanwhile.
    const rolledBack = () => (state.active !== undefined ? "rolled back to the previous version" : "no previous version is running");

    const proxyError = await this.#ensureProxy(state);
    if (proxyError !== undefined) return this.#finish(d, { exitCode: 1, reason: `${proxyError}; ${rolledBack()}` });

    let next: Version;
    try {
      next = await this.#startVersion(state, plan.image, plan.image, plan.environment);
    } catch (e) {
      return this.#finish(d, { exitCode: 1, reason: `could not start the new version of ${state.name}: ${errorMessage(e)}; ${rolledBack()}` });
    }
    if (!(await next.spawned)) {
      await next.gone;
      return this.#finish(d, { exitCode: 1, reason: `the new version of ${state.name} ${next.ended ?? "could not start"}; ${rolledBack()}` });
    }
    void d.report.running();

    const health = await this.#checkHealth(state, next, d.abort.signal);
    // A stop that arrives once the switch is under way is too late: the deployment completes.
    if (!health.ok || d.report.stopRequested !== undefined) {
      await this.#stopVersion(state, next);
      if (d.report.stopRequested !== undefined) return this.#finish(d, { stopCode: "UserInitiated", reason: d.report.stopRequested });
      const reason = health.ok ? "stopped" : health.reason;
      return this.#finish(d, { exitCode: 1, reason: `${reason}; ${rolledBack()}; its output is in ${relative(this.#settings.rootDir, state.logFile)}` });
    }

    state.active = next;
    if (previous !== undefined) await this.#stopVersion(state, previous);
    return this.#finish(d, { exitCode: 0, reason: `service ${state.name} now serves ${plan.image} (version ${next.id}); the previous version was stopped` });
  }

  #finish(d: Deployment, end: { readonly exitCode?: number; readonly stopCode?: "UserInitiated"; readonly reason: string }): Promise<void> {
    return d.report.stop({
      stopCode: end.stopCode ?? "EssentialContainerExited",
      stoppedReason: end.reason.length > 255 ? `${end.reason.slice(0, 254)}…` : end.reason,
      exitCode: end.exitCode,
    });
  }

  async #ensureProxy(state: ServiceState): Promise<string | undefined> {
    const port = state.definition.port;
    if (port === undefined || state.proxy !== undefined) return undefined;
    const server = createServer((client) => this.#forward(state, client));
    const error = await new Promise<string | undefined>((done) => {
      server.once("error", (e: NodeJS.ErrnoException) =>
        done(
          e.code === "EADDRINUSE"
            ? `port ${port} of service ${state.name} is in use: stop what listens there, or change local.services.${state.name}.port in berth.yml`
            : `cannot listen on port ${port} for service ${state.name}: ${e.message}`,
        ),
      );
      server.listen(port, "127.0.0.1", () => done(undefined));
    });
    if (error !== undefined) return error;
    server.on("error", () => {});
    state.proxy = server;
    return undefined;
  }

  /** Each connection goes to the version active when it opens; switching never cuts an open connection. */
  #forward(state: ServiceState, client: Socket): void {
    const target = state.active;
    if (target?.port === undefined || target.ended !== undefined) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port: target.port });
    state.sockets.add(client);
    state.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.once("close", () => state.sockets.delete(client));
    upstream.once("close", () => state.sockets.delete(upstream));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async #closeProxy(state: ServiceState): Promise<void> {
    const server = state.proxy;
    state.proxy = undefined;
    for (const socket of state.sockets) socket.destroy();
    state.sockets.clear();
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  }

  async #startVersion(state: ServiceState, label: string, image: string | undefined, overrides: Readonly<Record<string, string>> = {}): Promise<Version> {
    const settings = this.#settings;
    const definition = state.definition;
    await mkdir(settings.logDir, { recursive: true });
    const port = definition.port !== undefined ? await this.#portFinder() : undefined;
    const id = randomBytes(4).toString("hex");
    const env: Record<string, string | undefined> = { ...process.env, ...settings.environment, ...definition.environment, ...overrides, BERTH_SERVICE: state.name, BERTH_VERSION: id };
    if (port !== undefined) env.PORT = String(port);
    if (image !== undefined) env.BERTH_IMAGE = image;
    else delete env.BERTH_IMAGE;
    const cwd = resolve(settings.rootDir, definition.cwd ?? ".");
    const cwdProblem = await directoryProblem(cwd);
    if (cwdProblem !== undefined) {
      throw new Error(`working directory ${cwd} of local service "${state.name}" ${cwdProblem}: fix local.services.${state.name}.cwd in berth.yml`);
    }

    let markGone!: () => void;
    let markSpawned!: (ok: boolean) => void;
    const version: Version = {
      service: state.name,
      id,
      label,
      ...(port !== undefined ? { port } : {}),
      env,
      cwd,
      gone: new Promise<void>((r) => (markGone = r)),
      spawned: new Promise<boolean>((r) => (markSpawned = r)),
      stopping: false,
    };
    const end = (how: string) => {
      if (version.ended !== undefined) return;
      version.ended = how;
      if (state.active === version && !version.stopping) state.active = undefined;
      const line = `── ${iso(settings.now())} ${state.name} version ${id} (${label}) ${how} ──\n`;
      void appendFile(state.logFile, line)
        .catch(() => {})
        .then(() => markGone());
    };

    const logFd = openSync(state.logFile, "a");
    const where = port !== undefined ? ` on PORT ${port}` : "";
    const header = `── ${iso(settings.now())} ${state.name} version ${id} (${label}) starting${where}: ${JSON.stringify(definition.command)} ──\n`;
    version.group = new ProcessGroup(
      { argv: definition.command, cwd, env, logFd, header, name: `service-${state.name}-${id}`, groupDir: settings.groupDir },
      {
        spawned: () => markSpawned(true),
        failed: (message) => {
          markSpawned(false);
          end(`could not start: ${message}`);
        },
        exited: (code, signal) => end(exitDescription(code, signal)),
      },
    );
    return version;
  }

  async #stopVersion(state: ServiceState, version: Version): Promise<void> {
    if (state.active === version) state.active = undefined;
    if (version.ended === undefined && !version.stopping) {
      version.stopping = true;
      version.group?.stop(this.#settings.stopGraceMs);
    }
    await version.gone;
  }

  /**
   * Healthy means: `health.command` exits 0 (run again until it does), or
   * else, with a port, a TCP connection to the version's own PORT succeeds —
   * the proxy port would reach the old version — or else the process is
   * still up after a second. All within `health.timeout`; the version
   * exiting first fails at once.
   */
  async #checkHealth(state: ServiceState, version: Version, signal: AbortSignal): Promise<HealthResult> {
    const health = state.definition.health;
    const timeoutS = health?.timeout ?? DEFAULT_HEALTH_TIMEOUT_S;
    const deadline = Date.now() + timeoutS * 1000;
    const exited = version.gone.then((): HealthResult => ({ ok: false, reason: `version ${version.id} ${version.ended ?? "exited"} before it became healthy` }));
    const aborted = new Promise<HealthResult>((done) => {
      const fire = () => done({ ok: false, reason: "stopped" });
      if (signal.aborted) fire();
      else signal.addEventListener("abort", fire, { once: true });
    });
    const stop = new AbortController();
    const probe = this.#probe(state, version, deadline, timeoutS, stop.signal);
    const result = await Promise.race([probe, exited, aborted]);
    stop.abort();
    return result;
  }

  async #probe(state: ServiceState, version: Version, deadline: number, timeoutS: number, stop: AbortSignal): Promise<HealthResult> {
    const command = state.definition.health?.command;
    const port = version.port;
    if (command === undefined && port === undefined) {
      await sleep(Math.min(STAY_UP_MS, Math.max(0, deadline - Date.now())));
      return { ok: true };
    }
    let last = "";
    for (;;) {
      if (stop.aborted) return { ok: false, reason: "stopped" };
      if (command !== undefined) {
        const problem = await this.#runHealthCommand(version, command, deadline - Date.now(), stop);
        if (problem === undefined) return { ok: true };
        // A run cut off by the deadline says less than the last one that finished, so keep that one.
        if (problem !== TIMED_OUT || last === "") last = `the health command ${problem}`;
      } else if (port !== undefined) {
        const problem = await tryConnect(port);
        if (problem === undefined) return { ok: true };
        last = `port ${port} (the new version's PORT) refused connections (${problem})`;
      }
      await sleep(Math.max(0, Math.min(HEALTH_RETRY_MS, deadline - Date.now())));
      if (Date.now() >= deadline) return { ok: false, reason: `health check failed after ${timeoutS}s: ${last}` };
    }
  }

  /** Undefined when the command exited 0; otherwise how it failed (TIMED_OUT when the budget ran out). */
  #runHealthCommand(version: Version, command: readonly string[], budgetMs: number, stop: AbortSignal): Promise<string | undefined> {
    return new Promise((done) => {
      let stderr = "";
      let settled = false;
      const finish = (problem: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stop.removeEventListener("abort", onStop);
        done(problem);
      };
      let child: ChildProcess;
      try {
        const [program, ...args] = command;
        child = spawn(program as string, args, { cwd: version.cwd, env: version.env, shell: false, detached: true, stdio: ["ignore", "ignore", "pipe"] });
      } catch (e) {
        return done(`could not run: ${errorMessage(e)}`);
      }
      const onStop = () => {
        signalGroup(child.pid, "SIGKILL");
        finish("stopped");
      };
      const timer = setTimeout(() => {
        signalGroup(child.pid, "SIGKILL");
        finish(TIMED_OUT);
      }, budgetMs);
      stop.addEventListener("abort", onStop, { once: true });
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString("utf8")).slice(-500);
      });
      child.once("error", (e) => finish(`could not run: ${e.message}`));
      child.once("close", (code, sig) => {
        if (code === 0) return finish(undefined);
        const said = stderr.trim().split("\n").at(-1)?.trim().slice(0, 120);
        finish(`${sig !== null ? `was killed by ${sig}` : `exited with code ${code}`}${said ? ` (${said})` : ""}`);
      });
    });
  }
}
