import { createHmac } from "node:crypto";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import type { GitPushDetail } from "../../src/core/events/berth-events.ts";
import { deliveryEventId } from "../../src/core/webhook/request.ts";
import { nodeHmacSha256, startWebhookServer, type WebhookServer, type WebhookServerOptions } from "../../src/local/webhook-server.ts";

const SECRET = "local-demo-secret";
const eventsDir = new URL("../../events/", import.meta.url);
const pushBody = readFileSync(new URL("github-push.json", eventsDir));
const pingBody = readFileSync(new URL("github-ping.json", eventsDir));
const normalized = JSON.parse(readFileSync(new URL("git-push.json", eventsDir), "utf8")) as BusEvent<GitPushDetail>;

// The main branch of acme/web, pushed to GitHub or to GitLab.
const loaded = loadCatalog(
  `version: 1
service: hooks
jobs:
  deploy-web:
    on: { git: { repo: acme/web, branch: main } }
    run: { taskDefinition: deployer, launch: ec2 }
  mirror-web:
    on: { git: { provider: gitlab, repo: acme/web, branch: main } }
    run: { taskDefinition: deployer, launch: ec2 }
`,
  "hooks.yml",
);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
const catalog = loaded.catalog;

const sign = (secret: string, body: Uint8Array) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

let server: WebhookServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(overrides: Partial<WebhookServerOptions> = {}): Promise<{ url: string; emitted: BusEvent[] }> {
  const emitted: BusEvent[] = [];
  let ids = 0;
  server = await startWebhookServer({
    secret: SECRET,
    catalog,
    // Slow on purpose: the 202 must wait for the event to be on the bus.
    emit: async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      emitted.push(event);
    },
    now: () => Date.parse(normalized.time),
    newId: () => `evt-${++ids}`,
    ...overrides,
  });
  return { url: server.url, emitted };
}

function githubDelivery(body: Uint8Array, event: string, signature: string | undefined, delivery = normalized.detail.deliveryId ?? ""): RequestInit {
  return {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": delivery,
      ...(signature === undefined ? {} : { "x-hub-signature-256": signature }),
    },
  };
}

async function send(url: string, init: RequestInit): Promise<{ status: number; body: { message: string; eventId?: string; jobs?: string[] }; headers: Headers }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as { message: string; eventId?: string; jobs?: string[] }, headers: response.headers };
}

describe("startWebhookServer", () => {
  it("listens on 127.0.0.1 at a free port by default", async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(url).port)).toBeGreaterThan(0);
  });

  it("a signed push → 202 with the event id after exactly one Git Push event was emitted", async () => {
    const { url, emitted } = await start();
    const response = await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    const eventId = deliveryEventId("github", normalized.detail.deliveryId ?? "", nodeHmacSha256);
    expect(response.status).toBe(202);
    expect(response.body).toEqual({ message: "accepted github push to acme/web refs/heads/main at 9fceb02 for deploy-web", eventId, jobs: ["deploy-web"] });
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toMatchObject({ id: eventId, source: "berth.git", "detail-type": "Git Push", time: normalized.time });
    expect(emitted[0]?.detail).toEqual(normalized.detail);
  });

  it("a redelivery is the same event id; another delivery another one", async () => {
    const { url, emitted } = await start();
    await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody), "a-later-delivery"));
    const [first, again, other] = emitted.map((e) => e.id);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it("a push without a delivery id gets a new id", async () => {
    const { url, emitted } = await start();
    await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody), ""));
    expect(emitted.map((e) => e.id)).toEqual(["evt-1"]);
  });

  it("a push to a branch no job watches → 200 with the reason, and nothing emitted", async () => {
    const { url, emitted } = await start();
    const body = Buffer.from(JSON.stringify({ ...JSON.parse(pushBody.toString("utf8")), ref: "refs/heads/feature/login" }));
    const response = await send(`${url}/webhooks/github`, githubDelivery(body, "push", sign(SECRET, body)));
    expect(response).toMatchObject({ status: 200, body: { message: "ignored: no job watches github pushes to acme/web refs/heads/feature/login" } });
    expect(emitted).toEqual([]);
  });

  it.each([
    { name: "a bad signature → 401", signature: sign("not the secret", pushBody), event: "push", body: pushBody, status: 401 },
    { name: "no signature → 401", signature: undefined, event: "push", body: pushBody, status: 401 },
    { name: "a ping → 200", signature: sign(SECRET, pingBody), event: "ping", body: pingBody, status: 200 },
    { name: "a pull_request event → 200 ignored", signature: sign(SECRET, pingBody), event: "pull_request", body: pingBody, status: 200 },
  ])("$name and nothing emitted", async ({ signature, event, body, status }) => {
    const { url, emitted } = await start();
    const response = await send(`${url}/webhooks/github`, githubDelivery(body, event, signature));
    expect(response.status).toBe(status);
    expect(emitted).toEqual([]);
  });

  it("without a secret every delivery is refused with 401 naming BERTH_WEBHOOK_SECRET", async () => {
    const { url, emitted } = await start({ secret: undefined });
    const response = await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign("", pushBody)));
    expect(response.status).toBe(401);
    expect(response.body.message).toContain("BERTH_WEBHOOK_SECRET");
    expect(emitted).toEqual([]);
  });

  it("an oversized body → 413, nothing emitted, and the server keeps serving", async () => {
    const { url, emitted } = await start();
    const huge = new Uint8Array(6 * 1024 * 1024).fill(0x20);
    const response = await send(`${url}/webhooks/github`, githubDelivery(huge, "push", sign(SECRET, huge)));
    expect(response.status).toBe(413);
    expect(emitted).toEqual([]);
    const next = await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    expect(next.status).toBe(202);
  });

  it("a streamed oversized body without Content-Length → 413, without reading it all", async () => {
    const deliveries: number[] = [];
    const { url } = await start({ onDelivery: (d) => deliveries.push(d.status) });
    const { hostname, port } = new URL(url);
    // A raw socket: once the server has answered it closes the connection while the client may still be
    // writing, so the client can see a reset (EPIPE) instead of the answer; what the server decided is
    // read from onDelivery.
    const socket = connect(Number(port), hostname);
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(
      "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n" +
        `X-Hub-Signature-256: sha256=${"0".repeat(64)}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    // Far more than the limit: the server must answer without reading it all.
    while (sent < 64 && !socket.destroyed) {
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      socket.write("\r\n");
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    socket.destroy();
    await closed;
    expect(deliveries).toEqual([413]);
    expect(sent).toBeLessThan(64);
  });

  it.each(["GET", "PUT", "DELETE"])("%s on a webhook route → 405 with Allow: POST", async (method) => {
    const { url } = await start();
    const response = await send(`${url}/webhooks/github`, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });

  it.each(["/", "/webhooks", "/webhooks/github/extra", "/webhooks/bitbucket"])("POST %s → 404", async (path) => {
    const { url, emitted } = await start();
    const response = await send(`${url}${path}`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    expect(response.status).toBe(404);
    expect(response.body.message).toContain("/webhooks/github");
    expect(emitted).toEqual([]);
  });

  it("a query string does not change the route", async () => {
    const { url, emitted } = await start();
    const response = await send(`${url}/webhooks/github?source=tunnel`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    expect(response.status).toBe(202);
    expect(emitted).toHaveLength(1);
  });

  it("a GitLab push with the right token → 202 and one gitlab event", async () => {
    const { url, emitted } = await start();
    const body = JSON.stringify({
      object_kind: "push",
      ref: "refs/heads/main",
      before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
      after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      user_username: "jsmith",
      project: { path_with_namespace: "acme/web", web_url: "https://gitlab.example.com/acme/web" },
    });
    const headers = { "content-type": "application/json", "x-gitlab-event": "Push Hook" };
    const wrong = await send(`${url}/webhooks/gitlab`, { method: "POST", body, headers: { ...headers, "x-gitlab-token": "nope" } });
    expect(wrong.status).toBe(401);
    const right = await send(`${url}/webhooks/gitlab`, { method: "POST", body, headers: { ...headers, "x-gitlab-token": SECRET } });
    expect(right.status).toBe(202);
    expect(right.body.jobs).toEqual(["mirror-web"]);
    expect(emitted.map((e) => e.detail)).toEqual([expect.objectContaining({ provider: "gitlab", repo: "acme/web", branch: "main" })]);
  });

  it("a push the bus cannot take → 503, so the sender sees the failure and can redeliver", async () => {
    const { url } = await start({
      emit: () => {
        throw new Error("bus is closed");
      },
    });
    const response = await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", sign(SECRET, pushBody)));
    expect(response.status).toBe(503);
    expect(response.body.message).toContain("bus is closed");
  });

  it("reports every answered request to onDelivery", async () => {
    const deliveries: { path: string; status: number }[] = [];
    const { url } = await start({ onDelivery: ({ path, status }) => deliveries.push({ path, status }) });
    await send(`${url}/webhooks/github`, githubDelivery(pushBody, "push", "sha256=bad"));
    await send(`${url}/nowhere`, { method: "GET" });
    expect(deliveries).toEqual([
      { path: "/webhooks/github", status: 401 },
      { path: "/nowhere", status: 404 },
    ]);
  });

  it("close() returns while a client still holds a keep-alive connection", async () => {
    const { url } = await start();
    await send(`${url}/webhooks/github`, githubDelivery(pingBody, "ping", sign(SECRET, pingBody)));
    const closing = server!.close();
    server = undefined;
    await expect(closing).resolves.toBeUndefined();
    await expect(fetch(`${url}/webhooks/github`, { method: "POST" })).rejects.toThrow();
  });
});
