/**
 * A local SSM Parameter Store endpoint for GetParameter, as the webhook reads its secret, in SSM's
 * wire protocol (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.GetParameter`, ./aws-json-endpoint.ts).
 *
 * It models what the API reference says (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html):
 * - every put makes a new version, numbered from 1; `LastModifiedDate` (epoch seconds on the wire) is
 *   when that version was created;
 * - `Name` is a name, `name:version` (one version; the answer's `Selector` is `:version`), or the
 *   parameter's ARN; a parameter that does not exist is ParameterNotFound, a version it does not have
 *   ParameterVersionNotFound;
 * - a SecureString's `Value` is its plaintext only with `WithDecryption: true`; without it, the
 *   ciphertext (base64, as SSM answers); `WithDecryption` is ignored for String parameters.
 * Faults: the next n calls answer InternalServerError (HTTP 500, which the SDK retries), or every call
 * AccessDeniedException, as SSM does for a caller whose policies do not allow it.
 */
import { AwsJsonError, startAwsJsonEndpoint, type AwsJsonEndpoint } from "./aws-json-endpoint.ts";

interface Version {
  readonly value: string;
  readonly type: "String" | "SecureString";
  readonly created: Date;
}

export interface FakeSsmCall {
  readonly operation: string;
  readonly name: string;
  readonly withDecryption: boolean;
}

/** `failNext` and `denyAccess` fault it as ./aws-json-endpoint.ts describes. */
export interface FakeSsm extends Pick<AwsJsonEndpoint, "failNext" | "denyAccess" | "close"> {
  /** Point AWS_ENDPOINT_URL_SSM here. */
  readonly url: string;
  /** Every GetParameter call, in order (faulted ones too). */
  readonly calls: FakeSsmCall[];
  /** PutParameter with Overwrite: a new version of `name` holding `value`, created at `at` (default now). Returns the version. */
  putParameter(name: string, value: string, options?: { readonly type?: "String" | "SecureString"; readonly at?: Date }): number;
}

export async function startFakeSsm(options: { readonly region?: string; readonly account?: string } = {}): Promise<FakeSsm> {
  const region = options.region ?? "us-east-1";
  const account = options.account ?? "123456789012";
  const parameters = new Map<string, Version[]>();
  const calls: FakeSsmCall[] = [];
  const arnOf = (name: string) => `arn:aws:ssm:${region}:${account}:parameter/${name.replace(/^\//, "")}`;

  const getParameter = (body: Record<string, unknown>) => {
    const requested = String(body.Name ?? "");
    const arnPrefix = `arn:aws:ssm:${region}:${account}:parameter`;
    const plain = requested.startsWith(arnPrefix) ? requested.slice(arnPrefix.length) : requested;
    const colon = plain.lastIndexOf(":");
    const name = colon < 0 ? plain : plain.slice(0, colon);
    const selector = colon < 0 ? undefined : plain.slice(colon + 1);
    const versions = parameters.get(name) ?? parameters.get(name.replace(/^\//, ""));
    if (versions === undefined) throw new AwsJsonError("ParameterNotFound", "");
    const number = selector === undefined ? versions.length : /^\d+$/.test(selector) ? Number(selector) : Number.NaN;
    const version = versions[number - 1];
    if (version === undefined) throw new AwsJsonError("ParameterVersionNotFound", `Systems Manager could not find version ${selector} of ${name}. Verify the version and try again.`);
    const decrypt = body.WithDecryption === true || version.type === "String";
    return {
      Parameter: {
        Name: name,
        Type: version.type,
        Value: decrypt ? version.value : Buffer.concat([Buffer.from([1, 2, 2, 0]), Buffer.from(version.value)]).toString("base64"),
        Version: number,
        ...(selector !== undefined ? { Selector: `:${selector}` } : {}),
        LastModifiedDate: version.created.getTime() / 1000,
        ARN: arnOf(name),
        DataType: "text",
      },
    };
  };

  const endpoint = await startAwsJsonEndpoint({
    targetPrefix: "AmazonSSM",
    signingName: "ssm",
    operations: { GetParameter: getParameter },
    serverError: "InternalServerError",
    account,
    before: (operation, body) => {
      calls.push({ operation, name: String(body.Name ?? ""), withDecryption: body.WithDecryption === true });
    },
  });
  return {
    url: endpoint.url,
    calls,
    putParameter: (name, value, o = {}) => {
      const versions = parameters.get(name) ?? [];
      versions.push({ value, type: o.type ?? "SecureString", created: o.at ?? new Date() });
      parameters.set(name, versions);
      return versions.length;
    },
    failNext: (n) => endpoint.failNext(n),
    denyAccess: (d) => endpoint.denyAccess(d),
    close: () => endpoint.close(),
  };
}
