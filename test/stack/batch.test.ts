/**
 * What batch windows add to the stack, on the generator itself and in the template the real osls packages:
 * nothing when no job batches; when one does, the batch queue and its dead-letter queue with an alarm, the batch
 * function with its SQS event source, the manifest bucket when a job has no manifest location of its own, the
 * environment and outputs, and IAM scoped to exactly the batched jobs' manifest locations, the batch queue and the
 * batched jobs' tasks. The packaged template, as `berth package` makes it offline, passes the CloudFormation
 * resource specification (test/support/cfn-spec.ts) and packages the batch function with its own bundle.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { checkTemplate } from "../support/cfn-spec.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { EXAMPLE, withJob } from "./catalogs.ts";
import { alarmedQueues, PLACE, resolve, unexplainedWildcards, wildcardViolations } from "./checks.ts";
import { asTemplate, loaded, stackOf } from "./generated.ts";
import { actionsOf, packageCatalog, readZip, removePackaged, resourcesOf, resourcesOfStatement, roleStatements, type Packaged, type PolicyStatement, type Template } from "./package.ts";

const RUN = 'run: { taskDefinition: gatherer, container: app, command: [node, gather.js, "${batch.manifest}"] }';
/** The example and a job that batches its uploads into the stage's manifest bucket. */
const BATCHED = withJob("gather", `on: { s3: { bucket: media-uploads, key: { prefix: gather/ } } }\nbatch: { window: 2m, maxItems: 500 }\n${RUN}`);
/** The example and a job that batches into a bucket of its own. */
const OWN_MANIFEST = withJob("gather", `on: { s3: { bucket: media-uploads, key: { prefix: gather/ } } }\nbatch: { window: 30s, maxItems: 100, manifest: "s3://partner-manifests/batches/" }\n${RUN}`);

const example = loaded(EXAMPLE);
const batched = loaded(BATCHED);
const ownManifest = loaded(OWN_MANIFEST);
const both: Catalog = loaded(
  withJob("gather", `on: { s3: { bucket: media-uploads, key: { prefix: gather/ } } }\nbatch: { window: 2m, maxItems: 500 }\n${RUN}`).replace(
    "\nlocal:",
    `\n  gather-partner:\n    on: { s3: { bucket: partner-drop, key: { prefix: in/ } } }\n    batch: { window: 1m, maxItems: 50, manifest: "s3://partner-manifests/" }\n    run: { taskDefinition: partner-gatherer, container: app, command: [node, gather.js, "\${batch.manifest}"], cluster: partners }\n\nlocal:`,
  ),
);

const BATCH_IDS = ["BatchQueue", "BatchDeadLetterQueue", "BatchEventSourceMapping", "ManifestBucket", "ManifestBucketPolicy", "BatchRole"];
const fnArn = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });
const statementsOf = (t: Template, role: string): PolicyStatement[] => roleStatements(t).filter((s) => s.role === role).map((s) => s.statement);
const withAction = (t: Template, role: string, action: string) => statementsOf(t, role).filter((s) => actionsOf(s).includes(action));
const on = (t: Template, role: string, action: string) => withAction(t, role, action).flatMap(resourcesOfStatement);

describe("a stack whose catalog batches nothing", () => {
  const s = stackOf(example);
  it("has no batch function, queue, bucket, role, variable or output", () => {
    expect(Object.keys(s.functions)).not.toContain("batch");
    for (const id of BATCH_IDS) expect(s.resources.Resources[id], id).toBeUndefined();
    expect(JSON.stringify(s.functions)).not.toMatch(/BERTH_BATCH_QUEUE|BERTH_MANIFEST_BUCKET/);
    expect(Object.keys(s.resources.Outputs)).not.toContain("BerthManifestBucket");
    expect(Object.keys(s.resources.Outputs)).not.toContain("BerthBatchQueue");
    expect(JSON.stringify(s.resources.Resources)).not.toMatch(/s3:PutObject|sqs:ReceiveMessage/);
  });
});

describe("a stack whose catalog has a batched job", () => {
  const s = stackOf(batched);
  const t = asTemplate(s);
  const r = s.resources.Resources;

  it("adds exactly the batch queue, its dead-letter queue and alarm, the event source, the bucket and its policy, the batch role, and the function with its log group", () => {
    // Beside the job's own upload rule and its invoke permission, as for any s3 job.
    const added = Object.keys(r).filter((id) => stackOf(example).resources.Resources[id] === undefined);
    expect(added.filter((id) => !id.startsWith("RuleGather")).sort()).toEqual([...BATCH_IDS, "BatchDeadLetterQueueDepthAlarm"].sort());
    expect(added.filter((id) => id.startsWith("RuleGather"))).toHaveLength(2);
    expect(Object.keys(s.functions)).toEqual(["dispatch", "track", "sweep", "webhook", "batch"]);
    expect(s.summary.resources - stackOf(example).summary.resources).toBe(added.length + 2);
  });

  it("runs the batch function from the batch queue, reporting failed reminders one by one", () => {
    expect(r.BatchEventSourceMapping!.Properties).toEqual({
      EventSourceArn: fnArn("BatchQueue"),
      FunctionName: { Ref: "BatchLambdaFunction" },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      Enabled: true,
    });
    expect(s.functions.batch).toMatchObject({ handler: "dist/handlers/batch.handler", timeout: 60, role: "BatchRole" });
    // An SQS event source invokes synchronously: no asynchronous settings, no on-failure queue.
    expect(resourcesOf(t, "AWS::Lambda::EventInvokeConfig").map(([, c]) => (c.Properties!.FunctionName as { Ref: string }).Ref)).not.toContain("BatchLambdaFunction");
  });

  it("keeps a reminder invisible for six times the function's timeout and dead-letters it after five receives, to a queue with an alarm", () => {
    // https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html: visibility timeout ≥ 6 × the function timeout; maxReceiveCount ≥ 5.
    expect(r.BatchQueue!.Properties).toMatchObject({
      QueueName: "acme-jobs-test-batch",
      VisibilityTimeout: 360,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: fnArn("BatchDeadLetterQueue"), maxReceiveCount: 5 },
    });
    expect(r.BatchDeadLetterQueue!.Properties).toMatchObject({ QueueName: "acme-jobs-test-batch-dlq", MessageRetentionPeriod: 14 * 24 * 3600 });
    expect(alarmedQueues(t).has("BatchDeadLetterQueue")).toBe(true);
    expect(JSON.stringify(s.resources.Outputs.BerthDeadLetterQueues!.Value)).toContain('{"Ref":"BatchDeadLetterQueue"}');
  });

  it("makes the manifest bucket private, TLS only, encrypted by default, and expires manifests with the runs", () => {
    expect(r.ManifestBucket!.Properties).toEqual({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      LifecycleConfiguration: { Rules: [{ Id: "expire-manifests", Status: "Enabled", ExpirationInDays: 90, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    });
    const [deny, ...more] = (r.ManifestBucketPolicy!.Properties!.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    expect(more).toHaveLength(0);
    expect(deny).toMatchObject({ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(s.resources.Outputs.BerthManifestBucket!.Value).toEqual({ Ref: "ManifestBucket" });
    expect(s.resources.Outputs.BerthBatchQueue!.Value).toEqual({ Ref: "BatchQueue" });
  });

  it("tells dispatch, sweep and batch the batch queue and the manifest bucket, and track neither", () => {
    const env = (fn: string) => (s.functions[fn] as { environment: Record<string, unknown> }).environment;
    for (const fn of ["dispatch", "sweep", "batch"]) {
      expect(env(fn).BERTH_BATCH_QUEUE, fn).toEqual({ Ref: "BatchQueue" });
      expect(env(fn).BERTH_MANIFEST_BUCKET, fn).toEqual({ Ref: "ManifestBucket" });
    }
    expect(env("track")).not.toHaveProperty("BERTH_BATCH_QUEUE");
    expect(env("track")).not.toHaveProperty("BERTH_MANIFEST_BUCKET");
  });

  it("lets dispatch, sweep and batch write manifests only under the job's prefix, remind only the batch queue, and list slots only in the runs table", () => {
    for (const role of ["DispatchRole", "SweepRole", "BatchRole"]) {
      expect(on(t, role, "s3:PutObject"), role).toEqual([{ "Fn::Sub": "${ManifestBucket.Arn}/gather/*" }]);
      expect(on(t, role, "sqs:SendMessage"), role).toEqual(role === "BatchRole" ? [fnArn("BatchQueue")] : [fnArn(role.replace("Role", "FailedInvocationsQueue")), fnArn("BatchQueue")]);
      expect(on(t, role, "dynamodb:Query"), role).toContainEqual(fnArn("RunsTable"));
    }
    expect(on(t, "TrackRole", "s3:PutObject")).toEqual([]);
    expect(on(t, "TrackRole", "sqs:SendMessage")).toEqual([fnArn("TrackFailedInvocationsQueue")]);
    expect(on(t, "TrackRole", "dynamodb:Query")).not.toContainEqual(fnArn("RunsTable"));
    // Only the batch function takes reminders off the queue.
    for (const role of ["DispatchRole", "TrackRole", "SweepRole", "WebhookRole"]) expect(on(t, role, "sqs:ReceiveMessage"), role).toEqual([]);
  });

  it("gives the batch role exactly what settling and launching the batched job's runs call, on the batched job's task definition and cluster only", () => {
    const actions = [...new Set(statementsOf(t, "BatchRole").flatMap(actionsOf))].sort();
    expect(actions).toEqual(
      [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "events:PutEvents",
        "s3:PutObject",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "ecs:RunTask",
        "ecs:TagResource",
        "ecs:StopTask",
        "iam:PassRole",
      ].sort(),
    );
    expect(on(t, "BatchRole", "sqs:ReceiveMessage")).toEqual([fnArn("BatchQueue")]);
    expect(withAction(t, "BatchRole", "sqs:DeleteMessage")).toEqual(withAction(t, "BatchRole", "sqs:GetQueueAttributes"));
    expect(on(t, "BatchRole", "ecs:RunTask")).toEqual([{ "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/gatherer:*" }]);
    expect(withAction(t, "BatchRole", "ecs:RunTask")[0]!.Condition).toEqual({ ArnEquals: { "ecs:cluster": [{ "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/jobs" }] } });
    expect(on(t, "BatchRole", "ecs:StopTask")).toEqual([{ "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/jobs/*" }]);
    expect(on(t, "BatchRole", "events:PutEvents")).toEqual([fnArn("BerthBus")]);
    // The batched job does not supersede: the batch function queries only the queued index beside the table.
    expect(on(t, "BatchRole", "dynamodb:Query")).toEqual([{ "Fn::Sub": "${RunsTable.Arn}/index/queued" }, fnArn("RunsTable")]);
    expect(t.Resources.BatchRole!.Metadata).toBeUndefined();
  });

  it("never allows a wildcard resource for PutEvents, DynamoDB, RunTask, StopTask or PassRole, nor an S3 write outside a job's prefix", () => {
    expect(wildcardViolations(t)).toEqual([]);
    // Every resource the batch role names is one resource, or the objects under one prefix: IAM allows no narrower.
    for (const statement of statementsOf(t, "BatchRole")) for (const resource of resourcesOfStatement(statement)) expect(resource, statement.Sid).not.toBe("*");
    const writes = roleStatements(t).filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith("s3:")));
    expect(writes.map(({ role }) => role).sort()).toEqual(["BatchRole", "DispatchRole", "SweepRole"]);
    for (const { role, statement } of writes) {
      expect(actionsOf(statement), role).toEqual(["s3:PutObject"]);
      for (const resource of resourcesOfStatement(statement)) expect(JSON.stringify(resource), role).toMatch(/\/[^/*]+\/\*"}$/);
    }
  });
});

describe("a stack whose batched jobs name their own manifest locations", () => {
  it("has no manifest bucket, and grants writes under exactly the named prefix", () => {
    const s = stackOf(ownManifest);
    const t = asTemplate(s);
    expect(s.resources.Resources.ManifestBucket).toBeUndefined();
    expect(s.resources.Resources.ManifestBucketPolicy).toBeUndefined();
    expect(s.resources.Outputs.BerthManifestBucket).toBeUndefined();
    expect(s.resources.Resources.BatchQueue).toBeDefined();
    expect((s.functions.dispatch as { environment: Record<string, unknown> }).environment).not.toHaveProperty("BERTH_MANIFEST_BUCKET");
    for (const role of ["DispatchRole", "SweepRole", "BatchRole"]) expect(on(t, role, "s3:PutObject")).toEqual([{ "Fn::Sub": "arn:${AWS::Partition}:s3:::partner-manifests/batches/*" }]);
  });

  it("beside a job that uses the stage's bucket: both locations, and the batch role launches both jobs' tasks on their own clusters only", () => {
    const t = asTemplate(stackOf(both));
    expect(on(t, "BatchRole", "s3:PutObject")).toEqual([{ "Fn::Sub": "${ManifestBucket.Arn}/gather/*" }, { "Fn::Sub": "arn:${AWS::Partition}:s3:::partner-manifests/*" }]);
    expect(on(t, "BatchRole", "ecs:RunTask")).toEqual(["gatherer", "partner-gatherer"].map((f) => ({ "Fn::Sub": `arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task-definition/${f}:*` })));
    expect(on(t, "BatchRole", "ecs:StopTask")).toEqual(["jobs", "partners"].map((c) => ({ "Fn::Sub": `arn:\${AWS::Partition}:ecs:\${AWS::Region}:\${AWS::AccountId}:task/${c}/*` })));
    // The example's other jobs (thumbnails, backups, deploys) are not the batch function's to launch.
    expect(JSON.stringify(statementsOf(t, "BatchRole"))).not.toMatch(/thumbnailer|pg-backup|ecs:UpdateService/);
  });
});

let packaged: Packaged;
beforeAll(async () => {
  packaged = await packageCatalog(BATCHED, { stage: "dev" });
}, 120_000);
afterAll(removePackaged);

describe("the packaged template of a catalog with a batched job", () => {
  it("passes the CloudFormation resource specification, resource by resource", () => {
    const issues = checkTemplate(packaged.template);
    expect(issues).toEqual([]);
    const types = new Set(Object.values(packaged.template.Resources).map((r) => r.Type));
    for (const type of ["AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::Lambda::EventSourceMapping", "AWS::SQS::Queue"]) expect(types, type).toContain(type);
  });

  it("has the batch function, in its own package with its own role, run by the batch queue's event source", () => {
    const fn = packaged.template.Resources.BatchLambdaFunction!;
    expect(fn.Type).toBe("AWS::Lambda::Function");
    expect(fn.Properties?.Role).toEqual({ "Fn::GetAtt": ["BatchRole", "Arn"] });
    expect(fn.Properties?.Timeout).toBe(60);
    expect(fn.Properties?.Handler).toBe("dist/handlers/batch.handler");
    expect((fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({ BERTH_BATCH_QUEUE: { Ref: "BatchQueue" }, BERTH_MANIFEST_BUCKET: { Ref: "ManifestBucket" } });
    const sources = resourcesOf(packaged.template, "AWS::Lambda::EventSourceMapping");
    expect(sources.map(([, s]) => [s.Properties?.FunctionName, s.Properties?.EventSourceArn])).toEqual([[{ Ref: "BatchLambdaFunction" }, { "Fn::GetAtt": ["BatchQueue", "Arn"] }]]);
    const files = [...readZip(join(packaged.packageDir, "batch.zip")).keys()].sort();
    expect(files).toContain("dist/handlers/batch.mjs");
    expect(files).toContain("dist/catalog.json");
    expect(files.filter((f) => !f.startsWith("dist/handlers/chunks/batch/") && !["dist/handlers/batch.mjs", "dist/catalog.json"].includes(f))).toEqual([]);
    expect(packaged.template.Outputs?.BerthManifestBucket?.Value).toEqual({ Ref: "ManifestBucket" });
  });

  it("grants no wildcard resource, its references resolved as CloudFormation resolves them: manifests under the job's prefix of the stage's bucket, the batch queue itself", () => {
    const t = packaged.template;
    expect(wildcardViolations(t)).toEqual([]);
    expect(unexplainedWildcards(t)).toEqual([]);
    // Resolved, the bucket has the name CloudFormation generates (lower case), the queue its own name and URL.
    const bucket = String(resolve(t, { Ref: "ManifestBucket" }));
    expect(bucket).toMatch(/^acme-jobs-dev-manifestbucket-[a-z0-9]+$/);
    const queueArn = `arn:aws:sqs:${PLACE.region}:${PLACE.account}:acme-jobs-dev-batch`;
    const resolvedOn = (role: string, action: string) => withAction(t, role, action).flatMap(resourcesOfStatement).map((r) => resolve(t, r));
    for (const role of ["DispatchRole", "SweepRole", "BatchRole"]) {
      expect(resolvedOn(role, "s3:PutObject"), role).toEqual([`arn:aws:s3:::${bucket}/gather/*`]);
      expect(resolvedOn(role, "sqs:SendMessage"), role).toContain(queueArn);
    }
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]) expect(resolvedOn("BatchRole", action), action).toEqual([queueArn]);
    const environment = (fn: string) => resolve(t, (t.Resources[fn]!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables) as Record<string, string>;
    for (const fn of ["DispatchLambdaFunction", "SweepLambdaFunction", "BatchLambdaFunction"]) {
      expect(environment(fn), fn).toMatchObject({ BERTH_BATCH_QUEUE: `https://sqs.${PLACE.region}.amazonaws.com/${PLACE.account}/acme-jobs-dev-batch`, BERTH_MANIFEST_BUCKET: bucket });
    }
  });

  it("would find a manifest write on every bucket, or a reminder statement on every queue, in this template", () => {
    const widened = (action: string, resource: unknown): Template => {
      const t = structuredClone(packaged.template) as Template;
      for (const { role, statement } of roleStatements(t)) if (role === "BatchRole" && actionsOf(statement).includes(action)) (statement as { Resource: unknown }).Resource = [resource];
      return t;
    };
    expect(wildcardViolations(widened("s3:PutObject", { "Fn::Sub": "arn:${AWS::Partition}:s3:::*/gather/*" }))).toEqual([expect.stringMatching(/^BatchRole WriteBatchManifests: s3:PutObject on "arn:aws:s3:::\*\/gather\/\*"$/)]);
    expect(wildcardViolations(widened("sqs:ReceiveMessage", { "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*" }))).toEqual([
      expect.stringMatching(/^BatchRole ReceiveBatchReminders: sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on /),
    ]);
    expect(unexplainedWildcards(widened("sqs:SendMessage", "*"))).toEqual([expect.stringMatching(/^BatchRole RemindBatchQueue: sqs:SendMessage on \["\*"\]$/)]);
  });
});
