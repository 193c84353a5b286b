/**
 * Local endpoints for the two reads `berth doctor` makes of the webhook's secret, in each service's wire
 * protocol (AWS JSON 1.1 through ./aws-json-endpoint.ts), so the real SSMClient and SecretsManagerClient
 * run against them unchanged (AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_SECRETS_MANAGER, or `endpoint`).
 * Metadata only: no value is stored, and no call that returns one is answered (fake-ssm.ts and
 * fake-secrets-manager.ts serve the values the webhook reads).
 *
 * - SSM DescribeParameters (`AmazonSSM.DescribeParameters`,
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html): a
 *   `ParameterFilters` entry `{ Key: "Name", Option: "Equals", Values: [...] }` selects the parameters of
 *   those names → `Parameters` (Name, ARN, Type, KeyId for a SecureString, Version, LastModifiedDate in
 *   epoch seconds, Tier, DataType); none match → an empty list, not an error.
 * - Secrets Manager DescribeSecret (`secretsmanager.DescribeSecret`,
 *   https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html): `SecretId` is a
 *   name or the full ARN → ARN, Name, KmsKeyId (only for a customer managed key), DeletedDate once deletion
 *   is scheduled, VersionIdsToStages; no such secret → ResourceNotFoundException "Secrets Manager can't find
 *   the specified secret.".
 * An operation named in `accessDenied` answers AccessDeniedException, as both do for a caller whose
 * policies do not allow it.
 */
import { randomUUID } from "node:crypto";
import { AwsJsonError, startAwsJsonEndpoint } from "./aws-json-endpoint.ts";

const ACCOUNT = "123456789012";

export interface FakeParameter {
  readonly name: string;
  /** Default SecureString. */
  readonly type?: "String" | "StringList" | "SecureString";
  /** For a SecureString; default alias/aws/ssm. */
  readonly keyId?: string;
  readonly version?: number;
}

export interface FakeSecret {
  readonly name: string;
  /** A customer managed key; absent is the AWS managed key, which DescribeSecret does not name. */
  readonly kmsKeyId?: string;
  /** Set once deletion is scheduled. */
  readonly deletedDate?: Date;
  /** Version stages of its versions; default one version labelled AWSCURRENT. */
  readonly stages?: readonly (readonly string[])[];
}

export interface FakeSecretStores {
  readonly ssmUrl: string;
  readonly secretsManagerUrl: string;
  /** Every call, by operation. */
  readonly calls: { readonly operation: string }[];
  /** The full ARN the fake gave a secret: the name, `-` and six random characters. */
  secretArn(name: string): string;
  close(): Promise<void>;
}

export interface FakeSecretStoresOptions {
  readonly region?: string;
  readonly parameters?: readonly FakeParameter[];
  readonly secrets?: readonly FakeSecret[];
  /** Operations (`DescribeParameters`, `DescribeSecret`) answered with AccessDeniedException. */
  readonly accessDenied?: readonly string[];
}

export async function startFakeSecretStores(options: FakeSecretStoresOptions = {}): Promise<FakeSecretStores> {
  const region = options.region ?? "us-east-1";
  const calls: { operation: string }[] = [];
  const suffixes = new Map((options.secrets ?? []).map((s) => [s.name, randomUUID().replace(/-/g, "").slice(0, 6)]));
  const secretArn = (name: string) => `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${suffixes.get(name) ?? "XXXXXX"}`;
  const modified = Math.floor(Date.parse("2026-11-20T09:30:00Z") / 1000);

  const describeParameters = (body: Record<string, unknown>) => {
    const filters = (body.ParameterFilters ?? []) as { Key: string; Option?: string; Values: string[] }[];
    const names = filters.filter((f) => f.Key === "Name" && (f.Option ?? "Equals") === "Equals").flatMap((f) => f.Values);
    const found = (options.parameters ?? []).filter((p) => names.length === 0 || names.includes(p.name));
    return {
      Parameters: found.map((p) => ({
        Name: p.name,
        ARN: `arn:aws:ssm:${region}:${ACCOUNT}:parameter/${p.name.replace(/^\//, "")}`,
        Type: p.type ?? "SecureString",
        ...((p.type ?? "SecureString") === "SecureString" ? { KeyId: p.keyId ?? "alias/aws/ssm" } : {}),
        LastModifiedDate: modified,
        LastModifiedUser: `arn:aws:iam::${ACCOUNT}:user/ops`,
        Version: p.version ?? 1,
        Tier: "Standard",
        Policies: [],
        DataType: "text",
      })),
    };
  };

  const describeSecret = (body: Record<string, unknown>) => {
    const id = String(body.SecretId ?? "");
    const secret = (options.secrets ?? []).find((s) => id === s.name || id === secretArn(s.name));
    if (secret === undefined) throw new AwsJsonError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    const stages = secret.stages ?? [["AWSCURRENT"]];
    return {
      ARN: secretArn(secret.name),
      Name: secret.name,
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate.getTime() / 1000 } : {}),
      LastChangedDate: modified,
      CreatedDate: modified,
      VersionIdsToStages: Object.fromEntries(stages.map((s, i) => [`0000000${i}-aaaa-bbbb-cccc-dddddddddddd`, [...s]])),
    };
  };

  const before = (service: string) => (operation: string) => {
    calls.push({ operation });
    if (options.accessDenied?.includes(operation)) throw new AwsJsonError("AccessDeniedException", `User: arn:aws:iam::${ACCOUNT}:user/ci is not authorized to perform: ${service}:${operation}`);
  };
  const [ssm, secretsManager] = await Promise.all([
    startAwsJsonEndpoint({ targetPrefix: "AmazonSSM", signingName: "ssm", operations: { DescribeParameters: describeParameters }, before: before("ssm") }),
    startAwsJsonEndpoint({ targetPrefix: "secretsmanager", signingName: "secretsmanager", operations: { DescribeSecret: describeSecret }, before: before("secretsmanager") }),
  ]);
  return {
    ssmUrl: ssm.url,
    secretsManagerUrl: secretsManager.url,
    calls,
    secretArn,
    close: async () => {
      await Promise.all([ssm.close(), secretsManager.close()]);
    },
  };
}
