/**
 * What each Lambda function is built from, once per container at cold start, and the CLI's view
 * of a stage. Each composition builds exactly the adapters its flows call, from the SDK clients of
 * clients.ts, so a handler bundle holds those clients and no other:
 *
 * - dispatch: DynamoDB; ECS RunTask, and StopTask (a run replaced under `overlap: replace`, a duplicate
 *   task); EventBridge PutEvents; SQS SendMessage (the events it rejects);
 * - track: DynamoDB; ECS RunTask (a retry's next attempt, the next queued run once a slot frees), and
 *   StopTask (a task whose run already ended); EventBridge PutEvents;
 * - sweep: DynamoDB; ECS RunTask, StopTask and DescribeTasks (tasks whose events stopped coming);
 *   EventBridge PutEvents.
 *
 * Only dispatch matches events: track's and sweep's router compiles the catalog's patterns only if asked.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash, randomBytes } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ECSClient } from "@aws-sdk/client-ecs";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { ConfigurationError } from "../core/errors.ts";
import { readCompiledCatalog } from "../core/catalog/compiled.ts";
import { buildRouter, type Router } from "../core/router.ts";
import { Engine } from "../core/engine/engine.ts";
import type { Catalog } from "../core/catalog/types.ts";
import { dynamoDocumentClient, ecsClient, eventBridgeClient, sqsClient } from "./clients.ts";
import { readHandlerConfig } from "./config.ts";
import { EcsTaskLauncher } from "./ecs-task-launcher.ts";
import { EventBridgePublisher } from "./eventbridge-publisher.ts";
import { DynamoRunStore } from "./dynamo-run-store.ts";
import { loggingPublisher, type Log } from "./log.ts";
import { SqsRejectedQueue, type RejectedEvents } from "./rejected-queue.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * BERTH_CATALOG is relative to the function's root: LAMBDA_TASK_ROOT on Lambda. `serverless invoke local`
 * sets LAMBDA_TASK_ROOT to /var/task, which does not exist on the machine it runs on, so the root is then
 * the package root the bundle sits in (dist/handlers/<fn>.mjs → two folders up), else the working folder.
 */
function catalogFile(path: string): string {
  if (isAbsolute(path)) return path;
  const roots = [process.env.LAMBDA_TASK_ROOT, fileURLToPath(new URL("../..", import.meta.url)), process.cwd()];
  const candidates = roots.flatMap((root) => (root ? [join(root, path)] : []));
  return candidates.find((file) => existsSync(file)) ?? candidates[0]!;
}

export function loadCompiledCatalog(path: string) {
  const file = catalogFile(path);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigurationError(`BERTH_CATALOG: cannot read ${file} (${(e as Error).message}); package the output of \`berth compile\` with the function`);
  }
  const r = readCompiledCatalog(json, file);
  if (!r.ok) throw new ConfigurationError(`BERTH_CATALOG: ${r.error.message}`);
  return r.catalog;
}

/** The clients the engine's adapters use. */
export interface AwsClients {
  readonly ecs: ECSClient;
  readonly eventBridge: EventBridgeClient;
  readonly dynamo: DynamoDBDocumentClient;
}

export function createClients(env: Env = process.env): AwsClients {
  return { ecs: ecsClient(env), eventBridge: eventBridgeClient(env), dynamo: dynamoDocumentClient(env) };
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
  return engineOver(buildRouter(catalog), clients, config);
}

/** With `log`, every run state change the engine publishes is also logged. */
function engineOver(router: Router, clients: AwsClients, config: EngineConfig, log?: Log): Engine {
  const publisher = new EventBridgePublisher(clients.eventBridge, config.bus);
  return new Engine({
    router,
    store: runStore(clients, config.table, config.retentionDays),
    launcher: new EcsTaskLauncher(clients.ecs),
    publisher: log ? loggingPublisher(publisher, log) : publisher,
    clock: { now: () => Date.now() },
    randomBytes: (n) => randomBytes(n),
    sha256: (data) => createHash("sha256").update(data).digest(),
  });
}

/**
 * A router that compiles the catalog's patterns when first asked to match. track and sweep never
 * match an event: compiling every pattern of a large catalog would only lengthen their cold start.
 */
function routerOnFirstUse(catalog: Catalog): Router {
  let router: Router | undefined;
  const built = (): Router => (router ??= buildRouter(catalog));
  return {
    catalog,
    get routes() {
      return built().routes;
    },
    match: (event) => built().match(event),
    whyNot: (route, event) => built().whyNot(route, event),
  };
}

/** track's and sweep's engine: configuration from the environment, the compiled catalog from BERTH_CATALOG. */
export function composeEngine(env: Env, log: Log): Engine {
  const config = readHandlerConfig(env);
  return engineOver(routerOnFirstUse(loadCompiledCatalog(config.catalogPath)), createClients(env), config, log);
}

export interface Dispatcher {
  readonly engine: Engine;
  /** Where rejected events go; undefined when BERTH_REJECTED_QUEUE_URL is not set, and they are only logged. */
  readonly rejected: RejectedEvents | undefined;
}

/** dispatch's engine, and the queue it sends the events it rejects to. */
export function composeDispatch(env: Env, log: Log): Dispatcher {
  const config = readHandlerConfig(env);
  const engine = engineOver(buildRouter(loadCompiledCatalog(config.catalogPath)), createClients(env), config, log);
  return { engine, rejected: config.rejectedQueueUrl !== undefined ? rejectedQueue(env, config.rejectedQueueUrl) : undefined };
}

/**
 * The rejected-events queue, its SDK client built at the first rejection and kept for the
 * container's life: most containers never reject an event, so building it is not on the cold start.
 */
function rejectedQueue(env: Env, queueUrl: string): RejectedEvents {
  let queue: SqsRejectedQueue | undefined;
  return { queueUrl, put: (rejection) => (queue ??= new SqsRejectedQueue(sqsClient(env), queueUrl)).put(rejection) };
}
