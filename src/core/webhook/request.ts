/**
 * What every git-provider webhook shares: the request and decision shapes,
 * the checks that come before any provider logic (a secret is configured,
 * the body is within the limit), body decoding, the normalized `Git Push`
 * event and what a push is answered. The AWS webhook function and the local
 * server both call the provider handlers with the raw request and turn the
 * decision into an HTTP response (`responseBody`); neither decides anything
 * on its own, so both answer every delivery alike.
 */
import { at, describe, isRecord } from "../context/read.ts";
import type { JsonRecord } from "../context/read.ts";
import { busEvent, type BusEvent } from "../events/envelope.ts";
import { DETAIL_TYPE, GIT_SOURCE, type GitPushDetail } from "../events/berth-events.ts";
import { utf8Bytes, type HmacSha256 } from "./hmac.ts";
import { usableSecrets, type WebhookSecrets } from "./secrets.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";

export type { WebhookSecrets } from "./secrets.ts";

export interface WebhookRequest {
  /** Header names in lower case, as node:http and Lambda function URLs deliver them. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures cover these bytes, not a re-serialization. */
  readonly rawBody: Uint8Array;
}

/** Why a delivery was refused with 401: the shell may read its secret again after a mismatch (it may have been rotated). */
export type Refusal = "unconfigured" | "unsigned" | "mismatch";

export type WebhookDecision =
  /** A push some job watches: the shell answers only once `event` is on the bus. */
  | { readonly status: 202; readonly message: string; readonly event: BusEvent<GitPushDetail>; readonly jobs: readonly string[] }
  /** Answered and left alone: a ping, or a delivery berth has no use for (the message says why). */
  | { readonly status: 200; readonly message: string }
  | { readonly status: 401; readonly message: string; readonly refusal: Refusal }
  | { readonly status: 400 | 413 | 415; readonly message: string };

/** The jobs of the catalog a push event starts, by the catalog's own git trigger patterns (watchers.ts). */
export type PushWatchers = (event: BusEvent<GitPushDetail>) => readonly string[];

export interface WebhookOptions {
  /** The secrets that verify deliveries; none (or only empty ones) refuses every request. */
  readonly secrets: WebhookSecrets;
  readonly hmac: HmacSha256;
  /** Which jobs watch a push; a push none watches is answered 200 and put on no bus. */
  readonly watchers: PushWatchers;
  /** Id of the event a push becomes when the delivery carries no delivery id (otherwise the id comes from it). */
  readonly fallbackEventId: string;
  /** Epoch ms; becomes the event's `time`. */
  readonly now: number;
  /** Largest body accepted; defaults to {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
}

/**
 * 5 MiB: far above a typical push payload, and below the 6 MB Lambda
 * request limit the AWS side runs under.
 */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** The refusals that come before any provider-specific check, or `undefined` to go on. */
export function precheck(req: WebhookRequest, opts: WebhookOptions, provider: string): WebhookDecision | undefined {
  if (usableSecrets(opts.secrets).length === 0) {
    return { status: 401, refusal: "unconfigured", message: `no webhook secret is configured, so every delivery is refused: ${opts.secrets.configure(provider)}` };
  }
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (req.rawBody.length > limit) {
    // A shell may stop reading just past the limit, so the length seen here is not the body's full size.
    return { status: 413, message: `request body is larger than the limit of ${limit} bytes` };
  }
  return undefined;
}

/** `application/json; charset=utf-8` → `application/json`; `""` when absent. */
export function mediaType(headers: WebhookRequest["headers"]): string {
  return (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The text of a body, or `undefined` when it is not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export type Parsed = { readonly ok: true; readonly value: JsonRecord } | Failure<ValidationError>;

/** A body (bytes or already-decoded text) as a JSON object; invalid UTF-8, invalid JSON and non-objects are refused with a reason. */
export function parseJsonObject(body: Uint8Array | string, what: string): Parsed {
  const text = typeof body === "string" ? body : decodeUtf8(body);
  if (text === undefined) return failure(new ValidationError(`${what} is not valid UTF-8`));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return failure(new ValidationError(`${what} is not valid JSON: ${(error as Error).message}`, { cause: error }));
  }
  if (!isRecord(value)) return failure(new ValidationError(`${what} must be a JSON object`));
  return { ok: true, value };
}

/** Full commit ids: SHA-1 (40 hex) or SHA-256 repositories (64 hex), lower case as git prints them. */
const COMMIT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const ZERO_COMMIT = /^0+$/;

const isZeroCommit = (sha: string): boolean => ZERO_COMMIT.test(sha);

/** `refs/heads/x` → branch, `refs/tags/x` → tag; `undefined` for any other ref. */
function refName(ref: string): { branch: string } | { tag: string } | undefined {
  if (ref.startsWith("refs/heads/") && ref.length > "refs/heads/".length) return { branch: ref.slice("refs/heads/".length) };
  if (ref.startsWith("refs/tags/") && ref.length > "refs/tags/".length) return { tag: ref.slice("refs/tags/".length) };
  return undefined;
}

/** Where a provider's push payload keeps each fact berth needs. */
export interface PushPayloadFields {
  readonly provider: GitPushDetail["provider"];
  /** Path of `owner/name`. */
  readonly repo: string;
  /** Paths tried in order for the pusher's name. */
  readonly pusher: readonly string[];
  /** Path of an explicit deletion flag; without one, an all-zero `after` means deleted. */
  readonly deleted?: string;
  /** Path of the repository's web URL, the event's resource. */
  readonly resource: string;
  /** Where the time of the pushed commit is (`sha` is `after`), and what is there; `undefined` when the payload has none (absent or null). */
  readonly commitTime: (payload: JsonRecord, sha: string) => { readonly path: string; readonly value: unknown } | undefined;
}

/** ISO 8601 with seconds and an offset, as GitHub and GitLab write commit times: `2024-11-26T10:53:48+01:00`. */
const COMMIT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** A commit time in UTC (`2024-11-26T09:53:48Z`), so that times compare as strings too; `undefined` when it is not one. */
function utcCommitTime(value: string): string | undefined {
  const ms = COMMIT_TIME.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().replace(".000Z", "Z");
}

/**
 * A push to act on; a push berth leaves alone (a ref that is neither a
 * branch nor a tag: answered 200, not an error); or a malformed payload.
 */
export type NormalizedPush =
  | { readonly ok: true; readonly kind: "push"; readonly detail: GitPushDetail; readonly resource: string | undefined }
  | { readonly ok: true; readonly kind: "ignored"; readonly message: string }
  | Failure<ValidationError>;

/** A push payload as a `GitPushDetail`; a missing or mistyped field is a ValidationError naming it. */
export function normalizePush(payload: JsonRecord, fields: PushPayloadFields, deliveryId: string | undefined): NormalizedPush {
  const malformed = (field: string, expected: string, value: unknown = at(payload, field)): NormalizedPush =>
    failure(new ValidationError(`malformed push payload: ${field} must be ${expected}, got ${describe(value)}`, { field }));

  const repo = at(payload, fields.repo);
  if (typeof repo !== "string" || repo === "") return malformed(fields.repo, "a non-empty string such as owner/name");
  const ref = at(payload, "ref");
  if (typeof ref !== "string" || ref === "") return malformed("ref", "a non-empty string such as refs/heads/main");
  const sha = at(payload, "after");
  if (typeof sha !== "string" || !COMMIT_ID.test(sha)) return malformed("after", "a full lower-case hex commit id");
  const before = at(payload, "before");
  if (typeof before !== "string" || !COMMIT_ID.test(before)) return malformed("before", "a full lower-case hex commit id");
  const deletedFlag = fields.deleted === undefined ? undefined : at(payload, fields.deleted);
  if (fields.deleted !== undefined && deletedFlag !== undefined && typeof deletedFlag !== "boolean") {
    return malformed(fields.deleted, "a boolean");
  }
  const time = fields.commitTime(payload, sha);
  const committedAt = time === undefined ? undefined : typeof time.value === "string" ? utcCommitTime(time.value) : undefined;
  if (time !== undefined && committedAt === undefined) {
    return malformed(time.path, "an ISO 8601 time such as 2024-11-26T10:53:48+01:00", time.value);
  }

  const name = refName(ref);
  if (name === undefined) {
    return { ok: true, kind: "ignored", message: `ignored: ref ${JSON.stringify(ref)} is neither a branch (refs/heads/...) nor a tag (refs/tags/...)` };
  }

  const pusher = fields.pusher.map((path) => at(payload, path)).find((value) => typeof value === "string");
  const resource = at(payload, fields.resource);
  const detail: GitPushDetail = {
    provider: fields.provider,
    repo,
    ref,
    ...name,
    sha,
    before,
    pusher: typeof pusher === "string" ? pusher : "",
    deleted: typeof deletedFlag === "boolean" ? deletedFlag : isZeroCommit(sha),
    ...(committedAt !== undefined ? { committedAt } : {}),
    ...(deliveryId ? { deliveryId } : {}),
  };
  return { ok: true, kind: "push", detail, resource: typeof resource === "string" && resource !== "" ? resource : undefined };
}

/**
 * What a push delivery is answered: 202 with the event when a job watches the push; 200 when berth
 * leaves it alone (a deleted branch or tag, a ref that is neither, a push no job watches); 400 when
 * the payload is malformed.
 */
export function pushDecision(push: NormalizedPush, opts: WebhookOptions): WebhookDecision {
  if (!push.ok) return { status: 400, message: push.error.message };
  if (push.kind === "ignored") return { status: 200, message: push.message };
  const { detail } = push;
  if (detail.deleted) {
    // The git triggers' patterns require deleted=false: a deletion brings no code to run or deploy.
    return { status: 200, message: `ignored: ${detail.repo} ${detail.ref} was deleted, and a deletion brings nothing to run or deploy` };
  }
  const event = gitPushEvent(detail, opts, push.resource);
  const jobs = [...new Set(opts.watchers(event))];
  if (jobs.length === 0) {
    return { status: 200, message: `ignored: no job watches ${detail.provider} pushes to ${detail.repo} ${detail.ref}` };
  }
  return { status: 202, message: `accepted ${detail.provider} push to ${detail.repo} ${detail.ref} at ${detail.sha.slice(0, 7)} for ${jobs.join(", ")}`, event, jobs };
}

function gitPushEvent(detail: GitPushDetail, opts: WebhookOptions, resource: string | undefined): BusEvent<GitPushDetail> {
  return busEvent(GIT_SOURCE, DETAIL_TYPE.gitPush, detail, {
    id: detail.deliveryId === undefined ? opts.fallbackEventId : deliveryEventId(detail.provider, detail.deliveryId, opts.hmac),
    time: opts.now,
    resources: resource === undefined ? [] : [resource],
  });
}

/**
 * The event id of a delivery: the same for every redelivery of it (GitHub and GitLab send the
 * delivery id again), so the answer and the logs name one event however often it comes. A UUID
 * (version 8: its bits are berth's own) from an HMAC of the provider and the delivery id, so
 * whatever the header holds, the id has a fixed, safe shape.
 */
export function deliveryEventId(provider: string, deliveryId: string, hmac: HmacSha256): string {
  const digest = hmac(utf8Bytes("berth webhook delivery"), utf8Bytes(`${provider}\n${deliveryId}`));
  const bytes = Uint8Array.from(digest.subarray(0, 16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The JSON body of the answer to a delivery, alike from the AWS function and the local server. */
export function responseBody(decision: WebhookDecision): { readonly message: string; readonly eventId?: string; readonly jobs?: readonly string[] } {
  return decision.status === 202 ? { message: decision.message, eventId: decision.event.id, jobs: decision.jobs } : { message: decision.message };
}
