/**
 * What a catalog that batches uploads (a job with `batch:`, src/core/batch) adds to the stack, and nothing
 * when no job batches:
 *
 * - the batch queue, on which the batch timer (src/aws/sqs-batch-timer.ts) leaves a reminder, held back with
 *   DelaySeconds, for each batch's window end; its redrive policy moves a reminder the batch function failed
 *   `MAX_RECEIVES` times to the batch dead-letter queue (queues.ts, with its alarm);
 * - the batch function (handlers/batch.ts) and its SQS event source, reporting failed reminders one by one
 *   (ReportBatchItemFailures);
 * - the stage's manifest bucket, when some batched job names no `batch.manifest` of its own: private
 *   (every public-access block, bucket-owner objects only, TLS only), encrypted by default (SSE-S3), each
 *   manifest expiring when the runs it was made for are no longer kept;
 * - for dispatch, sweep and batch, which all settle batches: the statements to write manifests (only under
 *   each job's own prefix), to remind the batch queue, and to list a batch's slots (a Query of the runs table
 *   itself); for batch, receiving and deleting reminders, and launching exactly the batched jobs' tasks.
 *
 * Lambda and SQS: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (visibility timeout at least six
 * times the function's timeout; maxReceiveCount at least 5), https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 * (partial batch responses); the execution role needs sqs:ReceiveMessage, sqs:DeleteMessage and
 * sqs:GetQueueAttributes on the queue: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions.
 * S3 bucket defaults: https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html.
 */
import type { Catalog, Job } from "../../core/catalog/types.ts";
import { DEFAULT_RETENTION_DAYS } from "../config.ts";
import { arnOf, ref, sub, type CfnString, type Json, type Resources, type Statement } from "./cfn.ts";
import { LOGICAL } from "./logical-ids.ts";

/** Seconds the batch function may take: list a batch's slots (a page per 1 MB), write its manifest, create and launch its run. */
export const BATCH_FUNCTION_TIMEOUT = 60;
/** Receives of a reminder before it moves to the dead-letter queue; AWS recommends at least 5 for a Lambda event source. */
export const MAX_RECEIVES = 5;
/** Reminders per invocation: settling is per job, so ten reminders are at most ten settles. */
const BATCH_SIZE = 10;

export const batchedJobsOf = (catalog: Catalog): Job[] => Object.values(catalog.jobs).filter((j) => j.batch !== undefined);

export const batches = (catalog: Catalog): boolean => batchedJobsOf(catalog).length > 0;

/** The stack has the stage's manifest bucket when a batched job names no manifest location of its own. */
export const hasManifestBucket = (catalog: Catalog): boolean => batchedJobsOf(catalog).some((j) => j.batch!.manifest === undefined);

/** The catalog with only its batched jobs: the batch function launches their runs and no others. */
export function batchedCatalog(catalog: Catalog): Catalog {
  return { ...catalog, jobs: Object.fromEntries(batchedJobsOf(catalog).map((j) => [j.name, j])) };
}

/** What functions that settle batches are told: the batch queue's URL, and the manifest bucket when the stack has one. */
export function batchEnvironment(catalog: Catalog): Record<string, Json> {
  if (!batches(catalog)) return {};
  return { BERTH_BATCH_QUEUE: ref(LOGICAL.batchQueue), ...(hasManifestBucket(catalog) ? { BERTH_MANIFEST_BUCKET: ref(LOGICAL.manifestBucket) } : {}) };
}

/**
 * Where each batched job's manifests go (core/batch/manifest.ts): `<prefix><batch id>.jsonl` under the job's
 * `batch.manifest`, or `<job>/<batch id>.jsonl` in the stage's bucket. One object ARN pattern per location.
 */
export function manifestObjectArns(catalog: Catalog): CfnString[] {
  const arns = new Map<string, CfnString>();
  for (const job of batchedJobsOf(catalog)) {
    const m = job.batch!.manifest;
    const arn = m === undefined ? sub(`\${${LOGICAL.manifestBucket}.Arn}/${job.name}/*`) : sub(`arn:\${AWS::Partition}:s3:::${m.bucket}/${m.prefix}*`);
    arns.set(JSON.stringify(arn), arn);
  }
  return [...arns.values()];
}

/** What dispatch, sweep and batch may do to settle a batch. */
export function settleStatements(catalog: Catalog): Statement[] {
  if (!batches(catalog)) return [];
  return [
    { Sid: "WriteBatchManifests", Effect: "Allow", Action: ["s3:PutObject"], Resource: manifestObjectArns(catalog) },
    { Sid: "RemindBatchQueue", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arnOf(LOGICAL.batchQueue)] },
    // A batch's slots are one partition of the runs table, listed with a Query of the table itself.
    { Sid: "ListBatchSlots", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [arnOf(LOGICAL.table)] },
  ];
}

/** The batch function's own: the reminders of its event source. */
export function reminderStatements(): Statement[] {
  return [{ Sid: "ReceiveBatchReminders", Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource: [arnOf(LOGICAL.batchQueue)] }];
}

/** The manifest bucket (when the stack has one), its policy, and the batch function's event source. */
export function batchResources(catalog: Catalog): Resources {
  if (!batches(catalog)) return {};
  const resources: Resources = {
    [LOGICAL.batchEventSource]: {
      Type: "AWS::Lambda::EventSourceMapping",
      Properties: {
        EventSourceArn: arnOf(LOGICAL.batchQueue),
        FunctionName: ref(LOGICAL.lambda("batch")),
        BatchSize: BATCH_SIZE,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        Enabled: true,
      },
    },
  };
  if (!hasManifestBucket(catalog)) return resources;
  const bucketArn = arnOf(LOGICAL.manifestBucket);
  resources[LOGICAL.manifestBucket] = {
    Type: "AWS::S3::Bucket",
    // CloudFormation cannot delete a bucket that still holds objects: removing the stage keeps the bucket (and the
    // manifests runs in the history name) rather than failing the removal halfway; its lifecycle still expires them.
    DeletionPolicy: "Retain",
    UpdateReplacePolicy: "Retain",
    Properties: {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      // A run's retries read its manifest for as long as the run is kept (BERTH_RETENTION_DAYS's default).
      LifecycleConfiguration: { Rules: [{ Id: "expire-manifests", Status: "Enabled", ExpirationInDays: DEFAULT_RETENTION_DAYS, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    },
  };
  resources[LOGICAL.manifestBucketPolicy] = {
    Type: "AWS::S3::BucketPolicy",
    Properties: {
      Bucket: ref(LOGICAL.manifestBucket),
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucketArn, sub(`\${${LOGICAL.manifestBucket}.Arn}/*`)],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      },
    },
  };
  return resources;
}
