import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { BusEvent } from "../../../src/core/events/envelope.ts";
import type { GitPushDetail } from "../../../src/core/events/berth-events.ts";
import { handleGitlabWebhook } from "../../../src/core/webhook/gitlab.ts";
import type { HmacSha256 } from "../../../src/core/webhook/hmac.ts";
import type { WebhookDecision } from "../../../src/core/webhook/request.ts";

const hmac: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();
const SECRET = "gl-hook-token";
const NOW = Date.parse("2024-11-26T09:54:06.750Z");

// Shaped like the Push Hook body in GitLab's webhook events documentation.
const pushHook = {
  object_kind: "push",
  event_name: "push",
  before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
  after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  ref: "refs/heads/master",
  ref_protected: true,
  checkout_sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  user_id: 4,
  user_name: "John Smith",
  user_username: "jsmith",
  user_email: "john@example.com",
  project_id: 15,
  project: {
    id: 15,
    name: "Diaspora",
    web_url: "http://example.com/mike/diaspora",
    namespace: "Mike",
    path_with_namespace: "mike/diaspora",
    default_branch: "master",
  },
  commits: [],
  total_commits_count: 0,
};

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
  return handleGitlabWebhook({ headers, rawBody: new TextEncoder().encode(body) }, { secret, hmac, eventId: "evt-gl", now: NOW });
}

const eventOf = (decision: WebhookDecision): BusEvent<GitPushDetail> => {
  if (!("event" in decision) || decision.event === undefined) throw new Error(`no event: ${decision.status} ${decision.message}`);
  return decision.event;
};

describe("handleGitlabWebhook", () => {
  it("a Push Hook becomes a gitlab Git Push event", () => {
    const decision = deliver({});
    expect(decision.status).toBe(202);
    expect(eventOf(decision)).toEqual({
      version: "0",
      id: "evt-gl",
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
        deliveryId: "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f",
      },
    });
  });

  it.each([
    {
      name: "a Tag Push Hook sets tag and no branch",
      event: "Tag Push Hook",
      payload: { object_kind: "tag_push", ref: "refs/tags/v1.0.0", before: "0".repeat(40) },
      expected: { tag: "v1.0.0", before: "0".repeat(40), deleted: false },
      absent: "branch",
    },
    {
      name: "a deleted tag (after all zeros) is marked deleted",
      event: "Tag Push Hook",
      payload: { object_kind: "tag_push", ref: "refs/tags/v1.0.0", after: "0".repeat(40) },
      expected: { tag: "v1.0.0", sha: "0".repeat(40), deleted: true },
      absent: "branch",
    },
    {
      name: "a deleted branch (after all zeros) is marked deleted",
      event: "Push Hook",
      payload: { after: "0".repeat(40), checkout_sha: null },
      expected: { branch: "master", deleted: true },
      absent: "tag",
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
    { name: "no secret configured", d: { secret: undefined }, says: "BERTH_WEBHOOK_SECRET" },
    { name: "an empty secret configured, even with an empty token", d: { secret: "", headers: { "x-gitlab-token": "" } }, says: "BERTH_WEBHOOK_SECRET" },
    { name: "a missing token", d: { headers: { "x-gitlab-token": undefined } }, says: "missing X-Gitlab-Token" },
    { name: "a wrong token", d: { headers: { "x-gitlab-token": "gl-hook-tokem" } }, says: "does not match" },
    { name: "a prefix of the secret as token", d: { headers: { "x-gitlab-token": "gl-hook" } }, says: "does not match" },
    { name: "a wrong token on a body that is not JSON", d: { body: "{nope", headers: { "x-gitlab-token": "x" } }, says: "does not match" },
  ])("$name → 401", ({ d, says }) => {
    const decision = deliver(d);
    expect(decision.status).toBe(401);
    expect(decision.message).toContain(says);
  });

  it.each([
    { name: "a Merge Request Hook → 202 ignored", d: { event: "Merge Request Hook" }, status: 202, says: "ignored" },
    { name: "a System Hook → 202 ignored", d: { event: "System Hook" }, status: 202, says: "ignored" },
    { name: "a push to refs/merge-requests → 202 ignored", d: { payload: { ref: "refs/merge-requests/1/head" } }, status: 202, says: "neither a branch" },
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
