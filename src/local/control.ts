/**
 * The control endpoint of a running `berth dev`: how `berth trigger`, `berth
 * run --local` and `berth cancel --local` reach it. Loopback only, and every
 * request must carry the token from `.berth/dev.json` (readable only by its
 * owner), so other local users cannot drive it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { writeFileSync, rmSync, readFileSync, existsSync, chmodSync } from "node:fs";
import { manualRunEvent } from "../core/events/berth-events.ts";
import { ConflictError, NotFoundError, TransientError, ValidationError } from "../core/errors.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import type { LocalRuntime } from "./runtime.ts";

export interface DevInfo {
  readonly pid: number;
  readonly control: string;
  readonly token: string;
  readonly webhook?: string;
  readonly startedAt: string;
}

const MAX_BODY = 1024 * 1024;

/** A request over MAX_BODY: malformed input, answered with its own status. */
class RequestTooLargeError extends ValidationError {}

/** A request with a method the endpoint does not take. */
class MethodNotAllowedError extends ValidationError {}

/** HTTP status by error class: the first class the error is an instance of wins; anything else is a 500. */
const STATUS_BY_ERROR: readonly (readonly [abstract new (...args: never[]) => Error, number])[] = [
  [RequestTooLargeError, 413],
  [MethodNotAllowedError, 405],
  [ValidationError, 400],
  [NotFoundError, 404],
  [ConflictError, 409],
  [TransientError, 503],
];

function statusOf(error: unknown): number {
  return STATUS_BY_ERROR.find(([type]) => error instanceof type)?.[1] ?? 500;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new RequestTooLargeError("request body over 1 MiB");
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new ValidationError("the body is not JSON", { field: "body" });
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

export async function startControlServer(runtime: LocalRuntime, infoFile: string, extra: { webhook?: string }): Promise<{ info: DevInfo; close(): Promise<void> }> {
  const token = randomBytes(24).toString("hex");
  const expected = Buffer.from(`Bearer ${token}`);
  const server = createServer((req, res) => {
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reply(res, 401, { message: "missing or wrong token: use the berth CLI, which reads .berth/dev.json" });
    handle(runtime, req)
      .then((body) => reply(res, 200, body))
      .catch((e: unknown) => reply(res, statusOf(e), { message: (e as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const info: DevInfo = {
    pid: process.pid,
    control: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    ...(extra.webhook ? { webhook: extra.webhook } : {}),
    startedAt: new Date().toISOString(),
  };
  writeFileSync(infoFile, JSON.stringify(info, null, 2), { mode: 0o600 });
  chmodSync(infoFile, 0o600);
  return {
    info,
    close: async () => {
      rmSync(infoFile, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(runtime: LocalRuntime, req: IncomingMessage): Promise<unknown> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (req.method === "GET" && url.pathname === "/status") return { service: runtime.catalog.service, jobs: Object.keys(runtime.catalog.jobs) };
  if (req.method !== "POST") throw new MethodNotAllowedError("use POST");
  const body = (await readJson(req)) as Record<string, unknown>;
  if (parts[0] === "trigger" && parts[1]) return trigger(runtime, parts[1], body);
  if (parts[0] === "runs" && parts[1] && parts[2] === "cancel") {
    const run = await runtime.engine.cancel(parts[1], typeof body.reason === "string" ? body.reason : "cancelled from the CLI");
    if (!run) throw new NotFoundError(`no run ${parts[1]}`);
    await runtime.settled();
    return { run };
  }
  if (parts[0] === "events") return runtime.send(body as unknown as BusEvent);
  throw new NotFoundError(`no such endpoint: ${url.pathname}`);
}

/** Fires a job now: a schedule job as its scheduler would, a manual job with the given params. */
async function trigger(runtime: LocalRuntime, jobName: string, body: Record<string, unknown>): Promise<unknown> {
  const job = runtime.catalog.jobs[jobName];
  if (!job) throw new NotFoundError(`no job named "${jobName}"; jobs: ${Object.keys(runtime.catalog.jobs).join(", ")}`);
  const params = (body.params ?? {}) as Record<string, string>;
  const kinds = new Set(job.triggers.map((t) => t.kind));
  let event: BusEvent;
  if (kinds.has("manual")) {
    event = manualRunEvent(
      { service: runtime.catalog.service, job: jobName, params, ...(typeof body.key === "string" ? { idempotencyKey: body.key } : {}), requestedBy: String(body.requestedBy ?? "cli") },
      { id: randomUUID(), time: Date.now() },
    );
  } else if (kinds.has("schedule")) {
    if (Object.keys(params).length > 0) throw new ValidationError(`job "${jobName}" is a schedule job: it takes no params`, { field: "params" });
    event = runtime.scheduler.fireNow(jobName);
    await runtime.settled();
    return { event };
  } else {
    throw new ValidationError(`job "${jobName}" has neither a schedule nor a manual trigger; it runs when its ${[...kinds].join("/")} trigger fires`);
  }
  return { event, ...(await runtime.send(event)) };
}

export function readDevInfo(infoFile: string): DevInfo | undefined {
  if (!existsSync(infoFile)) return undefined;
  try {
    return JSON.parse(readFileSync(infoFile, "utf8")) as DevInfo;
  } catch {
    return undefined;
  }
}
