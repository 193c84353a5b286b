/**
 * The one place berth creates AWS SDK clients, for the Lambda handlers and the CLI. One factory
 * per client, each importing only its own SDK package: a handler bundle holds the clients its
 * composition calls for (compose.ts) and no other, since the SDK packages are free of side effects
 * and esbuild drops every factory a bundle does not call.
 *
 * Credentials and region come from where the SDK looks by default. In the Lambda bundles that is
 * the environment only: Lambda puts the execution role's credentials in AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, so scripts/build.mjs gives the SDK the environment
 * provider instead of its whole chain (profiles, SSO, IMDS, containers, web identity). The CLI
 * bundle keeps the whole chain.
 *
 * S3 and SQS clients are made in lazy-clients.ts: the handlers load them only when a batch first needs
 * them, and esbuild puts every SDK package this module imports into the chunk each handler's cold start
 * loads once anything in the bundle uses it.
 *
 * Deliberately small: the SDK already reads AWS_REGION, credentials,
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (AWS_ENDPOINT_URL_ECS,
 * AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS)
 * from the environment on its own, so this only adds berth's retry policy,
 * and leaves it to AWS_MAX_ATTEMPTS / AWS_RETRY_MODE when those are set.
 *
 * Retry mode "standard", not "adaptive": adaptive keeps one client-side
 * rate limiter per client, so throttled RunTask calls would also slow the
 * same client's StopTask and DescribeTasks, and it cannot coordinate the
 * many Lambda containers that share one account-wide Fargate bucket anyway.
 * AWS recommends standard for everything but specialised cases. Throttling
 * that outlasts the SDK's retries comes back to core as a retryable
 * launch failure, and core retries on its own schedule.
 */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Attempts per call, counting the first. The SDK default is 3; one more
 * rides out a Fargate launch-bucket refill (20 tokens per second) with
 * throttling backoffs of at most 1 + 2 + 4 seconds, short enough for a
 * Lambda invocation.
 */
export const DEFAULT_MAX_ATTEMPTS = 4;

export interface AwsClientConfig {
  readonly maxAttempts?: number;
  readonly retryMode?: "standard";
}

/** The settings every berth SDK client shares; spread into a client's constructor. */
export function awsClientConfig(env: Env): AwsClientConfig {
  return {
    ...(env.AWS_MAX_ATTEMPTS ? {} : { maxAttempts: DEFAULT_MAX_ATTEMPTS }),
    ...(env.AWS_RETRY_MODE ? {} : { retryMode: "standard" }),
  };
}

/**
 * Where a CLI client works: the region of the stage and the profile that `--profile` names. Left out,
 * the SDK's own defaults apply, as they do for the Lambda handlers.
 */
export interface ClientPlace {
  readonly region?: string;
  readonly profile?: string;
}

/** A client's constructor settings: berth's retry policy, in the place given. */
export function clientConfig(env: Env, place: ClientPlace = {}): AwsClientConfig & ClientPlace {
  return { ...awsClientConfig(env), ...(place.region !== undefined ? { region: place.region } : {}), ...(place.profile !== undefined ? { profile: place.profile } : {}) };
}

export function ecsClient(env: Env, place: ClientPlace = {}): ECSClient {
  return new ECSClient(clientConfig(env, place));
}

export function eventBridgeClient(env: Env, place: ClientPlace = {}): EventBridgeClient {
  return new EventBridgeClient(clientConfig(env, place));
}

/** DynamoDB's client: the run store's (it marshals its few kinds of values itself), and doctor's DescribeTable. */
export function dynamoClient(env: Env, place: ClientPlace = {}): DynamoDBClient {
  return new DynamoDBClient(clientConfig(env, place));
}

export function stsClient(env: Env, place: ClientPlace = {}): STSClient {
  return new STSClient(clientConfig(env, place));
}

export function cloudFormationClient(env: Env, place: ClientPlace = {}): CloudFormationClient {
  return new CloudFormationClient(clientConfig(env, place));
}

/** The webhook's secret: Parameter Store's (doctor's DescribeParameters) and Secrets Manager's (DescribeSecret). */
export function ssmClient(env: Env, place: ClientPlace = {}): SSMClient {
  return new SSMClient(clientConfig(env, place));
}

export function secretsManagerClient(env: Env, place: ClientPlace = {}): SecretsManagerClient {
  return new SecretsManagerClient(clientConfig(env, place));
}
