/**
 * The webhook function as deployed: the built bundle behind a local function URL
 * (../support/function-url.ts), real HTTP requests shaped as GitHub and GitLab send them, its real
 * SDK clients talking to local SSM, Secrets Manager and EventBridge endpoints.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import type { GitPushDetail } from "../../src/core/events/berth-events.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";
import { startFakeSecretsManager, type FakeSecretsManager } from "../support/fake-secrets-manager.ts";
import { startFakeSsm, type FakeSsm } from "../support/fake-ssm.ts";
import type { FunctionUrl } from "../support/function-url.ts";
import { BASE_ENV, github, gitlab, GITLAB_PUSH_HOOK, GITLAB_TAG_PUSH_HOOK, hubSignature, post, sample, webhookFunction } from "./support.ts";

const SECRET = "8f2b6c1e-webhook-secret-d41d8cd98f00";
const PARAMETER = "/berth/hooks/webhook-secret";
const pushBody = sample("github-push.json");
const pingBody = sample("github-ping.json");
const normalized = JSON.parse(sample("git-push.json").toString("utf8")) as BusEvent<GitPushDetail>;
const pushPayload = JSON.parse(pushBody.toString("utf8")) as Record<string, unknown>;
const withPush = (changes: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...pushPayload, ...changes }));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MINUTE = 60_000;

let bus: FakeEventBridge;
let ssm: FakeSsm;
let secretsManager: FakeSecretsManager;
const started: FunctionUrl[] = [];

beforeAll(async () => {
  [bus, ssm, secretsManager] = await Promise.all([startFakeEventBridge(), startFakeSsm(), startFakeSecretsManager()]);
  ssm.putParameter(PARAMETER, SECRET, { at: new Date(Date.now() - 24 * 60 * MINUTE) });
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((fn) => fn.close()));
  bus.failEntries(undefined);
  ssm.denyAccess(false);
});
afterAll(async () => {
  await Promise.all([bus?.close(), ssm?.close(), secretsManager?.close()]);
});

async function start(env: Record<string, string | undefined> = { BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: PARAMETER }): Promise<FunctionUrl> {
  const fn = await webhookFunction({ eventbridge: bus.url, ssm: ssm.url, secretsManager: secretsManager.url }, env);
  started.push(fn);
  return fn;
}

/** The bus entries put since `from`. */
const putSince = (from: number) => bus.entries.slice(from);

describe("signature verification, through the function URL", () => {
  // GitHub's "Validating webhook deliveries", "Testing the webhook payload validation": this secret and payload
  // give this signature. The payload is no JSON, so it is sent as an event berth does not use: a 200 means verified.
  const docsSecret = "It's a Secret to Everybody";
  const docsSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  it("GitHub's published test vector verifies, and a one-byte change of the payload does not", async () => {
    const name = "/berth/hooks/docs-vector";
    ssm.putParameter(name, docsSecret);
    const fn = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: name });
    const headers = { "x-hub-signature-256": docsSignature };
    const vector = await github(fn, { body: "Hello, World!", event: "issues", headers });
    expect(vector).toMatchObject({ status: 200, body: { message: "ignored: berth acts on push events, and this delivery is a issues event" } });
    const changed = await github(fn, { body: "Hello, World?", event: "issues", headers });
    expect(changed.status).toBe(401);
    expect(changed.body.message).toContain("X-Hub-Signature-256 does not match the body");
  });

  it.each<{ name: string; headers: Record<string, string>; says: string }>([
    { name: "a missing signature header", headers: {}, says: "missing X-Hub-Signature-256 header" },
    {
      name: "a sha1= header alone (X-Hub-Signature)",
      headers: { "x-hub-signature": `sha1=${createHmac("sha1", SECRET).update(pushBody).digest("hex")}` },
      says: "signed only with SHA-1 (X-Hub-Signature)",
    },
    { name: "a sha1= value in X-Hub-Signature-256", headers: { "x-hub-signature-256": `sha1=${createHmac("sha1", SECRET).update(pushBody).digest("hex")}` }, says: "expected sha256=" },
    { name: "a signature made with another secret", headers: { "x-hub-signature-256": hubSignature("not the secret", pushBody) }, says: "does not match the body" },
  ])("$name → 401, nothing put on the bus", async ({ headers, says }) => {
    const fn = await start();
    const before = bus.entries.length;
    const answer = await github(fn, { body: pushBody, headers });
    expect(answer.status).toBe(401);
    expect(answer.body.message).toContain(says);
    expect(putSince(before)).toEqual([]);
  });

  it.each([
    { name: "no secret in berth.yml (no secret variables)", env: {} },
    { name: "secret variables set empty", env: { BERTH_WEBHOOK_SECRET_SOURCE: "", BERTH_WEBHOOK_SECRET_NAME: "" } },
  ])("$name: every delivery → 401 saying how to configure one, even one signed with the empty key", async ({ env }) => {
    const fn = await start(env);
    for (const answer of [await github(fn, { body: pushBody, secret: "" }), await github(fn, { body: pingBody, event: "ping", secret: "" }), await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: "" })]) {
      expect(answer.status).toBe(401);
      expect(answer.body.message).toMatch(/^no webhook secret is configured, so every delivery is refused: put the secret entered in the (GitHub|GitLab) webhook settings/);
      expect(answer.body.message).toContain('webhook: { secret: "ssm:/<parameter name>" }');
    }
    expect(fn.lines().some((l) => l.level === "WARN" && String(l.message).startsWith("no webhook secret is configured"))).toBe(true);
  });

  it("a GitLab delivery with the wrong token or none → 401", async () => {
    const fn = await start();
    expect((await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: `${SECRET}x` })).status).toBe(401);
    const none = await gitlab(fn, { body: GITLAB_PUSH_HOOK });
    expect(none).toMatchObject({ status: 401, body: { message: expect.stringContaining("missing X-Gitlab-Token") } });
  });
});

describe("accepted pushes: 202 with the event id once the Git Push event is on the bus", () => {
  it("GitHub's push payload becomes git-push.json's Git Push event on BERTH_BUS", async () => {
    const fn = await start();
    const before = bus.entries.length;
    const answer = await github(fn, { body: pushBody, secret: SECRET });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ message: "accepted github push to acme/web refs/heads/main at 9fceb02 for deploy-web", eventId: expect.stringMatching(UUID), jobs: ["deploy-web"] });
    expect(answer.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const [entry, ...more] = putSince(before);
    expect(more).toEqual([]);
    expect(entry).toEqual({ EventBusName: BASE_ENV.BERTH_BUS, Source: "berth.git", DetailType: "Git Push", Detail: expect.any(String), Resources: ["https://github.com/acme/web"] });
    expect(JSON.parse(entry!.Detail)).toEqual(normalized.detail);
  });

  it("a push sent as application/x-www-form-urlencoded reaches the function base64-encoded and is verified over its exact bytes", async () => {
    const fn = await start();
    const before = bus.entries.length;
    const form = Buffer.from(new URLSearchParams({ payload: pushBody.toString("utf8") }).toString());
    const answer = await github(fn, { body: form, secret: SECRET, headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(answer.status).toBe(202);
    expect(fn.events.at(-1)).toMatchObject({ isBase64Encoded: true, body: form.toString("base64") });
    expect(JSON.parse(putSince(before)[0]!.Detail)).toEqual(normalized.detail);
  });

  it("a JSON body with multi-byte characters is verified over its UTF-8 bytes", async () => {
    const fn = await start();
    const body = withPush({ pusher: { name: "mona-ü-日本" } });
    const answer = await github(fn, { body, secret: SECRET });
    expect(fn.events.at(-1)).toMatchObject({ isBase64Encoded: false });
    expect(answer.status).toBe(202);
  });

  it("a GitHub tag push starts the tag's job, and the local server's path works too", async () => {
    const fn = await start();
    const before = bus.entries.length;
    const answer = await github(fn, { body: withPush({ ref: "refs/tags/v1.2.0", base_ref: "refs/heads/main" }), secret: SECRET, path: "/webhooks/github" });
    expect(answer).toMatchObject({ status: 202, body: { jobs: ["release-web"] } });
    expect(JSON.parse(putSince(before)[0]!.Detail)).toMatchObject({ ref: "refs/tags/v1.2.0", tag: "v1.2.0", sha: pushPayload.after });
  });

  it("GitLab's Push Hook and Tag Push Hook payloads become gitlab Git Push events", async () => {
    const fn = await start();
    const before = bus.entries.length;
    const push = await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: SECRET });
    const tag = await gitlab(fn, { body: GITLAB_TAG_PUSH_HOOK, token: SECRET, hook: "Tag Push Hook", idempotencyKey: "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f" });
    expect(push).toMatchObject({ status: 202, body: { message: "accepted gitlab push to mike/diaspora refs/heads/master at da15608 for build-diaspora" } });
    expect(tag).toMatchObject({ status: 202, body: { jobs: ["build-diaspora"] } });
    const details = putSince(before).map((e) => JSON.parse(e.Detail) as GitPushDetail);
    // The whole normalization is the core's (test/core/webhook/gitlab.test.ts); here, that it arrives on the bus.
    expect(details[0]).toMatchObject({ provider: "gitlab", repo: "mike/diaspora", branch: "master", sha: GITLAB_PUSH_HOOK.after, committedAt: "2012-01-03T21:36:29Z", deliveryId: "f2f8c6a4-3f0b-4d7e-9c1a-0b5e6d7c8a9f" });
    expect(details[1]).toMatchObject({ provider: "gitlab", repo: "mike/diaspora", tag: "v1.0.0", sha: GITLAB_TAG_PUSH_HOOK.after, pusher: "John Smith", deleted: false });
    expect(details).toHaveLength(2);
  });

  it("a redelivery (same delivery id) is answered with the same event id; another delivery gets another", async () => {
    const fn = await start();
    const first = await github(fn, { body: pushBody, secret: SECRET, delivery: "7c1f2e0a-0d55-11f0-8b1e-6b5f1d3c9a77" });
    const again = await github(fn, { body: pushBody, secret: SECRET, delivery: "7c1f2e0a-0d55-11f0-8b1e-6b5f1d3c9a77" });
    const other = await github(fn, { body: pushBody, secret: SECRET, delivery: "9a0b1c2d-0d55-11f0-8b1e-6b5f1d3c9a77" });
    expect([first.status, again.status, other.status]).toEqual([202, 202, 202]);
    expect(again.body.eventId).toBe(first.body.eventId);
    expect(other.body.eventId).not.toBe(first.body.eventId);
    const gl1 = await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: SECRET, idempotencyKey: "0c0c0c0c-1111-4222-8333-444455556666" });
    const gl2 = await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: SECRET, idempotencyKey: "0c0c0c0c-1111-4222-8333-444455556666" });
    expect(gl2.body.eventId).toBe(gl1.body.eventId);
  });
});

describe("deliveries answered 200 with the reason, and put on no bus", () => {
  it.each([
    { name: "a ping", d: { body: pingBody, event: "ping" }, message: "pong: the webhook reaches berth and its signature is valid" },
    { name: "an event berth does not use", d: { body: '{"action":"opened"}', event: "pull_request" }, message: "ignored: berth acts on push events, and this delivery is a pull_request event" },
    {
      name: "a branch deletion",
      d: { body: withPush({ deleted: true, after: "0".repeat(40), head_commit: null, commits: [] }) },
      message: "ignored: acme/web refs/heads/main was deleted, and a deletion brings nothing to run or deploy",
    },
    { name: "a tag deletion", d: { body: withPush({ ref: "refs/tags/v1.2.0", deleted: true, after: "0".repeat(40), head_commit: null }) }, message: "ignored: acme/web refs/tags/v1.2.0 was deleted, and a deletion brings nothing to run or deploy" },
    { name: "a ref that is neither a branch nor a tag", d: { body: withPush({ ref: "refs/notes/commits" }) }, message: 'ignored: ref "refs/notes/commits" is neither a branch (refs/heads/...) nor a tag (refs/tags/...)' },
    { name: "a push to a branch no job watches", d: { body: withPush({ ref: "refs/heads/feature/login" }) }, message: "ignored: no job watches github pushes to acme/web refs/heads/feature/login" },
    {
      name: "a push to a repository no job watches",
      d: { body: withPush({ repository: { ...(pushPayload.repository as object), full_name: "acme/api" } }) },
      message: "ignored: no job watches github pushes to acme/api refs/heads/main",
    },
  ])("$name", async ({ d, message }) => {
    const fn = await start();
    const before = bus.entries.length;
    const answer = await github(fn, { ...d, secret: SECRET });
    expect(answer).toMatchObject({ status: 200, body: { message } });
    expect(putSince(before)).toEqual([]);
  });
});

describe("refusals of the request itself", () => {
  it.each([
    { name: "an unknown path → 404", path: "/bitbucket", method: "POST", status: 404 },
    { name: "the root → 404", path: "/", method: "POST", status: 404 },
    { name: "GET on /github → 405 with Allow: POST", path: "/github", method: "GET", status: 405 },
    { name: "PUT on /gitlab → 405", path: "/gitlab", method: "PUT", status: 405 },
  ])("$name", async ({ path, method, status }) => {
    const fn = await start();
    const answer = await post(`${fn.url}${path}`, { "content-type": "application/json" }, pushBody, method);
    expect(answer.status).toBe(status);
    if (status === 405) expect(answer.headers.get("allow")).toBe("POST");
  });

  it("a signed push with a text/plain body → 415", async () => {
    const fn = await start();
    const answer = await github(fn, { body: pushBody, secret: SECRET, headers: { "content-type": "text/plain" } });
    expect(answer).toMatchObject({ status: 415, body: { message: expect.stringContaining("choose application/json") } });
  });

  it("a signed body that is not JSON → 400", async () => {
    const fn = await start();
    const answer = await github(fn, { body: '{"ref": "refs/heads/main",', secret: SECRET });
    expect(answer).toMatchObject({ status: 400, body: { message: expect.stringContaining("not valid JSON") } });
  });

  it("a body over the 5 MiB limit → 413 from the function; one whose event exceeds Lambda's 6 MB → 413 from Lambda", async () => {
    const fn = await start();
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 0x20);
    const over = await github(fn, { body: big, secret: SECRET });
    expect(over).toMatchObject({ status: 413, body: { message: `request body is larger than the limit of ${5 * 1024 * 1024} bytes` } });
    const invoked = fn.events.length;
    const huge = Buffer.alloc(6 * 1024 * 1024, 0x20);
    expect((await github(fn, { body: huge, secret: SECRET })).status).toBe(413);
    expect(fn.events.length).toBe(invoked);
  });
});

describe("the bus and the secret store failing", () => {
  it("PutEvents refusing the entry → 503 (the delivery can be redelivered); once it takes it, the redelivery → 202", async () => {
    const fn = await start();
    const before = bus.entries.length;
    bus.failEntries(() => ({ ErrorCode: "InternalFailure", ErrorMessage: "Internal service error" }));
    const failed = await github(fn, { body: pushBody, secret: SECRET });
    expect(failed.status).toBe(503);
    expect(failed.body.message).toContain("did not take it");
    expect(putSince(before)).toEqual([]);
    expect(fn.lines().find((l) => l.level === "ERROR")).toMatchObject({ status: 503, repo: "acme/web", error: { name: "TransientError" } });
    bus.failEntries(undefined);
    const redelivered = await github(fn, { body: pushBody, secret: SECRET });
    expect(redelivered).toMatchObject({ status: 202, body: { eventId: expect.stringMatching(UUID) } });
    expect(putSince(before)).toHaveLength(1);
  });

  it("an entry refused once is sent again, and the delivery → 202", async () => {
    const fn = await start();
    let refusals = 1;
    bus.failEntries(() => (refusals-- > 0 ? { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" } : undefined));
    expect((await github(fn, { body: pushBody, secret: SECRET })).status).toBe(202);
  });

  it.each([
    { name: "the function may not read it", setup: () => ssm.denyAccess(true), name2: PARAMETER, logs: "AccessDeniedException" },
    { name: "it does not exist", setup: () => undefined, name2: "/berth/hooks/missing", logs: "aws ssm put-parameter --type SecureString --name /berth/hooks/missing" },
    {
      name: "it is a String parameter, not a SecureString",
      setup: () => ssm.putParameter("/berth/hooks/plain", SECRET, { type: "String" }),
      name2: "/berth/hooks/plain",
      logs: "not a SecureString",
    },
  ])("the secret cannot be read because $name → 503, nothing verified, the fix in the log", async ({ setup, name2, logs }) => {
    setup();
    const fn = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: name2 });
    const answer = await github(fn, { body: pushBody, secret: SECRET });
    expect(answer).toMatchObject({ status: 503, body: { message: expect.stringContaining("could not read its webhook secret") } });
    expect(fn.lines().find((l) => l.status === 503)?.message).toContain(logs);
  });

  it("SSM answering 500 once is retried by the SDK, and the delivery → 202", async () => {
    const fn = await start();
    ssm.failNext(1);
    expect((await github(fn, { body: pushBody, secret: SECRET })).status).toBe(202);
  });
});

describe("the secret: read once per container, rotation window", () => {
  it("is read once for many deliveries (the current value is older than the window: one GetParameter, decrypted)", async () => {
    const fn = await start();
    const before = ssm.calls.length;
    for (let i = 0; i < 4; i++) expect((await github(fn, { body: pingBody, event: "ping", secret: SECRET })).status).toBe(200);
    expect(ssm.calls.slice(before)).toEqual([{ operation: "GetParameter", name: PARAMETER, withDecryption: true }]);
  });

  it("SSM: the previous version verifies inside the window, and not once the current one is older than the window", async () => {
    const now = Date.now();
    ssm.putParameter("/berth/hooks/rotating", "old-secret", { at: new Date(now - 3 * 60 * MINUTE) });
    ssm.putParameter("/berth/hooks/rotating", "new-secret", { at: new Date(now - 10 * MINUTE) });
    ssm.putParameter("/berth/hooks/rotated", "old-secret", { at: new Date(now - 3 * 60 * MINUTE) });
    ssm.putParameter("/berth/hooks/rotated", "new-secret", { at: new Date(now - 2 * 60 * MINUTE) });
    const inside = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: "/berth/hooks/rotating", BERTH_WEBHOOK_ROTATION_SECONDS: "3600" });
    expect((await github(inside, { body: pingBody, event: "ping", secret: "old-secret" })).status).toBe(200);
    expect((await github(inside, { body: pingBody, event: "ping", secret: "new-secret" })).status).toBe(200);
    expect(ssm.calls.filter((c) => c.name === "/berth/hooks/rotating:1")).toEqual([{ operation: "GetParameter", name: "/berth/hooks/rotating:1", withDecryption: true }]);

    const after = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: "/berth/hooks/rotated", BERTH_WEBHOOK_ROTATION_SECONDS: "3600" });
    expect((await github(after, { body: pingBody, event: "ping", secret: "old-secret" })).status).toBe(401);
    expect((await github(after, { body: pingBody, event: "ping", secret: "new-secret" })).status).toBe(200);

    const noWindow = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: "/berth/hooks/rotating", BERTH_WEBHOOK_ROTATION_SECONDS: "0" });
    expect((await github(noWindow, { body: pingBody, event: "ping", secret: "old-secret" })).status).toBe(401);
  });

  it("Secrets Manager: AWSPREVIOUS verifies within the window of AWSCURRENT's CreatedDate, and not after it", async () => {
    const now = Date.now();
    secretsManager.putSecretValue("berth/hooks/rotating", "old-token", { at: new Date(now - 3 * 60 * MINUTE) });
    secretsManager.putSecretValue("berth/hooks/rotating", "new-token", { at: new Date(now - 10 * MINUTE) });
    const arn = secretsManager.putSecretValue("berth/hooks/rotated", "old-token", { at: new Date(now - 3 * 60 * MINUTE) });
    secretsManager.putSecretValue("berth/hooks/rotated", "new-token", { at: new Date(now - 2 * 60 * MINUTE) });
    const inside = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "secretsmanager", BERTH_WEBHOOK_SECRET_NAME: "berth/hooks/rotating" });
    expect((await gitlab(inside, { body: GITLAB_PUSH_HOOK, token: "old-token" })).status).toBe(202);
    expect((await gitlab(inside, { body: GITLAB_PUSH_HOOK, token: "new-token" })).status).toBe(202);
    expect(secretsManager.calls.filter((c) => c.secretId === "berth/hooks/rotating")).toEqual([
      { operation: "GetSecretValue", secretId: "berth/hooks/rotating", versionStage: "AWSCURRENT" },
      { operation: "GetSecretValue", secretId: "berth/hooks/rotating", versionStage: "AWSPREVIOUS" },
    ]);

    // Named by its ARN, as berth.yml may name it.
    const after = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "secretsmanager", BERTH_WEBHOOK_SECRET_NAME: arn });
    expect((await gitlab(after, { body: GITLAB_PUSH_HOOK, token: "old-token" })).status).toBe(401);
    expect((await gitlab(after, { body: GITLAB_PUSH_HOOK, token: "new-token" })).status).toBe(202);
  });

  it("a rotation after the secret was cached: the first delivery signed with the new secret reads it again and is accepted", async () => {
    const name = "/berth/hooks/rotated-later";
    ssm.putParameter(name, "first-secret", { at: new Date(Date.now() - 24 * 60 * MINUTE) });
    const fn = await start({ BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: name });
    expect((await github(fn, { body: pingBody, event: "ping", secret: "first-secret" })).status).toBe(200);
    ssm.putParameter(name, "second-secret");
    expect((await github(fn, { body: pingBody, event: "ping", secret: "second-secret" })).status).toBe(200);
    // Inside the window the replaced value still verifies, from the same read.
    expect((await github(fn, { body: pingBody, event: "ping", secret: "first-secret" })).status).toBe(200);
    expect(fn.lines().some((l) => l.message === "the webhook secret changed since it was read; the delivery is checked against the new one")).toBe(true);
  });

  it("forged signatures cannot make the function read the secret on every request", async () => {
    const fn = await start();
    const before = ssm.calls.length;
    const forged = 10;
    for (let i = 0; i < forged; i++) expect((await github(fn, { body: pushBody, secret: `guess-${i}` })).status).toBe(401);
    // One read at the first delivery, one more after the first mismatch; then at most one per 30 seconds.
    expect(ssm.calls.length - before).toBeLessThan(forged);
    expect(ssm.calls.length - before).toBeGreaterThanOrEqual(2);
  });
});

describe("the log", () => {
  it("one line per delivery with what it was and what became of it, and never the secret, a token or a signature", async () => {
    const fn = await start();
    const signature = hubSignature(SECRET, pushBody);
    const forgedSignature = hubSignature("guessed", pushBody);
    await github(fn, { body: pushBody, secret: SECRET, delivery: "1d2e3f40-0d55-11f0-8b1e-6b5f1d3c9a77" });
    await github(fn, { body: pushBody, secret: "guessed" });
    await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: SECRET });
    await gitlab(fn, { body: GITLAB_PUSH_HOOK, token: "guessed-token" });
    await github(fn, { body: withPush({ ref: "refs/heads/feature/x" }), secret: SECRET });

    const output = fn.output();
    for (const secretThing of [SECRET, signature, signature.slice("sha256=".length), forgedSignature.slice("sha256=".length), "guessed-token"]) expect(output).not.toContain(secretThing);

    const lines = fn.lines().filter((l) => typeof l.status === "number");
    expect(lines.map((l) => [l.level, l.status])).toEqual([
      ["INFO", 202],
      ["WARN", 401],
      ["INFO", 202],
      ["WARN", 401],
      ["INFO", 200],
    ]);
    expect(lines[0]).toMatchObject({
      service: "berth-hooks",
      function_name: "berth-test-webhook",
      path: "/github",
      deliveryId: "1d2e3f40-0d55-11f0-8b1e-6b5f1d3c9a77",
      provider: "github",
      eventId: expect.stringMatching(UUID),
      busEventId: expect.any(String),
      repo: "acme/web",
      ref: "refs/heads/main",
      sha: pushPayload.after,
      jobs: ["deploy-web"],
    });
    expect(lines[1]).toMatchObject({ refusal: "mismatch" });
  });
});
