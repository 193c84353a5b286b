/**
 * The local runtime (`berth dev`): the same engine as on AWS, with local
 * stand-ins around it (compose.ts builds them, bus.ts routes between them with
 * the catalog's rules). This file only starts and stops them, in order; it
 * decides nothing itself.
 */
import type { BusEvent } from "../core/events/envelope.ts";
import { isTerminal } from "../core/runs/status.ts";
import { composeLocal, type LocalShell, type LocalShellOptions } from "./compose.ts";
import type { BusOutcome } from "./bus.ts";
import { killLeftoverGroups } from "./leftovers.ts";

export type { Activity, BusOutcome } from "./bus.ts";

export interface RuntimeOptions extends LocalShellOptions {
  /** How often the sweep runs (timeouts, due retries, queued runs). Default 1000 ms. */
  readonly sweepIntervalMs?: number;
}

export class LocalRuntime {
  readonly shell: LocalShell;
  readonly catalog: LocalShell["catalog"];
  readonly engine: LocalShell["engine"];
  readonly scheduler: LocalShell["scheduler"];
  readonly s3Root: string;
  readonly logDir: string;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly options: RuntimeOptions) {
    this.shell = composeLocal(options);
    ({ catalog: this.catalog, engine: this.engine, scheduler: this.scheduler, s3Root: this.s3Root, logDir: this.logDir } = this.shell);
  }

  async start(): Promise<void> {
    const { groupDir, deployer, engine, watcher, scheduler } = this.shell;
    for (const left of killLeftoverGroups(groupDir)) {
      this.#warn(`stopped process group ${left.pid} (${left.name}) left running by a berth dev that did not shut down`);
    }
    for (const report of await deployer.start()) {
      if (!report.ok) this.#warn(`service ${report.service} did not start: ${report.error}`);
    }
    // Runs left RUNNING by a previous `berth dev` have no process any more: reconcile them now.
    await engine.sweep({ reconcileAfterMs: 0, relaunchAfterMs: 0 });
    // The reminders of open batches lived in the previous process: settling each job's batch closes what is due
    // and asks the timer again for the rest, so they close on time rather than at a later sweep.
    for (const job of this.shell.batches ? Object.values(this.catalog.jobs).filter((j) => j.batch !== undefined) : []) {
      await engine.settleBatch(job.name).catch((e: unknown) => this.#warn(`settling the batch of ${job.name} failed: ${(e as Error).message}; the sweep tries again`));
    }
    // Redeliveries pending when the previous `berth dev` stopped or died: those due go at once.
    this.shell.redeliveries.start();
    await watcher.start();
    scheduler.start();
    this.#sweepTimer = setInterval(() => this.#sweep(), this.options.sweepIntervalMs ?? 1000);
  }

  /** Puts an event on the local bus; it is handled after the events before it. */
  put(event: BusEvent): void {
    this.shell.bus.put(event);
  }

  /** Puts an event on the bus and resolves with what berth did with it. */
  send(event: BusEvent): Promise<BusOutcome> {
    return this.shell.bus.send(event);
  }

  /** Resolves once the bus is empty (events caused by handling events included). */
  settled(): Promise<void> {
    return this.shell.bus.settled();
  }

  /**
   * Stops everything: open runs are cancelled (their tasks stopped, whole
   * process groups), services stopped, the store closed. Nothing is left running.
   */
  async stop(reason = "berth dev stopped"): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const { bus, scheduler, watcher, store, engine, launcher, deployer, batches, redeliveries } = this.shell;
    // Runs ending now (cancelled) must not start new ones; their tasks are still tracked to the end.
    bus.disable("dispatch");
    redeliveries.stop();
    clearInterval(this.#sweepTimer);
    scheduler.stop();
    // Pending redeliveries stay in berth.db for the next start. Open batches stay open in berth.db: the next berth dev's first sweep closes those whose window passed.
    await batches?.timer.stop();
    await watcher.stop();
    await this.#sweeping;
    for (const run of await store.listOpenRuns()) {
      if (!isTerminal(run.status)) await engine.cancel(run.id, reason);
    }
    await launcher.stopAll(reason);
    await deployer.stopAll();
    await bus.stop();
    store.close();
  }

  #sweep(): void {
    if (this.#sweeping || this.#stopped) return;
    const failed = (e: unknown) => this.#warn(`sweep failed: ${(e as Error).message}`);
    this.#sweeping = this.shell.engine.sweep().then(() => undefined, failed).finally(() => (this.#sweeping = undefined));
  }

  #warn(message: string): void {
    this.options.onActivity?.({ type: "warning", message });
  }
}
