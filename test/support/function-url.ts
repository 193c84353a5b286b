/**
 * A Lambda function URL on this machine: a local HTTP server that turns each request into the
 * event Lambda gives a function behind a function URL, payload format 2.0, invokes the built bundle
 * with it in an execution environment of its own, and turns the function's result into the HTTP
 * response, as https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
 * documents both:
 *
 * - request: `version` "2.0", `routeKey` "$default", `rawPath`, `rawQueryString` (without "?"),
 *   `cookies` (the Cookie header's cookies, which then is not among the headers), `headers` (names in
 *   lower case, a repeated header's values joined with ","), `queryStringParameters` (only when there
 *   is a query; repeated values joined with ","), `requestContext` (`accountId` "anonymous" for auth
 *   type NONE, `apiId` and `domainPrefix` the URL id, `domainName` `<url-id>.lambda-url.<region>.on.aws`,
 *   `http` { method, path, protocol, sourceIp, userAgent }, `requestId`, `routeKey`, `stage`, `time`
 *   as `12/Mar/2020:19:03:58 +0000`, `timeEpoch`), `body` (absent without one) and `isBase64Encoded`;
 *   a binary body is base64-encoded, a text one (a `text/*` or `application/json` content type, valid
 *   UTF-8) is passed as its text;
 * - response: an object with `statusCode` is taken as `{ statusCode, headers, body, cookies,
 *   isBase64Encoded }` (cookies become Set-Cookie headers); any other result is a 200
 *   `application/json` response whose body is the result as JSON;
 * - a request whose event exceeds Lambda's 6 MB invocation payload is refused with 413 before the
 *   function runs; a function that fails (at init or in the invocation) is answered 502.
 *
 * The bundle runs as Lambda runs it (like ../handlers/lambda.ts): copied alone into a package folder
 * with the files given (the compiled catalog), or in the function's own deployment package, unzipped
 * (its bundle, the chunks the bundle imports and its catalog), imported by a fresh Node process — one
 * execution environment, warm across requests, which it handles one at a time — with only the
 * environment given. What the process writes to stdout and stderr is the function's log.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Lambda's synchronous invocation payload limit (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
export const MAX_INVOCATION_BYTES = 6 * 1024 * 1024;

export interface FunctionUrlOptions {
  /** The built bundle, e.g. dist/handlers/webhook.mjs, copied alone into a package folder; or `package`. */
  readonly bundle?: URL;
  /** The function's deployment package, unzipped, run where it is (LAMBDA_TASK_ROOT): its folder and the bundle's path in it. */
  readonly package?: { readonly root: string; readonly bundle: string };
  /** Files of the function's package beside the bundle, by name (the compiled catalog). */
  readonly files?: Readonly<Record<string, string>>;
  /** The function's environment (nothing of this process's is passed on but PATH). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly functionName?: string;
  readonly region?: string;
  /** What `context.getRemainingTimeInMillis` counts down from. Default 10 s. */
  readonly timeoutSeconds?: number;
}

export interface FunctionUrl {
  /** `http://127.0.0.1:<port>`: the function URL, `/` its root. */
  readonly url: string;
  /** The events the function was invoked with, in order. */
  readonly events: readonly Record<string, unknown>[];
  /** Everything the function wrote to stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines so far. */
  lines(): Record<string, unknown>[];
  close(): Promise<void>;
}

const RUNNER = `
const { BUNDLE, AWS_LAMBDA_FUNCTION_NAME: fn, AWS_REGION: region } = process.env;
const describe = (e) => ({ errorType: e?.name ?? typeof e, errorMessage: e?.message ?? String(e) });
let handler, initError;
try {
  ({ handler } = await import(BUNDLE));
} catch (e) {
  initError = describe(e);
}
let n = 0;
process.on("message", async ({ id, event, requestId, deadline }) => {
  if (initError) return process.send({ id, error: initError });
  const context = {
    awsRequestId: requestId, functionName: fn, functionVersion: "$LATEST", memoryLimitInMB: "512",
    invokedFunctionArn: "arn:aws:lambda:" + region + ":123456789012:function:" + fn,
    logGroupName: "/aws/lambda/" + fn, logStreamName: "2026/01/01/[$LATEST]" + ++n, callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  try {
    process.send({ id, result: (await handler(event, context)) ?? null });
  } catch (e) {
    process.send({ id, error: describe(e) });
  }
});
process.send({ ready: true });
`;

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"]);
const URL_ID = "abcdefghijklmnopqrstuvwxyz012345";

/** Lambda's request time: `12/Mar/2020:19:03:58 +0000`. */
function requestTime(ms: number): string {
  const d = new Date(ms);
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getUTCMonth()];
  const two = (v: number) => String(v).padStart(2, "0");
  return `${two(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

function isText(contentType: string | undefined, body: Buffer): boolean {
  const media = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!(media.startsWith("text/") || media === "application/json")) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

/** The payload format 2.0 event of a request. */
export function functionUrlEvent(req: IncomingMessage, body: Buffer, region: string, now = Date.now()): Record<string, unknown> {
  const target = req.url ?? "/";
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQueryString = q < 0 ? "" : target.slice(q + 1);
  const domainName = `${URL_ID}.lambda-url.${region}.on.aws`;
  const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1";
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    if (HOP_BY_HOP.has(name)) continue;
    if (name === "cookie") cookies.push(...value.split(/;\s*/).filter((c) => c !== ""));
    else headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  Object.assign(headers, {
    host: domainName,
    "x-forwarded-proto": "https",
    "x-forwarded-port": "443",
    "x-forwarded-for": sourceIp,
    "x-amzn-trace-id": `Root=1-${Math.floor(now / 1000).toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)}`,
  });
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;
  const text = isText(headers["content-type"], body);
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(rawQueryString !== "" ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: "anonymous",
      apiId: URL_ID,
      domainName,
      domainPrefix: URL_ID,
      http: { method: req.method ?? "GET", path: rawPath, protocol: `HTTP/${req.httpVersion}`, sourceIp, userAgent: headers["user-agent"] ?? "" },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: requestTime(now),
      timeEpoch: now,
    },
    ...(body.length > 0 ? { body: text ? body.toString("utf8") : body.toString("base64") } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

/** The HTTP response Lambda makes of a function's result. */
function writeResult(res: ServerResponse, result: unknown): void {
  const r = result as { statusCode?: unknown; headers?: Record<string, string>; body?: unknown; cookies?: string[]; isBase64Encoded?: boolean } | null;
  if (r === null || typeof r !== "object" || typeof r.statusCode !== "number") {
    const body = JSON.stringify(result);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    return;
  }
  const body = typeof r.body === "string" ? Buffer.from(r.body, r.isBase64Encoded ? "base64" : "utf8") : Buffer.alloc(0);
  const headers: Record<string, string | string[]> = { ...(r.headers ?? {}), "content-length": String(body.length) };
  if (r.cookies?.length) headers["set-cookie"] = r.cookies;
  res.writeHead(r.statusCode, headers).end(body);
}

export async function startFunctionUrl(options: FunctionUrlOptions): Promise<FunctionUrl> {
  if ((options.bundle === undefined) === (options.package === undefined)) throw new Error("startFunctionUrl: give the function's bundle or its package, one of them");
  const dir = mkdtempSync(join(tmpdir(), "berth-function-url-"));
  const name = options.functionName ?? "berth-test-webhook";
  const region = options.region ?? options.env.AWS_REGION ?? "us-east-1";
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  // The package folder: a new one holding the bundle alone, or the function's own.
  const root = options.package?.root ?? dir;
  const bundle = options.package !== undefined ? join(root, options.package.bundle) : join(dir, "handler.mjs");
  if (options.bundle !== undefined) copyFileSync(options.bundle, bundle);
  for (const [file, content] of Object.entries(options.files ?? {})) writeFileSync(join(root, file), content);
  writeFileSync(join(dir, "runner.mjs"), RUNNER);

  const env: Record<string, string> = {};
  const merged = {
    PATH: process.env.PATH,
    LAMBDA_TASK_ROOT: root,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_REGION: region,
    ...options.env,
    BUNDLE: pathToFileURL(bundle).href,
  };
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) env[k] = v;

  let output = "";
  // cwd is the package: nothing outside it (this checkout's node_modules) can be resolved from there.
  const child: ChildProcess = fork(join(dir, "runner.mjs"), [], { cwd: root, env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
  child.stdout?.on("data", (c: Buffer) => (output += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString("utf8")));
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`the function's process exited (${code}) before it was ready:\n${output}`)));
  });

  const pending = new Map<string, (reply: { result?: unknown; error?: unknown }) => void>();
  child.on("message", (m: { id?: string; result?: unknown; error?: unknown }) => {
    if (m.id !== undefined) pending.get(m.id)?.(m);
  });
  const invoke = (event: Record<string, unknown>): Promise<{ result?: unknown; error?: unknown }> =>
    new Promise((resolve) => {
      const id = randomUUID();
      pending.set(id, (reply) => {
        pending.delete(id);
        resolve(reply);
      });
      const requestId = (event.requestContext as { requestId: string }).requestId;
      child.send({ id, event, requestId, deadline: Date.now() + timeoutMs });
    });

  const events: Record<string, unknown>[] = [];
  // One execution environment handles one request at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const event = functionUrlEvent(req, Buffer.concat(chunks), region);
      if (Buffer.byteLength(JSON.stringify(event)) > MAX_INVOCATION_BYTES) {
        const body = JSON.stringify({ Message: "Request must be smaller than 6291456 bytes for the InvokeFunction operation" });
        res.writeHead(413, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
        return;
      }
      const turn = queue.then(async () => {
        events.push(event);
        const reply = await invoke(event);
        if (reply.error !== undefined) {
          const body = JSON.stringify({ Message: "Internal Server Error" });
          res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
        } else writeResult(res, reply.result);
      });
      queue = turn.catch(() => undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events,
    output: () => output,
    lines: () =>
      output.split("\n").flatMap((line) => {
        if (!line.startsWith("{")) return [];
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
