/**
 * GitHub webhook deliveries → decisions. The signature is checked over the
 * raw bytes before anything is parsed; a `push` becomes berth's normalized
 * `Git Push` event when a job of the catalog watches it, `ping` is
 * answered, every other event is acknowledged (200, with the reason) and
 * dropped. The same function serves the AWS webhook Lambda and the
 * local server, so both accept and refuse exactly the same deliveries.
 */
import { at } from "../context/read.ts";
import type { JsonRecord } from "../context/read.ts";
import { anySecretPasses, constantTimeEqual, parseHex, SHA256_BYTES, utf8Bytes, type HmacSha256 } from "./hmac.ts";
import { usableSecrets } from "./secrets.ts";
import { failure, ValidationError } from "../errors.ts";
import {
  decodeUtf8,
  mediaType,
  normalizePush,
  parseJsonObject,
  precheck,
  pushDecision,
  type Parsed,
  type PushPayloadFields,
  type WebhookDecision,
  type WebhookOptions,
  type WebhookRequest,
} from "./request.ts";

export type { HmacSha256 } from "./hmac.ts";
export type { WebhookDecision, WebhookOptions, WebhookRequest } from "./request.ts";
export type { WebhookSecrets } from "./secrets.ts";

const SIGNATURE_PREFIX = "sha256=";

const GITHUB_PUSH: PushPayloadFields = {
  provider: "github",
  repo: "repository.full_name",
  pusher: ["pusher.name", "sender.login"],
  deleted: "deleted",
  resource: "repository.html_url",
  // head_commit is the pushed commit (null when a branch is deleted); its timestamp is ISO 8601 with the committer's offset.
  commitTime: (payload) => {
    const value = at(payload, "head_commit.timestamp");
    return value === undefined || value === null ? undefined : { path: "head_commit.timestamp", value };
  },
};

type SignatureCheck = "valid" | "missing" | "malformed" | "mismatch";

function checkSignature(secrets: readonly string[], rawBody: Uint8Array, header: string | undefined, hmac: HmacSha256): SignatureCheck {
  if (header === undefined || header === "") return "missing";
  const given = header.startsWith(SIGNATURE_PREFIX) ? parseHex(header.slice(SIGNATURE_PREFIX.length), SHA256_BYTES) : undefined;
  if (given === undefined) return "malformed";
  return anySecretPasses(secrets, (secret) => constantTimeEqual(hmac(utf8Bytes(secret), rawBody), given)) ? "valid" : "mismatch";
}

/**
 * Constant-time check of `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(secret, rawBody)
 * for each of the secrets (the current one, and the previous one during a rotation). An empty
 * secret never verifies.
 */
export function verifyGithubSignature(secrets: readonly string[], rawBody: Uint8Array, header: string | undefined, hmac: HmacSha256): boolean {
  const usable = secrets.filter((secret) => secret !== "");
  return usable.length > 0 && checkSignature(usable, rawBody, header, hmac) === "valid";
}

function signatureRefusal(check: Exclude<SignatureCheck, "valid">, headers: WebhookRequest["headers"], source: string): string {
  switch (check) {
    case "missing":
      return headers["x-hub-signature"] !== undefined
        ? "the delivery is signed only with SHA-1 (X-Hub-Signature); berth requires X-Hub-Signature-256, " +
            "which GitHub sends whenever the webhook has a secret — check that nothing between GitHub and berth drops it"
        : `missing X-Hub-Signature-256 header: give the webhook a secret in the GitHub webhook settings, the same value as ${source}`;
    case "malformed":
      return "malformed X-Hub-Signature-256 header: expected sha256= followed by 64 hex digits";
    case "mismatch":
      return (
        "X-Hub-Signature-256 does not match the body: the secret in the GitHub webhook settings differs from " +
        `${source}, or the body was changed on the way`
      );
  }
}

const JSON_TYPE = "application/json";
const FORM_TYPE = "application/x-www-form-urlencoded";

/** The JSON payload, in either of the content types a GitHub webhook can be created with. */
function readPayload(req: WebhookRequest, type: typeof JSON_TYPE | typeof FORM_TYPE): Parsed {
  if (type === JSON_TYPE) return parseJsonObject(req.rawBody, "the payload");
  const text = decodeUtf8(req.rawBody);
  if (text === undefined) return failure(new ValidationError("the form body is not valid UTF-8"));
  const payload = new URLSearchParams(text).get("payload");
  if (payload === null) return failure(new ValidationError("the form body has no payload field", { field: "payload" }));
  return parseJsonObject(payload, "the payload field");
}

export function handleGithubWebhook(req: WebhookRequest, opts: WebhookOptions): WebhookDecision {
  const refused = precheck(req, opts, "GitHub");
  if (refused) return refused;

  const check = checkSignature(usableSecrets(opts.secrets), req.rawBody, req.headers["x-hub-signature-256"], opts.hmac);
  if (check !== "valid") {
    return { status: 401, refusal: check === "mismatch" ? "mismatch" : "unsigned", message: signatureRefusal(check, req.headers, opts.secrets.source) };
  }

  const event = req.headers["x-github-event"];
  if (event === undefined || event === "") {
    return { status: 400, message: "missing X-GitHub-Event header: this endpoint accepts GitHub webhook deliveries only" };
  }
  if (event !== "push" && event !== "ping") {
    return { status: 200, message: `ignored: berth acts on push events, and this delivery is a ${event} event` };
  }

  const type = mediaType(req.headers);
  if (type !== JSON_TYPE && type !== FORM_TYPE) {
    return {
      status: 415,
      message:
        `unsupported content type ${JSON.stringify(type || "(none)")}: choose application/json ` +
        "as the content type in the GitHub webhook settings",
    };
  }
  const payload = readPayload(req, type);
  if (!payload.ok) return { status: 400, message: payload.error.message };
  if (event === "ping") return { status: 200, message: pong(payload.value) };

  return pushDecision(normalizePush(payload.value, GITHUB_PUSH, req.headers["x-github-delivery"]), opts);
}

function pong(payload: JsonRecord): string {
  const events = at(payload, "hook.events");
  if (Array.isArray(events) && !events.includes("push") && !events.includes("*")) {
    return (
      "pong — but this webhook is not subscribed to push events, so berth will never be called for a push: " +
      "select the push event in the GitHub webhook settings"
    );
  }
  return "pong: the webhook reaches berth and its signature is valid";
}
