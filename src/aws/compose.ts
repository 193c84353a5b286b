/**
 * What each Lambda function is built from, once per container at cold start, and the CLI's view
 * of a stage. Each function gets the one flow of the engine it runs (core/engine/engine.ts), and
 * the adapters that flow calls, from the SDK clients of clients.ts, so a handler bundle holds that
 * flow and those clients and no others:
 *
 * - dispatch: DynamoDB; ECS RunTask, and StopTask (a run replaced under `overlap: replace`, a duplicate
 *   task); EventBridge PutEvents (run state changes, and the events it rejects);
 * - track: DynamoDB; ECS RunTask (a retry's next attempt, the next queued run once a slot frees), and
 *   StopTask (a task whose run already ended); EventBridge PutEvents;
 * - sweep: DynamoDB; ECS RunTask, StopTask and DescribeTasks (tasks whose events stopped coming);
 *   EventBridge PutEvents.
 *
 * - batch: DynamoDB; ECS RunTask and StopTask (a batch's run is admitted and launched as any run);
 *   EventBridge PutEvents (its run state changes, and the reminders it rejects).
 *
 * When the catalog batches uploads (a job with `batch:`), dispatch, sweep and batch also get what batches
 * need (`batchAdapters`): the batch records in the runs table, the manifest writer (S3 PutObject) and the timer
 * that closes a window on time (SQS SendMessage to the stage's batch queue). The S3 and SQS clients and their
 * adapters load when first used (on-first-use.ts), so a catalog without batches never loads them.
 *
 * When the catalog has deploy jobs, all three also get the ECS service deployer (ecs-service-deployer.ts), on
 * the same ECS client: dispatch and track deploy (a launch, a retry), cancel, time-outs and supersedes stop,
 * track reads `ECS Deployment State Change` events through it and the sweep describes quiet deployments. It is
 * loaded at the first of these calls (`serviceDeployer`, on-first-use.ts), never at cold start.
 *
 * Only dispatch matches events: track's and sweep's router compiles the catalog's patterns only if asked.
 * Dispatch routes with the compiled catalog's rules, validated when it was compiled, so the pattern
 * validator is not in the bundles (core/router.ts `buildCompiledCatalogRouter`).
 */
import { createHash, randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { ECSClient } from "@aws-sdk/client-ecs";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { CompiledCatalog } from "../core/catalog/compiled.ts";
import { buildCompiledCatalogRouter, buildRouter, type Router } from "../core/router.ts";
import { batchSettler, dispatcher, Engine, sweeper, taskEventRecorder, type DispatchOutcome, type EngineDeps, type SweepReport, type TrackOutcome } from "../core/engine/engine.ts";
import type { Catalog } from "../core/catalog/types.ts";
import type { ServiceDeployer } from "../core/ports.ts";
import type { BatchTimer, ManifestWriter } from "../core/batch/port.ts";
import type { SettleOutcome } from "../core/batch/flow.ts";
import { ConfigurationError } from "../core/errors.ts";
import { dynamoClient, ecsClient, eventBridgeClient, type ClientPlace } from "./clients.ts";
import { DynamoBatchStore } from "./dynamo-batch-store.ts";
import { loadCompiledCatalog } from "./compiled-catalog.ts";
import { readHandlerConfig } from "./config.ts";
import type { EcsServiceDeployer } from "./ecs-service-deployer.ts";
import { EcsTaskLauncher } from "./ecs-task-launcher.ts";
import { EventBridgePublisher } from "./eventbridge-publisher.ts";
import { DynamoRunStore } from "./dynamo-run-store.ts";
import { loggingPublisher, type Log } from "./log.ts";
import { EventBridgeRejectedEvents, type RejectedEvents } from "./rejected-events.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** The clients the engine's adapters use. */
export interface AwsClients {
  readonly ecs: ECSClient;
  readonly eventBridge: EventBridgeClient;
  readonly dynamo: DynamoDBClient;
}

export function createClients(env: Env = process.env): AwsClients {
  return { ecs: ecsClient(env), eventBridge: eventBridgeClient(env), dynamo: dynamoClient(env) };
}

export function runStore(clients: AwsClients, table: string, retentionDays?: number): DynamoRunStore {
  return new DynamoRunStore({ client: clients.dynamo, tableName: table, ...(retentionDays !== undefined ? { retentionDays } : {}) });
}

interface EngineConfig {
  readonly table: string;
  readonly bus: string;
  readonly retentionDays?: number;
  /** The stage's batch queue (its URL) and manifest bucket: needed when the catalog batches uploads. */
  readonly batchQueue?: string;
  readonly manifestBucket?: string;
}

/** Where batching's S3 and SQS clients work: the environment they read, and the CLI's region and profile. */
export interface BatchPlace {
  readonly env: Env;
  readonly place?: ClientPlace;
}

/** The engine over a stage's table, bus and ECS (and, when the catalog batches, its batch queue and manifest bucket). */
export function buildEngine(catalog: Catalog, clients: AwsClients, config: EngineConfig, batchPlace?: BatchPlace): Engine {
  return new Engine(engineDeps(buildRouter(catalog), clients, config, undefined, batchPlace));
}

/** What batching needs. */
type Batches = NonNullable<EngineDeps["batches"]>;

/** The jobs of the catalog that batch their uploads. */
export function batchedJobs(catalog: Catalog): string[] {
  return Object.values(catalog.jobs)
    .filter((j) => j.batch !== undefined)
    .map((j) => j.name);
}

/**
 * What batching needs, for a catalog that batches; none for one that does not. The batch records are in the runs
 * table; the manifest writer and the timer, with the SDK clients they send with, load at the first call of
 * either (on-first-use.ts).
 */
export function batchAdapters(catalog: Catalog, clients: AwsClients, config: EngineConfig, at: BatchPlace): Batches | undefined {
  const jobs = batchedJobs(catalog);
  if (jobs.length === 0) return undefined;
  const { batchQueue } = config;
  if (batchQueue === undefined) {
    throw new ConfigurationError(`berth cannot start: BERTH_BATCH_QUEUE is not set: it names the SQS queue that closes the windows of ${jobs.join(", ")} (deploy the stack again)`);
  }
  let loaded: Promise<{ readonly manifests: ManifestWriter; readonly timer: BatchTimer }> | undefined;
  const senders = () => (loaded ??= import("./on-first-use.ts").then((m) => m.batchSenders(at.env, batchQueue, at.place)));
  return {
    store: new DynamoBatchStore({ client: clients.dynamo, tableName: config.table, ...(config.retentionDays !== undefined ? { retentionDays: config.retentionDays } : {}) }),
    manifests: { putManifest: async (bucket, key, body) => (await senders()).manifests.putManifest(bucket, key, body) },
    timer: { settleAt: async (job, batchId, until) => (await senders()).timer.settleAt(job, batchId, until) },
    ...(config.manifestBucket !== undefined ? { stageManifestBucket: config.manifestBucket } : {}),
  };
}

/**
 * The service deployer of a catalog with deploy jobs (each job's container named for its pseudo tasks); none
 * without. Its module, and the ECS commands only it sends, load when it is first asked something: in the handler
 * bundles they are in the chunk of on-first-use.ts (scripts/build.mjs), so no cold start evaluates them, and a
 * container that never deploys, stops, reads a deployment or settles a batch never does.
 */
export function serviceDeployer(catalog: Catalog, ecs: ECSClient): ServiceDeployer | undefined {
  const containers = Object.fromEntries(Object.values(catalog.jobs).flatMap((j) => (j.action.kind === "deploy" ? [[j.name, j.action.container]] : [])));
  if (Object.keys(containers).length === 0) return undefined;
  let loaded: Promise<EcsServiceDeployer> | undefined;
  const deployer = () => (loaded ??= import("./on-first-use.ts").then((m) => new m.EcsServiceDeployer(ecs, { containers })));
  return {
    deploy: async (plan, id) => (await deployer()).deploy(plan, id),
    stop: async (taskArn, reason) => (await deployer()).stop(taskArn, reason),
    describe: async (taskArns) => (await deployer()).describe(taskArns),
    deploymentTask: async (change) => (await deployer()).deploymentTask(change),
  };
}

/** With `log`, every run state change the engine publishes is also logged; without `batchPlace`, the catalog must not batch. */
function engineDeps(router: Router, clients: AwsClients, config: EngineConfig, log?: Log, batchPlace?: BatchPlace): EngineDeps {
  const publisher = new EventBridgePublisher(clients.eventBridge, config.bus);
  const deployer = serviceDeployer(router.catalog, clients.ecs);
  const batches = batchPlace === undefined ? undefined : batchAdapters(router.catalog, clients, config, batchPlace);
  return {
    router,
    store: runStore(clients, config.table, config.retentionDays),
    launcher: new EcsTaskLauncher(clients.ecs),
    ...(deployer !== undefined ? { deployer } : {}),
    ...(batches !== undefined ? { batches } : {}),
    publisher: log ? loggingPublisher(publisher, log) : publisher,
    clock: { now: () => Date.now() },
    randomBytes: (n) => randomBytes(n),
    sha256: (data) => createHash("sha256").update(data).digest(),
  };
}

/**
 * A router that compiles the catalog's patterns when first asked to match. The track and sweep flows
 * never match an event (they read the catalog only): compiling every pattern of a large catalog would
 * only lengthen their cold start.
 */
function routerOnFirstUse(compiled: CompiledCatalog): Router {
  let router: Router | undefined;
  const built = (): Router => (router ??= buildCompiledCatalogRouter(compiled));
  return {
    catalog: compiled.catalog,
    get routes() {
      return built().routes;
    },
    match: (event) => built().match(event),
  };
}

/** What track, sweep and batch run over: configuration from the environment, the compiled catalog from BERTH_CATALOG. */
function trackingDeps(env: Env, log: Log, batching: boolean): EngineDeps {
  const config = readHandlerConfig(env);
  return engineDeps(routerOnFirstUse(loadCompiledCatalog(config.catalogPath)), createClients(env), config, log, batching ? { env } : undefined);
}

/** track's flow: an ECS task or deployment state change → the run's status. */
export function composeTrack(env: Env, log: Log): (event: unknown) => Promise<TrackOutcome> {
  return taskEventRecorder(trackingDeps(env, log, false));
}

/** sweep's flow. */
export function composeSweep(env: Env, log: Log): () => Promise<SweepReport> {
  return sweeper(trackingDeps(env, log, true));
}

export interface Settler {
  /** Settles the job's batch: closes a due one, hands a closed one off as its manifest and run, re-arms the timer of an open one. */
  readonly settle: (job: string) => Promise<SettleOutcome>;
  readonly rejected: RejectedEvents;
}

/** batch's flow: a reminder from the batch queue → the job's batch settled. */
export function composeBatch(env: Env, log: Log): Settler {
  const config = readHandlerConfig(env);
  const clients = createClients(env);
  const deps = engineDeps(routerOnFirstUse(loadCompiledCatalog(config.catalogPath)), clients, config, log, { env });
  return { settle: batchSettler(deps), rejected: new EventBridgeRejectedEvents(clients.eventBridge, config.bus) };
}

export interface Dispatcher {
  /** The dispatch flow: an event, for one job when the rule names it, → runs. */
  readonly dispatch: (event: unknown, job?: string) => Promise<DispatchOutcome[]>;
  /** Where the events it rejects go: berth's bus, with the client run state changes are published with. */
  readonly rejected: RejectedEvents;
}

/** dispatch's flow, and where it puts the events it rejects. */
export function composeDispatch(env: Env, log: Log): Dispatcher {
  const config = readHandlerConfig(env);
  const clients = createClients(env);
  const dispatch = dispatcher(engineDeps(buildCompiledCatalogRouter(loadCompiledCatalog(config.catalogPath)), clients, config, log, { env }));
  return { dispatch, rejected: new EventBridgeRejectedEvents(clients.eventBridge, config.bus) };
}
