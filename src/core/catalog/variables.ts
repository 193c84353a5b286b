/**
 * The template variables each trigger kind provides, declared with the
 * catalog: loading rejects a template that names a variable its job's
 * triggers cannot supply. ../context computes the values from an event.
 */
import type { Trigger } from "./types.ts";

export interface TriggerVariables {
  readonly names: ReadonlySet<string>;
  /** Any variable starting with one of these is allowed (`event.` for event triggers). */
  readonly prefixes: readonly string[];
}

const S3_VARIABLES = ["s3.bucket", "s3.key", "s3.size", "s3.etag", "s3.versionId", "s3.sequencer"] as const;
/** What a batched job's s3 trigger provides instead of `s3.*`: one run covers many objects (batch/manifest.ts sets them). */
export const BATCH_VARIABLES = ["batch.manifest", "batch.count", "batch.bytes", "batch.opened"] as const;
const GIT_VARIABLES = [
  "git.repo", "git.ref", "git.branch", "git.tag", "git.sha", "git.shortSha", "git.before", "git.pusher",
] as const;
const SCHEDULE_VARIABLES = ["schedule.time", "schedule.date", "schedule.timezone"] as const;
const UPSTREAM_VARIABLES = ["upstream.job", "upstream.runId", "upstream.status", "upstream.exitCode"] as const;
export const ENVELOPE_FIELDS = ["id", "source", "detail-type", "time", "account", "region"] as const;
export const EVENT_PREFIX = "event.";

/** The git variables, for runs that pass their push on to the jobs chained after them. */
export const GIT_VARIABLE_NAMES: readonly string[] = GIT_VARIABLES;

/**
 * Variables a trigger can provide; used when the catalog loads to reject
 * templates that name something the job's triggers cannot supply. Run-level
 * variables (`run.id`, `run.attempt`, `job.name`) are not trigger variables.
 */
export function triggerVariables(trigger: Trigger, options: { readonly upstreamHasGit?: boolean; readonly batched?: boolean } = {}): TriggerVariables {
  switch (trigger.kind) {
    case "s3":
      return { names: new Set(options.batched ? BATCH_VARIABLES : S3_VARIABLES), prefixes: [] };
    case "git":
      return { names: new Set(GIT_VARIABLES), prefixes: [] };
    case "schedule":
      return { names: new Set(SCHEDULE_VARIABLES), prefixes: [] };
    case "manual":
      return { names: new Set(Object.keys(trigger.params).map((name) => `params.${name}`)), prefixes: [] };
    case "job":
      // A run started by a push passes its push on: a deploy chained after migrations deploys that push's commit.
      return { names: new Set([...UPSTREAM_VARIABLES, ...(options.upstreamHasGit ? GIT_VARIABLES : [])]), prefixes: [] };
    case "event":
      return { names: new Set(ENVELOPE_FIELDS.map((field) => EVENT_PREFIX + field)), prefixes: [EVENT_PREFIX] };
  }
}
