/**
 * A local STS endpoint for GetCallerIdentity over STS's query protocol, so the real SDK v3 STSClient
 * (form serialisation, SigV4, XML parsing, error mapping) runs against it unchanged through
 * AWS_ENDPOINT_URL_STS.
 *
 * Requests are `POST /`, `application/x-www-form-urlencoded`: `Action=GetCallerIdentity&Version=2011-06-15`.
 * The answer is `<GetCallerIdentityResponse><GetCallerIdentityResult>` with `Arn`, `UserId` and `Account`
 * in the 2011-06-15 namespace (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
 * Who is calling is the access key that signed the request: a key the fake does not know is the common
 * error InvalidClientTokenId, HTTP 403 (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html),
 * an unsigned request MissingAuthenticationToken. GetCallerIdentity needs no permission, so nothing
 * here answers AccessDenied.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeIdentity {
  /** `arn:aws:iam::<account>:user/<name>`, or an assumed role's session ARN. */
  readonly arn: string;
  readonly userId?: string;
}

export interface StsCall {
  readonly action: string;
  readonly accessKeyId?: string;
  /** The region of the request's SigV4 credential scope. */
  readonly region?: string;
}

export interface FakeSts {
  /** Pass as AWS_ENDPOINT_URL_STS. */
  readonly url: string;
  readonly calls: StsCall[];
  close(): Promise<void>;
}

const NS = "https://sts.amazonaws.com/doc/2011-06-15/";

const escapeXml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function errorXml(code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

/** The callers the account knows, by the access key id that signs their requests. */
export async function startFakeSts(identities: Readonly<Record<string, FakeIdentity>>): Promise<FakeSts> {
  const calls: StsCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestId = randomUUID();
      const xml = (status: number, body: string) => res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId }).end(body);
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const action = form.get("Action") ?? "";
      const scope = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/sts\/aws4_request, /.exec(req.headers.authorization ?? "");
      calls.push({ action, ...(scope ? { accessKeyId: scope[1]!, region: scope[2]! } : {}) });
      if (!scope) return xml(403, errorXml("MissingAuthenticationToken", "Request is missing Authentication Token", requestId));
      if (req.method !== "POST" || form.get("Version") !== "2011-06-15" || action !== "GetCallerIdentity") {
        return xml(400, errorXml("InvalidAction", `Could not find operation ${action} for version ${form.get("Version")}`, requestId));
      }
      const identity = identities[scope[1]!];
      if (identity === undefined) return xml(403, errorXml("InvalidClientTokenId", "The security token included in the request is invalid.", requestId));
      const account = identity.arn.split(":")[4] ?? "";
      xml(
        200,
        `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult><Arn>${escapeXml(identity.arn)}</Arn><UserId>${escapeXml(identity.userId ?? "AIDAFAKEUSERID")}</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
