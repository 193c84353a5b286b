/** berth.yml's `webhook:` block: where the AWS webhook function reads its secret, and the rotation window. */
import { describe, expect, it } from "vitest";
import { issuesOf, load } from "./support.ts";
import { catalogJsonSchema } from "../../../src/core/catalog/schema.ts";

const catalogWith = (webhook: string) => `version: 1
service: hooks
${webhook}
jobs:
  deploy: { on: { git: { repo: acme/web, branch: main } }, run: { taskDefinition: web, launch: ec2 } }
`;

describe("webhook", () => {
  it.each([
    { given: 'webhook: { secret: "ssm:/berth/webhook-secret" }', expected: { secret: { source: "ssm", name: "/berth/webhook-secret" }, rotation: 3600 } },
    { given: "webhook: { secret: ssm:/a/b_c.d-e, rotation: 15m }", expected: { secret: { source: "ssm", name: "/a/b_c.d-e" }, rotation: 900 } },
    { given: "webhook: { secret: secretsmanager:berth/webhook, rotation: 0 }", expected: { secret: { source: "secretsmanager", name: "berth/webhook" }, rotation: 0 } },
    {
      given: "webhook: { secret: secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:berth/webhook-AbC123, rotation: 2d }",
      expected: { secret: { source: "secretsmanager", name: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:berth/webhook-AbC123" }, rotation: 172800 },
    },
  ])("$given → $expected", ({ given, expected }) => {
    expect(load(catalogWith(given)).webhook).toEqual(expected);
  });

  it("is absent when berth.yml has none", () => {
    expect(load(catalogWith("")).webhook).toBeUndefined();
  });

  it.each([
    { given: "webhook: { secret: vault:berth/hook }", issue: 'berth.yml:3:20 webhook.secret: webhook.secret must be "ssm:/<parameter name>" (a SecureString) or "secretsmanager:<secret name or ARN>", e.g. ssm:/berth/webhook-secret' },
    { given: "webhook: { secret: ssm:berth/hook }", issue: 'berth.yml:3:20 webhook.secret: the SSM parameter name must start with "/", e.g. ssm:/berth/webhook-secret (got "ssm:berth/hook")' },
    { given: "webhook: { secret: ssm:/berth//hook }", issue: "berth.yml:3:20 webhook.secret: an SSM parameter name is letters" },
    { given: "webhook: { secret: ssm:/berth/hook/ }", issue: "berth.yml:3:20 webhook.secret: an SSM parameter name is letters" },
    { given: `webhook: { secret: ssm:${"/a".repeat(16)} }`, issue: "berth.yml:3:20 webhook.secret: an SSM parameter name has at most 15 levels of hierarchy" },
    { given: "webhook: { secret: secretsmanager:berth hook }", issue: "berth.yml:3:20 webhook.secret: a Secrets Manager secret name is 1-512 letters, digits and /_+=.@-" },
    { given: "webhook: { secret: secretsmanager:arn:aws:secretsmanager:us-east-1:123:secret:hook }", issue: "berth.yml:3:20 webhook.secret: a Secrets Manager secret ARN looks like arn:aws:secretsmanager:us-east-1:123456789012:secret:berth/webhook-AbCdEf" },
    { given: "webhook: { secret: ssm:/berth/hook, rotation: soon }", issue: "berth.yml:3:47 webhook.rotation: expected a duration" },
    { given: "webhook: { secret: ssm:/berth/hook, github: true }", issue: 'berth.yml:3:37 webhook.github: unknown field "github"; allowed: secret, rotation' },
    { given: "webhook: { rotation: 1h }", issue: 'berth.yml:3:10 webhook.secret: required field "secret" is missing' },
  ])("$given is refused where it is, with the fix", ({ given, issue }) => {
    expect(issuesOf(catalogWith(given))).toEqual([expect.stringContaining(issue)]);
  });

  it("is in the JSON Schema, for editors", () => {
    const schema = catalogJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    expect(Object.keys(schema.properties.webhook?.properties ?? {})).toEqual(["secret", "rotation"]);
    expect(schema.properties.webhook?.required).toEqual(["secret"]);
  });
});
