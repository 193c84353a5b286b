import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import type { BusEvent } from "../../../src/core/events/envelope.ts";
import type { GitPushDetail } from "../../../src/core/events/berth-events.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { handleGitlabWebhook } from "../../../src/core/webhook/gitlab.ts";
import type { HmacSha256 } from "../../../src/core/webhook/hmac.ts";
import { deliveryEventId, type WebhookDecision } from "../../../src/core/webhook/request.ts";
import { gitPushWatchers } from "../../../src/core/webhook/watchers.ts";

const hmac: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();
const SECRET = "gl-hook-token";
const NOW = Date.parse("2024-11-26T09:54:06.750Z");

// Every branch and tag of mike/diaspora on GitLab, and the master branch of a GitHub repository of the same name.
const loaded = loadCatalog(
  `version: 1
service: hooks
jobs:
  build:
    on: { git: { provider: gitlab, repo: mike/diaspora, branch: "*", tag: "*" } }
    run: { taskDefinition: builder, launch: ec2 }
  github-only:
    on: { git: { provider: github, repo: mike/diaspora, branch: master } }
    run: { taskDefinition: builder, launch: ec2 }
`,
  "hooks.yml",
);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
const watchers = gitPushWatchers(buildRouter(loaded.catalog));

// The Push Hook body in GitLab's webhook events documentation ("Push events"), with the commits of its example.
const pushHook = JSON.parse(readFileSync(new URL("../../../events/gitlab-push-hook.json", import.meta.url), "utf8")) as {
  project: Record<string, unknown>;
  commits: Record<string, unknown>[];
};
const tagPushHook = JSON.parse(readFileSync(new URL("../../../events/gitlab-tag-push-hook.json", import.meta.url), "utf8")) as Record<string, unknown>;

interface Delivery {
  readonly event?: string;
  readonly payload?: Record<string, unknown>;
  readonly body?: string;
  readonly secret?: string | undefined;
  readonly headers?: Record<string, string | undefined>;
}

function deliver(d: Delivery): WebhookDecision {
  const secret = "secret" in d ? d.secret : SECRET;
  const headers = {
    "content-type": "application/json",
    "x-gitlab-event": d.event ?? "Push Hook",
    "x-gitlab-token": SECRET,
    "idempotency-key": "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f",
    ...d.headers,
  };
  const body = d.body ?? JSON.stringify({ ...pushHook, ...d.payload });
  const secrets = { values: secret === undefined ? [] : [secret], source: "TEST_WEBHOOK_SECRET", configure: (p: string) => `set TEST_WEBHOOK_SECRET for ${p}` };
  return handleGitlabWebhook({ headers, rawBody: new TextEncoder().encode(body) }, { secrets, hmac, watchers, fallbackEventId: "evt-gl", now: NOW });
}

const eventOf = (decision: WebhookDecision): BusEvent<GitPushDetail> => {
  if (!("event" in decision) || decision.event === undefined) throw new Error(`no event: ${decision.status} ${decision.message}`);
  return decision.event;
};

describe("handleGitlabWebhook", () => {
  it("a Push Hook becomes a gitlab Git Push event", () => {
    const decision = deliver({});
    expect(decision.status).toBe(202);
    expect(decision.message).toBe("accepted gitlab push to mike/diaspora refs/heads/master at da15608 for build");
    expect(eventOf(decision)).toEqual({
      version: "0",
      id: deliveryEventId("gitlab", "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f", hmac),
      "detail-type": "Git Push",
      source: "berth.git",
      account: "000000000000",
      time: "2024-11-26T09:54:06Z",
      region: "local",
      resources: ["http://example.com/mike/diaspora"],
      detail: {
        provider: "gitlab",
        repo: "mike/diaspora",
        ref: "refs/heads/master",
        branch: "master",
        sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
        pusher: "jsmith",
        deleted: false,
        // The timestamp of the listed commit whose id is `after`, in UTC.
        committedAt: "2012-01-03T21:36:29Z",
        deliveryId: "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f",
      },
    });
  });

  it.each([
    {
      // As GitLab's "Tag events" example: a new tag (before all zeros), no commits listed, so no commit time.
      name: "a Tag Push Hook sets tag and no branch",
      event: "Tag Push Hook",
      payload: tagPushHook,
      expected: { tag: "v1.0.0", before: "0".repeat(40), sha: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", deleted: false },
      absent: "committedAt",
    },
    {
      name: "a push whose pushed commit is not among the listed ones has no committedAt",
      event: "Push Hook",
      payload: { commits: [] },
      expected: { branch: "master" },
      absent: "committedAt",
    },
    {
      name: "without user_username the display name is the pusher",
      event: "Push Hook",
      payload: { user_username: undefined },
      expected: { pusher: "John Smith" },
      absent: "tag",
    },
  ])("$name", ({ event, payload, expected, absent }) => {
    const detail = eventOf(deliver({ event, payload })).detail;
    expect(detail).toMatchObject(expected);
    expect(Object.keys(detail)).not.toContain(absent);
  });

  it.each([
    { name: "Idempotency-Key is the delivery id", headers: {}, deliveryId: "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f" },
    {
      name: "X-Gitlab-Event-UUID is the delivery id when Idempotency-Key is absent",
      headers: { "idempotency-key": undefined, "x-gitlab-event-uuid": "7d1d7a2c-1111-4222-8333-944455556666" },
      deliveryId: "7d1d7a2c-1111-4222-8333-944455556666",
    },
    { name: "no delivery id header leaves deliveryId out", headers: { "idempotency-key": undefined }, deliveryId: undefined },
  ])("$name", ({ headers, deliveryId }) => {
    expect(eventOf(deliver({ headers })).detail.deliveryId).toBe(deliveryId);
  });

  it.each([
    { name: "a deleted tag (after all zeros)", d: { event: "Tag Push Hook", payload: { object_kind: "tag_push", ref: "refs/tags/v1.0.0", after: "0".repeat(40) } }, ref: "refs/tags/v1.0.0" },
    { name: "a deleted branch (after all zeros)", d: { payload: { after: "0".repeat(40), checkout_sha: null, commits: [] } }, ref: "refs/heads/master" },
  ])("$name → 200 ignored with the reason", ({ d, ref }) => {
    expect(deliver(d)).toEqual({ status: 200, message: `ignored: mike/diaspora ${ref} was deleted, and a deletion brings nothing to run or deploy` });
  });

  it("a push to a GitLab project only a GitHub trigger names → 200: no job watches it", () => {
    const decision = deliver({ payload: { project: { ...pushHook.project, path_with_namespace: "acme/web" } } });
    expect(decision).toEqual({ status: 200, message: "ignored: no job watches gitlab pushes to acme/web refs/heads/master" });
  });

  it("a commit time that is not ISO 8601 → 400 naming the commit", () => {
    const commits = [pushHook.commits[0], { ...pushHook.commits[1], timestamp: "3 Jan 2012" }];
    const decision = deliver({ payload: { commits } });
    expect(decision.status).toBe(400);
    expect(decision.message).toMatch(/^malformed push payload: commits\[1\]\.timestamp must be an ISO 8601 time/);
  });

  it.each([
    { name: "no secret configured", d: { secret: undefined }, says: "set TEST_WEBHOOK_SECRET for GitLab", refusal: "unconfigured" },
    { name: "an empty secret configured, even with an empty token", d: { secret: "", headers: { "x-gitlab-token": "" } }, says: "set TEST_WEBHOOK_SECRET for GitLab", refusal: "unconfigured" },
    { name: "a missing token", d: { headers: { "x-gitlab-token": undefined } }, says: "missing X-Gitlab-Token", refusal: "unsigned" },
    { name: "a wrong token", d: { headers: { "x-gitlab-token": "gl-hook-tokem" } }, says: "differs from TEST_WEBHOOK_SECRET", refusal: "mismatch" },
    { name: "a prefix of the secret as token", d: { headers: { "x-gitlab-token": "gl-hook" } }, says: "does not match", refusal: "mismatch" },
    { name: "a wrong token on a body that is not JSON", d: { body: "{nope", headers: { "x-gitlab-token": "x" } }, says: "does not match", refusal: "mismatch" },
  ])("$name → 401 ($refusal)", ({ d, says, refusal }) => {
    const decision = deliver(d);
    expect(decision).toMatchObject({ status: 401, refusal });
    expect(decision.message).toContain(says);
  });

  it("the previous token verifies while it is listed after the current one, and not once it is gone", () => {
    const body = new TextEncoder().encode(JSON.stringify(pushHook));
    const headers = { "content-type": "application/json", "x-gitlab-event": "Push Hook", "x-gitlab-token": "old-token" };
    const withSecrets = (values: string[]) =>
      handleGitlabWebhook({ headers, rawBody: body }, { secrets: { values, source: "the test secret", configure: () => "" }, hmac, watchers, fallbackEventId: "e", now: NOW });
    expect(withSecrets(["new-token", "old-token"]).status).toBe(202);
    expect(withSecrets(["new-token"])).toMatchObject({ status: 401, refusal: "mismatch" });
  });

  it.each([
    { name: "a Merge Request Hook → 200 ignored", d: { event: "Merge Request Hook" }, status: 200, says: "ignored: berth acts on Push Hook and Tag Push Hook events" },
    { name: "a System Hook → 200 ignored", d: { event: "System Hook" }, status: 200, says: "ignored: berth acts on Push Hook and Tag Push Hook events" },
    { name: "a push to refs/merge-requests → 200 ignored", d: { payload: { ref: "refs/merge-requests/1/head" } }, status: 200, says: "neither a branch" },
    { name: "a missing X-Gitlab-Event → 400", d: { headers: { "x-gitlab-event": undefined } }, status: 400, says: "X-Gitlab-Event" },
    { name: "invalid JSON → 400", d: { body: '{"ref":' }, status: 400, says: "not valid JSON" },
    {
      name: "a missing project.path_with_namespace → 400",
      d: { payload: { project: { id: 15 } } },
      status: 400,
      says: "project.path_with_namespace must be",
    },
    { name: "a short after → 400", d: { payload: { after: "da15608" } }, status: 400, says: "after must be" },
    { name: "a form body → 415", d: { headers: { "content-type": "application/x-www-form-urlencoded" } }, status: 415, says: "application/json" },
  ])("$name", ({ d, status, says }) => {
    const decision = deliver(d);
    expect(decision.status).toBe(status);
    expect(decision.message).toContain(says);
    expect(decision).not.toHaveProperty("event");
  });
});
