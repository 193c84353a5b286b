/**
 * A local Secrets Manager endpoint for GetSecretValue, as the webhook reads its secret, in the
 * service's wire protocol (AWS JSON 1.1, `X-Amz-Target: secretsmanager.GetSecretValue`,
 * ./aws-json-endpoint.ts).
 *
 * It models the versions and staging labels the API reference describes
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html,
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html):
 * - a secret's ARN is its name, `-` and six random characters; `SecretId` is the name, the full ARN,
 *   or the ARN without those six characters;
 * - putting a new value makes a version labelled AWSCURRENT and moves AWSPREVIOUS to the version that
 *   was current (the one labelled AWSPREVIOUS before loses the label);
 * - GetSecretValue answers the version a `VersionStage` (default AWSCURRENT) or `VersionId` names, with
 *   its `CreatedDate` (epoch seconds on the wire), `VersionStages`, and `SecretString` or, for a binary
 *   secret, `SecretBinary` (base64 on the wire); no such secret, or no version with that label, is
 *   ResourceNotFoundException.
 * Faults: the next n calls answer InternalServiceError (HTTP 500, which the SDK retries), or every call
 * AccessDeniedException.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { AwsJsonError, startAwsJsonEndpoint, type AwsJsonEndpoint } from "./aws-json-endpoint.ts";

interface Version {
  readonly id: string;
  readonly string?: string;
  readonly binary?: Uint8Array;
  readonly created: Date;
  stages: string[];
}

export interface FakeSecretsManagerCall {
  readonly operation: string;
  readonly secretId: string;
  readonly versionStage?: string;
}

/** `failNext` and `denyAccess` fault it as ./aws-json-endpoint.ts describes. */
export interface FakeSecretsManager extends Pick<AwsJsonEndpoint, "failNext" | "denyAccess" | "close"> {
  /** Point AWS_ENDPOINT_URL_SECRETS_MANAGER here. */
  readonly url: string;
  /** Every GetSecretValue call, in order (faulted ones too). */
  readonly calls: FakeSecretsManagerCall[];
  /** CreateSecret (when it does not exist) or PutSecretValue: a new AWSCURRENT version created at `at` (default now). Returns the secret's ARN. */
  putSecretValue(name: string, value: string | Uint8Array, options?: { readonly at?: Date }): string;
}

export async function startFakeSecretsManager(options: { readonly region?: string; readonly account?: string } = {}): Promise<FakeSecretsManager> {
  const region = options.region ?? "us-east-1";
  const account = options.account ?? "123456789012";
  const secrets = new Map<string, { readonly arn: string; readonly versions: Version[] }>();
  const calls: FakeSecretsManagerCall[] = [];
  const suffix = () => randomBytes(6).toString("base64").replace(/[^A-Za-z0-9]/g, "A").slice(0, 6);

  const find = (id: string) => [...secrets.entries()].find(([name, s]) => id === name || id === s.arn || (id.startsWith("arn:") && s.arn.startsWith(`${id}-`)))?.[1];

  const getSecretValue = (body: Record<string, unknown>) => {
    const secret = find(String(body.SecretId ?? ""));
    if (secret === undefined) throw new AwsJsonError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    const stage = typeof body.VersionStage === "string" ? body.VersionStage : undefined;
    const id = typeof body.VersionId === "string" ? body.VersionId : undefined;
    const version =
      id !== undefined
        ? secret.versions.find((v) => v.id === id && (stage === undefined || v.stages.includes(stage)))
        : secret.versions.find((v) => v.stages.includes(stage ?? "AWSCURRENT"));
    if (version === undefined) {
      throw new AwsJsonError("ResourceNotFoundException", `Secrets Manager can't find the specified secret value for ${id !== undefined ? `VersionId: ${id}` : `staging label: ${stage ?? "AWSCURRENT"}`}`);
    }
    const name = [...secrets.entries()].find(([, s]) => s === secret)?.[0];
    return {
      ARN: secret.arn,
      Name: name,
      VersionId: version.id,
      ...(version.string !== undefined ? { SecretString: version.string } : { SecretBinary: Buffer.from(version.binary ?? []).toString("base64") }),
      VersionStages: [...version.stages],
      CreatedDate: version.created.getTime() / 1000,
    };
  };

  const endpoint = await startAwsJsonEndpoint({
    targetPrefix: "secretsmanager",
    signingName: "secretsmanager",
    operations: { GetSecretValue: getSecretValue },
    serverError: "InternalServiceError",
    account,
    before: (operation, body) => {
      calls.push({ operation, secretId: String(body.SecretId ?? ""), ...(typeof body.VersionStage === "string" ? { versionStage: body.VersionStage } : {}) });
    },
  });
  return {
    url: endpoint.url,
    calls,
    putSecretValue: (name, value, o = {}) => {
      const secret = secrets.get(name) ?? { arn: `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${suffix()}`, versions: [] };
      secrets.set(name, secret);
      for (const v of secret.versions) {
        const wasCurrent = v.stages.includes("AWSCURRENT");
        v.stages = v.stages.filter((s) => s !== "AWSCURRENT" && s !== "AWSPREVIOUS");
        if (wasCurrent) v.stages.push("AWSPREVIOUS");
      }
      secret.versions.push({ id: randomUUID(), ...(typeof value === "string" ? { string: value } : { binary: value }), created: o.at ?? new Date(), stages: ["AWSCURRENT"] });
      return secret.arn;
    },
    failNext: (n) => endpoint.failNext(n),
    denyAccess: (d) => endpoint.denyAccess(d),
    close: () => endpoint.close(),
  };
}
