/**
 * When the stack has the webhook function, and what its role may read: on the generator itself, with the
 * catalog's `webhook:` settings as the catalog resolves them (Catalog.webhook), for every kind of secret
 * berth.yml can name. The packaged template's webhook is tested in example.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Catalog, WebhookConfig } from "../../src/core/catalog/types.ts";
import { EXAMPLE, withoutGitTriggers, withoutWebhook } from "./catalogs.ts";
import { asTemplate, loaded, stackOf } from "./generated.ts";
import { actionsOf, resourcesOfStatement, roleStatements, type PolicyStatement } from "./package.ts";
import { quotaReport, quotaViolations, resolve, unexplainedWildcards, wildcardViolations } from "./checks.ts";

const example = loaded(EXAMPLE);
/** No push trigger and no `webhook:` block. */
const noPushes = loaded(withoutWebhook(withoutGitTriggers()));
/** The example's push trigger, without its `webhook:` block. */
const noSecret = loaded(withoutWebhook());
const withWebhook = (catalog: Catalog, webhook: WebhookConfig): Catalog => ({ ...catalog, webhook });
const ssm = (name: string): WebhookConfig => ({ secret: { source: "ssm", name }, rotation: 3600 });
const secretsManager = (name: string): WebhookConfig => ({ secret: { source: "secretsmanager", name }, rotation: 600 });

function webhookStatements(catalog: Catalog): PolicyStatement[] {
  const template = asTemplate(stackOf(catalog));
  return roleStatements(template).filter((s) => s.role === "WebhookRole").map((s) => resolve(template, s.statement) as PolicyStatement);
}

const secretStatements = (catalog: Catalog) => webhookStatements(catalog).filter((s) => !actionsOf(s).some((a) => a.startsWith("logs:") || a.startsWith("events:")));

describe("which stacks have the webhook", () => {
  it.each([
    { what: "a GitHub push trigger and a webhook: block (the example)", catalog: example, has: true },
    { what: "a GitHub push trigger, no webhook: block", catalog: noSecret, has: true },
    { what: "a GitLab push trigger", catalog: loaded(EXAMPLE.replace("git: { repo: acme/web, branch: main }", "git: { provider: gitlab, repo: acme/web, branch: main }")), has: true },
    // CodeCommit pushes arrive on the default bus natively (Repository State Change): nothing comes through a webhook.
    { what: "only a CodeCommit push trigger", catalog: loaded(withoutWebhook(EXAMPLE.replace("git: { repo: acme/web, branch: main }", "git: { provider: codecommit, repo: web, branch: main }"))), has: false },
    { what: "no push trigger", catalog: noPushes, has: false },
    // The function URL stays while the repositories that were given it have no job for now.
    { what: "no push trigger, but a webhook: block", catalog: withWebhook(noPushes, ssm("/acme/webhook")), has: true },
  ])("$what: webhook $has", ({ catalog, has }) => {
    const s = stackOf(catalog);
    expect(Object.keys(s.functions).includes("webhook")).toBe(has);
    expect(Object.keys(s.resources.Outputs).includes("BerthWebhookUrl")).toBe(has);
    expect(Object.keys(s.resources.Resources).includes("WebhookRole")).toBe(has);
    expect((s.functions.webhook as { url?: unknown } | undefined)?.url).toBe(has ? true : undefined);
  });

  it("counts what osls adds for the webhook (function, log group, function URL and its two permissions) in the resources it budgets", () => {
    const without = stackOf(noPushes).summary.resources;
    expect(stackOf(example).summary.resources - without).toBe(6);
  });
});

describe("the webhook's environment", () => {
  it("names the secret, its source and the rotation window in seconds, and nothing of the runs table", () => {
    const env = (stackOf(withWebhook(example, secretsManager("acme/github-webhook"))).functions.webhook as { environment: Record<string, string> }).environment;
    expect(env).toEqual({
      BERTH_BUS: "acme-jobs-test",
      BERTH_CATALOG: "dist/catalog.json",
      BERTH_WEBHOOK_SECRET_SOURCE: "secretsmanager",
      BERTH_WEBHOOK_SECRET_NAME: "acme/github-webhook",
      BERTH_WEBHOOK_ROTATION_SECONDS: "600",
      POWERTOOLS_SERVICE_NAME: "berth-acme-jobs",
      POWERTOOLS_LOG_LEVEL: "INFO",
    });
  });

  it("without a webhook: block has no secret variables, and the role reads no secret", () => {
    const env = (stackOf(noSecret).functions.webhook as { environment: Record<string, string> }).environment;
    expect(Object.keys(env).filter((k) => k.startsWith("BERTH_WEBHOOK_"))).toEqual([]);
    expect(secretStatements(noSecret)).toEqual([]);
  });
});

describe("the webhook's role reads exactly the secret berth.yml names", () => {
  const account = "arn:aws:%s:eu-west-1:123456789012";
  const at = (service: string, rest: string) => `${account.replace("%s", service)}:${rest}`;

  it.each([
    // SSM parameter ARNs do not repeat the name's leading slash (Service Authorization Reference, Systems Manager, parameter).
    { secret: ssm("/acme/github-webhook"), read: ["ssm:GetParameter"], arn: at("ssm", "parameter/acme/github-webhook"), context: { StringEquals: { "kms:EncryptionContext:PARAMETER_ARN": at("ssm", "parameter/acme/github-webhook") } } },
    // A secret by name: its ARN ends in `-` and six random characters, which `??????` matches and nothing longer.
    {
      secret: secretsManager("acme/github-webhook"),
      read: ["secretsmanager:GetSecretValue"],
      arn: at("secretsmanager", "secret:acme/github-webhook-??????"),
      context: { StringLike: { "kms:EncryptionContext:SecretARN": at("secretsmanager", "secret:acme/github-webhook-??????") } },
    },
    {
      secret: secretsManager("arn:aws:secretsmanager:us-west-2:210987654321:secret:shared/hook-AbC123"),
      read: ["secretsmanager:GetSecretValue"],
      arn: "arn:aws:secretsmanager:us-west-2:210987654321:secret:shared/hook-AbC123",
      context: { StringEquals: { "kms:EncryptionContext:SecretARN": "arn:aws:secretsmanager:us-west-2:210987654321:secret:shared/hook-AbC123" } },
    },
  ])("$secret.secret.source $secret.secret.name", ({ secret, read, arn, context }) => {
    const catalog = withWebhook(example, secret);
    const [reads, decrypts, ...more] = secretStatements(catalog);
    expect(more).toEqual([]);
    expect(actionsOf(reads!)).toEqual(read);
    expect(resourcesOfStatement(reads!)).toEqual([arn]);
    expect(reads!.Condition).toBeUndefined();
    expect(actionsOf(decrypts!)).toEqual(["kms:Decrypt"]);
    // The key is in the secret's own account and region, and is used through that service only.
    const [, partition, , region, owner] = arn.split(":");
    expect(resourcesOfStatement(decrypts!)).toEqual([`arn:${partition}:kms:${region}:${owner}:key/*`]);
    const service = secret.secret.source === "ssm" ? "ssm" : "secretsmanager";
    const viaService = { "kms:ViaService": `${service}.${region}.amazonaws.com` };
    const exact = "StringEquals" in context;
    expect(decrypts!.Condition).toEqual(exact ? { StringEquals: { ...viaService, ...context.StringEquals } } : { StringEquals: viaService, ...context });

    const template = asTemplate(stackOf(catalog));
    expect(wildcardViolations(template)).toEqual([]);
    expect(unexplainedWildcards(template)).toEqual([]);
    expect(quotaViolations(quotaReport(template))).toEqual([]);
  });

  it("gives the engine's roles no secret, and the webhook's no ECS, DynamoDB, queue or role", () => {
    const template = asTemplate(stackOf(withWebhook(example, ssm("/acme/github-webhook"))));
    const all = roleStatements(template);
    for (const { role, statement } of all) {
      const actions = actionsOf(statement);
      if (role === "WebhookRole") expect(actions.filter((a) => /^(ecs|dynamodb|sqs|iam):/.test(a)), statement.Sid).toEqual([]);
      else expect(actions.filter((a) => /^(ssm|secretsmanager|kms):/.test(a)), `${role} ${statement.Sid}`).toEqual([]);
    }
  });
});
