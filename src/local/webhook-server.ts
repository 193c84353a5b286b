/**
 * The local stand-in for the AWS webhook function: an HTTP listener on the
 * loopback interface that hands each delivery, byte for byte, to the same
 * core handlers the Lambda uses and turns their decision into a response.
 * It decides nothing itself; it only caps how much of a body it reads.
 */
import { createHmac, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Catalog } from "../core/catalog/types.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import { buildRouter } from "../core/router.ts";
import { handleGithubWebhook } from "../core/webhook/github.ts";
import { handleGitlabWebhook } from "../core/webhook/gitlab.ts";
import type { HmacSha256 } from "../core/webhook/hmac.ts";
import { DEFAULT_MAX_BODY_BYTES, responseBody } from "../core/webhook/request.ts";
import type { WebhookDecision, WebhookOptions, WebhookRequest, WebhookSecrets } from "../core/webhook/request.ts";
import { gitPushWatchers } from "../core/webhook/watchers.ts";

export const nodeHmacSha256: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();

/** Where `berth dev` reads the webhook secret. */
export const SECRET_ENV = "BERTH_WEBHOOK_SECRET";

function localSecrets(secret: string | undefined): WebhookSecrets {
  return {
    values: secret ? [secret] : [],
    source: SECRET_ENV,
    configure: (provider) => `set ${SECRET_ENV} to the secret entered in the ${provider} webhook settings`,
  };
}

export interface WebhookServerOptions {
  /** Defaults to 127.0.0.1: the listener is for this machine (or a tunnel running on it). */
  readonly host?: string;
  /** Defaults to 0: any free port; read the chosen one from `url`. */
  readonly port?: number;
  /** `BERTH_WEBHOOK_SECRET`; without one every delivery is refused with 401. */
  readonly secret: string | undefined;
  /** The catalog whose git triggers decide which pushes are put on the bus; the others are answered 200 with the reason. */
  readonly catalog: Catalog;
  /** Puts an accepted push on the local bus; the 202 is sent only after it settles. */
  readonly emit: (event: BusEvent) => void | Promise<void>;
  readonly now?: () => number;
  /** The event id of a push whose delivery has no delivery id (otherwise the id comes from it). */
  readonly newId?: () => string;
  /** Told about every answered request, so the terminal can show why a delivery was refused. */
  readonly onDelivery?: (delivery: { readonly path: string; readonly status: number; readonly message: string }) => void;
}

export interface WebhookServer {
  /** Base URL, e.g. `http://127.0.0.1:49152`; deliveries go to `<url>/webhooks/github` or `<url>/webhooks/gitlab`. */
  readonly url: string;
  close(): Promise<void>;
}

type Handler = (req: WebhookRequest, opts: WebhookOptions) => WebhookDecision;

const ROUTES: ReadonlyMap<string, Handler> = new Map([
  ["/webhooks/github", handleGithubWebhook],
  ["/webhooks/gitlab", handleGitlabWebhook],
]);

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const host = options.host ?? "127.0.0.1";
  const now = options.now ?? Date.now;
  const newId = options.newId ?? randomUUID;
  const secrets = localSecrets(options.secret);
  const watchers = gitPushWatchers(buildRouter(options.catalog));

  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { message: `the webhook server failed: ${(error as Error).message}` });
      else res.destroy();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const answer = (status: number, body: { readonly message: string }, headers: Record<string, string> = {}): void => {
      reply(res, status, body, headers);
      options.onDelivery?.({ path, status, message: body.message });
    };

    const handler = ROUTES.get(path);
    if (handler === undefined) {
      answer(404, { message: `no webhook at ${path}: use POST /webhooks/github or POST /webhooks/gitlab` });
      req.resume();
      return;
    }
    if (req.method !== "POST") {
      answer(405, { message: `${req.method ?? "this method"} is not allowed on ${path}: webhooks are delivered with POST` }, { allow: "POST" });
      req.resume();
      return;
    }

    const body = await readCapped(req, DEFAULT_MAX_BODY_BYTES);
    if (body.overflowed) {
      // The rest of an oversized body is never read: close the connection once the answer is out.
      res.setHeader("connection", "close");
      res.on("finish", () => req.socket.destroySoon());
    }
    const decision = handler(
      { headers: flattenHeaders(req), rawBody: body.bytes },
      { secrets, hmac: nodeHmacSha256, watchers, fallbackEventId: newId(), now: now(), maxBodyBytes: DEFAULT_MAX_BODY_BYTES },
    );
    if (decision.status === 202) {
      try {
        await options.emit(decision.event);
      } catch (error) {
        // 503, as the AWS function answers a push its bus did not take: the sender shows it failed and can redeliver it.
        answer(503, { message: `the push was not put on the local bus, so it was not accepted: ${(error as Error).message}` });
        return;
      }
    }
    answer(decision.status, responseBody(decision));
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive connections would hold close() open indefinitely.
        server.closeAllConnections();
      }),
  };
}

function reply(res: ServerResponse, status: number, answer: { readonly message: string }, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(answer);
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Reads at most `limit + 1` bytes: enough for the core to see that the body
 * is over the limit (and answer 413) without holding an arbitrarily large
 * body in memory.
 */
function readCapped(req: IncomingMessage, limit: number): Promise<{ bytes: Uint8Array; overflowed: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      const room = limit + 1 - length;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      length += Math.min(chunk.length, room);
      if (length > limit) {
        req.off("data", onData);
        req.off("end", onEnd);
        req.pause();
        resolve({ bytes: Buffer.concat(chunks), overflowed: true });
      }
    };
    const onEnd = (): void => resolve({ bytes: Buffer.concat(chunks), overflowed: false });
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}

/** node:http already lower-cases names; repeated headers arrive joined with ", " except a few that come as arrays. */
function flattenHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  return headers;
}
