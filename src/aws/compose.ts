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
 * When the catalog has deploy jobs, all three also get the ECS service deployer (ecs-service-deployer.ts), on
 * the same ECS client: dispatch and track deploy (a launch, a retry), cancel, time-outs and supersedes stop,
 * track reads `ECS Deployment State Change` events through it and the sweep describes quiet deployments. It is
 * loaded at the first of these calls (`serviceDeployer`), never at cold start.
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
import { dispatcher, Engine, sweeper, taskEventRecorder, type DispatchOutcome, type EngineDeps, type SweepReport, type TrackOutcome } from "../core/engine/engine.ts";
import type { Catalog } from "../core/catalog/types.ts";
import type { ServiceDeployer } from "../core/ports.ts";
import { dynamoClient, ecsClient, eventBridgeClient } from "./clients.ts";
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
}

/** The engine over a stage's table, bus and ECS. */
export function buildEngine(catalog: Catalog, clients: AwsClients, config: EngineConfig): Engine {
  return new Engine(engineDeps(buildRouter(catalog), clients, config));
}

/**
 * The service deployer of a catalog with deploy jobs (each job's container named for its pseudo tasks); none
 * without. Its module, and the ECS commands only it sends, load when it is first asked something: in the handler
 * bundles they are a chunk of their own (scripts/build.mjs), so no cold start evaluates them, and a container
 * that never deploys, stops or reads a deployment never does.
 */
export function serviceDeployer(catalog: Catalog, ecs: ECSClient): ServiceDeployer | undefined {
  const containers = Object.fromEntries(Object.values(catalog.jobs).flatMap((j) => (j.action.kind === "deploy" ? [[j.name, j.action.container]] : [])));
  if (Object.keys(containers).length === 0) return undefined;
  let loaded: Promise<EcsServiceDeployer> | undefined;
  const deployer = () => (loaded ??= import("./ecs-service-deployer.ts").then((m) => new m.EcsServiceDeployer(ecs, { containers })));
  return {
    deploy: async (plan, id) => (await deployer()).deploy(plan, id),
    stop: async (taskArn, reason) => (await deployer()).stop(taskArn, reason),
    describe: async (taskArns) => (await deployer()).describe(taskArns),
    deploymentTask: async (change) => (await deployer()).deploymentTask(change),
  };
}

/** With `log`, every run state change the engine publishes is also logged. */
function engineDeps(router: Router, clients: AwsClients, config: EngineConfig, log?: Log): EngineDeps {
  const publisher = new EventBridgePublisher(clients.eventBridge, config.bus);
  const deployer = serviceDeployer(router.catalog, clients.ecs);
  return {
    router,
    store: runStore(clients, config.table, config.retentionDays),
    launcher: new EcsTaskLauncher(clients.ecs),
    ...(deployer !== undefined ? { deployer } : {}),
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

/** What track and sweep run over: configuration from the environment, the compiled catalog from BERTH_CATALOG. */
function trackingDeps(env: Env, log: Log): EngineDeps {
  const config = readHandlerConfig(env);
  return engineDeps(routerOnFirstUse(loadCompiledCatalog(config.catalogPath)), createClients(env), config, log);
}

/** track's flow: an ECS task or deployment state change → the run's status. */
export function composeTrack(env: Env, log: Log): (event: unknown) => Promise<TrackOutcome> {
  return taskEventRecorder(trackingDeps(env, log));
}

/** sweep's flow. */
export function composeSweep(env: Env, log: Log): () => Promise<SweepReport> {
  return sweeper(trackingDeps(env, log));
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
  const dispatch = dispatcher(engineDeps(buildCompiledCatalogRouter(loadCompiledCatalog(config.catalogPath)), clients, config, log));
  return { dispatch, rejected: new EventBridgeRejectedEvents(clients.eventBridge, config.bus) };
}
