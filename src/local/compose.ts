/**
 * The one place the local adapters are built (for `berth dev`), as
 * src/aws/compose.ts is for AWS: the SQLite store, the executors, the bus
 * with its publisher, the engine, the scheduler and the S3 folder watcher,
 * wired to each other once. Nothing here starts anything; LocalRuntime does.
 *
 * State lives under `stateDir`: berth.db (run history, pending redeliveries, and
 * the batches of jobs with `batch:`), logs/ (one log per run), s3/ (the buckets; closed
 * batches' manifests in s3/berth-manifests/<job>/), processes/ (process groups
 * of running tasks, so the next runtime can stop what a killed one left behind).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Catalog } from "../core/catalog/types.ts";
import { compileRules } from "../core/catalog/compiled.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import { buildRouter } from "../core/router.ts";
import { Engine } from "../core/engine/engine.ts";
import type { Clock } from "../core/ports.ts";
import { LocalBus, LocalBusPublisher, type Activity } from "./bus.ts";
import { SqliteRunStore } from "./sqlite-run-store.ts";
import { ProcessTaskLauncher, type ProcessTaskLauncherOptions } from "./process-launcher.ts";
import { LocalServiceDeployer } from "./service-deployer.ts";
import { S3FolderWatcher } from "./s3-folder.ts";
import { LocalBatchTimer, LocalScheduler } from "./scheduler.ts";
import { SqliteBatchStore } from "./sqlite-batch-store.ts";
import { FolderManifestWriter, LOCAL_MANIFEST_BUCKET } from "./manifest-writer.ts";
import { Redeliveries, type RedeliveryPolicy } from "./redeliveries.ts";

export interface LocalShellOptions {
  readonly catalog: Catalog;
  /** The folder of berth.yml: task and service `cwd`s are relative to it. */
  readonly rootDir: string;
  /** Where the runtime keeps its state: `<rootDir>/.berth` by default. */
  readonly stateDir: string;
  /** Told about everything that happens, for the terminal UI. */
  readonly onActivity?: (activity: Activity) => void;
  /** Grace between SIGTERM and SIGKILL when tasks are stopped. Default 5000 ms. */
  readonly stopGraceMs?: number;
  /** How failed dispatches are delivered again (delays and limits); EventBridge's default limits when absent (redeliveries.ts). */
  readonly redeliveries?: RedeliveryPolicy;
}

export interface LocalShell {
  readonly catalog: Catalog;
  readonly store: SqliteRunStore;
  readonly launcher: ProcessTaskLauncher;
  readonly deployer: LocalServiceDeployer;
  readonly bus: LocalBus;
  readonly engine: Engine;
  readonly scheduler: LocalScheduler;
  readonly watcher: S3FolderWatcher;
  /** For a catalog with batched jobs: their batches, beside the runs in berth.db, and the timer that closes their windows. */
  readonly batches?: { readonly store: SqliteBatchStore; readonly timer: LocalBatchTimer };
  /** Dispatches that failed transiently, delivered again (as EventBridge retries a target); kept in berth.db across restarts. */
  readonly redeliveries: Redeliveries;
  /** The folder standing in for S3: `<s3Root>/<bucket>/<key>`. */
  readonly s3Root: string;
  readonly logDir: string;
  /** Process groups of running tasks and services (leftovers.ts). */
  readonly groupDir: string;
}

export function composeLocal(options: LocalShellOptions): LocalShell {
  const { catalog, rootDir, stateDir } = options;
  const onActivity = options.onActivity ?? (() => {});
  const warn = (message: string) => onActivity({ type: "warning", message });
  const clock: Clock = { now: () => Date.now() };
  const s3Root = join(stateDir, "s3");
  const logDir = join(stateDir, "logs");
  const groupDir = join(stateDir, "processes");
  mkdirSync(logDir, { recursive: true });

  // The bus delivers to the engine, which reaches the bus through its executors and publisher: the targets are bound late.
  const store = new SqliteRunStore(join(stateDir, "berth.db"));
  const redeliveries = new Redeliveries((event, job) => engine.dispatch(event, job), warn, { ...options.redeliveries, db: store.database, now: clock.now });
  const bus: LocalBus = new LocalBus({
    rules: compileRules(catalog),
    targets: { dispatch: (event, job) => redeliveries.dispatch(event, job), recordTaskEvent: (event) => engine.recordTaskEvent(event) },
    onActivity,
  });
  const emit = (event: BusEvent) => void bus.put(event);
  const executors: ProcessTaskLauncherOptions = {
    catalog,
    rootDir,
    logDir,
    emit,
    groupDir,
    // Tasks read uploaded objects the way they would from S3: through this folder.
    environment: { BERTH_S3_ROOT: s3Root },
    ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
  };
  const batched = Object.values(catalog.jobs).some((j) => j.batch !== undefined);
  const batches = batched
    ? { store: new SqliteBatchStore(store.database), timer: new LocalBatchTimer({ settle: (job) => engine.settleBatch(job), now: clock.now, warn }) }
    : undefined;
  const launcher = new ProcessTaskLauncher(executors);
  const deployer = new LocalServiceDeployer(executors);
  const engine: Engine = new Engine({
    router: buildRouter(catalog),
    store,
    launcher,
    deployer,
    // Tasks find a manifest s3://<bucket>/<key> at $BERTH_S3_ROOT/<bucket>/<key>, as any object.
    ...(batches ? { batches: { ...batches, manifests: new FolderManifestWriter(s3Root), stageManifestBucket: LOCAL_MANIFEST_BUCKET } } : {}),
    publisher: new LocalBusPublisher(bus, { clock, newId: randomUUID, onActivity }),
    clock,
    randomBytes: (n) => randomBytes(n),
    sha256: (data) => createHash("sha256").update(data).digest(),
    // Local events are never lost in transit, so quiet tasks are checked rarely; a restart checks at once (LocalRuntime.start).
    sweep: { reconcileAfterMs: 60_000, relaunchAfterMs: 5_000 },
  });
  const scheduler = new LocalScheduler({ catalog, emit, now: clock.now, warn });
  if (batches && Object.values(catalog.jobs).some((j) => j.triggers.some((t) => t.kind === "s3" && t.buckets.includes(LOCAL_MANIFEST_BUCKET)))) {
    warn(`the bucket ${LOCAL_MANIFEST_BUCKET} holds berth dev's batch manifests and announces no uploads: an s3 trigger on it never fires here`);
  }
  const watcher = new S3FolderWatcher({ root: s3Root, emit, stateFile: join(stateDir, "s3-state.json"), warn, ...(batches ? { silentBuckets: [LOCAL_MANIFEST_BUCKET] } : {}) });
  return { catalog, store, launcher, deployer, bus, engine, scheduler, watcher, ...(batches ? { batches } : {}), redeliveries, s3Root, logDir, groupDir };
}
