/**
 * The webhook function: GitHub and GitLab deliveries in through a Lambda
 * function URL, a `Git Push` event on berth's bus out (handlers/webhook.ts).
 *
 * The stack has it when a job has a `git` trigger for GitHub or GitLab (their
 * pushes have no other way in; CodeCommit's arrive natively on the default
 * bus), and when berth.yml has a `webhook:` block, even with no such job: a
 * function URL is generated once and lost with its function, so a stage whose
 * last GitHub job goes away keeps the URL the repositories were given.
 *
 * The URL's auth type is NONE: the signature over the body is the
 * authentication (GitHub's HMAC, GitLab's token), so Lambda must let anyone
 * call it. osls's `url: true` makes the AWS::Lambda::Url and both resource
 * policy statements AWS requires of a new function URL
 * (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html):
 * `lambda:InvokeFunctionUrl` for FunctionUrlAuthType NONE, and
 * `lambda:InvokeFunction` only when invoked through the function URL
 * (InvokedViaFunctionUrl), so nobody can call the function directly.
 *
 * Its role reads exactly the secret berth.yml names and publishes only
 * `Git Push` events, only to berth's bus.
 */
import type { Catalog, GitProvider, WebhookConfig } from "../../core/catalog/types.ts";
import { DETAIL_TYPE, GIT_SOURCE } from "../../core/events/berth-events.ts";
import { arnOf, sub, type CfnString, type Json, type Statement } from "./cfn.ts";
import { logGroupArn, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";

/** The providers whose pushes arrive through the webhook. */
export type WebhookProvider = Exclude<GitProvider, "codecommit">;

/** The providers the catalog's git triggers name, of those that come through the webhook. */
export function webhookProviders(catalog: Catalog): WebhookProvider[] {
  const used = new Set<WebhookProvider>();
  for (const job of Object.values(catalog.jobs)) {
    for (const t of job.triggers) if (t.kind === "git" && t.provider !== "codecommit") used.add(t.provider);
  }
  return (["github", "gitlab"] as const).filter((p) => used.has(p));
}

export function hasWebhook(catalog: Catalog): boolean {
  return catalog.webhook !== undefined || webhookProviders(catalog).length > 0;
}

/** Where each provider's deliveries go, under the function URL (which ends in `/`). */
export const WEBHOOK_PATHS: Readonly<Record<WebhookProvider, string>> = { github: "github", gitlab: "gitlab" };

/** The webhook's own environment; absent secret variables mean no secret is configured, and the function refuses every delivery. */
export function webhookSecretEnvironment(webhook: WebhookConfig | undefined): Record<string, Json> {
  if (webhook === undefined) return {};
  return {
    BERTH_WEBHOOK_SECRET_SOURCE: webhook.secret.source,
    BERTH_WEBHOOK_SECRET_NAME: webhook.secret.name,
    BERTH_WEBHOOK_ROTATION_SECONDS: String(webhook.rotation),
  };
}

/** `Fn::Sub` where the text has pseudo parameters in it, the text itself where it has none. */
const text = (s: string): CfnString => (s.includes("${") ? sub(s) : s);

/** Partition, region and account of an ARN berth.yml gives; this stack's for a name. */
function placeOf(arn: string | undefined): { partition: string; region: string; account: string } {
  if (arn === undefined) return { partition: "${AWS::Partition}", region: "${AWS::Region}", account: "${AWS::AccountId}" };
  const [, partition, , region, account] = arn.split(":");
  return { partition: partition!, region: region!, account: account! };
}

/**
 * The ARN IAM matches the secret's requests against:
 * - an SSM parameter `/a/b` is `parameter/a/b` (the leading slash is not repeated):
 *   https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html#awssystemsmanager-resources-for-iam-policies
 * - a Secrets Manager secret named `n` is `secret:n-` and the six random characters Secrets Manager adds,
 *   matched exactly by `??????` (a `*` would also match `n-other-AbCdEf`):
 *   https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html
 * A parameter or secret given as an ARN is that ARN.
 */
export function webhookSecretArn(webhook: WebhookConfig): CfnString {
  const { source, name } = webhook.secret;
  if (name.startsWith("arn:")) return name;
  const { partition, region, account } = placeOf(undefined);
  return source === "ssm"
    ? sub(`arn:${partition}:ssm:${region}:${account}:parameter/${name.replace(/^\//, "")}`)
    : sub(`arn:${partition}:secretsmanager:${region}:${account}:secret:${name}-??????`);
}

/**
 * What reading the secret calls: GetParameter with WithDecryption, or GetSecretValue (AWSCURRENT, and
 * AWSPREVIOUS for the rotation window). Only these, on only the secret berth.yml names.
 */
export const SECRET_READ_ACTIONS: Readonly<Record<WebhookConfig["secret"]["source"], readonly string[]>> = {
  ssm: ["ssm:GetParameter"],
  secretsmanager: ["secretsmanager:GetSecretValue"],
};

/**
 * The encryption context each service decrypts a value under, which names the parameter or secret:
 * https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html#parameter-store-encryption-context
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-encryption-context
 */
const ENCRYPTION_CONTEXT_KEY: Readonly<Record<WebhookConfig["secret"]["source"], string>> = {
  ssm: "kms:EncryptionContext:PARAMETER_ARN",
  secretsmanager: "kms:EncryptionContext:SecretARN",
};

export const WEBHOOK_KEY_NOTE =
  "kms:Decrypt is granted on every key (key/*) of the secret's account and region: berth.yml names the parameter or secret, not the KMS key " +
  "that encrypts it. The conditions keep it to decryptions that SSM or Secrets Manager make (kms:ViaService) for exactly that parameter or " +
  "secret (its ARN in the encryption context). With the AWS managed key (aws/ssm, aws/secretsmanager) the key policy already allows this; " +
  "a customer managed key's policy must let IAM policies of the account grant its use.";

export function webhookStatements(catalog: Catalog, names: StackNames): Statement[] {
  const statements: Statement[] = [
    { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [logGroupArn(names.logGroup("webhook"))] },
    {
      Sid: "PublishGitPushesToBerthBus",
      Effect: "Allow",
      Action: ["events:PutEvents"],
      Resource: [arnOf(LOGICAL.bus)],
      // Only the normalized push: a webhook cannot put a manual run or a run state change on the bus.
      Condition: { StringEquals: { "events:source": [GIT_SOURCE], "events:detail-type": [DETAIL_TYPE.gitPush] } },
    },
  ];
  const webhook = catalog.webhook;
  if (webhook === undefined) return statements;
  const secret = webhookSecretArn(webhook);
  const given = webhook.secret.name.startsWith("arn:") ? webhook.secret.name : undefined;
  const { partition, region, account } = placeOf(given);
  const service = webhook.secret.source === "ssm" ? "ssm" : "secretsmanager";
  const exact = given !== undefined || webhook.secret.source === "ssm";
  return [
    ...statements,
    { Sid: "ReadWebhookSecret", Effect: "Allow", Action: [...SECRET_READ_ACTIONS[webhook.secret.source]], Resource: [secret] },
    {
      Sid: "DecryptWebhookSecretOnly",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [text(`arn:${partition}:kms:${region}:${account}:key/*`)],
      Condition: {
        StringEquals: { "kms:ViaService": text(`${service}.${region}.amazonaws.com`), ...(exact ? { [ENCRYPTION_CONTEXT_KEY[webhook.secret.source]]: secret } : {}) },
        ...(exact ? {} : { StringLike: { [ENCRYPTION_CONTEXT_KEY[webhook.secret.source]]: secret } }),
      },
    },
  ];
}
