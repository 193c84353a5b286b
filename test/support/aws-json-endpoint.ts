/**
 * The skeleton of a local endpoint for a service that speaks AWS JSON 1.1 (`POST /`,
 * `X-Amz-Target: <prefix>.<Operation>`, `Content-Type: application/x-amz-json-1.1`, errors as
 * `{"__type", "message"}` with HTTP 400 for a client fault and 500 for a server fault), so the real
 * SDK v3 client — signing, serialisation, error parsing, retries — runs against it unchanged
 * (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html). Each request must be SigV4-signed
 * for the service's signing name. Used by fake-ssm.ts and fake-secrets-manager.ts.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface AwsJsonEndpoint {
  readonly url: string;
  /** The next `n` calls answer HTTP 500 with `serverError` before doing anything (the SDK retries those). */
  failNext(n: number): void;
  /** From now on every call is refused with AccessDeniedException, as for a caller whose policies do not allow it (false: allowed again). */
  denyAccess(denied: boolean): void;
  close(): Promise<void>;
}

/**
 * Serves `operations` (by operation name) under `targetPrefix`; `before` runs first for every
 * request, faulted ones too (to record it, or to refuse it by throwing an AwsJsonError).
 */
export async function startAwsJsonEndpoint(options: {
  readonly targetPrefix: string;
  readonly signingName: string;
  readonly operations: Readonly<Record<string, (body: Record<string, unknown>) => unknown>>;
  readonly before?: (operation: string, body: Record<string, unknown>) => void;
  /** The service's own server-side error for `failNext`; default InternalFailure, the AWS common error. */
  readonly serverError?: string;
  readonly account?: string;
}): Promise<AwsJsonEndpoint> {
  let failures = 0;
  let denied = false;
  const signed = new RegExp(`^AWS4-HMAC-SHA256 Credential=[^/]+/\\d{8}/[a-z0-9-]+/${options.signingName}/aws4_request, SignedHeaders=.+, Signature=[0-9a-f]{64}$`);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const answer = (status: number, body: unknown) =>
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": randomUUID() }).end(JSON.stringify(body));
      try {
        const target = String(req.headers["x-amz-target"] ?? "");
        if (!signed.test(req.headers.authorization ?? "")) throw new AwsJsonError("MissingAuthenticationTokenException", `the request is not signed for ${options.signingName}`);
        if (req.method !== "POST" || !target.startsWith(`${options.targetPrefix}.`)) throw new AwsJsonError("UnknownOperationException", `${req.method} ${target}`);
        const operation = target.slice(options.targetPrefix.length + 1);
        const handler = options.operations[operation];
        if (handler === undefined) throw new AwsJsonError("UnknownOperationException", `${target} is not an operation this endpoint answers`);
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
        options.before?.(operation, body);
        if (failures > 0) {
          failures--;
          throw new AwsJsonError(options.serverError ?? "InternalFailure", "An error occurred on the server side.", 500);
        }
        if (denied) {
          throw new AwsJsonError("AccessDeniedException", `User: arn:aws:sts::${options.account ?? "123456789012"}:assumed-role/webhook/fn is not authorized to perform: ${options.signingName}:${operation}`);
        }
        answer(200, handler(body));
      } catch (e) {
        if (!(e instanceof AwsJsonError)) {
          answer(500, { __type: "InternalFailure", message: String(e) });
          return;
        }
        answer(e.status, { __type: e.type, message: e.message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failNext: (n) => {
      failures = n;
    },
    denyAccess: (d) => {
      denied = d;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
