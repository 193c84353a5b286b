/**
 * One delivery through the function URL (payload format 2.0,
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads): the route from
 * `rawPath`, the method from `requestContext.http.method`, the body's exact bytes back from `body`
 * and `isBase64Encoded`, then the core's decision (src/core/webhook, which the local server runs
 * too) with the secrets in force, and the response. Decides nothing the local server would decide
 * otherwise; what is its own is reading the secret, putting the event on the bus, and answering 503
 * when either fails, so that the sender shows the delivery failed and can redeliver it.
 */
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { ConfigurationError, ValidationError, type BerthError } from "../../core/errors.ts";
import { handleGithubWebhook } from "../../core/webhook/github.ts";
import { handleGitlabWebhook } from "../../core/webhook/gitlab.ts";
import type { HmacSha256 } from "../../core/webhook/hmac.ts";
import { DEFAULT_MAX_BODY_BYTES, responseBody, type PushWatchers, type WebhookDecision, type WebhookOptions, type WebhookRequest } from "../../core/webhook/request.ts";
import { secretsInForce, type SecretVersions, type WebhookSecrets } from "../../core/webhook/secrets.ts";
import { asBerthError } from "../errors.ts";
import type { Log } from "../log.ts";
import type { GitPushBus } from "./bus.ts";
import type { CachedSecret } from "./secret-store.ts";

type Handler = (req: WebhookRequest, opts: WebhookOptions) => WebhookDecision;

const ROUTES: ReadonlyMap<string, { readonly provider: "github" | "gitlab"; readonly handle: Handler }> = new Map([
  ["/github", { provider: "github", handle: handleGithubWebhook }],
  ["/gitlab", { provider: "gitlab", handle: handleGitlabWebhook }],
  // The local server's paths, so one delivery URL shape works for both.
  ["/webhooks/github", { provider: "github", handle: handleGithubWebhook }],
  ["/webhooks/gitlab", { provider: "gitlab", handle: handleGitlabWebhook }],
] as const);

export interface WebhookDeps {
  /** Where the secret is read; undefined when berth.yml names none, and every delivery is refused. */
  readonly secret: CachedSecret | undefined;
  readonly rotationSeconds: number;
  readonly watchers: PushWatchers;
  readonly bus: GitPushBus;
  readonly hmac: HmacSha256;
  readonly now: () => number;
  readonly newId: () => string;
}

const configure = (provider: string): string =>
  `put the secret entered in the ${provider} webhook settings in an SSM SecureString parameter or a Secrets Manager secret, ` +
  `name it in berth.yml (webhook: { secret: "ssm:/<parameter name>" } or { secret: "secretsmanager:<secret name>" }) and deploy again`;

function response(status: number, body: object, headers: Record<string, string> = {}): LambdaFunctionURLResult {
  return { statusCode: status, headers: { ...headers, "content-type": "application/json; charset=utf-8" }, body: JSON.stringify(body), isBase64Encoded: false };
}

/** The request as the core reads it: header names in lower case (function URLs send them so), the body's bytes as they were sent. */
export function webhookRequest(event: LambdaFunctionURLEvent): WebhookRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = event.body ?? "";
  return { headers, rawBody: event.isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body, "utf8") };
}

/** The delivery id a provider sent, for the log lines of its invocation. */
export function deliveryIdOf(event: LambdaFunctionURLEvent | null): string | undefined {
  const h = event?.headers ?? {};
  return h["x-github-delivery"] ?? h["idempotency-key"] ?? h["x-gitlab-event-uuid"];
}

export async function receiveDelivery(deps: WebhookDeps, event: LambdaFunctionURLEvent | null, log: Log, answerWithinMs: number): Promise<LambdaFunctionURLResult> {
  const method = event?.requestContext?.http?.method;
  if (event === null || typeof event.rawPath !== "string" || typeof method !== "string") {
    throw new ValidationError("the webhook function takes Lambda function URL requests (payload format 2.0: rawPath, requestContext.http.method)");
  }
  const route = ROUTES.get(event.rawPath);
  if (route === undefined) {
    return response(404, { message: `no webhook at ${event.rawPath}: use POST /github or POST /gitlab` });
  }
  if (method !== "POST") {
    return response(405, { message: `${method} is not allowed on ${event.rawPath}: webhooks are delivered with POST` }, { allow: "POST" });
  }

  const signal = AbortSignal.timeout(answerWithinMs);
  const req = webhookRequest(event);
  const decide = (versions: SecretVersions | undefined): WebhookDecision => {
    const secrets: WebhookSecrets = {
      values: versions === undefined ? [] : secretsInForce(versions, deps.rotationSeconds, deps.now()),
      source: deps.secret?.description ?? "the secret berth.yml names",
      configure,
    };
    return route.handle(req, { secrets, hmac: deps.hmac, watchers: deps.watchers, fallbackEventId: deps.newId(), now: deps.now(), maxBodyBytes: DEFAULT_MAX_BODY_BYTES });
  };

  let versions: SecretVersions | undefined;
  if (deps.secret !== undefined) {
    try {
      const read = await deps.secret.versions(deps.now(), signal);
      if (read.stale) log("warn", `the webhook secret could not be read again, the last value read is used: ${read.stale.message}`, failureFields(read.stale));
      versions = read.versions;
    } catch (error) {
      const e = berthError(error);
      log(e instanceof ConfigurationError ? "error" : "warn", `the webhook secret could not be read, delivery not checked: ${e.message}`, { status: 503, provider: route.provider, ...failureFields(e) });
      return response(503, { message: "berth could not read its webhook secret, so the delivery was not checked; it can be redelivered once the webhook function's log says why" });
    }
  }

  let decision = decide(versions);
  if (decision.status === 401 && decision.refusal === "mismatch" && deps.secret !== undefined) {
    // The secret may just have been rotated: read it again (at most once every so often) and check once more.
    const again = await deps.secret.afterMismatch(deps.now(), signal).catch((error: unknown) => {
      log("warn", `the webhook secret could not be read again after a signature mismatch: ${berthError(error).message}`, failureFields(berthError(error)));
      return undefined;
    });
    if (again !== undefined) {
      log("info", "the webhook secret changed since it was read; the delivery is checked against the new one", { provider: route.provider });
      decision = decide(again);
    }
  }

  if (decision.status === 202) {
    const { detail, id } = decision.event;
    const pushFields = { provider: route.provider, eventId: id, repo: detail.repo, ref: detail.ref, sha: detail.sha, jobs: decision.jobs };
    let busEventId: string;
    try {
      busEventId = await deps.bus.put(decision.event, signal);
    } catch (error) {
      const e = berthError(error);
      log("error", `the push was not put on bus ${deps.bus.name}, so it is not accepted: ${e.message}`, { status: 503, ...pushFields, ...failureFields(e) });
      return response(503, { message: "the push is genuine but berth's event bus did not take it, so it was not accepted: redeliver it" });
    }
    log("info", decision.message, { status: 202, ...pushFields, busEventId });
    return response(202, responseBody(decision));
  }
  log(decision.status === 200 ? "info" : "warn", decision.message, { status: decision.status, provider: route.provider, ...(decision.status === 401 ? { refusal: decision.refusal } : {}) });
  return response(decision.status, responseBody(decision));
}

/** An error of berth's taxonomy, an AWS error translated; anything else is a bug, thrown on to the handler wrapper. */
function berthError(error: unknown): BerthError {
  const e = asBerthError(error);
  if (e === undefined) throw error;
  return e;
}

function failureFields(error: BerthError): Record<string, unknown> {
  return { error: { name: error.name, code: error.code, message: error.message, retryable: error.retryable } };
}
