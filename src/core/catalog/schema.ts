/**
 * The shape of `berth.yml` as written by a user: the single source for both
 * validation and the JSON Schema that `berth schema` emits for editors.
 * Semantic rules that need more than one field (cross references, cycles,
 * cron syntax, templates) live in resolve.ts.
 */
import { z } from "zod";
import { SIZE_HINT, SIZE_SYNTAX } from "./size.ts";
import { MANIFEST_SUFFIX } from "./types.ts";

/** A strict object whose "unknown field" error lists the allowed fields. */
function fields<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}; allowed: ${allowed}`
        : undefined,
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z.enum(values, { error: () => `${what} must be one of: ${values.join(", ")}` });
}

const nonEmpty = (what: string) => z.string({ error: `${what} must be a string` }).min(1, `${what} must not be empty`);

const DURATION_HINT = 'a duration such as "30s", "15m", "2h", "1d", or a whole number of seconds';
export const durationSchema = z
  .union([z.string().regex(/^\d+(s|m|h|d)?$/, `expected ${DURATION_HINT}`), z.number().int().nonnegative()], {
    error: () => `expected ${DURATION_HINT}`,
  })
  .meta({ description: DURATION_HINT });

const stringList = (what: string) =>
  z.union([nonEmpty(what), z.array(nonEmpty(what)).min(1, `${what} needs at least one entry`)], {
    error: () => `${what} must be a string or a list of strings`,
  });

/** Environment values may be written as YAML numbers or booleans; ECS wants strings. */
const envValue = z.union([z.string(), z.number(), z.boolean()], {
  error: () => "environment values must be strings, numbers or booleans",
});
const environmentSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _, not starting with a digit"), envValue);

const commandSchema = z
  .array(z.union([z.string(), z.number()], { error: () => "command items must be strings" }))
  .min(1, "command needs at least one item")
  .meta({ description: "argv array; items are passed verbatim, never through a shell" });

const s3Trigger = fields({
  bucket: stringList("bucket").meta({ description: "bucket name, or a list of them" }),
  key: z
    .union(
      [
        z.string().min(1),
        fields({
          prefix: z.string().min(1).optional(),
          suffix: z.string().min(1).optional(),
          wildcard: z.string().min(1).optional().meta({ description: '"*" matches any characters, "/" included' }),
        }),
      ],
      { error: () => "key must be an exact key or { prefix, suffix } or { wildcard }" },
    )
    .optional(),
});

const gitTrigger = fields({
  repo: nonEmpty("repo").meta({ description: "owner/name (github, gitlab) or the repository name (codecommit)" }),
  branch: stringList("branch").optional().meta({ description: 'branch name or glob ("release/*"); default: every branch unless tag is set' }),
  tag: stringList("tag").optional().meta({ description: 'tag name or glob ("v*")' }),
  provider: oneOf(["github", "gitlab", "codecommit"], "provider").optional(),
});

const scheduleTrigger = fields({
  cron: nonEmpty("cron").optional().meta({ description: 'AWS cron, 6 fields: "0 3 * * ? *" or "cron(0 3 * * ? *)"' }),
  rate: nonEmpty("rate").optional().meta({ description: '"5 minutes", "1 hour" or "rate(1 day)"' }),
  timezone: nonEmpty("timezone").optional().meta({ description: "IANA time zone, e.g. Asia/Seoul; default UTC" }),
});

const manualParam = z.union(
  [
    z.string(),
    z.number(),
    fields({
      required: z.boolean().optional(),
      default: z.union([z.string(), z.number(), z.boolean()]).optional(),
      description: z.string().optional(),
    }),
  ],
  { error: () => "a param is a default value or { required, default, description }" },
);

const manualTrigger = z.union(
  [
    z.literal(true),
    fields({ params: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "param names are letters, digits, _ and -"), manualParam).optional() }),
  ],
  { error: () => "manual must be true or { params: { NAME: default | { required, default } } }" },
);

export const UPSTREAM_STATUSES = ["succeeded", "failed", "timed-out", "cancelled"] as const;
const upstreamStatus = oneOf(UPSTREAM_STATUSES, "status");
const jobTrigger = fields({
  name: nonEmpty("name").meta({ description: "the upstream job" }),
  status: z.union([upstreamStatus, z.array(upstreamStatus).min(1)], { error: () => `status must be one of: ${UPSTREAM_STATUSES.join(", ")} (or a list)` }).optional(),
});

const eventTrigger = fields({
  pattern: z
    .union([z.record(z.string(), z.unknown()), z.string().min(2)], { error: () => "pattern must be an EventBridge event pattern (a YAML mapping or a JSON string)" })
    .meta({ description: "an EventBridge event pattern" }),
  bus: nonEmpty("bus").optional().meta({ description: "event bus name; default: the default bus" }),
});

const many = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);

export const TRIGGER_KINDS = ["s3", "git", "schedule", "manual", "job", "event"] as const;
const triggersSchema = fields({
  s3: many(s3Trigger).optional(),
  git: many(gitTrigger).optional(),
  schedule: many(scheduleTrigger).optional(),
  manual: manualTrigger.optional(),
  job: many(jobTrigger).optional(),
  event: many(eventTrigger).optional(),
});

const launchSchema = z
  .union(
    [
      oneOf(["fargate", "fargate-spot", "ec2"], "launch"),
      fields({
        type: oneOf(["fargate", "fargate-spot", "ec2"], "launch.type"),
        fallback: oneOf(["fargate"], "fallback").optional().meta({ description: "fargate-spot only: launch type used after a spot interruption or spot capacity shortage" }),
        platformVersion: z.string().optional(),
      }),
      fields({
        capacityProviders: z
          .array(
            fields({
              provider: nonEmpty("provider"),
              weight: z.number().int().min(0).max(1000).optional(),
              base: z.number().int().min(0).max(100000).optional(),
            }),
          )
          .min(1)
          .max(20),
      }),
    ],
    { error: () => "launch must be fargate, fargate-spot, ec2, { type, fallback, platformVersion } or { capacityProviders: [{ provider, weight, base }] }" },
  )
  .meta({ description: "fargate | fargate-spot | ec2 | { capacityProviders: [...] }" });

const networkSchema = fields({
  subnets: z.array(nonEmpty("subnet")).min(1, "subnets needs at least one subnet").max(16, "ECS allows at most 16 subnets"),
  securityGroups: z.array(nonEmpty("security group")).max(5, "ECS allows at most 5 security groups").optional(),
  assignPublicIp: z.boolean().optional(),
});

const RETRY_CLASS_HINT = "spot-interruption, failed-to-start, capacity, exit:any or exit:<code>";
const retrySchema = fields({
  attempts: z.number().int().min(1).max(100).optional().meta({ description: "total attempts, the first included" }),
  backoff: fields({
    initial: durationSchema.optional(),
    factor: z.number().min(1).max(10).optional(),
    max: durationSchema.optional(),
  }).optional(),
  on: z
    .array(z.string().regex(/^(spot-interruption|failed-to-start|capacity|exit:any|exit:\d{1,3})$/, `retry classes are ${RETRY_CLASS_HINT}`))
    .optional()
    .meta({ description: RETRY_CLASS_HINT }),
});

const concurrencySchema = fields({
  max: z.number().int().min(1).max(10000).optional(),
  overlap: oneOf(["allow", "forbid", "replace", "queue", "supersede"], "overlap").optional(),
});

/** IAM role ARN: partition, 12-digit account, optional path, name of letters, digits and +=,.@_- (IAM's rules). */
const roleArn = (what: string) =>
  z
    .string({ error: `${what} must be an IAM role ARN` })
    .regex(/^arn:aws(-[a-z]+)*:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/, `${what} must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/jobs-task`);

const rolesSchema = fields({
  task: roleArn("roles.task").optional().meta({ description: "the task role (taskRoleArn) of the job's task definition" }),
  execution: roleArn("roles.execution").optional().meta({ description: "the execution role (executionRoleArn) of the job's task definition" }),
}).meta({ description: "roles berth may pass to ECS for this job (iam:PassRole is granted on exactly these)" });

/** A standard SNS topic: EventBridge needs a message group for FIFO topics, which notifications do not have. */
const snsTopicArn = z
  .string({ error: "sns must be an SNS topic ARN" })
  .regex(/^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$/, "sns must be the ARN of a standard SNS topic, e.g. arn:aws:sns:us-east-1:123456789012:jobs-alerts");

const notifySchema = z
  .array(
    fields({
      on: z.union([upstreamStatus, z.array(upstreamStatus).min(1)], { error: () => `on must be one of: ${UPSTREAM_STATUSES.join(", ")} (or a list)` }),
      sns: snsTopicArn,
    }),
    { error: () => "notify must be a list of { on: [statuses], sns: <topic ARN> }" },
  )
  .meta({ description: "send run state changes to SNS topics: [{ on: [failed, timed-out], sns: arn:aws:sns:… }]; a job's list replaces the defaults' ([] for none)" });

const tagsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: () => "tag values must be strings" }));

const runSchema = fields({
  taskDefinition: nonEmpty("taskDefinition").meta({ description: "family, family:revision or ARN" }),
  container: nonEmpty("container").optional().meta({ description: "the container that receives command and environment" }),
  command: commandSchema.optional(),
  environment: environmentSchema.optional(),
  cpu: z.number().int().positive().optional(),
  memory: z.number().int().positive().optional(),
  cluster: nonEmpty("cluster").optional(),
  launch: launchSchema.optional(),
  network: networkSchema.optional(),
  roles: rolesSchema.optional(),
});

const deploySchema = fields({
  cluster: nonEmpty("cluster").optional(),
  service: nonEmpty("service"),
  container: nonEmpty("container"),
  image: nonEmpty("image"),
  environment: environmentSchema.optional().meta({ description: "set in the deployed container's environment (added, or replacing a variable of the same name)" }),
  rollback: z.boolean().optional(),
  roles: rolesSchema.optional(),
});

export const BATCH_LIMITS = {
  /** Seconds. A shorter window hardly gathers a second upload; tests and berth dev use a few seconds. */
  minWindow: 1,
  /** A day: a daily drop fits, and no upload waits longer than that for its run. */
  maxWindow: 86_400,
  /**
   * Closing a batch reads every item record and writes one manifest: 10,000 items of at most ~2.3 KB each
   * (a 1,024-byte key and version id) stay within one function invocation's memory and a few seconds.
   */
  maxItems: 10_000,
  /** 1 PB: far beyond any batch, and a byte count that stays exact as a JavaScript number with any object added. */
  maxBytes: 1e15,
} as const;

const sizeSchema = z
  .union([z.string().regex(SIZE_SYNTAX, `expected ${SIZE_HINT}`), z.number().int().nonnegative()], { error: () => `expected ${SIZE_HINT}` })
  .meta({ description: SIZE_HINT });

const MANIFEST_HINT = "an S3 folder such as s3://media-uploads-manifests/thumbnails/";
const batchSchema = fields({
  window: durationSchema.meta({
    description: `how long a batch collects uploads after its first one (${BATCH_LIMITS.minWindow}s to 1d); ${DURATION_HINT}`,
  }),
  maxItems: z
    .number({ error: "maxItems must be a whole number" })
    .int("maxItems must be a whole number")
    .min(1, "maxItems must be at least 1")
    .max(BATCH_LIMITS.maxItems, `maxItems is at most ${BATCH_LIMITS.maxItems} (closing a batch reads every item and writes its manifest in one go)`)
    .optional()
    .meta({ description: `a batch closes at once when it holds this many uploads (1 to ${BATCH_LIMITS.maxItems}); default 1000` }),
  maxBytes: sizeSchema.optional().meta({ description: `a batch closes at once when its uploads add up to this size, and an upload that would pass it starts the next batch: ${SIZE_HINT}` }),
  manifest: z
    .string({ error: `manifest must be ${MANIFEST_HINT}` })
    .regex(/^s3:\/\//, `manifest must be ${MANIFEST_HINT}`)
    .superRefine((value, ctx) => {
      const problem = value.startsWith("s3://") ? manifestLocationProblem(value) : undefined;
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .meta({ description: `where each batch's manifest is written: ${MANIFEST_HINT}; default: the manifest bucket berth's stack creates per stage` }),
}).meta({ description: "many uploads, one run: the run reads the list of objects from a manifest in S3 (${batch.manifest}); s3 triggers only" });

/**
 * S3's bucket naming rules (general purpose buckets):
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const RESERVED_BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
/** S3 keys are at most 1,024 bytes; the manifest's name takes 38. */
export const MAX_MANIFEST_PREFIX_BYTES = 1024 - 32 - MANIFEST_SUFFIX.length;

/** Why a `batch.manifest` value names no S3 folder berth can write manifests into, or `undefined` when it does. */
export function manifestLocationProblem(value: string): string | undefined {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(value);
  if (!m) return `manifest must be ${MANIFEST_HINT} (got ${JSON.stringify(value)})`;
  const bucket = m[1]!;
  const prefix = m[2] ?? "";
  if (!BUCKET_NAME.test(bucket) || bucket.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    return `${JSON.stringify(bucket)} is not an S3 bucket name: 3-63 lower-case letters, digits, "." and "-", starting and ending with a letter or digit`;
  }
  const reserved = RESERVED_BUCKET_PREFIXES.find((p) => bucket.startsWith(p)) ?? RESERVED_BUCKET_SUFFIXES.find((p) => bucket.endsWith(p));
  if (reserved !== undefined) return `${JSON.stringify(bucket)} is not an S3 bucket name: "${reserved}" is reserved by S3`;
  if (prefix !== "" && !prefix.endsWith("/")) return `manifest names a folder: end it with "/" (s3://${bucket}/${prefix}/); each batch's manifest is written inside it`;
  if (prefix.startsWith("/") || prefix.includes("//")) return `manifest's folder has an empty segment ("//"): write it as s3://${bucket}/${prefix.replace(/\/+/g, "/").replace(/^\//, "")}`;
  if (new TextEncoder().encode(prefix).length > MAX_MANIFEST_PREFIX_BYTES) return `manifest's folder is longer than ${MAX_MANIFEST_PREFIX_BYTES} bytes: S3 keys are at most 1,024 bytes and the manifest's name takes 38`;
  return undefined;
}

const jobSchema = fields({
  description: z.string().optional(),
  on: triggersSchema,
  run: runSchema.optional(),
  deploy: deploySchema.optional(),
  batch: batchSchema.optional(),
  concurrency: concurrencySchema.optional(),
  retry: retrySchema.optional(),
  timeout: durationSchema.optional(),
  tags: tagsSchema.optional(),
  notify: notifySchema.optional(),
});

const defaultsSchema = fields({
  cluster: nonEmpty("cluster").optional(),
  launch: launchSchema.optional(),
  network: networkSchema.optional(),
  retry: retrySchema.optional(),
  timeout: durationSchema.optional(),
  concurrency: concurrencySchema.optional(),
  tags: tagsSchema.optional(),
  roles: rolesSchema.optional(),
  notify: notifySchema.optional(),
});

const localCommand = z.array(z.string()).min(1, "command needs at least one item");
const localSchema = fields({
  engine: oneOf(["process", "docker"], "engine").optional(),
  taskDefinitions: z
    .record(z.string(), fields({ command: localCommand, cwd: z.string().optional(), environment: environmentSchema.optional(), image: z.string().optional() }))
    .optional(),
  services: z
    .record(
      z.string(),
      fields({
        command: localCommand,
        cwd: z.string().optional(),
        environment: environmentSchema.optional(),
        port: z.number().int().min(1).max(65535).optional(),
        health: fields({
          command: localCommand.optional().meta({ description: "run until it exits 0; default: a TCP connect to the new version's PORT" }),
          timeout: durationSchema.optional(),
        }).optional(),
      }),
    )
    .optional(),
});

/**
 * Where the AWS webhook function reads the secret GitHub signs deliveries with (GitLab's token):
 * an SSM Parameter Store SecureString or a Secrets Manager secret, as the parameter's and secret's
 * naming rules allow them:
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html#SecretsManager-CreateSecret-request-Name
 */
const SSM_PARAMETER_NAME = /^(\/[A-Za-z0-9_.-]+)+$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws(-[a-z]+)*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const WEBHOOK_SECRET_HINT = '"ssm:/<parameter name>" (a SecureString) or "secretsmanager:<secret name or ARN>", e.g. ssm:/berth/webhook-secret';

/** Why a `webhook.secret` value names no parameter or secret berth can read, or `undefined` when it does. */
export function webhookSecretProblem(value: string): string | undefined {
  if (value.startsWith("ssm:")) {
    const name = value.slice("ssm:".length);
    if (!name.startsWith("/")) return `the SSM parameter name must start with "/", e.g. ssm:/berth/webhook-secret (got ${JSON.stringify(value)})`;
    if (!SSM_PARAMETER_NAME.test(name)) return `an SSM parameter name is letters, digits, "_", "." and "-" between single slashes, e.g. ssm:/berth/webhook-secret (got ${JSON.stringify(value)})`;
    if (name.split("/").length - 1 > 15) return "an SSM parameter name has at most 15 levels of hierarchy";
    if (name.length > 1011) return "an SSM parameter name has at most 1011 characters";
    return undefined;
  }
  if (value.startsWith("secretsmanager:")) {
    const id = value.slice("secretsmanager:".length);
    if (id.startsWith("arn:")) {
      return SECRET_ARN.test(id) ? undefined : `a Secrets Manager secret ARN looks like arn:aws:secretsmanager:us-east-1:123456789012:secret:berth/webhook-AbCdEf (got ${JSON.stringify(id)})`;
    }
    return SECRET_NAME.test(id) ? undefined : `a Secrets Manager secret name is 1-512 letters, digits and /_+=.@- (got ${JSON.stringify(id)})`;
  }
  return `webhook.secret must be ${WEBHOOK_SECRET_HINT}`;
}

const webhookSchema = fields({
  secret: z
    .string({ error: `webhook.secret must be ${WEBHOOK_SECRET_HINT}` })
    .regex(/^(ssm:|secretsmanager:)/, `webhook.secret must be ${WEBHOOK_SECRET_HINT}`)
    .superRefine((value, ctx) => {
      const problem = webhookSecretProblem(value);
      if (problem !== undefined && /^(ssm:|secretsmanager:)/.test(value)) ctx.addIssue({ code: "custom", message: problem });
    })
    .meta({ description: `the secret of the GitHub and GitLab webhooks: ${WEBHOOK_SECRET_HINT}` }),
  rotation: durationSchema
    .optional()
    .meta({ description: "how long after the secret was changed the previous value still verifies, for the time it takes to update the webhooks' settings; default 1h" }),
}).meta({ description: "the AWS webhook function's secret (locally: BERTH_WEBHOOK_SECRET)" });

export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$/;

export const catalogSchema = fields({
  version: z.literal(1, { error: () => "version must be 1" }),
  service: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, "service must be 1-32 lower-case letters, digits or -, starting with a letter (it names AWS resources)"),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'region must look like "us-east-1"').optional(),
  webhook: webhookSchema.optional(),
  defaults: defaultsSchema.optional(),
  jobs: z.record(z.string().regex(JOB_NAME, "job names are 1-48 letters, digits, _ or -, starting with a letter or digit"), jobSchema),
  local: localSchema.optional(),
});

export type RawCatalog = z.infer<typeof catalogSchema>;
export type RawJob = z.infer<typeof jobSchema>;
export type RawRun = z.infer<typeof runSchema>;
export type RawLaunch = z.infer<typeof launchSchema>;
export type RawRetry = z.infer<typeof retrySchema>;
export type RawNetwork = z.infer<typeof networkSchema>;
export type RawBatch = z.infer<typeof batchSchema>;

/** JSON Schema (draft 2020-12) of berth.yml, for editor completion. */
export function catalogJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(catalogSchema, { io: "input", unrepresentable: "any" }),
    $id: "https://berth.dev/schema/berth.yml.json",
    title: "berth.yml",
    description: "berth job catalog: when something should run (triggers) and what runs (an ECS task or a service deployment).",
  };
}
