/**
 * The webhook's checks: where GitHub and GitLab deliver (the stack's BerthWebhookUrl output), and the
 * secret the function verifies deliveries with, read as metadata only (doctor never reads the value):
 *
 * | check          | call                                                                  | fails when |
 * |----------------|-----------------------------------------------------------------------|------------|
 * | webhook        | none: the stack check's output                                        | never: it says where to paste the URL |
 * | webhook secret | SSM DescribeParameters (a Name Equals filter), or Secrets Manager DescribeSecret | no `webhook:` in berth.yml, no such parameter or secret, a parameter that is not a SecureString, a secret scheduled for deletion or without a current value |
 *
 * GetParameter cannot show a SecureString's metadata without decrypting its value; DescribeParameters gives the
 * type, key and version of a parameter without it
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html), DescribeSecret a
 * secret's ARN, key, deletion date and version stages
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html).
 */
import { DescribeSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DescribeParametersCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { WEBHOOK_PATHS, type WebhookProvider } from "../../aws/stack/webhook.ts";
import type { WebhookConfig } from "../../core/catalog/types.ts";
import type { Check } from "./report.ts";
import type { WebhookTarget } from "./targets.ts";

export interface SecretClients {
  readonly ssm: SSMClient;
  readonly secretsManager: SecretsManagerClient;
}

/** Where the checks look; the fixes that are AWS CLI commands name its region and profile. */
export interface SecretPlace {
  readonly region: string;
  readonly profile?: string;
  readonly stage?: string;
}

const cli = (place: SecretPlace): string => ` --region ${place.region}${place.profile !== undefined ? ` --profile ${place.profile}` : ""}`;
const jobs = (names: readonly string[]): string => `${names.length === 1 ? "job" : "jobs"} ${names.join(", ")}`;

/**
 * Where to paste the URL, in each provider's own words: GitHub's repository webhooks (its default content type is
 * a form, which the webhook refuses) and GitLab's project webhooks.
 */
const SETUP: Readonly<Record<WebhookProvider, (url: string, secret: string) => string>> = {
  github: (url, secret) => `in GitHub, the repository's Settings → Webhooks → Add webhook: Payload URL ${url}, Content type application/json, Secret ${secret}, "Just the push event"`,
  gitlab: (url, secret) => `in GitLab, the project's Settings → Webhooks → Add new webhook: URL ${url}, Secret token ${secret}, Trigger "Push events" and "Tag push events"`,
};

/** The function URL ends in `/` (https://<id>.lambda-url.<region>.on.aws/); each provider has its path under it. */
export function webhookUrls(url: string): Record<WebhookProvider, string> {
  const base = url.endsWith("/") ? url : `${url}/`;
  return { github: `${base}${WEBHOOK_PATHS.github}`, gitlab: `${base}${WEBHOOK_PATHS.gitlab}` };
}

export function webhookUrlCheck(url: string, target: WebhookTarget): Check {
  return {
    name: "webhook",
    service: "CloudFormation",
    permission: "cloudformation:DescribeStacks",
    async run() {
      const urls = webhookUrls(url);
      const secret = target.config !== undefined ? `the value of ${described(target.config)}` : "the webhook secret (see the webhook secret check)";
      const used = (Object.keys(target.repos) as WebhookProvider[]).filter((p) => (target.repos[p] ?? []).length > 0);
      if (used.length === 0) {
        return { ok: true, detail: `${url}: no job is triggered by a GitHub or GitLab push now, so deliveries are answered 200 with that reason; ${SETUP.github(urls.github, secret)}; ${SETUP.gitlab(urls.gitlab, secret)}` };
      }
      return { ok: true, detail: used.map((p) => `for ${target.repos[p]!.join(", ")}, ${SETUP[p](urls[p], secret)}`).join("; ") };
    },
  };
}

function named(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}

/** Where the function reads the secret, in berth.yml's words. */
const described = (config: WebhookConfig): string => `${config.secret.source}:${config.secret.name}`;

export function webhookSecretCheck(clients: SecretClients, target: WebhookTarget, place: SecretPlace, service: string): Check {
  const config = target.config;
  const who = target.jobs.length > 0 ? `, so ${jobs(target.jobs)} never ${target.jobs.length === 1 ? "runs" : "run"} from a push` : "";
  const deploy = `\`berth deploy --stage ${place.stage ?? "<stage>"}\``;
  const give = "enter the same value as the webhook's secret in GitHub or GitLab";
  if (config === undefined) {
    const parameter = `/${service}/webhook-secret`;
    return {
      name: "webhook secret",
      service: "berth.yml",
      permission: "none",
      async run() {
        return {
          ok: false,
          detail: `berth.yml has no webhook: secret: the webhook refuses every delivery${who}`,
          fix:
            `create one (\`aws ssm put-parameter --name ${parameter} --type SecureString --value "$(openssl rand -hex 32)"${cli(place)}\`), ` +
            `add \`webhook: { secret: "ssm:${parameter}" }\` to berth.yml and ${deploy}, then ${give}`,
        };
      },
    };
  }
  return config.secret.source === "ssm" ? parameterCheck(clients, config, place, who, give) : secretCheck(clients, config, place, who, give);
}

function parameterCheck(clients: SecretClients, config: WebhookConfig, place: SecretPlace, who: string, give: string): Check {
  const name = config.secret.name;
  return {
    name: `webhook secret ${described(config)}`,
    service: "SSM Parameter Store",
    // DescribeParameters has no resource type: it is granted on "*".
    permission: "ssm:DescribeParameters (on resource *)",
    async run(signal) {
      const out = await clients.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: "Name", Option: "Equals", Values: [name] }] }), { abortSignal: signal });
      const parameter = out.Parameters?.find((p) => p.Name === name);
      const create = `\`aws ssm put-parameter --name ${name} --type SecureString --value "$(openssl rand -hex 32)"${cli(place)}\``;
      if (parameter === undefined) {
        return { ok: false, detail: `no parameter ${name} in ${place.region}: the webhook cannot verify any delivery${who}`, fix: `create it (${create}), then ${give}` };
      }
      if (parameter.Type !== "SecureString") {
        return {
          ok: false,
          detail: `${name} is a ${parameter.Type} parameter: the webhook secret is stored unencrypted, readable by anyone allowed ssm:GetParameter`,
          fix: `store it as a SecureString: \`aws ssm delete-parameter --name ${name}${cli(place)}\`, then ${create}, and ${give}`,
        };
      }
      const key = parameter.KeyId === undefined || parameter.KeyId === "alias/aws/ssm" ? "the AWS managed key aws/ssm" : `the KMS key ${parameter.KeyId}, whose key policy must let IAM policies of the account grant its use`;
      const changed = parameter.LastModifiedDate ? `, changed ${parameter.LastModifiedDate.toISOString()}` : "";
      return { ok: true, detail: `SecureString, version ${parameter.Version ?? "?"}${changed}, encrypted with ${key}` };
    },
  };
}

function secretCheck(clients: SecretClients, config: WebhookConfig, place: SecretPlace, who: string, give: string): Check {
  const id = config.secret.name;
  return {
    name: `webhook secret ${described(config)}`,
    service: "Secrets Manager",
    permission: `secretsmanager:DescribeSecret on the secret ${id}`,
    async run(signal) {
      let secret;
      try {
        secret = await clients.secretsManager.send(new DescribeSecretCommand({ SecretId: id }), { abortSignal: signal });
      } catch (e) {
        if (!named(e, "ResourceNotFoundException")) throw e;
        const create = id.startsWith("arn:")
          ? "create it, or name a secret that exists in berth.yml's webhook.secret"
          : `create it (\`aws secretsmanager create-secret --name ${id} --secret-string "$(openssl rand -hex 32)"${cli(place)}\`), then ${give}`;
        return { ok: false, detail: `no secret ${id} in ${place.region}: the webhook cannot verify any delivery${who}`, fix: create };
      }
      const arn = secret.ARN ?? id;
      if (secret.DeletedDate !== undefined) {
        return {
          ok: false,
          detail: `the secret is scheduled for deletion on ${secret.DeletedDate.toISOString()}: Secrets Manager refuses to read it${who}`,
          fix: `\`aws secretsmanager restore-secret --secret-id ${arn}${cli(place)}\``,
        };
      }
      const stages = Object.values(secret.VersionIdsToStages ?? {}).flat();
      if (!stages.includes("AWSCURRENT")) {
        return {
          ok: false,
          detail: `the secret has no current value (no version labelled AWSCURRENT): the webhook cannot verify any delivery${who}`,
          fix: `\`aws secretsmanager put-secret-value --secret-id ${arn} --secret-string "$(openssl rand -hex 32)"${cli(place)}\`, then ${give}`,
        };
      }
      const key = secret.KmsKeyId === undefined || secret.KmsKeyId === "alias/aws/secretsmanager" ? "the AWS managed key aws/secretsmanager" : `the KMS key ${secret.KmsKeyId}, whose key policy must let IAM policies of the account grant its use`;
      const previous = stages.includes("AWSPREVIOUS") ? ", with a previous value for the rotation window" : "";
      return { ok: true, detail: `${arn}, encrypted with ${key}${previous}` };
    },
  };
}
