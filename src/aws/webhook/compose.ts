/**
 * What the webhook function is built from, once per container: the compiled catalog's git triggers
 * (which pushes a job watches), the secret's store and its cache, and the bus. Its bundle holds the
 * EventBridge client and the SSM or Secrets Manager client, and no DynamoDB or ECS client: the
 * webhook reads no run and starts no task, dispatch does.
 */
import { createHmac, randomUUID } from "node:crypto";
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { buildCompiledCatalogRouter } from "../../core/router.ts";
import type { HmacSha256 } from "../../core/webhook/hmac.ts";
import { gitPushWatchers } from "../../core/webhook/watchers.ts";
import { loadCompiledCatalog } from "../compiled-catalog.ts";
import type { Log } from "../log.ts";
import { EventBridgeGitPushBus } from "./bus.ts";
import { webhookEventBridgeClient, webhookSecretsManagerClient, webhookSsmClient } from "./clients.ts";
import { readWebhookConfig } from "./config.ts";
import { receiveDelivery, type WebhookDeps } from "./receive.ts";
import { CachedSecret, SecretsManagerSecretStore, SsmSecretStore } from "./secret-store.ts";

type Env = Readonly<Record<string, string | undefined>>;

const nodeHmac: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();

export interface WebhookFunction {
  receive(event: LambdaFunctionURLEvent | null, log: Log, answerWithinMs: number): Promise<LambdaFunctionURLResult>;
}

export function composeWebhook(env: Env, log: Log): WebhookFunction {
  const config = readWebhookConfig(env);
  const watchers = gitPushWatchers(buildCompiledCatalogRouter(loadCompiledCatalog(config.catalogPath)));
  const store =
    config.secret === undefined
      ? undefined
      : config.secret.source === "ssm"
        ? new SsmSecretStore(webhookSsmClient(env), config.secret.name)
        : new SecretsManagerSecretStore(webhookSecretsManagerClient(env), config.secret.name);
  const deps: WebhookDeps = {
    secret: store === undefined ? undefined : new CachedSecret(store, { rotationSeconds: config.rotationSeconds }),
    rotationSeconds: config.rotationSeconds,
    watchers,
    bus: new EventBridgeGitPushBus(webhookEventBridgeClient(env), config.bus),
    hmac: nodeHmac,
    now: () => Date.now(),
    newId: () => randomUUID(),
  };
  if (store === undefined) log("warn", "no webhook secret is configured (berth.yml webhook.secret): every delivery is refused with 401");
  return { receive: (event, invocationLog, answerWithinMs) => receiveDelivery(deps, event, invocationLog, answerWithinMs) };
}
