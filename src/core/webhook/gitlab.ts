/**
 * GitLab webhook deliveries → decisions. GitLab does not sign the body; it
 * sends the configured secret token back in `X-Gitlab-Token`, which is
 * compared with the secret in constant time. `Push Hook` and `Tag Push Hook`
 * become berth's normalized `Git Push` event; other hooks are acknowledged
 * and dropped.
 */
import { tokenMatches } from "./hmac.ts";
import {
  mediaType,
  normalizePush,
  parseJsonObject,
  precheck,
  pushDecision,
  SECRET_ENV,
  type PushPayloadFields,
  type WebhookDecision,
  type WebhookOptions,
  type WebhookRequest,
} from "./request.ts";

const PUSH_HOOKS: ReadonlySet<string> = new Set(["Push Hook", "Tag Push Hook"]);

// GitLab has no deletion flag: a deleted branch or tag arrives with `after` all zeros.
const GITLAB_PUSH: PushPayloadFields = {
  provider: "gitlab",
  repo: "project.path_with_namespace",
  pusher: ["user_username", "user_name"],
  resource: "project.web_url",
};

export function handleGitlabWebhook(req: WebhookRequest, opts: WebhookOptions): WebhookDecision {
  const refused = precheck(req, opts, "GitLab");
  if (refused) return refused;
  const secret = opts.secret ?? "";

  const token = req.headers["x-gitlab-token"];
  if (token === undefined || token === "") {
    return { status: 401, message: `missing X-Gitlab-Token header: set the webhook's secret token in GitLab to the value of ${SECRET_ENV}` };
  }
  if (!tokenMatches(secret, token, opts.hmac)) {
    return { status: 401, message: `X-Gitlab-Token does not match: the webhook's secret token in GitLab differs from ${SECRET_ENV}` };
  }

  const event = req.headers["x-gitlab-event"];
  if (event === undefined || event === "") {
    return { status: 400, message: "missing X-Gitlab-Event header: this endpoint accepts GitLab webhook deliveries only" };
  }
  if (!PUSH_HOOKS.has(event)) {
    return { status: 202, message: `ignored: berth acts on Push Hook and Tag Push Hook events, and this delivery is a ${event}` };
  }
  const type = mediaType(req.headers);
  if (type !== "application/json") {
    return { status: 415, message: `unsupported content type ${JSON.stringify(type || "(none)")}: GitLab webhooks send application/json` };
  }

  const payload = parseJsonObject(req.rawBody, "the payload");
  if (!payload.ok) return { status: 400, message: payload.error.message };
  // Idempotency-Key stays the same when GitLab retries a delivery; the event UUID is the fallback on older versions.
  const deliveryId = req.headers["idempotency-key"] || req.headers["x-gitlab-event-uuid"];
  return pushDecision(normalizePush(payload.value, GITLAB_PUSH, deliveryId), opts);
}
