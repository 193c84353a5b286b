/**
 * The example catalog, packaged as a clean clone packages it: `serverless package` in this checkout,
 * offline, with no AWS credentials. Every assertion reads the CloudFormation JSON osls wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileCatalog, type CompiledCatalog } from "../../src/core/catalog/compiled.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { compilePattern, matchesPattern } from "../../src/core/match/compile.ts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { alarmedQueues, deadLetterTargets, quotaReport, quotaViolations, resolve, unexplainedWildcards, wildcardViolations } from "./checks.ts";
import { EXAMPLE } from "./catalogs.ts";
import { handlerFiles, packagePath } from "../support/bundle-files.ts";
import { ROOT, actionsOf, packageRepository, readZip, removePackaged, resourcesOf, resourcesOfStatement, roleStatements, type CfnResource, type Packaged, type Template } from "./package.ts";

const STAGE = "ci";
let packaged: Packaged;
let template: Template;
let catalog: Catalog;
let compiled: CompiledCatalog;

beforeAll(async () => {
  const loaded = loadCatalog(EXAMPLE, "berth.yml");
  if (!loaded.ok) throw loaded.error;
  catalog = loaded.catalog;
  compiled = compileCatalog(catalog);
  packaged = await packageRepository({ stage: STAGE });
  template = packaged.template;
}, 60_000);

afterAll(removePackaged);

type Target = { Id: string; Arn: unknown; InputTransformer?: { InputTemplate: string; InputPathsMap?: Record<string, string> }; DeadLetterConfig?: { Arn: unknown }; RetryPolicy?: Record<string, number> };
const targetsOf = (r: CfnResource) => (r.Properties?.Targets ?? []) as Target[];
const rules = () => resourcesOf(template, "AWS::Events::Rule");
const fnArn = (logicalId: string) => ({ "Fn::GetAtt": [logicalId, "Arn"] });

describe("the example catalog's stack", () => {
  it("routes every trigger with its own rule: the compiled pattern, on the trigger's bus, input naming the job", () => {
    const dispatchRules = compiled.rules.filter((r) => r.target.kind === "dispatch");
    expect(dispatchRules.map((r) => (r.target.kind === "dispatch" ? r.target.job : r.target.kind))).toEqual(["thumbnails", "migrate-web", "deploy-web", "deploy-api", "nightly-backup", "backup-report", "reindex", "scan-image"]);
    for (const rule of dispatchRules) {
      if (rule.target.kind !== "dispatch") continue;
      const input = `{"job": ${JSON.stringify(rule.target.job)}, "event": <aws.events.event.json>}`;
      const found = rules().filter(([, r]) => targetsOf(r).some((t) => t.InputTransformer?.InputTemplate === input));
      expect(found, `a rule for ${rule.target.job}`).toHaveLength(1);
      const [, r] = found[0]!;
      expect(r.Properties?.EventPattern).toEqual(rule.pattern);
      expect(r.Properties?.State).toBe("ENABLED");
      const bus = r.Properties?.EventBusName;
      if (rule.bus.kind === "default") expect(bus).toBeUndefined();
      else if (rule.bus.kind === "berth") expect(bus).toEqual({ Ref: "BerthBus" });
      else expect(bus).toBe(rule.bus.name);
      expect(targetsOf(r)).toHaveLength(1);
      expect(targetsOf(r)[0]!.Arn).toEqual(fnArn("DispatchLambdaFunction"));
      expect(targetsOf(r)[0]!.InputTransformer).toEqual({ InputTemplate: input });
    }
  });

  it("puts S3 uploads on the default bus, berth's own events (pushes, run state changes, schedules, manual runs) on the stage's bus, ECR pushes on the default bus", () => {
    const byJob = (job: string) => rules().find(([, r]) => targetsOf(r)[0]?.InputTransformer?.InputTemplate.includes(`"job": "${job}"`))![1];
    expect(byJob("thumbnails").Properties?.EventBusName).toBeUndefined();
    expect(byJob("thumbnails").Properties?.EventPattern).toMatchObject({ source: ["aws.s3"], "detail-type": ["Object Created"], detail: { bucket: { name: ["media-uploads"] } } });
    for (const job of ["migrate-web", "deploy-web", "nightly-backup", "backup-report", "reindex"]) expect(byJob(job).Properties?.EventBusName).toEqual({ Ref: "BerthBus" });
    expect(byJob("migrate-web").Properties?.EventPattern).toMatchObject({ source: ["berth.git"], "detail-type": ["Git Push"], detail: { repo: ["acme/web"] } });
    // deploy-web follows migrate-web's run: the run state change track publishes when it succeeds.
    expect(byJob("deploy-web").Properties?.EventPattern).toMatchObject({ source: ["berth"], "detail-type": ["Berth Run State Change"], detail: { job: ["migrate-web"], status: ["SUCCEEDED"] } });
    for (const job of ["deploy-api", "scan-image"]) expect(byJob(job).Properties?.EventBusName).toBeUndefined();
    expect(byJob("deploy-api").Properties?.EventPattern).toEqual({
      source: ["aws.ecr"],
      "detail-type": ["ECR Image Action"],
      detail: { "action-type": ["PUSH"], result: ["SUCCESS"], "repository-name": ["api"], "image-tag": [{ prefix: "v" }] },
    });
    expect(resourcesOf(template, "AWS::Events::EventBus").map(([id, b]) => [id, b.Properties?.Name])).toEqual([["BerthBus", `acme-jobs-${STAGE}`]]);
  });

  it("fires the nightly backup from an EventBridge Scheduler schedule in Asia/Seoul whose event carries the scheduled time", () => {
    const schedules = resourcesOf(template, "AWS::Scheduler::Schedule").filter(([id]) => id !== "SweepSchedule");
    expect(schedules).toHaveLength(1);
    const p = schedules[0]![1].Properties!;
    expect(p.ScheduleExpression).toBe("cron(0 3 * * ? *)");
    expect(p.ScheduleExpressionTimezone).toBe("Asia/Seoul");
    expect(p.FlexibleTimeWindow).toEqual({ Mode: "OFF" });
    expect(p.GroupName).toEqual({ Ref: "BerthScheduleGroup" });
    const target = p.Target as { Arn: unknown; RoleArn: unknown; Input: string; EventBridgeParameters: { Source: string; DetailType: string } };
    expect(target.Arn).toEqual(fnArn("BerthBus"));
    expect(target.EventBridgeParameters).toEqual({ Source: "berth.scheduler", DetailType: "Berth Schedule Fired" });
    expect(JSON.parse(target.Input)).toEqual({ service: "acme-jobs", job: "nightly-backup", scheduledTime: "<aws.scheduler.scheduled-time>" });

    // The event Scheduler puts on the bus (detail = the input, the scheduled time filled in) fires the job's rule.
    const event = {
      version: "0",
      id: "1",
      source: target.EventBridgeParameters.Source,
      "detail-type": target.EventBridgeParameters.DetailType,
      account: "123456789012",
      time: "2024-11-26T18:00:01Z",
      region: "us-east-1",
      resources: [],
      detail: JSON.parse(target.Input.replace("<aws.scheduler.scheduled-time>", "2024-11-26T18:00:00Z")),
    };
    const onBerthBus = rules().filter(([, r]) => JSON.stringify(r.Properties?.EventBusName) === JSON.stringify({ Ref: "BerthBus" }));
    const fired = onBerthBus.filter(([, r]) => matchesPattern(compilePattern(r.Properties!.EventPattern as Record<string, unknown>), event));
    expect(fired.map(([, r]) => targetsOf(r)[0]!.InputTransformer?.InputTemplate)).toEqual(['{"job": "nightly-backup", "event": <aws.events.event.json>}']);
  });

  it("sweeps every minute through a schedule that invokes the sweep function", () => {
    const p = template.Resources.SweepSchedule!.Properties!;
    expect(p.ScheduleExpression).toBe("rate(1 minute)");
    expect((p.Target as { Arn: unknown }).Arn).toEqual(fnArn("SweepLambdaFunction"));
    expect(template.Resources.BerthScheduleGroup?.Type).toBe("AWS::Scheduler::ScheduleGroup");
  });

  it("sends ECS task state changes of berth's tasks on the catalog's cluster, and deployments of its service, to track", () => {
    const task = template.Resources.TrackTaskStateRule!;
    expect(task.Properties?.EventBusName).toBeUndefined();
    expect(resolve(template, task.Properties?.EventPattern)).toEqual({
      source: ["aws.ecs"],
      "detail-type": ["ECS Task State Change"],
      detail: { startedBy: [{ prefix: "berth/" }], clusterArn: ["arn:aws:ecs:eu-west-1:123456789012:cluster/jobs"] },
    });
    const deployment = template.Resources.TrackDeploymentStateRule!;
    expect(resolve(template, deployment.Properties?.EventPattern)).toEqual({
      source: ["aws.ecs"],
      "detail-type": ["ECS Deployment State Change"],
      resources: ["arn:aws:ecs:eu-west-1:123456789012:service/web/api", "arn:aws:ecs:eu-west-1:123456789012:service/web/web"],
    });
    for (const r of [task, deployment]) {
      expect(targetsOf(r)).toHaveLength(1);
      expect(targetsOf(r)[0]!.Arn).toEqual(fnArn("TrackLambdaFunction"));
      expect(targetsOf(r)[0]!.InputTransformer).toBeUndefined();
      // What track cannot take after EventBridge's retries waits in the rule dead-letter queue, whose policy lets these rules send.
      expect(targetsOf(r)[0]!.DeadLetterConfig).toEqual({ Arn: fnArn("RuleTargetsDeadLetterQueue") });
      expect(targetsOf(r)[0]!.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 });
    }
    expect(template.Resources.TrackDeploymentStateRulePermission?.Properties).toEqual({
      Action: "lambda:InvokeFunction",
      FunctionName: fnArn("TrackLambdaFunction"),
      Principal: "events.amazonaws.com",
      SourceArn: fnArn("TrackDeploymentStateRule"),
    });
  });

  it("notifies the SNS topic of the defaults on failed and timed-out runs, with a readable message", () => {
    const notify = rules().filter(([, r]) => String(targetsOf(r)[0]?.Arn).startsWith("arn:aws:sns:"));
    expect(notify).toHaveLength(1);
    const [, r] = notify[0]!;
    expect(r.Properties?.EventBusName).toEqual({ Ref: "BerthBus" });
    expect(r.Properties?.EventPattern).toEqual({ source: ["berth"], "detail-type": ["Berth Run State Change"], detail: { service: ["acme-jobs"], status: ["FAILED", "TIMED_OUT"] } });
    const t = targetsOf(r)[0]!;
    expect(t.Arn).toBe("arn:aws:sns:us-east-1:123456789012:acme-jobs-alerts");
    expect(t.InputTransformer?.InputPathsMap).toMatchObject({ job: "$.detail.job", runId: "$.detail.runId", status: "$.detail.status" });
    expect(t.InputTransformer?.InputTemplate).toContain("job <job> run <runId> is <status>");
  });

  it("keeps runs in the table the DynamoDB adapter defines, on demand, with point-in-time recovery and TTL", () => {
    const tables = resourcesOf(template, "AWS::DynamoDB::Table");
    expect(tables).toHaveLength(1);
    const p = tables[0]![1].Properties!;
    const definition = runTableDefinition(`acme-jobs-${STAGE}-runs`);
    expect(p).toEqual({
      TableName: definition.TableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: definition.AttributeDefinitions,
      KeySchema: definition.KeySchema,
      GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes,
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it("loses nothing: every rule target, schedule and function dead-letters to a queue with an alarm on its depth", () => {
    const targets = deadLetterTargets(template);
    // Rule targets: the 8 dispatch rules, notify, rejected events, task and deployment state; 2 schedules; 3 functions invoked asynchronously.
    expect(targets.length).toBe(12 + 2 + 3);
    const alarmed = alarmedQueues(template);
    for (const t of targets) {
      expect(t.queue, t.what).toBeDefined();
      expect(template.Resources[t.queue!]?.Type, t.what).toBe("AWS::SQS::Queue");
      expect(alarmed.has(t.queue!), `${t.what}: ${t.queue} has an alarm`).toBe(true);
    }
    // …and every queue of the stack, the rejected one included, has its alarm.
    for (const [id] of resourcesOf(template, "AWS::SQS::Queue")) expect(alarmed.has(id), id).toBe(true);
  });

  it("lets EventBridge write to the rule dead-letter queue for exactly this stack's rules", () => {
    const policies = resourcesOf(template, "AWS::SQS::QueuePolicy").filter(([, q]) => JSON.stringify(q.Properties?.Queues) === JSON.stringify([{ Ref: "RuleTargetsDeadLetterQueue" }]));
    expect(policies).toHaveLength(1);
    const p = policies[0]![1].Properties!;
    const [statement, ...more] = (p.PolicyDocument as { Statement: { Principal: unknown; Action: string[]; Resource: unknown[]; Condition: { ArnEquals: { "aws:SourceArn": unknown[] } } }[] }).Statement;
    expect(more).toHaveLength(0);
    expect(statement!.Principal).toEqual({ Service: "events.amazonaws.com" });
    expect(statement!.Action).toEqual(["sqs:SendMessage"]);
    expect(statement!.Resource).toEqual([fnArn("RuleTargetsDeadLetterQueue")]);
    expect(new Set(statement!.Condition.ArnEquals["aws:SourceArn"].map((a) => JSON.stringify(a)))).toEqual(new Set(rules().map(([id]) => JSON.stringify(fnArn(id)))));
  });

  it("routes the events dispatch rejects from berth's bus to the rejected-events queue, whose policy lets only that rule send", () => {
    const targeting = rules().filter(([, r]) => targetsOf(r).some((t) => JSON.stringify(t.Arn) === JSON.stringify(fnArn("RejectedEventsQueue"))));
    expect(targeting.map(([id]) => id)).toEqual(["RejectedEventsRule"]);
    const [, rule] = targeting[0]!;
    expect(rule.Properties?.EventBusName).toEqual({ Ref: "BerthBus" });
    expect(rule.Properties?.EventPattern).toEqual({ source: ["berth"], "detail-type": ["Berth Event Rejected"] });
    const [target, ...more] = targetsOf(rule) as (Target & { InputPath?: string })[];
    expect(more).toHaveLength(0);
    // The message body is the detail dispatch puts: { reason, job, event }.
    expect(target!.InputPath).toBe("$.detail");
    expect(target!.DeadLetterConfig?.Arn).toEqual(fnArn("RuleTargetsDeadLetterQueue"));
    expect(target!.RetryPolicy).toBeDefined();

    const policies = resourcesOf(template, "AWS::SQS::QueuePolicy").filter(([, q]) => JSON.stringify(q.Properties?.Queues) === JSON.stringify([{ Ref: "RejectedEventsQueue" }]));
    expect(policies).toHaveLength(1);
    expect(policies[0]![1].Properties!.PolicyDocument).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "EventBridgeRejectedEventsRule",
          Effect: "Allow",
          Principal: { Service: "events.amazonaws.com" },
          Action: ["sqs:SendMessage"],
          Resource: [fnArn("RejectedEventsQueue")],
          Condition: { ArnEquals: { "aws:SourceArn": [fnArn("RejectedEventsRule")] } },
        },
      ],
    });
  });

  it("gives each asynchronously invoked function an on-failure destination and Lambda's retries", () => {
    const configs = Object.fromEntries(resourcesOf(template, "AWS::Lambda::EventInvokeConfig").map(([, c]) => [(c.Properties!.FunctionName as { Ref: string }).Ref, c.Properties!]));
    expect(configs.DispatchLambdaFunction).toMatchObject({ Qualifier: "$LATEST", MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: fnArn("DispatchFailedInvocationsQueue") } } });
    expect(configs.TrackLambdaFunction).toMatchObject({ MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: fnArn("TrackFailedInvocationsQueue") } } });
    expect(configs.SweepLambdaFunction).toMatchObject({ MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: fnArn("SweepFailedInvocationsQueue") } } });
  });

  it("has one invoke permission per rule, for exactly that rule", () => {
    const permissions = resourcesOf(template, "AWS::Lambda::Permission").filter(([, p]) => p.Properties?.Principal === "events.amazonaws.com");
    const targeting = rules().filter(([, r]) => String(JSON.stringify(targetsOf(r)[0]?.Arn)).includes("LambdaFunction"));
    expect(permissions).toHaveLength(targeting.length);
    for (const [id, r] of targeting) {
      const fn = (targetsOf(r)[0]!.Arn as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0];
      expect(permissions.some(([, p]) => JSON.stringify(p.Properties) === JSON.stringify({ Action: "lambda:InvokeFunction", FunctionName: fnArn(fn!), Principal: "events.amazonaws.com", SourceArn: fnArn(id) })), id).toBe(true);
    }
  });

  it("deploys dispatch, track, sweep and the webhook on nodejs22.x, arm64, each with its environment and its own log group", () => {
    const functions = Object.fromEntries(resourcesOf(template, "AWS::Lambda::Function"));
    expect(Object.keys(functions).sort()).toEqual(["DispatchLambdaFunction", "SweepLambdaFunction", "TrackLambdaFunction", "WebhookLambdaFunction"]);
    for (const [id, f] of Object.entries(functions)) {
      const fn = id.replace("LambdaFunction", "").toLowerCase();
      expect(f.Properties).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"], Handler: `dist/handlers/${fn}.handler`, Role: fnArn(`${id.replace("LambdaFunction", "")}Role`) });
      const env = (f.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
      const common = { BERTH_BUS: `acme-jobs-${STAGE}`, BERTH_CATALOG: "dist/catalog.json", POWERTOOLS_SERVICE_NAME: "berth-acme-jobs", POWERTOOLS_LOG_LEVEL: "INFO" };
      // The example's webhook: block names an SSM parameter; its rotation window is the default hour.
      const secret = { BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: "/acme-jobs/webhook-secret", BERTH_WEBHOOK_ROTATION_SECONDS: "3600" };
      expect(env).toEqual(fn === "webhook" ? { ...common, ...secret } : { BERTH_TABLE: `acme-jobs-${STAGE}-runs`, ...common });
    }
    // GitHub stops waiting for an answer after 10 s.
    expect(functions.WebhookLambdaFunction!.Properties!.Timeout).toBeLessThan(10);
    const logs = resourcesOf(template, "AWS::Logs::LogGroup").map(([, g]) => g.Properties);
    expect(logs).toEqual(["dispatch", "track", "sweep", "webhook"].map((fn) => ({ LogGroupName: `/aws/lambda/acme-jobs-${STAGE}-${fn}`, RetentionInDays: 30 })));
  });

  it("packages each function with only its own bundle, every chunk it imports at cold start or at first use, and the catalog compiled from berth.yml now", () => {
    for (const fn of ["dispatch", "track", "sweep", "webhook"]) {
      const entries = readZip(join(packaged.packageDir, `${fn}.zip`));
      const bundle = handlerFiles(join(ROOT, "dist", "handlers"), fn);
      const loaded = [...bundle.coldStart, ...bundle.onFirstUse].map((file) => packagePath(ROOT, file));
      expect(loaded.filter((file) => file !== `dist/handlers/${fn}.mjs`).every((file) => file.startsWith(`dist/handlers/chunks/${fn}/`)), `${fn}'s chunks are its own`).toBe(true);
      expect([...entries.keys()].sort()).toEqual(["dist/catalog.json", ...loaded].sort());
      expect(JSON.parse(entries.get("dist/catalog.json")!.toString("utf8"))).toEqual(JSON.parse(JSON.stringify(compiled)));
      for (const file of loaded) expect(entries.get(file)!.equals(readFileSync(join(ROOT, file))), file).toBe(true);
    }
    // The three engine functions each load the service deployer's chunk when they first deploy, stop or read a deployment.
    for (const fn of ["dispatch", "track", "sweep"]) expect(handlerFiles(join(ROOT, "dist", "handlers"), fn).onFirstUse).toHaveLength(1);
  });

  // Since October 2025 a new function URL needs both lambda:InvokeFunctionUrl and lambda:InvokeFunction in the
  // function's resource policy (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html, "Control access to Lambda
  // function URLs"); with auth type NONE the public InvokeFunction is held to invocations through the URL.
  it("puts the webhook behind a function URL with auth type NONE and both permissions AWS requires of a new function URL", () => {
    const urls = resourcesOf(template, "AWS::Lambda::Url");
    expect(urls).toEqual([["WebhookLambdaFunctionUrl", { Type: "AWS::Lambda::Url", Properties: { AuthType: "NONE", TargetFunctionArn: fnArn("WebhookLambdaFunction") } }]]);
    const toWebhook = resourcesOf(template, "AWS::Lambda::Permission").filter(([, p]) => JSON.stringify(p.Properties?.FunctionName) === JSON.stringify(fnArn("WebhookLambdaFunction")));
    expect(toWebhook.map(([, p]) => p.Properties).sort((a, b) => String(a!.Action).localeCompare(String(b!.Action)))).toEqual([
      { FunctionName: fnArn("WebhookLambdaFunction"), Action: "lambda:InvokeFunction", Principal: "*", InvokedViaFunctionUrl: true },
      { FunctionName: fnArn("WebhookLambdaFunction"), Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionUrlAuthType: "NONE" },
    ]);
    // No rule or schedule invokes it: only the URL does, synchronously, so it has no asynchronous settings to dead-letter.
    expect(JSON.stringify(resourcesOf(template, "AWS::Events::Rule").concat(resourcesOf(template, "AWS::Scheduler::Schedule")))).not.toContain("WebhookLambdaFunction");
    expect(resourcesOf(template, "AWS::Lambda::EventInvokeConfig").map(([, c]) => (c.Properties!.FunctionName as { Ref: string }).Ref)).not.toContain("WebhookLambdaFunction");
    expect(template.Outputs?.BerthWebhookUrl?.Value).toEqual({ "Fn::GetAtt": ["WebhookLambdaFunctionUrl", "FunctionUrl"] });
  });

  it("gives the CLI its table, bus and queues as stack outputs", () => {
    const outputs = template.Outputs ?? {};
    expect(outputs.BerthRunsTable?.Value).toEqual({ Ref: "RunsTable" });
    expect(outputs.BerthBus?.Value).toEqual({ Ref: "BerthBus" });
    expect(outputs.BerthRejectedQueue?.Value).toEqual({ Ref: "RejectedEventsQueue" });
    const dlqs = String(resolve(template, outputs.BerthDeadLetterQueues?.Value)).split(",");
    const expected = new Set(deadLetterTargets(template).map((t) => t.queue!));
    expect(new Set(dlqs)).toEqual(new Set([...expected].map((q) => String(resolve(template, { Ref: q })))));
    expect(resolve(template, outputs.BerthWebhookUrl?.Value)).toMatch(/^https:\/\/[a-z0-9]+\.lambda-url\.eu-west-1\.on\.aws\/$/);
  });

  it("never allows a wildcard resource for RunTask, StopTask, UpdateService, DescribeServices, StopServiceDeployment, PassRole, PutEvents or DynamoDB", () => {
    expect(wildcardViolations(template)).toEqual([]);
  });

  it("says in the template, on the statement's role, why each resource that names no particular resource cannot be scoped", () => {
    expect(unexplainedWildcards(template)).toEqual([]);
  });

  it("stays within every quota", () => {
    expect(quotaViolations(quotaReport(template))).toEqual([]);
  });
});

describe("the example catalog's roles", () => {
  const statementsOf = (role: string) => roleStatements(template).filter((s) => s.role === role).map((s) => s.statement);
  const actions = (role: string) => new Set(statementsOf(role).flatMap(actionsOf));
  const withAction = (role: string, action: string) => statementsOf(role).filter((s) => actionsOf(s).includes(action));

  it("runs only the catalog's task-definition families, only on its cluster", () => {
    for (const role of ["DispatchRole", "TrackRole", "SweepRole"]) {
      const [runTask, ...more] = withAction(role, "ecs:RunTask");
      expect(more).toHaveLength(0);
      expect(new Set(resourcesOfStatement(runTask!).map((r) => resolve(template, r)))).toEqual(
        new Set(["thumbnailer", "web-migrate", "pg-backup", "report", "reindexer", "image-scanner"].map((f) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${f}:*`)),
      );
      expect(resolve(template, runTask!.Condition)).toEqual({ ArnEquals: { "ecs:cluster": ["arn:aws:ecs:eu-west-1:123456789012:cluster/jobs"] } });
      const [tag] = withAction(role, "ecs:TagResource").filter((s) => JSON.stringify(s.Condition).includes("RunTask"));
      expect(tag!.Condition).toEqual({ StringEquals: { "ecs:CreateAction": "RunTask" } });
      expect(resolve(template, withAction(role, "ecs:StopTask")[0]!.Resource)).toEqual(["arn:aws:ecs:eu-west-1:123456789012:task/jobs/*"]);
    }
  });

  it("asks ECS about tasks only from the sweep, and sends to no queue but the function's own on-failure destination", () => {
    expect(actions("SweepRole").has("ecs:DescribeTasks")).toBe(true);
    expect(actions("DispatchRole").has("ecs:DescribeTasks")).toBe(false);
    expect(actions("TrackRole").has("ecs:DescribeTasks")).toBe(false);
    const sends = (role: string) => withAction(role, "sqs:SendMessage").flatMap((s) => resourcesOfStatement(s).map((r) => JSON.stringify(r)));
    expect(sends("DispatchRole")).toEqual([JSON.stringify(fnArn("DispatchFailedInvocationsQueue"))]);
    expect(sends("TrackRole")).toEqual([JSON.stringify(fnArn("TrackFailedInvocationsQueue"))]);
    expect(sends("SweepRole")).toEqual([JSON.stringify(fnArn("SweepFailedInvocationsQueue"))]);
  });

  it("passes only the roles berth.yml names, only to ECS tasks", () => {
    for (const role of ["DispatchRole", "TrackRole", "SweepRole"]) {
      const [pass, ...more] = withAction(role, "iam:PassRole");
      expect(more).toHaveLength(0);
      expect([...resourcesOfStatement(pass!)].sort()).toEqual(["arn:aws:iam::123456789012:role/acme-jobs-task", "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"]);
      expect(pass!.Condition).toEqual({ StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } });
    }
  });

  it("publishes only to berth's bus, and reaches only the runs table and the indexes each function queries", () => {
    for (const role of ["DispatchRole", "TrackRole", "SweepRole"]) {
      expect(withAction(role, "events:PutEvents").flatMap(resourcesOfStatement)).toEqual([fnArn("BerthBus")]);
      const dynamo = statementsOf(role).filter((s) => actionsOf(s).some((a) => a.startsWith("dynamodb:")));
      const resources = dynamo.flatMap(resourcesOfStatement).map((r) => resolve(template, r));
      const table = `arn:aws:dynamodb:eu-west-1:123456789012:table/acme-jobs-${STAGE}-runs`;
      // deploy-web and deploy-api supersede: admitting them reads the job's history (byJob) and its last deployed run (byJobStatus).
      const superseding = [`${table}/index/byJob`, `${table}/index/byJobStatus`];
      expect(resources).toEqual(role === "SweepRole" ? [table, `${table}/index/open`, `${table}/index/queued`, ...superseding] : [table, `${table}/index/queued`, ...superseding]);
    }
  });

  it("deploys, tracks and stops deployments of only the catalog's services, with exactly the deployer's ECS calls", () => {
    const services = ["api", "web"].map((name) => `arn:aws:ecs:eu-west-1:123456789012:service/web/${name}`);
    const under = (kind: string) => ["api", "web"].map((name) => `arn:aws:ecs:eu-west-1:123456789012:${kind}/web/${name}/*`);
    for (const role of ["DispatchRole", "TrackRole", "SweepRole"]) {
      const on = (action: string) => withAction(role, action).flatMap((s) => resourcesOfStatement(s).map((r) => resolve(template, r))).sort();
      expect(on("ecs:UpdateService")).toEqual(services);
      expect(on("ecs:DescribeServices")).toEqual(services);
      expect(on("ecs:ListServiceDeployments")).toEqual(services);
      // Authorized against the service and the deployment or revision, both required (Service Authorization Reference, ECS).
      expect(on("ecs:DescribeServiceDeployments")).toEqual([...under("service-deployment"), ...services].sort());
      expect(on("ecs:StopServiceDeployment")).toEqual([...under("service-deployment"), ...services].sort());
      expect(on("ecs:DescribeServiceRevisions")).toEqual([...under("service-revision"), ...services].sort());
      // No resource type in the Service Authorization Reference: "*" is the only resource IAM accepts.
      for (const action of ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:DeregisterTaskDefinition"]) expect(on(action), action).toEqual(["*"]);
      expect(on("ecs:RegisterTaskDefinition")).toEqual(["arn:aws:ecs:eu-west-1:123456789012:task-definition/*"]);
      const tagging = withAction(role, "ecs:TagResource").filter((s) => JSON.stringify(s.Condition).includes("RegisterTaskDefinition"));
      expect(tagging.map((s) => [resolve(template, s.Resource), s.Condition])).toEqual([
        [["arn:aws:ecs:eu-west-1:123456789012:task-definition/*"], { StringEquals: { "ecs:CreateAction": "RegisterTaskDefinition" } }],
      ]);
      const ecs = [...actions(role)].filter((a) => a.startsWith("ecs:")).sort();
      expect(ecs).toEqual(
        [
          "ecs:DeregisterTaskDefinition",
          "ecs:DescribeServiceDeployments",
          "ecs:DescribeServiceRevisions",
          "ecs:DescribeServices",
          "ecs:DescribeTaskDefinition",
          ...(role === "SweepRole" ? ["ecs:DescribeTasks"] : []),
          "ecs:ListServiceDeployments",
          "ecs:ListTaskDefinitions",
          "ecs:RegisterTaskDefinition",
          "ecs:RunTask",
          "ecs:StopServiceDeployment",
          "ecs:StopTask",
          "ecs:TagResource",
          "ecs:UpdateService",
        ].sort(),
      );
      const notes = template.Resources[role]!.Metadata?.["berth:unscoped-statements"] as Record<string, string>;
      expect(notes[withAction(role, "ecs:DescribeTaskDefinition")[0]!.Sid!]).toMatch(/no resource type in the Service Authorization Reference/);
      expect(notes[withAction(role, "ecs:RegisterTaskDefinition")[0]!.Sid!]).toMatch(/berth\.yml does not name/);
    }
  });

  it("gives the webhook's role its logs, Git Push events on berth's bus and the SSM parameter berth.yml names, decrypted only through SSM, and nothing of the catalog's", () => {
    const parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/acme-jobs/webhook-secret";
    expect(statementsOf("WebhookRole").map((s) => [actionsOf(s), resolve(template, s.Resource), resolve(template, s.Condition) ?? null])).toEqual([
      [["logs:CreateLogStream", "logs:PutLogEvents"], [`arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/acme-jobs-${STAGE}-webhook:*`], null],
      [["events:PutEvents"], [`arn:aws:events:eu-west-1:123456789012:event-bus/acme-jobs-${STAGE}`], { StringEquals: { "events:source": ["berth.git"], "events:detail-type": ["Git Push"] } }],
      [["ssm:GetParameter"], [parameter], null],
      // A SecureString's encryption context is its parameter's ARN (https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html#parameter-store-encryption-context).
      [["kms:Decrypt"], ["arn:aws:kms:eu-west-1:123456789012:key/*"], { StringEquals: { "kms:ViaService": "ssm.eu-west-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": parameter } }],
    ]);
    expect(resourcesOf(template, "AWS::IAM::ManagedPolicy")).toEqual([]);
  });

  it("lets Scheduler assume its roles only for berth's schedule group in this account", () => {
    for (const role of ["JobSchedulerRole", "SweepSchedulerRole"]) {
      const trust = resolve(template, template.Resources[role]!.Properties!.AssumeRolePolicyDocument) as { Statement: { Principal: unknown; Condition: unknown }[] };
      expect(trust.Statement[0]!.Principal).toEqual({ Service: "scheduler.amazonaws.com" });
      expect(trust.Statement[0]!.Condition).toEqual({
        StringEquals: { "aws:SourceAccount": "123456789012" },
        ArnEquals: { "aws:SourceArn": `arn:aws:scheduler:eu-west-1:123456789012:schedule-group/acme-jobs-${STAGE}` },
      });
    }
    expect(withAction("JobSchedulerRole", "events:PutEvents").flatMap(resourcesOfStatement)).toEqual([fnArn("BerthBus")]);
    expect(withAction("SweepSchedulerRole", "lambda:InvokeFunction").flatMap(resourcesOfStatement)).toEqual([fnArn("SweepLambdaFunction")]);
  });
});
