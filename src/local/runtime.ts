/**
 * The local runtime (`berth dev`): the same engine as on AWS, with local
 * stand-ins around it. Every source of events (the S3 folder, the webhook,
 * the scheduler, the executor's task state changes, berth's own run state
 * changes, requests from the CLI) puts EventBridge-shaped events on one
 * local bus; the bus hands task state changes to tracking and everything
 * else to dispatch, where the catalog's patterns decide — as the rules do on
 * AWS. The runtime decides nothing itself.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Catalog } from "../core/catalog/types.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import type { RunStateChangeDetail } from "../core/runs/effects.ts";
import { DETAIL_TYPE, runStateChangeEvent } from "../core/events/berth-events.ts";
import { buildRouter } from "../core/router.ts";
import { Engine, type DispatchOutcome, type TrackOutcome } from "../core/engine/engine.ts";
import { isTerminal } from "../core/runs/status.ts";
import type { Publisher } from "../core/ports.ts";
import { SqliteRunStore } from "./sqlite-run-store.ts";
import { ProcessTaskLauncher } from "./process-launcher.ts";
import { LocalServiceDeployer } from "./service-deployer.ts";
import { S3FolderWatcher } from "./s3-folder.ts";
import { LocalScheduler } from "./scheduler.ts";
import { killLeftoverGroups } from "./leftovers.ts";

export interface RuntimeOptions {
  readonly catalog: Catalog;
  /** The folder of berth.yml: task and service `cwd`s are relative to it. */
  readonly rootDir: string;
  /** Where the runtime keeps its state: `<rootDir>/.berth` by default. */
  readonly stateDir: string;
  /** Told about everything that happens, for the terminal UI. */
  readonly onActivity?: (activity: Activity) => void;
  /** How often the sweep runs (timeouts, due retries, queued runs). Default 1000 ms. */
  readonly sweepIntervalMs?: number;
  /** Grace between SIGTERM and SIGKILL when tasks are stopped. Default 5000 ms. */
  readonly stopGraceMs?: number;
}

export type Activity =
  | { readonly type: "run"; readonly detail: RunStateChangeDetail }
  | { readonly type: "rejected"; readonly source: string; readonly detailType: string; readonly reason: string }
  | { readonly type: "warning"; readonly message: string };

export type BusOutcome = { readonly dispatched: readonly DispatchOutcome[] } | { readonly tracked: TrackOutcome };

interface Queued {
  readonly event: BusEvent;
  readonly done?: (outcome: BusOutcome) => void;
  readonly failed?: (error: unknown) => void;
}

export class LocalRuntime {
  readonly engine: Engine;
  readonly store: SqliteRunStore;
  readonly launcher: ProcessTaskLauncher;
  readonly deployer: LocalServiceDeployer;
  readonly scheduler: LocalScheduler;
  readonly watcher: S3FolderWatcher;
  readonly s3Root: string;
  readonly logDir: string;
  /** Process groups of running tasks and services, recorded so that a runtime killed outright is cleaned up by the next one. */
  private readonly groupDir: string;
  private readonly queue: Queued[] = [];
  private draining: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private stopped = false;

  constructor(private readonly options: RuntimeOptions) {
    const { catalog, rootDir, stateDir } = options;
    mkdirSync(stateDir, { recursive: true });
    this.s3Root = join(stateDir, "s3");
    this.logDir = join(stateDir, "logs");
    mkdirSync(this.logDir, { recursive: true });
    const put = (event: BusEvent) => this.put(event);
    this.store = new SqliteRunStore(join(stateDir, "berth.db"));
    this.groupDir = join(stateDir, "processes");
    this.launcher = new ProcessTaskLauncher({
      catalog,
      rootDir,
      logDir: this.logDir,
      emit: put,
      groupDir: this.groupDir,
      ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
    });
    this.deployer = new LocalServiceDeployer({
      catalog,
      rootDir,
      logDir: this.logDir,
      emit: put,
      groupDir: this.groupDir,
      ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
    });
    const warn = (message: string) => this.activity({ type: "warning", message });
    this.scheduler = new LocalScheduler({ catalog, emit: put, now: () => Date.now(), warn });
    this.watcher = new S3FolderWatcher({ root: this.s3Root, emit: put, stateFile: join(stateDir, "s3-state.json"), warn });
    const publisher: Publisher = {
      publish: async (details) => {
        for (const detail of details) {
          this.activity({ type: "run", detail });
          this.put(runStateChangeEvent(detail, { id: randomUUID(), time: Date.now() }));
        }
      },
    };
    this.engine = new Engine({
      router: buildRouter(catalog),
      store: this.store,
      launcher: this.launcher,
      deployer: this.deployer,
      publisher,
      clock: { now: () => Date.now() },
      randomBytes: (n) => randomBytes(n),
      sha256: (data) => createHash("sha256").update(data).digest(),
      // Local events are never lost in transit, so quiet tasks are checked rarely; a restart checks at once (start()).
      sweep: { reconcileAfterMs: 60_000, relaunchAfterMs: 5_000 },
    });
  }

  get catalog(): Catalog {
    return this.options.catalog;
  }

  async start(): Promise<void> {
    // Tasks read uploaded objects the way they would from S3: through this folder.
    process.env.BERTH_S3_ROOT = this.s3Root;
    for (const left of killLeftoverGroups(this.groupDir)) {
      this.activity({ type: "warning", message: `stopped process group ${left.pid} (${left.name}) left running by a berth dev that did not shut down` });
    }
    for (const report of await this.deployer.start()) {
      if (!report.ok) this.activity({ type: "warning", message: `service ${report.service} did not start: ${report.error}` });
    }
    // Runs left RUNNING by a previous `berth dev` have no process any more: reconcile them now.
    await this.engine.sweep({ reconcileAfterMs: 0, relaunchAfterMs: 0 });
    await this.watcher.start();
    this.scheduler.start();
    this.sweepTimer = setInterval(() => void this.sweepOnce(), this.options.sweepIntervalMs ?? 1000);
  }

  /** Puts an event on the local bus; it is handled after the events before it. */
  put(event: BusEvent): void {
    this.queue.push({ event });
    this.drain();
  }

  /** Puts an event on the bus and resolves with what berth did with it. */
  send(event: BusEvent): Promise<BusOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, done: resolve, failed: reject });
      this.drain();
    });
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = (async () => {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        try {
          const outcome = await this.handle(item.event);
          item.done?.(outcome);
        } catch (e) {
          this.activity({ type: "warning", message: `handling ${item.event["detail-type"]} failed: ${(e as Error).message}` });
          item.failed?.(e);
        }
      }
    })().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.drain();
    });
  }

  private async handle(event: BusEvent): Promise<BusOutcome> {
    if (event.source === "aws.ecs" && event["detail-type"] === DETAIL_TYPE.ecsTaskStateChange) {
      const tracked = await this.engine.recordTaskEvent(event);
      if (tracked.kind === "rejected") this.activity({ type: "rejected", source: event.source, detailType: event["detail-type"], reason: tracked.reason });
      return { tracked };
    }
    // Shutting down: runs ending now (cancelled) must not start new ones.
    if (this.stopped) return { dispatched: [] };
    const dispatched = await this.engine.dispatch(event);
    for (const o of dispatched) {
      if (o.kind === "rejected") this.activity({ type: "rejected", source: event.source, detailType: event["detail-type"], reason: o.reason });
    }
    return { dispatched };
  }

  private async sweepOnce(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      await this.engine.sweep();
    } catch (e) {
      this.activity({ type: "warning", message: `sweep failed: ${(e as Error).message}` });
    } finally {
      this.sweeping = false;
    }
  }

  /** Resolves once the bus is empty (events caused by handling events included). */
  async settled(): Promise<void> {
    while (this.draining || this.queue.length > 0) await (this.draining ?? Promise.resolve());
  }

  /**
   * Stops everything: open runs are cancelled (their tasks stopped, whole
   * process groups), services stopped, the store closed. Nothing is left running.
   */
  async stop(reason = "berth dev stopped"): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweepTimer);
    this.scheduler.stop();
    await this.watcher.stop();
    while (this.sweeping) await new Promise((r) => setTimeout(r, 10));
    for (const run of await this.store.listOpenRuns()) {
      if (!isTerminal(run.status)) await this.engine.cancel(run.id, reason);
    }
    await this.launcher.stopAll(reason);
    await this.deployer.stopAll();
    await this.settled();
    this.store.close();
  }

  private activity(a: Activity): void {
    this.options.onActivity?.(a);
  }
}
