/**
 * The settings every berth SDK client (ECS, EventBridge, DynamoDB) shares.
 *
 * Deliberately small: the SDK already reads AWS_REGION, credentials,
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (AWS_ENDPOINT_URL_ECS,
 * AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL_DYNAMODB) from the
 * environment on its own, so this only adds berth's retry policy, and
 * leaves it to AWS_MAX_ATTEMPTS / AWS_RETRY_MODE when those are set.
 *
 * Retry mode "standard", not "adaptive": adaptive keeps one client-side
 * rate limiter per client, so throttled RunTask calls would also slow the
 * same client's StopTask and DescribeTasks, and it cannot coordinate the
 * many Lambda containers that share one account-wide Fargate bucket anyway.
 * AWS recommends standard for everything but specialised cases. Throttling
 * that outlasts the SDK's retries comes back to core as a retryable
 * launch failure, and core retries on its own schedule.
 */

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

/** Spread into `new ECSClient({...})`, `new EventBridgeClient({...})`, `new DynamoDBClient({...})`. */
export function awsClientConfig(env: Readonly<Record<string, string | undefined>>): AwsClientConfig {
  return {
    ...(env.AWS_MAX_ATTEMPTS ? {} : { maxAttempts: DEFAULT_MAX_ATTEMPTS }),
    ...(env.AWS_RETRY_MODE ? {} : { retryMode: "standard" }),
  };
}
