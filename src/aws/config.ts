/**
 * The handlers' configuration, read once at cold start. A missing or wrong
 * variable stops the function before it handles anything, with a message
 * that names the variable (README "Handler configuration" lists them all).
 */
import { ConfigurationError } from "../core/errors.ts";

export interface HandlerConfig {
  /** DynamoDB table holding runs (BERTH_TABLE). */
  readonly table: string;
  /** Event bus that receives `Berth Run State Change` events, and dispatch's `Berth Event Rejected` (BERTH_BUS). */
  readonly bus: string;
  /** The compiled catalog, JSON written by `berth compile` (BERTH_CATALOG). */
  readonly catalogPath: string;
  /** Days runs are kept after they end (BERTH_RETENTION_DAYS). */
  readonly retentionDays: number;
  /** URL of the SQS queue that reminds the batch function to settle a batch (BERTH_BATCH_QUEUE); set when a job batches. */
  readonly batchQueue?: string;
  /** The stage's manifest bucket (BERTH_MANIFEST_BUCKET); set when a job batches without its own batch.manifest. */
  readonly manifestBucket?: string;
}

const DEFAULT_CATALOG = "catalog.json";
/** Also how long the stage's manifest bucket keeps a manifest: a run's retries read it for as long as the run is kept. */
export const DEFAULT_RETENTION_DAYS = 90;

export function readHandlerConfig(env: Readonly<Record<string, string | undefined>>): HandlerConfig {
  const problems: string[] = [];
  const required = (name: string, what: string): string => {
    const v = env[name]?.trim();
    if (!v) problems.push(`${name} is not set: it names ${what}`);
    return v ?? "";
  };
  const table = required("BERTH_TABLE", "the DynamoDB table that holds berth's runs");
  const bus = required("BERTH_BUS", "the EventBridge bus berth publishes run state changes to (e.g. default)");
  if (table && !/^[A-Za-z0-9_.-]{3,255}$/.test(table)) problems.push(`BERTH_TABLE "${table}" is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)`);
  const retentionText = env.BERTH_RETENTION_DAYS?.trim();
  const retentionDays = retentionText ? Number(retentionText) : DEFAULT_RETENTION_DAYS;
  if (!Number.isInteger(retentionDays) || retentionDays < 1) problems.push(`BERTH_RETENTION_DAYS "${retentionText}" must be a whole number of days ≥ 1`);
  const batchQueue = env.BERTH_BATCH_QUEUE?.trim() || undefined;
  if (batchQueue !== undefined && !/^https?:\/\/[^/]+\/\d{12}\/[A-Za-z0-9_-]{1,80}$/.test(batchQueue)) {
    problems.push(`BERTH_BATCH_QUEUE "${batchQueue}" is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)`);
  }
  const manifestBucket = env.BERTH_MANIFEST_BUCKET?.trim() || undefined;
  if (manifestBucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(manifestBucket)) problems.push(`BERTH_MANIFEST_BUCKET "${manifestBucket}" is not an S3 bucket name`);
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION) problems.push("AWS_REGION is not set: Lambda sets it; elsewhere set it to the region of the table and bus");
  if (problems.length > 0) throw new ConfigurationError(`berth cannot start: ${problems.join("; ")}`);
  return Object.freeze({
    table,
    bus,
    catalogPath: env.BERTH_CATALOG?.trim() || DEFAULT_CATALOG,
    retentionDays,
    ...(batchQueue !== undefined ? { batchQueue } : {}),
    ...(manifestBucket !== undefined ? { manifestBucket } : {}),
  });
}
