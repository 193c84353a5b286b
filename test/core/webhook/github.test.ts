import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { triggerContext } from "../../../src/core/context/index.ts";
import type { BusEvent } from "../../../src/core/events/envelope.ts";
import type { GitPushDetail } from "../../../src/core/events/berth-events.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { handleGithubWebhook, verifyGithubSignature, type HmacSha256, type WebhookDecision, type WebhookSecrets } from "../../../src/core/webhook/github.ts";
import { deliveryEventId } from "../../../src/core/webhook/request.ts";
import { gitPushWatchers } from "../../../src/core/webhook/watchers.ts";

const hmac: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();
const encode = (text: string) => new TextEncoder().encode(text);
const sign = (secret: string, body: Uint8Array) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

const eventsDir = new URL("../../../events/", import.meta.url);
const pushBody = readFileSync(new URL("github-push.json", eventsDir));
const pingBody = readFileSync(new URL("github-ping.json", eventsDir));
const normalized = JSON.parse(readFileSync(new URL("git-push.json", eventsDir), "utf8")) as BusEvent<GitPushDetail>;
const pushPayload = JSON.parse(pushBody.toString("utf8")) as Record<string, unknown>;

const SECRET = "correct horse battery staple";
const DELIVERY = normalized.detail.deliveryId ?? "";
const NOW = Date.parse(normalized.time);

const loadYaml = (text: string, file: string) => {
  const loaded = loadCatalog(text, file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  return loaded.catalog;
};
const exampleCatalog = loadYaml(readFileSync(new URL("../../../berth.yml", import.meta.url), "utf8"), "berth.yml");
// `build` watches every branch and tag of acme/web; `deploy-web` only its main branch.
const hooksCatalog = loadYaml(
  `version: 1
service: hooks
jobs:
  build:
    on: { git: { repo: acme/web, branch: "*", tag: "*" } }
    run: { taskDefinition: builder, launch: ec2 }
  deploy-web:
    on: { git: { repo: acme/web, branch: main } }
    run: { taskDefinition: deployer, launch: ec2 }
`,
  "hooks.yml",
);
const watchers = gitPushWatchers(buildRouter(hooksCatalog));

const secretsOf = (values: readonly string[]): WebhookSecrets => ({
  values,
  source: "TEST_WEBHOOK_SECRET",
  configure: (provider) => `set TEST_WEBHOOK_SECRET to the secret of the ${provider} webhook`,
});

interface Delivery {
  readonly event?: string;
  readonly body?: Uint8Array | string;
  /** The secrets that verify (default: SECRET alone); a string is the only one. */
  readonly secret?: string | undefined;
  readonly secrets?: readonly string[];
  readonly signWith?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly maxBodyBytes?: number;
  readonly catalog?: typeof hooksCatalog;
}

/** A delivery as GitHub sends it: signed with `signWith` (default: the configured secret). */
function deliver(d: Delivery): WebhookDecision {
  const body = typeof d.body === "string" ? encode(d.body) : (d.body ?? pushBody);
  const secret = "secret" in d ? d.secret : SECRET;
  const secrets = d.secrets ?? (secret === undefined ? [] : [secret]);
  const headers = {
    "content-type": "application/json",
    "x-github-event": d.event ?? "push",
    "x-github-delivery": DELIVERY,
    "x-hub-signature-256": sign(d.signWith ?? secret ?? "", body),
    ...d.headers,
  };
  return handleGithubWebhook(
    { headers, rawBody: body },
    {
      secrets: secretsOf(secrets),
      hmac,
      watchers: d.catalog ? gitPushWatchers(buildRouter(d.catalog)) : watchers,
      fallbackEventId: "evt-1",
      now: NOW,
      ...(d.maxBodyBytes === undefined ? {} : { maxBodyBytes: d.maxBodyBytes }),
    },
  );
}

const withPayload = (changes: Record<string, unknown>): string => JSON.stringify({ ...pushPayload, ...changes });
const eventOf = (decision: WebhookDecision): BusEvent<GitPushDetail> => {
  if (!("event" in decision) || decision.event === undefined) throw new Error(`no event: ${decision.status} ${decision.message}`);
  return decision.event;
};

describe("verifyGithubSignature", () => {
  // The test vector published in GitHub's "Validating webhook deliveries".
  const docsSecret = "It's a Secret to Everybody";
  const docsBody = encode("Hello, World!");
  const docsDigest = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  it.each([
    { name: "accepts GitHub's published example", secret: docsSecret, body: docsBody, header: `sha256=${docsDigest}`, valid: true },
    { name: "accepts the digest in upper-case hex (same bytes)", secret: docsSecret, body: docsBody, header: `sha256=${docsDigest.toUpperCase()}`, valid: true },
    { name: "rejects a different secret", secret: "It's a secret to everybody", body: docsBody, header: `sha256=${docsDigest}`, valid: false },
    { name: "rejects a tampered body", secret: docsSecret, body: encode("Hello, World?"), header: `sha256=${docsDigest}`, valid: false },
    { name: "rejects a body with one byte appended", secret: docsSecret, body: encode("Hello, World!\n"), header: `sha256=${docsDigest}`, valid: false },
    { name: "rejects a missing header", secret: docsSecret, body: docsBody, header: undefined, valid: false },
    { name: "rejects an empty header", secret: docsSecret, body: docsBody, header: "", valid: false },
    { name: "rejects the digest without the sha256= prefix", secret: docsSecret, body: docsBody, header: docsDigest, valid: false },
    { name: "rejects an upper-case prefix", secret: docsSecret, body: docsBody, header: `SHA256=${docsDigest}`, valid: false },
    {
      name: "rejects a SHA-1 signature",
      secret: docsSecret,
      body: docsBody,
      header: `sha1=${createHmac("sha1", docsSecret).update(docsBody).digest("hex")}`,
      valid: false,
    },
    { name: "rejects a digest one hex digit short", secret: docsSecret, body: docsBody, header: `sha256=${docsDigest.slice(1)}`, valid: false },
    { name: "rejects a digest with an extra byte", secret: docsSecret, body: docsBody, header: `sha256=${docsDigest}00`, valid: false },
    { name: "rejects a digest with a non-hex character", secret: docsSecret, body: docsBody, header: `sha256=${docsDigest.slice(0, -1)}g`, valid: false },
    { name: "rejects a digest with trailing space", secret: docsSecret, body: docsBody, header: `sha256=${docsDigest} `, valid: false },
    { name: "never verifies with an empty secret", secret: "", body: docsBody, header: sign("", docsBody), valid: false },
  ])("$name", ({ secret, body, header, valid }) => {
    expect(verifyGithubSignature([secret], body, header, hmac)).toBe(valid);
  });

  it("checks the raw bytes, not the JSON they parse to", () => {
    const pretty = encode('{\n  "a": 1\n}');
    const compact = encode(JSON.stringify(JSON.parse('{\n  "a": 1\n}')));
    expect(verifyGithubSignature([SECRET], pretty, sign(SECRET, pretty), hmac)).toBe(true);
    expect(verifyGithubSignature([SECRET], pretty, sign(SECRET, compact), hmac)).toBe(false);
  });

  it.each([
    { name: "the current secret verifies", secrets: ["new", "old"], signWith: "new", valid: true },
    { name: "the previous secret verifies while it is listed", secrets: ["new", "old"], signWith: "old", valid: true },
    { name: "a secret no longer listed does not", secrets: ["new"], signWith: "old", valid: false },
    { name: "an empty entry never verifies, even beside a real one", secrets: ["new", ""], signWith: "", valid: false },
    { name: "no secrets verify nothing", secrets: [], signWith: "", valid: false },
  ])("with several secrets: $name", ({ secrets, signWith, valid }) => {
    expect(verifyGithubSignature(secrets, docsBody, sign(signWith, docsBody), hmac)).toBe(valid);
  });
});

describe("handleGithubWebhook: refusals", () => {
  it.each([
    { name: "no secret configured refuses a push", d: { secret: undefined } },
    { name: "no secret configured refuses a ping", d: { secret: undefined, event: "ping", body: pingBody } },
    { name: "an empty secret counts as none, even with a body signed by the empty key", d: { secret: "", signWith: "" } },
    { name: "no secret configured refuses an oversized body too", d: { secret: undefined, body: "x".repeat(101), maxBodyBytes: 100 } },
  ])("$name with 401 saying how to configure one", ({ d }) => {
    const decision = deliver(d);
    expect(decision).toEqual({
      status: 401,
      refusal: "unconfigured",
      message: "no webhook secret is configured, so every delivery is refused: set TEST_WEBHOOK_SECRET to the secret of the GitHub webhook",
    });
  });

  it.each([
    { name: "a wrong secret", d: { signWith: "wrong secret" }, says: "does not match", refusal: "mismatch" },
    { name: "a missing signature", d: { headers: { "x-hub-signature-256": undefined } }, says: "missing X-Hub-Signature-256", refusal: "unsigned" },
    {
      name: "a SHA-1 signature only",
      d: { headers: { "x-hub-signature-256": undefined, "x-hub-signature": `sha1=${createHmac("sha1", SECRET).update(pushBody).digest("hex")}` } },
      says: "X-Hub-Signature-256",
      refusal: "unsigned",
    },
    { name: "a malformed signature", d: { headers: { "x-hub-signature-256": "sha256=abc" } }, says: "64 hex digits", refusal: "unsigned" },
    { name: "a signature of a different body", d: { headers: { "x-hub-signature-256": sign(SECRET, pingBody) } }, says: "does not match", refusal: "mismatch" },
    // Verification comes before parsing: a forged body never reaches JSON.parse.
    { name: "a bad signature on a body that is not JSON", d: { body: "{nope", signWith: "wrong" }, says: "does not match", refusal: "mismatch" },
    { name: "a bad signature on a ping", d: { event: "ping", body: pingBody, signWith: "wrong" }, says: "does not match", refusal: "mismatch" },
    { name: "a signature by a secret rotated out", d: { secrets: ["new secret"], signWith: SECRET }, says: "differs from TEST_WEBHOOK_SECRET", refusal: "mismatch" },
  ])("$name → 401 ($refusal)", ({ d, says, refusal }) => {
    const decision = deliver(d);
    expect(decision).toMatchObject({ status: 401, refusal });
    expect(decision.message).toContain(says);
    expect(decision).not.toHaveProperty("event");
  });

  it("a push signed with the previous secret, while it is still listed, is accepted", () => {
    expect(deliver({ secrets: ["new secret", SECRET], signWith: SECRET }).status).toBe(202);
  });

  it.each([
    { name: "a body one byte over the limit", size: 101, limit: 100, status: 413 },
    { name: "a body exactly at the limit (then it is not JSON)", size: 100, limit: 100, status: 400 },
    { name: "a body over the 5 MiB default", size: 5 * 1024 * 1024 + 1, limit: undefined, status: 413 },
  ])("$name → $status", ({ size, limit, status }) => {
    const decision = deliver({ body: "x".repeat(size), ...(limit === undefined ? {} : { maxBodyBytes: limit }) });
    expect(decision.status).toBe(status);
  });

  it.each([
    { name: "text/plain", type: "text/plain", status: 415 },
    { name: "no content type", type: undefined, status: 415 },
    { name: "application/json with a charset", type: "application/json; charset=utf-8", status: 202 },
    { name: "Application/JSON in other case", type: "Application/JSON", status: 202 },
  ])("content type $name → $status", ({ type, status }) => {
    const decision = deliver({ headers: { "content-type": type } });
    expect(decision.status).toBe(status);
    if (status === 415) expect(decision.message).toContain("choose application/json");
  });

  it.each([
    { name: "invalid JSON", body: '{"ref": "refs/heads/main",', says: "not valid JSON" },
    { name: "a JSON array", body: "[]", says: "must be a JSON object" },
    { name: "invalid UTF-8", body: Uint8Array.from([0x7b, 0xff, 0x7d]), says: "not valid UTF-8" },
    { name: "a missing X-GitHub-Event", body: pushBody, says: "X-GitHub-Event", headers: { "x-github-event": undefined } },
  ])("a signed delivery with $name → 400", ({ body, says, headers }) => {
    const decision = deliver({ body, ...(headers ? { headers } : {}) });
    expect(decision.status).toBe(400);
    expect(decision.message).toContain(says);
  });

  it.each([
    { field: "repository.full_name", changes: { repository: { html_url: "https://github.com/acme/web" } } },
    { field: "repository.full_name", changes: { repository: { full_name: "" } } },
    { field: "ref", changes: { ref: undefined } },
    { field: "ref", changes: { ref: 42 } },
    { field: "after", changes: { after: undefined } },
    { field: "after", changes: { after: "HEAD" } },
    { field: "after", changes: { after: "9FCEB02D0AE598E95DC970B74767F19372D61AF8" } },
    { field: "after", changes: { after: "9fceb02" } },
    { field: "before", changes: { before: null } },
    { field: "deleted", changes: { deleted: "no" } },
  ])("a push payload with a bad $field → 400 naming the field", ({ field, changes }) => {
    const decision = deliver({ body: withPayload(changes) });
    expect(decision.status).toBe(400);
    expect(decision.message).toMatch(new RegExp(`^malformed push payload: ${field.replace(".", "\\.")} must be`));
  });
});

describe("handleGithubWebhook: accepted deliveries", () => {
  it("a signed push becomes git-push.json's Git Push event, its id from the delivery id", () => {
    const decision = deliver({});
    expect(decision.status).toBe(202);
    const event = eventOf(decision);
    expect(event.detail).toEqual(normalized.detail);
    expect(event).toMatchObject({
      version: normalized.version,
      id: deliveryEventId("github", DELIVERY, hmac),
      source: normalized.source,
      "detail-type": normalized["detail-type"],
      time: normalized.time,
      resources: ["https://github.com/acme/web"],
    });
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // No `tag` key at all: EventBridge's `exists: false` sees a present-but-null field differently.
    expect(Object.keys(event.detail)).not.toContain("tag");
    expect(decision.message).toBe("accepted github push to acme/web refs/heads/main at 9fceb02 for build, deploy-web");
    expect(decision).toMatchObject({ jobs: ["build", "deploy-web"] });
  });

  it("a redelivery (same X-GitHub-Delivery) is the same event id; another delivery is another", () => {
    const first = eventOf(deliver({}));
    const again = eventOf(deliver({}));
    const other = eventOf(deliver({ headers: { "x-github-delivery": "0b7f6b7e-cc79-11e3-81ab-4c9367dc0958" } }));
    expect(again.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
    // The same delivery id from GitLab is another delivery.
    expect(deliveryEventId("gitlab", DELIVERY, hmac)).not.toBe(first.id);
  });

  it("a delivery without X-GitHub-Delivery has no deliveryId and gets the fallback event id", () => {
    const event = eventOf(deliver({ headers: { "x-github-delivery": undefined } }));
    expect(Object.keys(event.detail)).not.toContain("deliveryId");
    expect(event.id).toBe("evt-1");
  });

  it("a push sent as application/x-www-form-urlencoded gives the same event", () => {
    const form = encode(new URLSearchParams({ payload: pushBody.toString("utf8") }).toString());
    const decision = deliver({ body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(eventOf(decision).detail).toEqual(normalized.detail);
  });

  it("a form body without a payload field → 400", () => {
    const decision = deliver({ body: "other=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(decision).toEqual({ status: 400, message: "the form body has no payload field" });
  });

  it("the push event matches migrate-web of the example catalog (deploy-web follows it) and yields its git context", () => {
    const decision = deliver({ catalog: exampleCatalog });
    expect(decision).toMatchObject({ status: 202, jobs: ["migrate-web"] });
    const event = eventOf(decision);
    const routes = buildRouter(exampleCatalog).match(event);
    expect(routes.map((r) => r.job.name)).toEqual(["migrate-web"]);
    const context = triggerContext(routes[0]!.trigger, event);
    expect(context).toMatchObject({ ok: true, context: { "git.sha": pushPayload["after"], "git.branch": "main", "git.pusher": "mona" } });
  });

  it.each([
    {
      name: "a tag push sets tag and no branch",
      changes: { ref: "refs/tags/v1.2.0" },
      expected: { ref: "refs/tags/v1.2.0", tag: "v1.2.0", deleted: false },
      absent: "branch",
      jobs: ["build"],
    },
    {
      name: "a branch with slashes keeps its full name",
      changes: { ref: "refs/heads/release/2024-11" },
      expected: { branch: "release/2024-11", deleted: false },
      absent: "tag",
      jobs: ["build"],
    },
    {
      name: "a SHA-256 repository's 64-digit commit ids are accepted",
      changes: { after: "a".repeat(64), before: "b".repeat(64) },
      expected: { sha: "a".repeat(64), before: "b".repeat(64) },
      absent: "tag",
      jobs: ["build", "deploy-web"],
    },
    {
      name: "without pusher.name the sender's login is the pusher",
      changes: { pusher: {} },
      expected: { pusher: "mona" },
      absent: "tag",
      jobs: ["build", "deploy-web"],
    },
  ])("$name", ({ changes, expected, absent, jobs }) => {
    const decision = deliver({ body: withPayload(changes) });
    expect(decision).toMatchObject({ status: 202, jobs });
    expect(eventOf(decision).detail).toMatchObject(expected);
    expect(Object.keys(eventOf(decision).detail)).not.toContain(absent);
  });

  it.each([
    { name: "the head commit's offset time", timestamp: "2024-11-26T10:53:48+01:00", committedAt: "2024-11-26T09:53:48Z" },
    { name: "a time already in UTC", timestamp: "2024-11-26T09:53:48Z", committedAt: "2024-11-26T09:53:48Z" },
    { name: "fractions of a second", timestamp: "2024-11-26T09:53:48.250-05:00", committedAt: "2024-11-26T14:53:48.250Z" },
  ])("committedAt is $name, in UTC", ({ timestamp, committedAt }) => {
    const head = pushPayload["head_commit"] as Record<string, unknown>;
    const detail = eventOf(deliver({ body: withPayload({ head_commit: { ...head, timestamp } }) })).detail;
    expect(detail.committedAt).toBe(committedAt);
  });

  it("a push without a head commit has no committedAt", () => {
    const detail = eventOf(deliver({ body: withPayload({ head_commit: null }) })).detail;
    expect(Object.keys(detail)).not.toContain("committedAt");
  });

  it.each([
    { name: "not a time", timestamp: "yesterday" },
    { name: "a date without a time", timestamp: "2024-11-26" },
    { name: "a number", timestamp: 1732614828 },
    { name: "an impossible date", timestamp: "2024-13-45T10:53:48+01:00" },
  ])("a head_commit.timestamp that is $name → 400 naming it", ({ timestamp }) => {
    const head = pushPayload["head_commit"] as Record<string, unknown>;
    const decision = deliver({ body: withPayload({ head_commit: { ...head, timestamp } }) });
    expect(decision.status).toBe(400);
    expect(decision.message).toMatch(/^malformed push payload: head_commit\.timestamp must be an ISO 8601 time/);
  });

  it("a ping → 200 and no event", () => {
    const decision = deliver({ event: "ping", body: pingBody });
    expect(decision).toEqual({ status: 200, message: "pong: the webhook reaches berth and its signature is valid" });
  });

  it("a ping from a hook not subscribed to push → 200 saying so", () => {
    const ping = JSON.parse(pingBody.toString("utf8")) as { hook: Record<string, unknown> };
    const decision = deliver({ event: "ping", body: JSON.stringify({ ...ping, hook: { ...ping.hook, events: ["pull_request"] } }) });
    expect(decision.status).toBe(200);
    expect(decision.message).toContain("not subscribed to push events");
  });
});

describe("handleGithubWebhook: deliveries answered 200 and left alone, with the reason", () => {
  it.each(["pull_request", "issues", "create", "workflow_run"])("a %s event", (name) => {
    const decision = deliver({ event: name, body: '{"action":"opened"}' });
    expect(decision).toEqual({ status: 200, message: `ignored: berth acts on push events, and this delivery is a ${name} event` });
  });

  it("a push to a ref that is neither branch nor tag", () => {
    const decision = deliver({ body: withPayload({ ref: "refs/notes/commits" }) });
    expect(decision).toEqual({ status: 200, message: 'ignored: ref "refs/notes/commits" is neither a branch (refs/heads/...) nor a tag (refs/tags/...)' });
  });

  it.each([
    { name: "a deleted branch", changes: { deleted: true, after: "0".repeat(40), head_commit: null, commits: [] }, ref: "refs/heads/main" },
    { name: "an all-zero after without a deleted flag", changes: { deleted: undefined, after: "0".repeat(40) }, ref: "refs/heads/main" },
    { name: "a deleted tag", changes: { ref: "refs/tags/v1.2.0", deleted: true, after: "0".repeat(40), head_commit: null }, ref: "refs/tags/v1.2.0" },
  ])("$name", ({ changes, ref }) => {
    const decision = deliver({ body: withPayload(changes) });
    expect(decision).toEqual({ status: 200, message: `ignored: acme/web ${ref} was deleted, and a deletion brings nothing to run or deploy` });
  });

  it("a push to a branch no job watches", () => {
    const decision = deliver({ body: withPayload({ ref: "refs/heads/feature/login" }), catalog: exampleCatalog });
    expect(decision).toEqual({ status: 200, message: "ignored: no job watches github pushes to acme/web refs/heads/feature/login" });
  });

  it("a push to a repository no job watches", () => {
    const repository = { ...(pushPayload["repository"] as Record<string, unknown>), full_name: "acme/other" };
    const decision = deliver({ body: withPayload({ repository }) });
    expect(decision).toEqual({ status: 200, message: "ignored: no job watches github pushes to acme/other refs/heads/main" });
  });
});
