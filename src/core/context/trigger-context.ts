/**
 * Turns a trigger and the event that matched it into the flat context that
 * `${...}` templates read (`s3.key`, `git.sha`, `schedule.date`, ...).
 *
 * The event is untrusted JSON: producers outside berth (S3, CodeCommit, a
 * misconfigured rule, a hand-written PutEvents) can put anything on the bus.
 * Every field is type-checked and a malformed event yields a ValidationError
 * naming the field; nothing here throws.
 */
import type { GitTrigger, ManualTrigger, ScheduleTrigger, Trigger } from "../catalog/types.ts";
import { ENVELOPE_FIELDS, EVENT_PREFIX, GIT_VARIABLE_NAMES } from "../catalog/variables.ts";
import { spelledStatus } from "../catalog/patterns.ts";
import type { BusEvent } from "../events/envelope.ts";
import { isRunStatus, RUN_STATUSES } from "../runs/status.ts";
import { BERTH_SOURCE, DETAIL_TYPE, GIT_SOURCE, SCHEDULER_SOURCE } from "../events/berth-events.ts";
import { at, describe, isRecord } from "./read.ts";
import type { JsonRecord } from "./read.ts";
import { decodeS3EventKey } from "../events/s3-key.ts";
import { ConfigurationError, failure, ValidationError, type Failure } from "../errors.ts";

export type TemplateContext = Readonly<Record<string, string>>;

/** A ConfigurationError when this runtime cannot serve the trigger as configured (an unknown time zone). */
export type ContextResult = { readonly ok: true; readonly context: TemplateContext } | Failure<ValidationError | ConfigurationError>;

/** Normalizes `event` into `trigger`'s variables, or explains what the event lacks. */
export function triggerContext(trigger: Trigger, event: BusEvent): ContextResult {
  const untrusted: unknown = event;
  if (!isRecord(untrusted)) {
    return failure(new ValidationError(`malformed event: expected an EventBridge envelope (a JSON object), got ${describe(untrusted)}`));
  }
  try {
    // No prototype: looking up a name such as `constructor` must find nothing, not Object's.
    const context: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, contextFor(trigger, untrusted));
    return { ok: true, context: Object.freeze(context) };
  } catch (error) {
    // Thrown by the readers below, deep in the event; never escapes `triggerContext`.
    if (error instanceof ValidationError || error instanceof ConfigurationError) return failure(error);
    throw error;
  }
}

/** `field`: the dotted path of the one field to blame, when there is one. */
function fail(message: string, field?: string): never {
  throw new ValidationError(message, { field });
}

function contextFor(trigger: Trigger, event: JsonRecord): Record<string, string> {
  switch (trigger.kind) {
    case "s3":
      return s3Context(event);
    case "git":
      return gitContext(trigger, event);
    case "schedule":
      return scheduleContext(trigger, event);
    case "manual":
      return manualContext(trigger, event);
    case "job":
      return upstreamContext(event);
    case "event":
      return envelopeContext(event);
  }
}

// ---------------------------------------------------------------- readers

interface EventKind {
  readonly label: string;
  readonly source: string;
  readonly detailType: string;
}

const S3_OBJECT_CREATED: EventKind = { label: "S3", source: "aws.s3", detailType: DETAIL_TYPE.s3ObjectCreated };
const GIT_PUSH: EventKind = { label: "git push", source: GIT_SOURCE, detailType: DETAIL_TYPE.gitPush };
const CODECOMMIT: EventKind = { label: "CodeCommit", source: "aws.codecommit", detailType: DETAIL_TYPE.codeCommitStateChange };
const SCHEDULE_FIRED: EventKind = { label: "schedule", source: SCHEDULER_SOURCE, detailType: DETAIL_TYPE.scheduleFired };
const MANUAL_RUN: EventKind = { label: "manual run", source: BERTH_SOURCE, detailType: DETAIL_TYPE.manualRun };
const RUN_STATE_CHANGE: EventKind = { label: "run state change", source: BERTH_SOURCE, detailType: DETAIL_TYPE.runStateChange };

function isKind(event: JsonRecord, kind: EventKind): boolean {
  return at(event, "source") === kind.source && at(event, "detail-type") === kind.detailType;
}

function expectKind(event: JsonRecord, ...kinds: EventKind[]): EventKind {
  const found = kinds.find((kind) => isKind(event, kind));
  if (found) return found;
  const wanted = kinds.map((kind) => `"${kind.detailType}" from ${kind.source}`).join(" or ");
  return fail(
    `wrong event for this trigger: expected ${wanted}, got ${describe(at(event, "detail-type"))} from ${describe(at(event, "source"))}; ` +
      "check the rule that routed it",
  );
}

function requireDetail(event: JsonRecord, kind: EventKind): JsonRecord {
  const detail = at(event, "detail");
  if (!isRecord(detail)) fail(`malformed ${kind.label} event: detail must be an object, got ${describe(detail)}`, "detail");
  return detail;
}

/**
 * The longest string berth takes from an event into a run's context (and so into its stored record). The
 * longest identifiers AWS puts in the events berth reads are an S3 object key and version ID, at most 1,024
 * bytes each (S3 user guide, "Naming Amazon S3 objects" and "How S3 Versioning works"); anything longer is
 * forged, and would only come back from DynamoDB (400 KB items, 2,048-byte keys) as its own error.
 */
export const MAX_EVENT_STRING = 1024;

/** S3 keys arrive URL-encoded, up to three characters per byte (`%E2`). */
const MAX_ENCODED_S3_KEY = 3 * MAX_EVENT_STRING;

/** A manual run's param value: RunTask's overrides, where params end up, are capped at 8,192 characters. */
export const MAX_PARAM_VALUE = 8192;

function checkLength(kind: EventKind, value: string, field: string, max: number): string {
  if (value.length > max) fail(`malformed ${kind.label} event: ${field} is ${value.length} characters, more than the ${max} berth accepts`, field);
  return value;
}

function requireString(kind: EventKind, root: JsonRecord, path: string, prefix = "detail.", max = MAX_EVENT_STRING): string {
  const value = at(root, path);
  if (typeof value !== "string" || value === "") {
    fail(`malformed ${kind.label} event: ${prefix}${path} must be a non-empty string, got ${describe(value)}`, `${prefix}${path}`);
  }
  return checkLength(kind, value, `${prefix}${path}`, max);
}

/** Absent is fine (the empty string); present with the wrong type is not. */
function optionalString(kind: EventKind, root: JsonRecord, path: string): string {
  const value = at(root, path);
  if (value === undefined) return "";
  if (typeof value !== "string") fail(`malformed ${kind.label} event: detail.${path} must be a string, got ${describe(value)}`, `detail.${path}`);
  return checkLength(kind, value, `detail.${path}`, MAX_EVENT_STRING);
}

function requireNonNegativeInteger(kind: EventKind, root: JsonRecord, path: string): number {
  const value = at(root, path);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(`malformed ${kind.label} event: detail.${path} must be a non-negative integer, got ${describe(value)}`, `detail.${path}`);
  }
  return value;
}

// ---------------------------------------------------------------- s3

function s3Context(event: JsonRecord): Record<string, string> {
  const kind = expectKind(event, S3_OBJECT_CREATED);
  const detail = requireDetail(event, kind);
  // S3 keys arrive URL-encoded in events; decoding rules are in docs/s3-keys.md.
  const decoded = decodeS3EventKey(requireString(kind, detail, "object.key", "detail.", MAX_ENCODED_S3_KEY));
  if (!decoded.ok) fail(`malformed S3 event: ${decoded.error.message}`, "detail.object.key");
  return {
    "s3.bucket": requireString(kind, detail, "bucket.name"),
    "s3.key": decoded.key,
    "s3.size": String(requireNonNegativeInteger(kind, detail, "object.size")),
    "s3.etag": optionalString(kind, detail, "object.etag"),
    "s3.versionId": optionalString(kind, detail, "object.version-id"),
    "s3.sequencer": optionalString(kind, detail, "object.sequencer"),
  };
}

// ---------------------------------------------------------------- git

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const ZERO_SHA = /^0+$/;
const NOTHING_TO_BUILD = "the ref was deleted; nothing to build";

interface GitFacts {
  readonly repo: string;
  readonly ref: string;
  readonly sha: string;
  readonly before: string;
  readonly pusher: string;
}

function gitContext(trigger: GitTrigger, event: JsonRecord): Record<string, string> {
  const kind = trigger.provider === "codecommit" ? expectKind(event, CODECOMMIT) : expectKind(event, GIT_PUSH);
  const facts = kind === CODECOMMIT ? codeCommitFacts(event) : gitPushFacts(trigger, event);
  const { branch, tag } = splitRef(kind, facts.ref);
  return {
    "git.repo": facts.repo,
    "git.ref": facts.ref,
    "git.branch": branch,
    "git.tag": tag,
    "git.sha": facts.sha,
    "git.shortSha": facts.sha.slice(0, 7),
    "git.before": facts.before,
    "git.pusher": facts.pusher,
  };
}

function gitPushFacts(trigger: GitTrigger, event: JsonRecord): GitFacts {
  const kind = GIT_PUSH;
  const detail = requireDetail(event, kind);
  const provider = at(detail, "provider");
  if (provider !== trigger.provider) {
    fail(`wrong event for this trigger: a ${trigger.provider} git trigger got a push from provider ${describe(provider)}`, "detail.provider");
  }
  const deleted = at(detail, "deleted");
  if (typeof deleted !== "boolean") fail(`malformed git push event: detail.deleted must be a boolean, got ${describe(deleted)}`, "detail.deleted");
  const sha = requireSha(kind, detail, "sha");
  if (deleted || ZERO_SHA.test(sha)) fail(NOTHING_TO_BUILD);
  const facts = {
    repo: requireString(kind, detail, "repo"),
    ref: requireString(kind, detail, "ref"),
    sha,
    before: requireSha(kind, detail, "before"),
    pusher: optionalString(kind, detail, "pusher"),
  };
  // The detail repeats branch/tag for rule patterns; a disagreement with the ref means a broken producer.
  const { branch, tag } = splitRef(kind, facts.ref);
  for (const [field, expected] of [["branch", branch], ["tag", tag]] as const) {
    const stated = optionalString(kind, detail, field);
    if (stated !== "" && stated !== expected) {
      fail(`malformed git push event: detail.${field} ${JSON.stringify(stated)} disagrees with detail.ref ${JSON.stringify(facts.ref)}`, `detail.${field}`);
    }
  }
  return facts;
}

function codeCommitFacts(event: JsonRecord): GitFacts {
  const kind = CODECOMMIT;
  const detail = requireDetail(event, kind);
  const change = at(detail, "event");
  if (change === "referenceDeleted") fail(NOTHING_TO_BUILD);
  if (change !== "referenceCreated" && change !== "referenceUpdated") {
    fail(
      `CodeCommit event ${describe(change)} is not a push: only referenceCreated and referenceUpdated carry a commit to build; ` +
        'the rule should match detail.event ["referenceCreated", "referenceUpdated"]',
      "detail.event",
    );
  }
  const sha = requireSha(kind, detail, "commitId");
  if (ZERO_SHA.test(sha)) fail(NOTHING_TO_BUILD);
  const before = at(detail, "oldCommitId") === undefined ? "0".repeat(sha.length) : requireSha(kind, detail, "oldCommitId");
  return {
    repo: requireString(kind, detail, "repositoryName"),
    ref: requireString(kind, detail, "referenceFullName"),
    sha,
    before,
    pusher: callerName(optionalString(kind, detail, "callerUserArn")),
  };
}

function requireSha(kind: EventKind, detail: JsonRecord, path: string): string {
  const value = at(detail, path);
  if (typeof value !== "string" || !SHA.test(value)) {
    fail(`malformed ${kind.label} event: detail.${path} must be a full lower-case hex commit id (40 or 64 characters), got ${describe(value)}`, `detail.${path}`);
  }
  return value;
}

function splitRef(kind: EventKind, ref: string): { branch: string; tag: string } {
  for (const [prefix, field] of [["refs/heads/", "branch"], ["refs/tags/", "tag"]] as const) {
    if (ref.startsWith(prefix) && ref.length > prefix.length) {
      const name = ref.slice(prefix.length);
      return field === "branch" ? { branch: name, tag: "" } : { branch: "", tag: name };
    }
  }
  return fail(`malformed ${kind.label} event: ref ${JSON.stringify(ref)} is neither a branch (refs/heads/...) nor a tag (refs/tags/...)`);
}

/** `arn:aws:iam::1:user/jane` → `jane`; `arn:aws:sts::1:assumed-role/Admin/jane` → `jane`; no `/` → the ARN itself. */
function callerName(arn: string): string {
  const slash = arn.lastIndexOf("/");
  return slash >= 0 && slash < arn.length - 1 ? arn.slice(slash + 1) : arn;
}

// ---------------------------------------------------------------- schedule

const UTC_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?Z$/;

function scheduleContext(trigger: ScheduleTrigger, event: JsonRecord): Record<string, string> {
  const kind = expectKind(event, SCHEDULE_FIRED);
  const detail = requireDetail(event, kind);
  const raw = requireString(kind, detail, "scheduledTime");
  const instant = parseUtcInstant(raw);
  if (instant === undefined) {
    fail(`malformed schedule event: detail.scheduledTime must be an ISO-8601 UTC instant such as 2024-11-26T18:00:00Z, got ${describe(raw)}`, "detail.scheduledTime");
  }
  return {
    "schedule.time": formatUtcInstant(instant),
    "schedule.date": calendarDate(instant, trigger.timezone),
    "schedule.timezone": trigger.timezone,
  };
}

function parseUtcInstant(text: string): Date | undefined {
  if (!UTC_INSTANT.test(text)) return undefined;
  const instant = new Date(text);
  // Date accepts some impossible calendar dates (2024-02-30); a round trip exposes them.
  if (Number.isNaN(instant.getTime()) || instant.toISOString().slice(0, 19) !== text.slice(0, 19)) return undefined;
  return instant;
}

/** Second precision unless the instant has milliseconds: `2024-11-26T18:00:00Z`. */
function formatUtcInstant(instant: Date): string {
  const iso = instant.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

function calendarDate(instant: Date, timeZone: string): string {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone,
      calendar: "gregory",
      numberingSystem: "latn",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).formatToParts(instant);
  } catch {
    throw new ConfigurationError(`the schedule trigger's timezone ${JSON.stringify(timeZone)} is not an IANA time zone this runtime knows; use a name such as Asia/Seoul`);
  }
  const part = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year").padStart(4, "0")}-${part("month")}-${part("day")}`;
}

// ---------------------------------------------------------------- manual

function manualContext(trigger: ManualTrigger, event: JsonRecord): Record<string, string> {
  const kind = expectKind(event, MANUAL_RUN);
  const detail = requireDetail(event, kind);
  const params = at(detail, "params");
  const given = params === undefined ? {} : params;
  if (!isRecord(given)) fail(`malformed manual run event: detail.params must be an object of strings, got ${describe(given)}`, "detail.params");

  const declared = Object.keys(trigger.params);
  const declaredList = declared.length === 0 ? "this job declares no params" : `declared params: ${declared.join(", ")}`;
  const unknown = Object.keys(given).filter((name) => !Object.hasOwn(trigger.params, name));
  if (unknown.length > 0) {
    // Names come from the event: a few, each cut short, keep the message readable whatever was sent.
    const named = unknown.slice(0, 5).map((name) => (name.length > 60 ? JSON.stringify(`${name.slice(0, 60)}…`) : JSON.stringify(name)));
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : "";
    fail(`unknown param${unknown.length > 1 ? "s" : ""} ${named.join(", ")}${more}; ${declaredList}`);
  }

  const context: Record<string, string> = {};
  for (const name of declared) {
    const spec = trigger.params[name];
    const value = Object.hasOwn(given, name) ? given[name] : undefined;
    if (value !== undefined && typeof value !== "string") {
      fail(`malformed manual run event: param ${JSON.stringify(name)} must be a string, got ${describe(value)}`, `detail.params.${name}`);
    }
    if (value !== undefined) checkLength(kind, value, `detail.params.${name}`, MAX_PARAM_VALUE);
    const resolved = value ?? spec?.default;
    if (resolved === undefined && spec?.required) {
      fail(`missing required param ${JSON.stringify(name)}${spec.description ? ` (${spec.description})` : ""}; ${declaredList}`, `detail.params.${name}`);
    }
    context[`params.${name}`] = resolved ?? "";
  }
  return context;
}

// ---------------------------------------------------------------- job

function upstreamContext(event: JsonRecord): Record<string, string> {
  const kind = expectKind(event, RUN_STATE_CHANGE);
  const detail = requireDetail(event, kind);
  const status = at(detail, "status");
  if (!isRunStatus(status)) {
    fail(`malformed run state change event: detail.status must be one of ${RUN_STATUSES.join(", ")}, got ${describe(status)}`, "detail.status");
  }
  const exitCode = at(detail, "exitCode");
  if (exitCode !== undefined && (typeof exitCode !== "number" || !Number.isSafeInteger(exitCode))) {
    fail(`malformed run state change event: detail.exitCode must be an integer when present, got ${describe(exitCode)}`, "detail.exitCode");
  }
  return {
    "upstream.job": requireString(kind, detail, "job"),
    "upstream.runId": requireString(kind, detail, "runId"),
    // Same spelling as the `status:` values of a job trigger: TIMED_OUT → timed-out.
    "upstream.status": spelledStatus(status),
    "upstream.exitCode": exitCode === undefined ? "" : String(exitCode),
    ...upstreamGit(detail),
  };
}

/** The push an upstream run carried (its detail's `git`), as this run's own `git.*`: only the names a git trigger provides, only strings. */
function upstreamGit(detail: JsonRecord): Record<string, string> {
  const git = at(detail, "git");
  if (git === undefined) return {};
  if (!isRecord(git)) fail(`malformed run state change event: detail.git must be an object when present, got ${describe(git)}`, "detail.git");
  const out: Record<string, string> = {};
  for (const name of GIT_VARIABLE_NAMES) {
    const value = at(git, name.slice("git.".length));
    if (value === undefined) continue;
    if (typeof value !== "string") fail(`malformed run state change event: detail.${name} must be a string, got ${describe(value)}`, `detail.${name}`);
    out[name] = checkLength(RUN_STATE_CHANGE, value, `detail.${name}`, MAX_EVENT_STRING);
  }
  return out;
}

// ---------------------------------------------------------------- event

function envelopeContext(event: JsonRecord): Record<string, string> {
  const kind: EventKind = { label: "EventBridge", source: "", detailType: "" };
  const context: Record<string, string> = {};
  for (const field of ENVELOPE_FIELDS) context[EVENT_PREFIX + field] = requireString(kind, event, field, "");
  return context;
}
