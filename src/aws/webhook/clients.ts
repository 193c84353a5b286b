/**
 * The webhook's SDK clients, bounded so that a delivery is answered well within the 10 seconds
 * GitHub waits (https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks#respond-within-10-seconds):
 * each attempt may take 1 s to connect and 3 s to answer, 3 attempts at most (AWS_MAX_ATTEMPTS
 * overrides it, as for every berth client), and every call also carries the delivery's deadline as
 * an abort signal (receive.ts), which ends it, retries and all, when the answer is due.
 */
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { awsClientConfig } from "../clients.ts";

type Env = Readonly<Record<string, string | undefined>>;

export const WEBHOOK_MAX_ATTEMPTS = 3;

function webhookClientConfig(env: Env) {
  return {
    ...awsClientConfig(env),
    ...(env.AWS_MAX_ATTEMPTS ? {} : { maxAttempts: WEBHOOK_MAX_ATTEMPTS }),
    requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 },
  };
}

export const webhookEventBridgeClient = (env: Env): EventBridgeClient => new EventBridgeClient(webhookClientConfig(env));
export const webhookSsmClient = (env: Env): SSMClient => new SSMClient(webhookClientConfig(env));
export const webhookSecretsManagerClient = (env: Env): SecretsManagerClient => new SecretsManagerClient(webhookClientConfig(env));
