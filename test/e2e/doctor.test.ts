/**
 * `berth doctor` through the built CLI, against local endpoints that speak each service's protocol
 * (STS, CloudFormation, S3 and SQS fakes, dynalite for DynamoDB, the ECS and EventBridge fakes, the SSM
 * and Secrets Manager metadata fake), all
 * reached through the standard AWS_ENDPOINT_URL_<SERVICE> variables. One world holds a healthy stage
 * and, beside it, one broken thing of each kind; each case points the catalog or the stage at one of
 * them and finds exactly that check failing, with its fix, and every other check passing.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeCloudFormation, type FakeCloudFormation } from "../support/fake-cloudformation.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";
import { startFakeS3, type FakeS3 } from "../support/fake-s3.ts";
import { startFakeSqs, type FakeSqs } from "../support/fake-sqs.ts";
import { startFakeSts, type FakeSts } from "../support/fake-sts.ts";
import { startFakeSecretStores, type FakeSecretStores } from "../support/doctor-secret-stores.ts";

const root = new URL("../..", import.meta.url).pathname;
const ACCOUNT = "123456789012";
const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/doc-task`;
const EXECUTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/doc-exec`;
const WEBHOOK_URL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/";
const CATALOG = `version: 1
service: doc
webhook: { secret: "ssm:/doc/webhook-secret" }
defaults:
  cluster: jobs
  network: { subnets: [subnet-1] }
  roles: { task: "${TASK_ROLE}", execution: "${EXECUTION_ROLE}" }
jobs:
  thumbnails:
    on: { s3: { bucket: media } }
    run: { taskDefinition: thumbnailer, container: worker, command: [node, thumb.js] }
  backup:
    on: { schedule: { cron: "0 3 * * ? *" } }
    run: { taskDefinition: "pg-backup:2", container: backup, launch: { type: fargate-spot, fallback: fargate } }
  deploy-web:
    on: { git: { repo: acme/web, branch: main } }
    deploy: { cluster: web, service: web, container: app, image: "${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:\${git.sha}" }
`;
const HEALTHY = [
  "credentials",
  "stack doc-dev",
  "table doc-dev-runs",
  "bus doc-dev",
  "queue doc-dev-rule-targets-dlq",
  "queue doc-dev-schedules-dlq",
  "queue doc-dev-dispatch-failed",
  "queue doc-dev-track-failed",
  "queue doc-dev-sweep-failed",
  "queue doc-dev-rejected",
  "webhook",
  "bucket media",
  "cluster jobs",
  "cluster web",
  "task definition thumbnailer",
  "task definition pg-backup:2",
  "service web/web",
  "task definition web:1 (service web/web)",
  "webhook secret ssm:/doc/webhook-secret",
];

let sts: FakeSts;
let cfn: FakeCloudFormation;
let dynamo: LocalDynamo;
let bus: FakeEventBridge;
let sqs: FakeSqs;
let s3: FakeS3;
let ecs: FakeEcs;
let deniedEcs: FakeEcs;
let stores: FakeSecretStores;
let project: string;
let base: NodeJS.ProcessEnv;

/** The stage's queues, named as the stack names them (src/aws/stack/queues.ts), on the fake's host. */
function stageQueues(prefix: string): { deadLetter: string[]; rejected: string } {
  const deadLetter = ["rule-targets-dlq", "schedules-dlq", "dispatch-failed", "track-failed", "sweep-failed"].map((kind) => sqs.createQueue(`${prefix}-${kind}`));
  return { deadLetter, rejected: sqs.createQueue(`${prefix}-rejected`) };
}

function ecsWorld(accessDenied?: readonly string[]): Promise<FakeEcs> {
  return startFakeEcs({
    ...(accessDenied ? { accessDenied } : {}),
    clusters: {
      jobs: { capacityProviders: ["FARGATE", "FARGATE_SPOT"] },
      plain: { capacityProviders: ["FARGATE"], defaultCapacityProviderStrategy: [{ capacityProvider: "FARGATE", weight: 1 }] },
      web: {},
    },
    taskDefinitions: {
      thumbnailer: { containers: ["worker", "log-router"], taskRoleArn: TASK_ROLE, executionRoleArn: EXECUTION_ROLE },
      "pg-backup": { containers: ["old"] },
      rogue: { containers: ["worker"], taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/admin`, executionRoleArn: EXECUTION_ROLE },
      web: { containers: ["app"], executionRoleArn: EXECUTION_ROLE },
    },
    services: [{ cluster: "web", name: "web", taskDefinition: "web:1" }],
  }).then((fake) => {
    fake.registerTaskDefinition("pg-backup", { containers: ["backup"], executionRoleArn: EXECUTION_ROLE });
    return fake;
  });
}

beforeAll(async () => {
  sts = await startFakeSts({ AKIDDOC: { arn: `arn:aws:iam::${ACCOUNT}:user/ci` }, AKIDOPS: { arn: `arn:aws:iam::${ACCOUNT}:user/ops` } });
  cfn = await startFakeCloudFormation();
  dynamo = await startDynalite();
  await createTable(dynamo.client(), runTableDefinition("doc-dev-runs"));
  bus = await startFakeEventBridge({ buses: ["doc-dev"] });
  sqs = await startFakeSqs();
  s3 = await startFakeS3({
    media: { eventBridge: true },
    // EventBridge off, and a notification of its own that turning it on must keep.
    "media-off": { queues: [{ id: "audit", arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:audit`, events: ["s3:ObjectCreated:*"], prefix: "in/" }] },
    "media-far": { eventBridge: true, region: "eu-west-1" },
  });
  ecs = await ecsWorld();
  deniedEcs = await ecsWorld(["DescribeServices"]);
  stores = await startFakeSecretStores({ parameters: [{ name: "/doc/webhook-secret" }] });

  const dev = stageQueues("doc-dev");
  const outputs = (q: { deadLetter: string[]; rejected: string }) => ({
    BerthRunsTable: "doc-dev-runs",
    BerthBus: "doc-dev",
    BerthRejectedQueue: q.rejected,
    BerthDeadLetterQueues: q.deadLetter.join(","),
    BerthWebhookUrl: WEBHOOK_URL,
  });
  cfn.addStack({ name: "doc-dev", region: "us-east-1", status: "UPDATE_COMPLETE", outputs: outputs(dev) });
  const { BerthDeadLetterQueues: _dlq, ...half } = outputs(dev);
  cfn.addStack({ name: "doc-half", region: "us-east-1", status: "UPDATE_COMPLETE", outputs: half });
  const full = stageQueues("doc-full");
  cfn.addStack({ name: "doc-full", region: "us-east-1", outputs: outputs(full) });
  // Two events EventBridge could not deliver, as it writes them: the event, and why in the message attributes.
  const client = new SQSClient({ endpoint: sqs.url, region: "us-east-1", credentials: { accessKeyId: "AKIDDOC", secretAccessKey: "s" } });
  for (const id of ["e1", "e2"]) {
    await client.send(
      new SendMessageCommand({
        QueueUrl: full.deadLetter[0],
        MessageBody: JSON.stringify({ id, source: "aws.s3", "detail-type": "Object Created" }),
        MessageAttributes: { ERROR_CODE: { DataType: "String", StringValue: "SDK_CLIENT_ERROR" }, ERROR_MESSAGE: { DataType: "String", StringValue: "Lambda function not found" } },
      }),
    );
  }

  project = mkdtempSync(join(tmpdir(), "berth-doctor-"));
  writeFileSync(join(project, "berth.yml"), CATALOG);
  const aws = mkdtempSync(join(tmpdir(), "berth-doctor-aws-"));
  writeFileSync(join(aws, "config"), "[default]\noutput = json\n");
  writeFileSync(join(aws, "credentials"), "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = o\n");
  base = { ...process.env, NO_COLOR: "1" };
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "BERTH_TABLE", "BERTH_BUS", "BERTH_CONFIG", "AWS_ENDPOINT_URL", "FORCE_COLOR"]) delete base[name];
  Object.assign(base, {
    AWS_CONFIG_FILE: join(aws, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(aws, "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDDOC",
    AWS_SECRET_ACCESS_KEY: "s",
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    AWS_ENDPOINT_URL_SQS: sqs.url,
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ENDPOINT_URL_ECS: ecs.url,
    AWS_ENDPOINT_URL_SSM: stores.ssmUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: stores.secretsManagerUrl,
  });
});

afterAll(async () => {
  await Promise.all([sts?.close(), cfn?.close(), dynamo?.close(), bus?.close(), sqs?.close(), s3?.close(), ecs?.close(), deniedEcs?.close(), stores?.close()]);
});

interface Result {
  check: string;
  ok: boolean;
  detail: string;
  fix: string | null;
}

/** The built CLI, asynchronously so the in-process endpoints keep answering; `env` adds to the base environment, undefined removes. */
function berth(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv = { ...base, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin/berth.js"), ...args], { cwd: project, env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The catalog with one change, as a file of its own. */
function variant(from: string, to: string): string {
  expect(CATALOG).toContain(from);
  const file = join(project, `variant-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, CATALOG.replace(from, to));
  return file;
}

async function doctor(args: string[], env?: Record<string, string | undefined>): Promise<{ code: number | null; results: Result[]; stderr: string }> {
  const r = await berth(["doctor", "--json", ...args], env);
  expect(r.stderr).not.toMatch(/please report|unexpected error/);
  return { code: r.code, results: JSON.parse(r.stdout) as Result[], stderr: r.stderr };
}

/** Exactly one check failed: the one named; the result of it. */
function onlyFailure(results: Result[], check: string): Result {
  expect(results.filter((r) => !r.ok).map((r) => r.check)).toEqual([check]);
  return results.find((r) => r.check === check)!;
}

describe("berth doctor on a healthy stage", () => {
  it("passes every check, exits 0, and prints one ✔ line per check", async () => {
    const json = await doctor(["--stage", "dev"]);
    expect(json.code).toBe(0);
    expect(json.results.map((r) => r.check)).toEqual(HEALTHY);
    expect(json.results.every((r) => r.ok && r.fix === null)).toBe(true);
    expect(json.results[0]!.detail).toBe(`account ${ACCOUNT} as arn:aws:iam::${ACCOUNT}:user/ci, region us-east-1 (from AWS_REGION)`);
    expect(json.results.find((r) => r.check === "cluster jobs")!.detail).toBe("ACTIVE, capacity providers FARGATE, FARGATE_SPOT (jobs thumbnails, backup)");
    expect(json.results.find((r) => r.check === "task definition thumbnailer")!.detail).toBe("thumbnailer:1, container worker, its task role and execution role may be passed (job thumbnails)");
    // Where GitHub delivers, from the stack's output, and the secret it signs with, from its metadata.
    expect(json.results.find((r) => r.check === "webhook")!.detail).toBe(
      `for acme/web, in GitHub, the repository's Settings → Webhooks → Add webhook: Payload URL ${WEBHOOK_URL}github, Content type application/json, Secret the value of ssm:/doc/webhook-secret, "Just the push event"`,
    );
    expect(json.results.find((r) => r.check === "webhook secret ssm:/doc/webhook-secret")!.detail).toMatch(/^SecureString, version 1, changed .*, encrypted with the AWS managed key aws\/ssm$/);
    expect(stores.calls).toContainEqual({ operation: "DescribeParameters" });
    // The requests were the SDK's, signed for the stage's region with the key in use.
    expect(sts.calls).toContainEqual({ action: "GetCallerIdentity", accessKeyId: "AKIDDOC", region: "us-east-1" });
    expect(s3.calls).toContainEqual({ bucket: "media", accessKeyId: "AKIDDOC", region: "us-east-1" });

    const text = await berth(["doctor", "--stage", "dev"]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(HEALTHY.length + 1);
    HEALTHY.forEach((check, i) => expect(lines[i]).toMatch(new RegExp(`^✔ ${check.replace(/[()]/g, "\\$&")}: `)));
    expect(lines.at(-1)).toBe(`all ${HEALTHY.length} checks passed`);
    // Plain text off a terminal: no colour codes.
    expect(text.stdout).not.toContain("\u001b[");
  });

  it("without --stage checks the catalog's resources, and says how to check the stage", async () => {
    const r = await berth(["doctor"]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/stack|table|queue/);
    expect(r.stdout).toMatch(/^✔ webhook secret ssm:\/doc\/webhook-secret: /m);
    expect(r.stderr).toBe("the stage's stack, table, bus and queues, and the webhook's URL, are checked with --stage <stage>\n");
  });
});

describe("berth doctor finds what is wrong, one check at a time, and says how to fix it", () => {
  it("no credentials: the credentials check fails with how to configure them, and nothing else is asked", async () => {
    const r = await berth(["doctor", "--stage", "dev"], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      "✖ credentials: no AWS credentials were found (Could not load credentials from any providers)\n" +
        "    fix: configure credentials with `aws configure`, pick a profile with --profile or AWS_PROFILE (for an SSO profile, `aws sso login --profile <profile>`), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n" +
        "1 of 1 check failed\n",
    );
    expect(r.stderr).toMatch(/the other checks need credentials that AWS accepts/);
  });

  it("credentials AWS does not know: InvalidClientTokenId, and how to renew them", async () => {
    const { code, results } = await doctor(["--stage", "dev"], { AWS_ACCESS_KEY_ID: "AKIDGONE" });
    expect(code).toBe(1);
    expect(results).toEqual([
      expect.objectContaining({ check: "credentials", ok: false, detail: "AWS did not accept the credentials (InvalidClientTokenId: The security token included in the request is invalid.)", fix: expect.stringMatching(/aws sso login.*aws configure/) }),
    ]);
  });

  it("no stack: the stack check fails with `berth deploy --stage`, the catalog's checks still run", async () => {
    const { code, results } = await doctor(["--stage", "gone"]);
    expect(code).toBe(1);
    const stack = onlyFailure(results, "stack doc-gone");
    expect(stack.detail).toBe("no stack doc-gone in us-east-1 (region from AWS_REGION); its table, bus and queues cannot be checked");
    expect(stack.fix).toBe("`berth deploy --stage gone` creates it; for a stage deployed in another region, pass its --region");
    expect(results.map((r) => r.check)).toEqual(["credentials", "stack doc-gone", ...HEALTHY.filter((c) => !/^(stack|table|bus|queue) |^webhook$/.test(c) && c !== "credentials")]);
  });

  it("a stack without one of berth's outputs fails, and what the other outputs name is still checked", async () => {
    const { results } = await doctor(["--stage", "half"]);
    const stack = onlyFailure(results, "stack doc-half");
    expect(stack.detail).toBe("UPDATE_COMPLETE, without the output BerthDeadLetterQueues");
    expect(stack.fix).toMatch(/^`berth deploy --stage half`/);
    expect(results.map((r) => r.check)).toEqual(expect.arrayContaining(["table doc-dev-runs", "bus doc-dev", "queue doc-dev-rejected"]));
    expect(results.map((r) => r.check)).not.toContain("queue doc-dev-rule-targets-dlq");
  });

  it("a dead-letter queue with messages fails with their count, what they are, and the commands to read and empty it", async () => {
    const { results } = await doctor(["--stage", "full"]);
    const queue = onlyFailure(results, "queue doc-full-rule-targets-dlq");
    const url = `${sqs.url}/${ACCOUNT}/doc-full-rule-targets-dlq`;
    expect(queue.detail).toBe("2 messages: events EventBridge could not deliver to a rule's target; the message attributes ERROR_CODE and ERROR_MESSAGE say why");
    expect(queue.fix).toBe(
      `read them with \`aws sqs receive-message --queue-url ${url} --region us-east-1 --max-number-of-messages 10 --visibility-timeout 0 --message-attribute-names All\`; ` +
        `once handled, empty it with \`aws sqs purge-queue --queue-url ${url} --region us-east-1\``,
    );
  });

  it("a bucket without EventBridge notifications: the exact command, keeping the bucket's own notifications, and the console setting", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("bucket: media }", "bucket: media-off }")]);
    const bucket = onlyFailure(results, "bucket media-off");
    expect(bucket.detail).toBe("EventBridge notifications are off: its uploads never reach berth's rules, so job thumbnails never run");
    // The configuration to put: the bucket's own notification, as GetBucketNotificationConfiguration gave it, and EventBridge on.
    const [, command, json, rest] = /^(`aws s3api put-bucket-notification-configuration --bucket media-off --region us-east-1 --notification-configuration )'(.*)'`(.*)$/.exec(bucket.fix!) ?? [];
    expect(command).toBeDefined();
    expect(JSON.parse(json!)).toEqual({
      QueueConfigurations: [{ Id: "audit", QueueArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:audit`, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "in/" }] } } }],
      EventBridgeConfiguration: {},
    });
    expect(rest).toBe(
      " (it replaces the bucket's notification configuration, so it repeats the 1 notification the bucket has), " +
        'or in the S3 console: media-off → Properties → Amazon EventBridge → Edit → "Send notifications to Amazon EventBridge for all events in this bucket": On',
    );
  });

  it("a bucket in another region than the stage: its events never reach the stage's rules", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("bucket: media }", "bucket: media-far }")]);
    const bucket = onlyFailure(results, "bucket media-far");
    expect(bucket.detail).toMatch(/^the bucket is in eu-west-1, the stage in us-east-1/);
    expect(bucket.fix).toBe("deploy the stage in eu-west-1 (--region eu-west-1), or trigger job thumbnails from a bucket in us-east-1");
  });

  it("a cluster that does not exist: the cluster check fails with create-cluster", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("cluster: jobs", "cluster: nowhere")]);
    const cluster = onlyFailure(results, "cluster nowhere");
    expect(cluster.detail).toBe("no cluster nowhere in us-east-1 (jobs thumbnails, backup)");
    expect(cluster.fix).toBe("`aws ecs create-cluster --cluster-name nowhere --region us-east-1`, or set cluster: of jobs thumbnails, backup in berth.yml to a cluster that exists");
  });

  it("a cluster without the capacity provider a fargate-spot job's RunTask names: the command that adds it and keeps the rest", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("cluster: jobs", "cluster: plain")]);
    const cluster = onlyFailure(results, "cluster plain");
    expect(cluster.detail).toBe("no capacity provider FARGATE_SPOT, which the RunTask of job backup names: ECS refuses those tasks");
    expect(cluster.fix).toBe(
      "`aws ecs put-cluster-capacity-providers --cluster plain --region us-east-1 --capacity-providers FARGATE FARGATE_SPOT " +
        `--default-capacity-provider-strategy '[{"capacityProvider":"FARGATE","weight":1}]'\` (it replaces the cluster's capacity providers, so it repeats FARGATE and the default strategy)`,
    );
  });

  it("a task definition that does not exist", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("taskDefinition: thumbnailer", "taskDefinition: nothing")]);
    const definition = onlyFailure(results, "task definition nothing");
    expect(definition.detail).toBe("no ACTIVE revision of the task definition family nothing in us-east-1 (job thumbnails)");
    expect(definition.fix).toMatch(/^register it \(`aws ecs register-task-definition --cli-input-json file:\/\/<file> --region us-east-1`\), or fix run.taskDefinition of job thumbnails/);
  });

  it("a container the job names and its task definition lacks", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("container: worker", "container: resizer")]);
    const definition = onlyFailure(results, "task definition thumbnailer");
    expect(definition.detail).toBe("thumbnailer:1: no container resizer, which job thumbnails names (it has worker, log-router)");
    expect(definition.fix).toBe("set run.container of job thumbnails to one of worker, log-router, or register a revision with a container named resizer");
  });

  it("a task role berth may not pass: RunTask would fail on iam:PassRole", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("taskDefinition: thumbnailer", "taskDefinition: rogue")]);
    const definition = onlyFailure(results, "task definition rogue");
    expect(definition.detail).toBe(
      `rogue:1: its taskRoleArn arn:aws:iam::${ACCOUNT}:role/admin is not among the roles berth may pass (${EXECUTION_ROLE}, ${TASK_ROLE}): ` +
        "their RunTask fails with AccessDeniedException: not authorized to perform iam:PassRole",
    );
    expect(definition.fix).toBe(`add it to the roles of job thumbnails (roles: { task: arn:aws:iam::${ACCOUNT}:role/admin } under run:, or in defaults.roles) and \`berth deploy --stage dev\`, or register a revision that uses a role berth may pass`);
  });

  it("a service of a deploy job that does not exist", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant("service: web,", "service: api,")]);
    const service = onlyFailure(results, "service web/api");
    expect(service.detail).toBe("no service api in the cluster web (job deploy-web)");
    expect(service.fix).toMatch(/^create it \(`aws ecs create-service --cluster web --service-name api --task-definition <family> --region us-east-1`\), or fix deploy.service of job deploy-web/);
  });

  it("a webhook secret that does not exist: the command that creates it, and that GitHub needs the same value", async () => {
    const { results } = await doctor(["--stage", "dev", "--config", variant('secret: "ssm:/doc/webhook-secret"', 'secret: "ssm:/doc/nothing"')]);
    const secret = onlyFailure(results, "webhook secret ssm:/doc/nothing");
    expect(secret.detail).toBe("no parameter /doc/nothing in us-east-1: the webhook cannot verify any delivery, so job deploy-web never runs from a push");
    expect(secret.fix).toBe(
      'create it (`aws ssm put-parameter --name /doc/nothing --type SecureString --value "$(openssl rand -hex 32)" --region us-east-1`), then enter the same value as the webhook\'s secret in GitHub or GitLab',
    );
  });

  it("with --profile, the checks run as the profile, and the fixes that are AWS CLI commands name it", async () => {
    const { results } = await doctor(["--stage", "dev", "--profile", "ops", "--config", variant("bucket: media }", "bucket: media-off }")], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    expect(results[0]).toMatchObject({ check: "credentials", ok: true, detail: `account ${ACCOUNT} as arn:aws:iam::${ACCOUNT}:user/ops (profile ops), region us-east-1 (from AWS_REGION)` });
    expect(onlyFailure(results, "bucket media-off").fix).toMatch(/^`aws s3api put-bucket-notification-configuration --bucket media-off --region us-east-1 --profile ops --notification-configuration /);
    expect(s3.calls.at(-1)).toMatchObject({ accessKeyId: "AKIDOPS" });
  });

  it("a profile the config files do not have is the credentials check's failure", async () => {
    const { code, results } = await doctor(["--stage", "dev", "--profile", "nope"]);
    expect(code).toBe(1);
    expect(results).toEqual([
      { check: "credentials", ok: false, detail: expect.stringMatching(/^--profile nope: no such profile in \S+\/config or \S+\/credentials/), fix: "create it with `aws configure --profile nope` (or `aws configure sso --profile nope`), or name one that exists" },
    ]);
  });

  it("access denied on one API is that check's failure, naming the permission and the caller; the others pass", async () => {
    const { code, results } = await doctor(["--stage", "dev"], { AWS_ENDPOINT_URL_ECS: deniedEcs.url });
    expect(code).toBe(1);
    const service = onlyFailure(results, "service web/web");
    expect(service.detail).toMatch(/^access denied \(AccessDeniedException: User: .* is not authorized to perform: ecs:DescribeServices/);
    expect(service.fix).toBe(`allow ecs:DescribeServices on the service web of the cluster web to arn:aws:iam::${ACCOUNT}:user/ci (berth doctor only reads)`);
    expect(results.filter((r) => r.ok)).toHaveLength(HEALTHY.length - 2);
  });
});
