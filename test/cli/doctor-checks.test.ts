/**
 * The checks of `berth doctor` one by one, in process, through the real SDK clients against the local
 * protocol endpoints: the answers the end-to-end cases do not cover (stack statuses, deleted resources,
 * an S3 denial, deregistered revisions, a drained service, a deploy's roles, the webhook's URL and secret).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { stackNames } from "../../src/aws/stack/names.ts";
import { bucketCheck, clusterCheck, serviceCheck, stackCheck, taskDefinitionCheck, type DoctorClients, type Place } from "../../src/cli/doctor/checks.ts";
import { runChecks, type Check, type CheckResult } from "../../src/cli/doctor/report.ts";
import type { WebhookTarget } from "../../src/cli/doctor/targets.ts";
import { webhookSecretCheck } from "../../src/cli/doctor/webhook-checks.ts";
import { startFakeSecretStores, type FakeSecretStores } from "../support/doctor-secret-stores.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeCloudFormation, type FakeCloudFormation } from "../support/fake-cloudformation.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";
import { startFakeS3, type FakeS3 } from "../support/fake-s3.ts";
import { startFakeSqs, type FakeSqs } from "../support/fake-sqs.ts";

const ROLE = "arn:aws:iam::123456789012:role/app";
const place: Place = { region: "us-east-1", regionSource: "--region", stage: "dev" };
const context = { region: "us-east-1", principal: "arn:aws:iam::123456789012:user/ci", timeLimitMs: 10_000 };
const names = stackNames("svc", "dev");

let cfn: FakeCloudFormation;
let dynamo: LocalDynamo;
let bus: FakeEventBridge;
let sqs: FakeSqs;
let s3: FakeS3;
let ecs: FakeEcs;
let stores: FakeSecretStores;
let deniedStores: FakeSecretStores;
let clients: DoctorClients;
let denied: DoctorClients;

beforeAll(async () => {
  cfn = await startFakeCloudFormation();
  dynamo = await startDynalite();
  await createTable(dynamo.client(), runTableDefinition("svc-dev-runs"));
  bus = await startFakeEventBridge({ buses: ["svc-dev"] });
  sqs = await startFakeSqs();
  s3 = await startFakeS3({ locked: { eventBridge: true, denied: true } });
  ecs = await startFakeEcs({
    clusters: { gone: { status: "INACTIVE" }, asg: { capacityProviders: [] } },
    taskDefinitions: { etl: { containers: ["etl"] }, site: { containers: ["app"], taskRoleArn: "arn:aws:iam::123456789012:role/site-admin" } },
    services: [
      { cluster: "asg", name: "old", taskDefinition: "site:1", status: "DRAINING" },
      { cluster: "asg", name: "site", taskDefinition: "site:1" },
    ],
  });
  ecs.registerTaskDefinition("etl", { containers: ["etl"], status: "INACTIVE" });
  stores = await startFakeSecretStores({
    parameters: [{ name: "/svc/webhook" }, { name: "/svc/plain", type: "String" }, { name: "/svc/own-key", keyId: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", version: 3 }],
    secrets: [
      { name: "svc/webhook", stages: [["AWSCURRENT"], ["AWSPREVIOUS"]] },
      { name: "svc/gone", deletedDate: new Date("2026-12-08T00:00:00Z") },
      { name: "svc/empty", stages: [["AWSPENDING"]] },
    ],
  });
  deniedStores = await startFakeSecretStores({ accessDenied: ["DescribeParameters"] });

  const config = { region: "us-east-1", credentials: { accessKeyId: "AKID", secretAccessKey: "s" }, maxAttempts: 1 };
  clients = {
    sts: new STSClient(config),
    cloudFormation: new CloudFormationClient({ ...config, endpoint: cfn.url }),
    dynamo: dynamo.client({ maxAttempts: 1 }),
    eventBridge: new EventBridgeClient({ ...config, endpoint: bus.url }),
    sqs: new SQSClient({ ...config, endpoint: sqs.url }),
    s3: new S3Client({ ...config, endpoint: s3.url }),
    ecs: new ECSClient({ ...config, endpoint: ecs.url }),
    ssm: new SSMClient({ ...config, endpoint: stores.ssmUrl }),
    secretsManager: new SecretsManagerClient({ ...config, endpoint: stores.secretsManagerUrl }),
  };
  denied = { ...clients, ssm: new SSMClient({ ...config, endpoint: deniedStores.ssmUrl }) };
});

afterAll(async () => {
  await Promise.all([cfn?.close(), dynamo?.close(), bus?.close(), sqs?.close(), s3?.close(), ecs?.close(), stores?.close(), deniedStores?.close()]);
});

async function run(check: Check): Promise<CheckResult[]> {
  return runChecks([check], context);
}

describe("the stack and what its outputs name", () => {
  it("a stack whose creation rolled back fails with its events and remove-then-deploy, and its outputs are still checked", async () => {
    cfn.addStack({ name: "svc-dev", region: "us-east-1", status: "ROLLBACK_COMPLETE", outputs: { BerthRunsTable: "svc-dev-runs", BerthBus: "svc-dev", BerthRejectedQueue: sqs.createQueue("svc-dev-rejected"), BerthDeadLetterQueues: sqs.createQueue("svc-dev-rule-targets-dlq") } });
    const results = await run(stackCheck(clients, "svc-dev", names, place));
    expect(results[0]).toEqual({
      check: "stack svc-dev",
      ok: false,
      detail: "ROLLBACK_COMPLETE: its first deployment failed",
      fix: "its events say why: `aws cloudformation describe-stack-events --stack-name svc-dev --region us-east-1`; a stack whose creation failed cannot be updated: `berth remove --stage dev`, then `berth deploy --stage dev`",
    });
    expect(results.slice(1).map((r) => [r.check, r.ok])).toEqual([
      ["table svc-dev-runs", true],
      ["bus svc-dev", true],
      ["queue svc-dev-rule-targets-dlq", true],
      ["queue svc-dev-rejected", true],
    ]);
  });

  it("a stack whose last update rolled back passes, and says the deployment before it runs", async () => {
    cfn.addStack({ name: "svc-back", region: "us-east-1", status: "UPDATE_ROLLBACK_COMPLETE", outputs: { BerthRunsTable: "svc-dev-runs", BerthBus: "svc-dev", BerthRejectedQueue: sqs.createQueue("svc-back-rejected"), BerthDeadLetterQueues: sqs.createQueue("svc-back-dlq") } });
    const [stack] = await run(stackCheck(clients, "svc-back", names, place));
    expect(stack).toMatchObject({ ok: true, detail: "UPDATE_ROLLBACK_COMPLETE (its last update was rolled back: the deployment before it is what runs), with berth's outputs" });
  });

  it("a table, bus and queue the outputs name but AWS no longer has fail: deleted outside CloudFormation", async () => {
    cfn.addStack({ name: "svc-lost", region: "us-east-1", outputs: { BerthRunsTable: "lost-runs", BerthBus: "lost-bus", BerthRejectedQueue: `${sqs.url}/123456789012/lost-rejected`, BerthDeadLetterQueues: sqs.createQueue("svc-lost-dlq") } });
    const results = await run(stackCheck(clients, "svc-lost", names, place));
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.check)).toEqual(["table lost-runs", "bus lost-bus", "queue lost-rejected"]);
    expect(failed.map((r) => r.detail)).toEqual([
      "no table lost-runs in us-east-1, though the stack's output BerthRunsTable names it",
      "no event bus lost-bus in us-east-1, though the stack's output BerthBus names it: manual runs and chained jobs cannot fire",
      `no queue at ${sqs.url}/123456789012/lost-rejected, though the stack's outputs name it`,
    ]);
    for (const r of failed) expect(r.fix).toMatch(/deleted outside CloudFormation.*`berth remove --stage dev`, then `berth deploy --stage dev`$/);
  });
});

describe("the catalog's resources", () => {
  it("a bucket the account does not have, and one whose notifications the caller may not read", async () => {
    const [missing] = await run(bucketCheck(clients, { bucket: "nope", jobs: ["a"] }, place));
    expect(missing).toEqual({ check: "bucket nope", ok: false, detail: "no bucket nope (job a)", fix: "create it, or fix on.s3.bucket of job a in berth.yml" });
    const [denied] = await run(bucketCheck(clients, { bucket: "locked", jobs: ["a"] }, place));
    expect(denied).toEqual({
      check: "bucket locked",
      ok: false,
      detail: "access denied (AccessDenied: Access Denied)",
      fix: "allow s3:GetBucketNotification on arn:aws:s3:::locked to arn:aws:iam::123456789012:user/ci (berth doctor only reads)",
    });
  });

  it("a deleted cluster, and a capacity provider of an Auto Scaling group that must be created before it is associated", async () => {
    const [gone] = await run(clusterCheck(clients, { cluster: "gone", jobs: ["a"], providers: [] }, place));
    expect(gone).toMatchObject({ ok: false, detail: "INACTIVE: the cluster was deleted; ECS starts no task on it (job a)" });
    const [asg] = await run(clusterCheck(clients, { cluster: "asg", jobs: ["a"], providers: [{ provider: "my-asg", jobs: ["a"] }] }, place));
    expect(asg).toEqual({
      check: "cluster asg",
      ok: false,
      detail: "no capacity provider my-asg, which the RunTask of job a names: ECS refuses those tasks",
      fix: "create my-asg first (`aws ecs create-capacity-provider`, for an Auto Scaling group), then `aws ecs put-cluster-capacity-providers --cluster asg --region us-east-1 --capacity-providers my-asg --default-capacity-provider-strategy '[]'`",
    });
  });

  it("a deregistered revision fails, while its family alone resolves to the latest ACTIVE one", async () => {
    const [inactive] = await run(taskDefinitionCheck(clients, { taskDefinition: "etl:2", uses: [{ job: "a" }] }, [], place));
    expect(inactive).toMatchObject({ ok: false, detail: "etl:2 is INACTIVE: ECS runs no new task from a deregistered revision (job a)" });
    const [family] = await run(taskDefinitionCheck(clients, { taskDefinition: "etl", uses: [{ job: "a", container: "etl" }] }, [ROLE], place));
    expect(family).toMatchObject({ ok: true, detail: "etl:1, container etl (job a)" });
  });

  it("a drained service fails; an active one opens its task definition, whose roles a deploy passes when it registers the next revision", async () => {
    const [drained] = await run(serviceCheck(clients, { cluster: "asg", service: "old", uses: [{ job: "d", container: "app" }] }, [ROLE], place));
    expect(drained).toMatchObject({ ok: false, detail: "DRAINING: the service was deleted (job d)" });
    const results = await run(serviceCheck(clients, { cluster: "asg", service: "site", uses: [{ job: "d", container: "app" }] }, [ROLE], place));
    expect(results).toEqual([
      { check: "service asg/site", ok: true, detail: "ACTIVE, task definition site:1 (job d)", fix: null },
      {
        check: "task definition site:1 (service asg/site)",
        ok: false,
        detail: `its taskRoleArn arn:aws:iam::123456789012:role/site-admin is not among the roles berth may pass (${ROLE}): their deploys fail registering the new revision (RegisterTaskDefinition): not authorized to perform iam:PassRole`,
        fix: "add it to the roles of job d (roles: { task: arn:aws:iam::123456789012:role/site-admin } under deploy:, or in defaults.roles) and `berth deploy --stage dev`, or register a revision that uses a role berth may pass",
      },
    ]);
  });
});

const URL_OUTPUT = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/";
const pushes: WebhookTarget = { repos: { github: ["acme/web"], gitlab: ["acme/api"] }, jobs: ["deploy-web", "deploy-api"], config: { secret: { source: "ssm", name: "/svc/webhook" }, rotation: 3600 } };

describe("the webhook", () => {
  function stageWith(name: string, outputs: Record<string, string>): void {
    cfn.addStack({ name, region: "us-east-1", status: "UPDATE_COMPLETE", outputs: { BerthRunsTable: "svc-dev-runs", BerthBus: "svc-dev", BerthRejectedQueue: sqs.createQueue(`${name}-rejected`), BerthDeadLetterQueues: sqs.createQueue(`${name}-dlq`), ...outputs } });
  }

  it("shows the URL of the stack's output under the stack, with where to paste it in GitHub and in GitLab and the path of each", async () => {
    stageWith("svc-hook", { BerthWebhookUrl: URL_OUTPUT });
    const results = await run(stackCheck(clients, "svc-hook", names, place, pushes));
    expect(results[0]).toMatchObject({ check: "stack svc-hook", ok: true });
    expect(results.at(-1)).toEqual({
      check: "webhook",
      ok: true,
      detail:
        `for acme/web, in GitHub, the repository's Settings → Webhooks → Add webhook: Payload URL ${URL_OUTPUT}github, Content type application/json, Secret the value of ssm:/svc/webhook, "Just the push event"; ` +
        `for acme/api, in GitLab, the project's Settings → Webhooks → Add new webhook: URL ${URL_OUTPUT}gitlab, Secret token the value of ssm:/svc/webhook, Trigger "Push events" and "Tag push events"`,
      fix: null,
    });
  });

  it("with a webhook: block but no push trigger, says deliveries find no job, and gives both paths", async () => {
    const [, ...opened] = await run(stackCheck(clients, "svc-hook", names, place, { repos: {}, jobs: [], config: pushes.config! }));
    const webhook = opened.find((r) => r.check === "webhook")!;
    expect(webhook.detail).toMatch(new RegExp(`^${URL_OUTPUT.replace(/[./]/g, "\\$&")}: no job is triggered by a GitHub or GitLab push now`));
    expect(webhook.detail).toContain(`Payload URL ${URL_OUTPUT}github`);
    expect(webhook.detail).toContain(`URL ${URL_OUTPUT}gitlab`);
  });

  it("a stage deployed before berth.yml had a push trigger fails the stack check: no BerthWebhookUrl output, so pushes have no way in", async () => {
    stageWith("svc-old", {});
    const results = await run(stackCheck(clients, "svc-old", names, place, pushes));
    expect(results[0]).toEqual({
      check: "stack svc-old",
      ok: false,
      detail: "UPDATE_COMPLETE, without the output BerthWebhookUrl: it has no webhook, so GitHub and GitLab pushes have no way in",
      fix: "`berth deploy --stage dev`: a stack berth deployed has every one of berth's outputs (one still deploying, or deployed by another tool, may not)",
    });
    expect(results.map((r) => r.check)).not.toContain("webhook");
    // A catalog without a webhook asks for no such output.
    expect((await run(stackCheck(clients, "svc-old", names, place)))[0]).toMatchObject({ ok: true });
  });

  const ssm = (name: string): WebhookTarget => ({ ...pushes, config: { secret: { source: "ssm", name }, rotation: 3600 } });
  const secretsManager = (name: string): WebhookTarget => ({ ...pushes, config: { secret: { source: "secretsmanager", name }, rotation: 3600 } });

  it.each([
    {
      what: "no webhook: block",
      target: { ...pushes, config: undefined } as WebhookTarget,
      expected: {
        check: "webhook secret",
        ok: false,
        detail: "berth.yml has no webhook: secret: the webhook refuses every delivery, so jobs deploy-web, deploy-api never run from a push",
        fix:
          'create one (`aws ssm put-parameter --name /svc/webhook-secret --type SecureString --value "$(openssl rand -hex 32)" --region us-east-1`), ' +
          'add `webhook: { secret: "ssm:/svc/webhook-secret" }` to berth.yml and `berth deploy --stage dev`, then enter the same value as the webhook\'s secret in GitHub or GitLab',
      },
    },
    {
      what: "an SSM parameter that does not exist",
      target: ssm("/svc/missing"),
      expected: {
        check: "webhook secret ssm:/svc/missing",
        ok: false,
        detail: "no parameter /svc/missing in us-east-1: the webhook cannot verify any delivery, so jobs deploy-web, deploy-api never run from a push",
        fix: 'create it (`aws ssm put-parameter --name /svc/missing --type SecureString --value "$(openssl rand -hex 32)" --region us-east-1`), then enter the same value as the webhook\'s secret in GitHub or GitLab',
      },
    },
    {
      what: "an SSM parameter stored as a String",
      target: ssm("/svc/plain"),
      expected: {
        check: "webhook secret ssm:/svc/plain",
        ok: false,
        detail: "/svc/plain is a String parameter: the webhook secret is stored unencrypted, readable by anyone allowed ssm:GetParameter",
        fix: expect.stringMatching(/^store it as a SecureString: `aws ssm delete-parameter --name \/svc\/plain --region us-east-1`, then `aws ssm put-parameter --name \/svc\/plain --type SecureString /),
      },
    },
    {
      what: "a SecureString under the AWS managed key",
      target: ssm("/svc/webhook"),
      expected: { check: "webhook secret ssm:/svc/webhook", ok: true, detail: "SecureString, version 1, changed 2026-11-20T09:30:00.000Z, encrypted with the AWS managed key aws/ssm", fix: null },
    },
    {
      what: "a SecureString under a customer managed key, whose key policy must let IAM grant it",
      target: ssm("/svc/own-key"),
      expected: {
        check: "webhook secret ssm:/svc/own-key",
        ok: true,
        detail: "SecureString, version 3, changed 2026-11-20T09:30:00.000Z, encrypted with the KMS key arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, whose key policy must let IAM policies of the account grant its use",
        fix: null,
      },
    },
    {
      what: "a secret that does not exist",
      target: secretsManager("svc/missing"),
      expected: {
        check: "webhook secret secretsmanager:svc/missing",
        ok: false,
        detail: "no secret svc/missing in us-east-1: the webhook cannot verify any delivery, so jobs deploy-web, deploy-api never run from a push",
        fix: 'create it (`aws secretsmanager create-secret --name svc/missing --secret-string "$(openssl rand -hex 32)" --region us-east-1`), then enter the same value as the webhook\'s secret in GitHub or GitLab',
      },
    },
    {
      what: "a secret scheduled for deletion",
      target: secretsManager("svc/gone"),
      expected: {
        check: "webhook secret secretsmanager:svc/gone",
        ok: false,
        detail: "the secret is scheduled for deletion on 2026-12-08T00:00:00.000Z: Secrets Manager refuses to read it, so jobs deploy-web, deploy-api never run from a push",
        fix: expect.stringMatching(/^`aws secretsmanager restore-secret --secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:svc\/gone-\w{6} --region us-east-1`$/),
      },
    },
    {
      what: "a secret without a current value",
      target: secretsManager("svc/empty"),
      expected: {
        check: "webhook secret secretsmanager:svc/empty",
        ok: false,
        detail: "the secret has no current value (no version labelled AWSCURRENT): the webhook cannot verify any delivery, so jobs deploy-web, deploy-api never run from a push",
        fix: expect.stringMatching(/^`aws secretsmanager put-secret-value --secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:svc\/empty-\w{6} --secret-string /),
      },
    },
    {
      what: "a secret with a current and a previous value",
      target: secretsManager("svc/webhook"),
      expected: {
        check: "webhook secret secretsmanager:svc/webhook",
        ok: true,
        detail: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:123456789012:secret:svc\/webhook-\w{6}, encrypted with the AWS managed key aws\/secretsmanager, with a previous value for the rotation window$/),
        fix: null,
      },
    },
  ])("the secret: $what", async ({ target, expected }) => {
    expect(await run(webhookSecretCheck(clients, target, place, "svc"))).toEqual([expected]);
  });

  it("finds a secret named by its full ARN", async () => {
    const arn = stores.secretArn("svc/webhook");
    expect(await run(webhookSecretCheck(clients, secretsManager(arn), place, "svc"))).toMatchObject([{ check: `webhook secret secretsmanager:${arn}`, ok: true, detail: expect.stringMatching(new RegExp(`^${arn}, `)) }]);
  });

  it("a caller who may not describe parameters is told the permission, on resource *", async () => {
    expect(await run(webhookSecretCheck(denied, ssm("/svc/webhook"), place, "svc"))).toEqual([
      {
        check: "webhook secret ssm:/svc/webhook",
        ok: false,
        detail: "access denied (AccessDeniedException: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ssm:DescribeParameters)",
        fix: "allow ssm:DescribeParameters (on resource *) to arn:aws:iam::123456789012:user/ci (berth doctor only reads)",
      },
    ]);
  });
});
