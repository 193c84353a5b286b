/**
 * GitLab webhook deliveries → decisions. GitLab does not sign the body; it
 * sends the configured secret token back in `X-Gitlab-Token`, which is
 * compared with the secret in constant time. `Push Hook` and `Tag Push Hook`
 * become berth's normalized `Git Push` event when a job of the catalog watches
 * them; other hooks are acknowledged (200, with the reason) and dropped.
 */
import { at, isRecord } from "../context/read.ts";
import { anySecretPasses, tokenMatches } from "./hmac.ts";
import { usableSecrets } from "./secrets.ts";
import {
  mediaType,
  normalizePush,
  parseJsonObject,
  precheck,
  pushDecision,
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
  // The payload lists up to 20 of the pushed commits, each with its ISO 8601 timestamp; the pushed one is the one whose id is `after`.
  commitTime: (payload, sha) => {
    const commits = at(payload, "commits");
    const index = Array.isArray(commits) ? commits.findIndex((c) => isRecord(c) && c.id === sha) : -1;
    const value = index < 0 ? undefined : at((commits as unknown[])[index], "timestamp");
    return value === undefined || value === null ? undefined : { path: `commits[${index}].timestamp`, value };
  },
};

export function handleGitlabWebhook(req: WebhookRequest, opts: WebhookOptions): WebhookDecision {
  const refused = precheck(req, opts, "GitLab");
  if (refused) return refused;
  const { source } = opts.secrets;

  const token = req.headers["x-gitlab-token"];
  if (token === undefined || token === "") {
    return { status: 401, refusal: "unsigned", message: `missing X-Gitlab-Token header: set the webhook's secret token in GitLab to the value of ${source}` };
  }
  if (!anySecretPasses(usableSecrets(opts.secrets), (secret) => tokenMatches(secret, token, opts.hmac))) {
    return { status: 401, refusal: "mismatch", message: `X-Gitlab-Token does not match: the webhook's secret token in GitLab differs from ${source}` };
  }

  const event = req.headers["x-gitlab-event"];
  if (event === undefined || event === "") {
    return { status: 400, message: "missing X-Gitlab-Event header: this endpoint accepts GitLab webhook deliveries only" };
  }
  if (!PUSH_HOOKS.has(event)) {
    return { status: 200, message: `ignored: berth acts on Push Hook and Tag Push Hook events, and this delivery is a ${event}` };
  }
  const type = mediaType(req.headers);
  if (type !== "application/json") {
    return { status: 415, message: `unsupported content type ${JSON.stringify(type || "(none)")}: GitLab webhooks send application/json` };
  }

  const payload = parseJsonObject(req.rawBody, "the payload");
  if (!payload.ok) return { status: 400, message: payload.error.message };
  // Idempotency-Key stays the same when GitLab retries a delivery (GitLab 17.4, merge request 160952); X-Gitlab-Event-UUID,
  // the fallback on older versions, is new on every retry there, where dispatch's key (repo, ref, sha) still launches once.
  const deliveryId = req.headers["idempotency-key"] || req.headers["x-gitlab-event-uuid"];
  return pushDecision(normalizePush(payload.value, GITLAB_PUSH, deliveryId), opts);
}
