/**
 * What every git-provider webhook shares: the request and decision shapes,
 * the checks that come before any provider logic (a secret is configured,
 * the body is within the limit), body decoding, and the normalized
 * `Git Push` event. The AWS webhook function and the local server both
 * call the provider handlers with the raw request and turn the decision
 * into an HTTP response; neither decides anything on its own.
 */
import { at, describe, isRecord } from "../context/read.ts";
import type { JsonRecord } from "../context/read.ts";
import { busEvent, type BusEvent } from "../events/envelope.ts";
import { DETAIL_TYPE, GIT_SOURCE, type GitPushDetail } from "../events/berth-events.ts";
import type { HmacSha256 } from "./hmac.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";

export interface WebhookRequest {
  /** Header names in lower case, as node:http and API Gateway v2 deliver them. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures cover these bytes, not a re-serialization. */
  readonly rawBody: Uint8Array;
}

export type WebhookDecision =
  | { readonly status: 200 | 202; readonly message: string; readonly event?: BusEvent<GitPushDetail> }
  | { readonly status: 400 | 401 | 413 | 415; readonly message: string };

export interface WebhookOptions {
  /** The shared webhook secret; `undefined` or empty refuses every request. */
  readonly secret: string | undefined;
  readonly hmac: HmacSha256;
  /** Id of the bus event a push becomes. */
  readonly eventId: string;
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

export const SECRET_ENV = "BERTH_WEBHOOK_SECRET";

/** The refusals that come before any provider-specific check, or `undefined` to go on. */
export function precheck(req: WebhookRequest, opts: WebhookOptions, provider: string): WebhookDecision | undefined {
  if (opts.secret === undefined || opts.secret === "") {
    return {
      status: 401,
      message:
        `no webhook secret is configured, so every delivery is refused: set ${SECRET_ENV} to the secret ` +
        `entered in the ${provider} webhook settings`,
    };
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
}

/**
 * A push to act on; a push berth leaves alone (a ref that is neither a
 * branch nor a tag: answered 202, not an error); or a malformed payload.
 */
export type NormalizedPush =
  | { readonly ok: true; readonly kind: "push"; readonly detail: GitPushDetail; readonly resource: string | undefined }
  | { readonly ok: true; readonly kind: "ignored"; readonly message: string }
  | Failure<ValidationError>;

/** A push payload as a `GitPushDetail`; a missing or mistyped field is a ValidationError naming it. */
export function normalizePush(payload: JsonRecord, fields: PushPayloadFields, deliveryId: string | undefined): NormalizedPush {
  const malformed = (field: string, expected: string): NormalizedPush =>
    failure(new ValidationError(`malformed push payload: ${field} must be ${expected}, got ${describe(at(payload, field))}`, { field }));

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
    ...(deliveryId ? { deliveryId } : {}),
  };
  return { ok: true, kind: "push", detail, resource: typeof resource === "string" && resource !== "" ? resource : undefined };
}

/** What a push delivery is answered: 202 with the event, 202 when ignored, 400 when the payload is malformed. */
export function pushDecision(push: NormalizedPush, opts: WebhookOptions): WebhookDecision {
  if (!push.ok) return { status: 400, message: push.error.message };
  if (push.kind === "ignored") return { status: 202, message: push.message };
  return { status: 202, message: acceptedMessage(push.detail), event: gitPushEvent(push.detail, opts, push.resource) };
}

function gitPushEvent(detail: GitPushDetail, opts: WebhookOptions, resource: string | undefined): BusEvent<GitPushDetail> {
  return busEvent(GIT_SOURCE, DETAIL_TYPE.gitPush, detail, {
    id: opts.eventId,
    time: opts.now,
    resources: resource === undefined ? [] : [resource],
  });
}

/** What a push decision says: `accepted push of acme/web refs/heads/main at 9fceb02`. */
function acceptedMessage(detail: GitPushDetail): string {
  const what = detail.deleted ? "deletion of" : "push to";
  const where = detail.deleted ? "" : ` at ${detail.sha.slice(0, 7)}`;
  return `accepted ${detail.provider} ${what} ${detail.repo} ${detail.ref}${where}`;
}
