/**
 * What the handlers load only when first asked (compose.ts, with one `import()`): the ECS service deployer,
 * with the ECS commands only it sends, and batching's senders, the manifest writer and the batch timer with
 * their S3 and SQS clients. In each handler bundle this module is one chunk that no cold start evaluates
 * (scripts/build.mjs); one module, not two, because esbuild would cut the code each of two such modules shares
 * with the cold start into chunks of the same name.
 */
import type { BatchTimer, ManifestWriter } from "../core/batch/port.ts";
import type { ClientPlace } from "./clients.ts";
import { s3ManifestWriter } from "./s3-manifest-writer.ts";
import { sqsBatchTimer } from "./sqs-batch-timer.ts";

export { EcsServiceDeployer } from "./ecs-service-deployer.ts";

export function batchSenders(env: Readonly<Record<string, string | undefined>>, queueUrl: string, place?: ClientPlace): { readonly manifests: ManifestWriter; readonly timer: BatchTimer } {
  return { manifests: s3ManifestWriter(env, place), timer: sqsBatchTimer(env, queueUrl, place) };
}
