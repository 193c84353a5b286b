/**
 * The checks of `berth doctor` one by one, in process, through the real SDK clients against the local
 * protocol endpoints: the answers the end-to-end cases do not cover (stack statuses, deleted resources,
 * an S3 denial, deregistered revisions, a drained service, a deploy's roles).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { STSClient } from "@aws-sdk/client-sts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { stackNames } from "../../src/aws/stack/names.ts";
import { bucketCheck, clusterCheck, serviceCheck, stackCheck, taskDefinitionCheck, type DoctorClients, type Place } from "../../src/cli/doctor/checks.ts";
import { runChecks, type Check, type CheckResult } from "../../src/cli/doctor/report.ts";
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
let clients: DoctorClients;

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

  const config = { region: "us-east-1", credentials: { accessKeyId: "AKID", secretAccessKey: "s" }, maxAttempts: 1 };
  clients = {
    sts: new STSClient(config),
    cloudFormation: new CloudFormationClient({ ...config, endpoint: cfn.url }),
    dynamo: dynamo.client({ maxAttempts: 1 }),
    eventBridge: new EventBridgeClient({ ...config, endpoint: bus.url }),
    sqs: new SQSClient({ ...config, endpoint: sqs.url }),
    s3: new S3Client({ ...config, endpoint: s3.url }),
    ecs: new ECSClient({ ...config, endpoint: ecs.url }),
  };
});

afterAll(async () => {
  await Promise.all([cfn?.close(), dynamo?.close(), bus?.close(), sqs?.close(), s3?.close(), ecs?.close()]);
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
