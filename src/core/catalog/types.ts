/**
 * The resolved catalog: what `berth.yml` becomes after parsing, validation,
 * defaults merging and duration resolution. Every later stage (matching,
 * templates, dispatch, the local runtime, the serverless template) reads
 * these frozen objects and never the raw YAML.
 *
 * Durations are whole seconds. Optional fields are absent, never `undefined`
 * placeholders for "use the default": defaults are already applied.
 */

import type { EventPattern } from "../match/types.ts";

/** Manifest keys are `<prefix><batch id>.jsonl`, the id 32 hex digits (batch/manifest.ts). Here, not beside the schema, so the engine reads it without loading the schema. */
export const MANIFEST_SUFFIX = ".jsonl";

export interface S3KeyFilter {
  readonly prefix?: string;
  readonly suffix?: string;
  /** EventBridge wildcard: `*` matches any run of characters, including `/`. */
  readonly wildcard?: string;
  /** Exact key. */
  readonly equals?: string;
}

export interface S3Trigger {
  readonly kind: "s3";
  readonly buckets: readonly string[];
  readonly key?: S3KeyFilter;
}

export type GitProvider = "github" | "gitlab" | "codecommit";

export interface GitTrigger {
  readonly kind: "git";
  readonly provider: GitProvider;
  /** `owner/name` for github/gitlab, the repository name for codecommit. */
  readonly repo: string;
  /** Branch globs (`main`, `release/*`). Absent with `tags` set: tags only. */
  readonly branches?: readonly string[];
  /** Tag globs (`v*`). */
  readonly tags?: readonly string[];
}

export interface ScheduleTrigger {
  readonly kind: "schedule";
  /** The expression exactly as written: `cron(...)`/`rate(...)` or a bare 6-field cron. */
  readonly expression: string;
  /** Normalized to AWS's form: `cron(0 3 * * ? *)` or `rate(5 minutes)`. */
  readonly awsExpression: string;
  /** IANA time zone; `UTC` when not given. */
  readonly timezone: string;
}

export interface ManualParam {
  readonly required: boolean;
  readonly default?: string;
  readonly description?: string;
}

export interface ManualTrigger {
  readonly kind: "manual";
  readonly params: Readonly<Record<string, ManualParam>>;
}

export type UpstreamStatus = "succeeded" | "failed" | "timed-out" | "cancelled";

export interface JobTrigger {
  readonly kind: "job";
  readonly job: string;
  readonly statuses: readonly UpstreamStatus[];
}

export interface EventTrigger {
  readonly kind: "event";
  readonly pattern: EventPattern;
  /** Event bus name; absent means the default bus. */
  readonly bus?: string;
}

export type Trigger =
  | S3Trigger
  | GitTrigger
  | ScheduleTrigger
  | ManualTrigger
  | JobTrigger
  | EventTrigger;

export type TriggerKind = Trigger["kind"];

export interface CapacityProviderItem {
  readonly provider: string;
  readonly weight?: number;
  readonly base?: number;
}

export type Launch =
  | { readonly type: "fargate"; readonly platformVersion?: string }
  | { readonly type: "fargate-spot"; readonly fallback?: "fargate"; readonly platformVersion?: string }
  | { readonly type: "ec2" }
  | { readonly type: "capacity-providers"; readonly providers: readonly CapacityProviderItem[] };

export interface Network {
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly assignPublicIp: boolean;
}

/** A string that may contain `${var}` references; checked at load time. */
export type TemplateString = string;

export interface RunAction {
  readonly kind: "run";
  readonly cluster: string;
  readonly taskDefinition: string;
  /** Container that receives command/environment overrides. */
  readonly container?: string;
  readonly command?: readonly TemplateString[];
  readonly environment: Readonly<Record<string, TemplateString>>;
  /** Task-level cpu/memory overrides (ECS units: cpu in CPU units, memory in MiB). */
  readonly cpu?: number;
  readonly memory?: number;
  readonly launch: Launch;
  readonly network?: Network;
}

export interface DeployAction {
  readonly kind: "deploy";
  readonly cluster: string;
  readonly service: string;
  readonly container: string;
  readonly image: TemplateString;
  /** Variables set in the container's environment of the new revision (added, or replacing one of the same name). */
  readonly environment: Readonly<Record<string, TemplateString>>;
  readonly rollback: boolean;
}

export type Action = RunAction | DeployAction;

export type RetryClass =
  | "spot-interruption"
  | "failed-to-start"
  | "capacity"
  | `exit:${number}`
  | "exit:any";

export interface RetryPolicy {
  /** Total attempts including the first; 1 means never retry. */
  readonly attempts: number;
  readonly backoff: { readonly initial: number; readonly factor: number; readonly max: number };
  readonly on: readonly RetryClass[];
}

export type Overlap = "allow" | "forbid" | "replace" | "queue" | "supersede";

export interface ConcurrencyPolicy {
  /** Absent: unlimited with `overlap: allow`, one at a time otherwise (runs/concurrency.ts). */
  readonly max?: number;
  readonly overlap: Overlap;
}

/** Where a batch's manifest goes: `<prefix><batch id>.jsonl` in the bucket. */
export interface ManifestLocation {
  readonly bucket: string;
  /** Empty, or ends in `/`. */
  readonly prefix: string;
}

/** `batch:` of a job with s3 triggers: its uploads are gathered into batches, each one run. */
export interface BatchPolicy {
  /** Seconds from a batch's first upload until it closes. */
  readonly window: number;
  /** A batch closes at once when it holds this many uploads. */
  readonly maxItems: number;
  /** A batch closes at once when its uploads add up to this many bytes; an upload that would pass it opens the next batch. */
  readonly maxBytes?: number;
  /** Absent: the manifest bucket of the stage, under the job's name (batch/manifest.ts). */
  readonly manifest?: ManifestLocation;
}

export interface Job {
  readonly name: string;
  readonly description?: string;
  readonly triggers: readonly Trigger[];
  readonly action: Action;
  readonly retry: RetryPolicy;
  /** Seconds; absent means no timeout. */
  readonly timeout?: number;
  readonly concurrency: ConcurrencyPolicy;
  readonly tags: Readonly<Record<string, string>>;
  /** Roles berth may pass to ECS for this job: iam:PassRole is granted on exactly these. */
  readonly roles: JobRoles;
  /** Run state changes sent to SNS topics. */
  readonly notify: readonly Notification[];
  /** Present: the job's s3 uploads are batched, one run per batch (src/core/batch). */
  readonly batch?: BatchPolicy;
}

export interface JobRoles {
  /** The task role (taskRoleArn) of the job's task definition. */
  readonly task?: string;
  /** The execution role (executionRoleArn) of the job's task definition. */
  readonly execution?: string;
}

export interface Notification {
  /** The statuses that notify, spelled as a job trigger's `status:`. */
  readonly on: readonly UpstreamStatus[];
  /** A standard SNS topic ARN. */
  readonly sns: string;
}

export interface LocalTaskDefinition {
  readonly command: readonly string[];
  readonly cwd?: string;
  readonly environment: Readonly<Record<string, string>>;
  /** Container image for `engine: docker`. */
  readonly image?: string;
}

export interface LocalService {
  readonly command: readonly string[];
  readonly cwd?: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly port?: number;
  /** How a new version proves it is ready: `command` exits 0, or (default) its PORT accepts a connection. */
  readonly health?: { readonly command?: readonly string[]; readonly timeout: number };
}

export interface LocalConfig {
  readonly engine: "process" | "docker";
  readonly taskDefinitions: Readonly<Record<string, LocalTaskDefinition>>;
  readonly services: Readonly<Record<string, LocalService>>;
}

/** Where the AWS webhook function reads the shared secret of GitHub and GitLab webhooks. */
export interface WebhookSecretSource {
  /** An SSM Parameter Store SecureString (`ssm:/name`) or a Secrets Manager secret (`secretsmanager:name-or-arn`). */
  readonly source: "ssm" | "secretsmanager";
  /** The parameter name (starting with `/`) or the secret's name or ARN, as written after the prefix. */
  readonly name: string;
}

export interface WebhookConfig {
  readonly secret: WebhookSecretSource;
  /** Seconds after a rotation during which the previous secret still verifies. */
  readonly rotation: number;
}

export interface Catalog {
  readonly version: 1;
  readonly service: string;
  readonly region?: string;
  /** The AWS webhook function's settings; absent: the stack has no webhook secret and the function refuses every delivery. */
  readonly webhook?: WebhookConfig;
  readonly jobs: Readonly<Record<string, Job>>;
  readonly local: LocalConfig;
  /** The file it was loaded from, for messages. */
  readonly file: string;
}
