/**
 * The one reading of what the AWS SDK v3 raises. Every adapter in src/aws sorts an error with
 * `classifyAwsError` and turns it into berth's taxonomy with `translateAwsError`; the handler
 * wrapper and the CLI use `asBerthError` for whatever an adapter passed on untranslated.
 *
 * | the SDK raised (checked in this order)                                          | kind          | berth class                    |
 * |---------------------------------------------------------------------------------|---------------|--------------------------------|
 * | "Region is missing" / "Region not accepted" (the SDK's region resolver)         | region        | AwsSetupError                  |
 * | a throttling name (THROTTLING), HTTP 429, `$retryable.throttling`               | throttled     | TransientError + retryAfterMs  |
 * | CredentialsProviderError, TokenProviderError, a refused key or token (CREDENTIALS) | credentials | AwsSetupError                  |
 * | an IAM or account refusal (ACCESS), HTTP 403                                    | access-denied | ConfigurationError             |
 * | ConditionalCheckFailedException, ConflictException                              | conflict      | ConflictError                  |
 * | ResourceNotFoundException, ClusterNotFoundException                             | not-found     | ConfigurationError             |
 * | `$fault: "server"`, HTTP ≥ 500, `$retryable`, a time-out (UNAVAILABLE), a Node network code | unavailable | TransientError + retryAfterMs |
 * | any other `$fault: "client"` or HTTP 4xx                                         | invalid       | ValidationError                |
 * | anything else (a TypeError, a bug)                                               | —             | undefined: the caller rethrows |
 *
 * By the time an adapter sees a throttling or unavailable error the SDK's own retries are spent;
 * what is left is for the caller's schedule (core's retry, or Lambda's).
 *
 * No SDK import: the CLI loads this for every failure, also for commands that never talk to AWS.
 */
import { BerthError, ConfigurationError, ConflictError, TransientError, ValidationError } from "../core/errors.ts";

export type AwsErrorKind = "region" | "throttled" | "credentials" | "access-denied" | "conflict" | "not-found" | "unavailable" | "invalid";

export interface AwsErrorVerdict {
  readonly kind: AwsErrorKind;
  /** The wait the service asked for (Retry-After), on throttled and unavailable answers that had one. */
  readonly retryAfterMs?: number;
}

/**
 * The names the SDK's standard retry strategy treats as throttling (@smithy/core retry,
 * THROTTLING_ERROR_CODES), less those of services berth does not call (S3's SlowDown, EC2's,
 * Route 53's). ECS sends ThrottlingException with HTTP 400; DynamoDB adds
 * ProvisionedThroughputExceededException, RequestLimitExceeded and TransactionInProgressException.
 * LimitExceededException is on no berth call's documented list, but the SDK retries it as
 * throttling, so it is treated alike.
 */
const THROTTLING = new Set([
  "LimitExceededException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "ThrottledException",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "TransactionInProgressException",
]);

/** No credentials could be loaded, or AWS did not accept the ones sent (the AWS common errors). */
const CREDENTIALS = new Set([
  "CredentialsProviderError",
  "TokenProviderError",
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "ExpiredToken",
  "ExpiredTokenException",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "IncompleteSignature",
  "IncompleteSignatureException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
]);
/** Raised on this machine before any request was sent: nothing was configured to load. */
const CREDENTIALS_MISSING = new Set(["CredentialsProviderError", "TokenProviderError"]);

/** The credentials are fine but may not do this, or the account is blocked: as final as missing permissions. */
const ACCESS = new Set(["AccessDeniedException", "AccessDenied", "NotAuthorized", "UnauthorizedOperation", "OptInRequired", "BlockedException"]);

/** DynamoDB's lost condition; ECS's clientToken already used by a request with other parameters. */
const CONFLICT = new Set(["ConditionalCheckFailedException", "ConflictException"]);

/** A table, bus or cluster named in berth's configuration does not exist in this account and region. */
const NOT_FOUND = new Set(["ResourceNotFoundException", "ClusterNotFoundException"]);

/**
 * Time-outs (the SDK's TRANSIENT_ERROR_CODES) and the service-side failures of the AWS common
 * errors and of berth's services, for when they arrive without `$fault` or a status.
 */
const UNAVAILABLE = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalFailure",
  "ServiceUnavailable",
  "ServerException",
  "InternalServerError",
  "InternalException",
]);
/** Node's connection failures, as the SDK's retry strategy lists them (NODEJS_TIMEOUT_ERROR_CODES, NODEJS_NETWORK_ERROR_CODES). */
const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** The fields of SDK v3 service errors (and Node network errors) that classification reads. */
interface AwsErrorLike {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly $fault?: "client" | "server";
  readonly $retryable?: { readonly throttling?: boolean };
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $response?: { readonly headers?: Readonly<Record<string, string | undefined>> };
}

/** The wait a Retry-After header asks for (seconds or an HTTP date), when the response had one. */
function retryAfterMs(error: AwsErrorLike, now: number): number | undefined {
  const headers = error.$response?.headers ?? {};
  const key = Object.keys(headers).find((name) => name.toLowerCase() === "retry-after");
  const value = key === undefined ? undefined : headers[key];
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function transient(kind: "throttled" | "unavailable", error: AwsErrorLike, now: number): AwsErrorVerdict {
  const wait = retryAfterMs(error, now);
  return wait === undefined ? { kind } : { kind, retryAfterMs: wait };
}

/** What an AWS SDK error means for berth; undefined for errors that are not AWS's (or the SDK's) answer. */
export function classifyAwsError(error: unknown, now: number = Date.now()): AwsErrorVerdict | undefined {
  if (!(error instanceof Error)) return undefined;
  const e = error as Error & AwsErrorLike;
  const status = e.$metadata?.httpStatusCode;
  if (/^Region (is missing|not accepted)/.test(e.message)) return { kind: "region" };
  if (THROTTLING.has(e.name) || status === 429 || e.$retryable?.throttling === true) return transient("throttled", e, now);
  if (CREDENTIALS.has(e.name)) return { kind: "credentials" };
  if (ACCESS.has(e.name) || status === 403) return { kind: "access-denied" };
  if (CONFLICT.has(e.name)) return { kind: "conflict" };
  if (NOT_FOUND.has(e.name)) return { kind: "not-found" };
  if (
    e.$fault === "server" ||
    (status !== undefined && status >= 500) ||
    e.$retryable !== undefined ||
    UNAVAILABLE.has(e.name) ||
    (e.code !== undefined && NETWORK_CODES.has(e.code))
  ) {
    return transient("unavailable", e, now);
  }
  if (e.$fault === "client" || (status !== undefined && status >= 400)) return { kind: "invalid" };
  return undefined;
}

/**
 * AWS cannot be reached as this process is set up: no region, no credentials, or credentials
 * AWS does not accept. Fixed where berth runs (its environment, ~/.aws, the function's role),
 * not in berth.yml or in the deployed stage; the CLI adds how to, by `setting`.
 */
export class AwsSetupError extends ConfigurationError {
  readonly setting: "region" | "credentials";

  constructor(message: string, setting: "region" | "credentials", cause: unknown) {
    super(message, { cause });
    this.setting = setting;
  }
}

export interface TranslateOptions {
  /** What to check when AWS refused access or a resource is missing; a generic hint otherwise. */
  readonly hint?: string;
  /** For a lost conditional write: the record stored now, carried by the ConflictError. */
  readonly existing?: unknown;
  readonly now?: number;
}

const GENERIC_HINT: Partial<Record<AwsErrorKind, string>> = {
  "access-denied": "check the IAM permissions of the credentials in use",
  "not-found": "check the names berth is configured with (BERTH_TABLE, BERTH_BUS, the catalog's clusters) and the region",
};

function setupMessage(e: AwsErrorLike, kind: "region" | "credentials"): string {
  if (kind === "region") return e.message.startsWith("Region is missing") ? "no AWS region is configured" : `the AWS region is not valid (${e.message})`;
  return CREDENTIALS_MISSING.has(e.name) ? `no AWS credentials were found (${e.message})` : `AWS did not accept the credentials (${e.name}: ${e.message})`;
}

/**
 * The berth error for an AWS error, its message saying what failed (`failed to <action>: …`);
 * undefined for errors that are not AWS's answer, which the caller rethrows as they are.
 */
export function translateAwsError(error: unknown, action?: string, options: TranslateOptions = {}): BerthError | undefined {
  const verdict = classifyAwsError(error, options.now);
  if (verdict === undefined) return undefined;
  const e = error as Error & AwsErrorLike;
  const failed = action === undefined ? "" : `failed to ${action}: `;
  // A Node network error's message already names its code; a service error's name is its kind.
  const said = e.name === "Error" || e.name === "" ? e.message : `${e.name}: ${e.message || e.name}`;
  switch (verdict.kind) {
    case "region":
    case "credentials":
      return new AwsSetupError(failed + setupMessage(e, verdict.kind), verdict.kind, error);
    case "throttled":
    case "unavailable":
      return new TransientError(failed + said, { cause: error, ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}) });
    case "access-denied":
    case "not-found":
      return new ConfigurationError(`${failed}${said} (${options.hint ?? GENERIC_HINT[verdict.kind]})`, { cause: error });
    case "conflict":
      return new ConflictError(failed + said, { cause: error, ...(options.existing !== undefined ? { existing: options.existing } : {}) });
    case "invalid":
      return new ValidationError(failed + said, { cause: error });
  }
}

/** A berth error as it is, an AWS error translated; undefined for anything else (a bug). */
export function asBerthError(error: unknown): BerthError | undefined {
  return error instanceof BerthError ? error : translateAwsError(error);
}
