/**
 * A local HTTP endpoint speaking CloudFormation's query protocol for DescribeStacks, so the real
 * SDK v3 CloudFormationClient (form serialisation, XML parsing, error mapping, SigV4) runs against
 * it unchanged through AWS_ENDPOINT_URL_CLOUDFORMATION.
 *
 * Requests are `POST /`, `application/x-www-form-urlencoded`: `Action=DescribeStacks&StackName=…&Version=2010-05-15`.
 * Answers are XML in the 2010-05-15 namespace, as the API reference shows them:
 * `<DescribeStacksResponse><DescribeStacksResult><Stacks><member>…` with each output as
 * `<Outputs><member><OutputKey/><OutputValue/></member></Outputs>`; errors are HTTP 400
 * `<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 * A stack name no stack has is the documented ValidationError "Stack with id <name> does not exist"
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html).
 *
 * Stacks live in a region, as on AWS: a request finds only the stacks of the region its
 * signature is scoped to (the credential scope of the Authorization header), and every request
 * is recorded with that region and the access key that signed it.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeStack {
  readonly name: string;
  readonly region: string;
  /** Default CREATE_COMPLETE. */
  readonly status?: string;
  readonly outputs?: Readonly<Record<string, string>>;
}

export interface CloudFormationCall {
  readonly action: string;
  readonly stackName?: string;
  /** The region of the request's SigV4 credential scope. */
  readonly region?: string;
  /** The access key id that signed the request. */
  readonly accessKeyId?: string;
}

/** An error the next calls answer with, e.g. `{ status: 403, code: "AccessDenied", message: "User: … is not authorized …" }`. */
export interface FakeCloudFormationError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export interface FakeCloudFormation {
  readonly url: string;
  readonly calls: CloudFormationCall[];
  addStack(stack: FakeStack): void;
  /** Answers every call with `error` from now on; undefined answers normally again. */
  failWith(error: FakeCloudFormationError | undefined): void;
  close(): Promise<void>;
}

const NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
const ACCOUNT = "123456789012";

const escapeXml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

interface StoredStack extends FakeStack {
  readonly id: string;
  readonly createdAt: string;
}

function memberXml(s: StoredStack): string {
  const outputs = Object.entries(s.outputs ?? {});
  return [
    "<member>",
    `<StackName>${escapeXml(s.name)}</StackName>`,
    `<StackId>${escapeXml(s.id)}</StackId>`,
    `<CreationTime>${s.createdAt}</CreationTime>`,
    `<StackStatus>${escapeXml(s.status ?? "CREATE_COMPLETE")}</StackStatus>`,
    "<DisableRollback>false</DisableRollback>",
    outputs.length === 0
      ? ""
      : `<Outputs>${outputs.map(([k, v]) => `<member><OutputKey>${escapeXml(k)}</OutputKey><OutputValue>${escapeXml(v)}</OutputValue></member>`).join("")}</Outputs>`,
    "</member>",
  ].join("");
}

function errorXml(code: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20261201/eu-west-1/cloudformation/aws4_request, …` */
function credentialScope(authorization: string | undefined): { accessKeyId?: string; region?: string } {
  const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(authorization ?? "");
  return m ? { accessKeyId: m[1]!, region: m[2]! } : {};
}

export async function startFakeCloudFormation(): Promise<FakeCloudFormation> {
  const stacks: StoredStack[] = [];
  const calls: CloudFormationCall[] = [];
  let failure: FakeCloudFormationError | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestId = randomUUID();
      const xml = (status: number, body: string) => res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const action = form.get("Action") ?? "";
      const stackName = form.get("StackName") ?? undefined;
      const { accessKeyId, region } = credentialScope(req.headers.authorization);
      calls.push({ action, ...(stackName !== undefined ? { stackName } : {}), ...(region !== undefined ? { region } : {}), ...(accessKeyId !== undefined ? { accessKeyId } : {}) });
      if (failure) return xml(failure.status, errorXml(failure.code, failure.message, requestId));
      if (req.method !== "POST" || form.get("Version") !== "2010-05-15" || action !== "DescribeStacks") {
        return xml(400, errorXml("InvalidAction", "The action or operation requested is invalid. Verify that the action is typed correctly.", requestId));
      }
      const inRegion = stacks.filter((s) => s.region === region);
      const found = stackName === undefined ? inRegion : inRegion.filter((s) => s.name === stackName || s.id === stackName);
      if (stackName !== undefined && found.length === 0) return xml(400, errorXml("ValidationError", `Stack with id ${stackName} does not exist`, requestId));
      xml(
        200,
        `<DescribeStacksResponse xmlns="${NS}"><DescribeStacksResult><Stacks>${found.map(memberXml).join("")}</Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></DescribeStacksResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    addStack: (stack) => stacks.push({ ...stack, id: `arn:aws:cloudformation:${stack.region}:${ACCOUNT}:stack/${stack.name}/${randomUUID()}`, createdAt: new Date().toISOString() }),
    failWith: (error) => {
      failure = error;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
