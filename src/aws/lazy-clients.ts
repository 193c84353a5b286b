/**
 * The S3 and SQS clients, made as clients.ts makes the others (berth's retry policy, in the place given).
 * They live apart from clients.ts because the handler bundles load them only on first use (the batch
 * adapters, compose.ts): a handler's cold start loads clients.ts, and esbuild puts every SDK package that
 * module imports, once anything in the bundle uses it, into the chunk that cold start loads.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { clientConfig, type ClientPlace } from "./clients.ts";

type Env = Readonly<Record<string, string | undefined>>;

export function sqsClient(env: Env, place: ClientPlace = {}): SQSClient {
  return new SQSClient(clientConfig(env, place));
}

export function s3Client(env: Env, place: ClientPlace = {}): S3Client {
  return new S3Client(clientConfig(env, place));
}
