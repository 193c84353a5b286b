/**
 * The one place AWS SDK clients are created (for the handlers and the CLI). Each Lambda container builds
 * the engine once, at cold start, and reuses it for every invocation.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ConfigurationError } from "../core/errors.ts";
import { readCompiledCatalog } from "../core/catalog/compiled.ts";
import { buildRouter } from "../core/router.ts";
import { Engine } from "../core/engine/engine.ts";
import { awsClientConfig } from "./clients.ts";
import { readHandlerConfig } from "./config.ts";
import type { Catalog } from "../core/catalog/types.ts";
import { EcsTaskLauncher } from "./ecs-task-launcher.ts";
import { EventBridgePublisher } from "./eventbridge-publisher.ts";
import { DynamoRunStore } from "./dynamo-run-store.ts";

export function loadCompiledCatalog(path: string) {
  const file = isAbsolute(path) ? path : join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), path);
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

export interface AwsClients {
  readonly ecs: ECSClient;
  readonly eventBridge: EventBridgeClient;
  readonly dynamo: DynamoDBDocumentClient;
}

export function createClients(env: Readonly<Record<string, string | undefined>> = process.env): AwsClients {
  const config = awsClientConfig(env);
  return {
    ecs: new ECSClient(config),
    eventBridge: new EventBridgeClient(config),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(config), { marshallOptions: { removeUndefinedValues: true } }),
  };
}

export function runStore(clients: AwsClients, table: string, retentionDays?: number): DynamoRunStore {
  return new DynamoRunStore({ client: clients.dynamo, tableName: table, ...(retentionDays !== undefined ? { retentionDays } : {}) });
}

export function buildEngine(catalog: Catalog, clients: AwsClients, config: { readonly table: string; readonly bus: string; readonly retentionDays?: number }): Engine {
  return new Engine({
    router: buildRouter(catalog),
    store: runStore(clients, config.table, config.retentionDays),
    launcher: new EcsTaskLauncher(clients.ecs),
    publisher: new EventBridgePublisher(clients.eventBridge, config.bus),
    clock: { now: () => Date.now() },
    randomBytes: (n) => randomBytes(n),
    sha256: (data) => createHash("sha256").update(data).digest(),
  });
}

/** The handlers' engine: configuration from the environment, the compiled catalog from BERTH_CATALOG. */
export function composeEngine(env: Readonly<Record<string, string | undefined>> = process.env): Engine {
  const config = readHandlerConfig(env);
  return buildEngine(loadCompiledCatalog(config.catalogPath), createClients(env), config);
}
