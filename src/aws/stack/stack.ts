/**
 * The stack compiled from the catalog: compiled catalog + stage in, the
 * Serverless `functions` block and the CloudFormation `resources` (with
 * Outputs) out. Pure: no AWS call, no file; the same catalog and stage give
 * the same template, so adding a job adds its resources and replaces nothing.
 *
 *   routing.ts    which EventBridge rules, on which bus, grouped past the quotas
 *   rules.ts      the rules as CloudFormation, their inputs and invoke permissions
 *   schedules.ts  Scheduler schedules (jobs and the sweep)
 *   queues.ts     dead-letter queues, the rejected-events queue, their policies and alarms
 *   iam.ts        one least-privilege role per function, and Scheduler's roles
 *   functions.ts  the functions (environment, package) and their async settings
 *   webhook.ts    the webhook function behind its function URL, when GitHub or GitLab pushes come in
 *   batch.ts      the batch queue's function and the manifest bucket, when a job batches uploads
 *   quotas.ts     the AWS quotas and berth's budgets under them
 */
import type { CompiledCatalog } from "../../core/catalog/compiled.ts";
import { ConfigurationError } from "../../core/errors.ts";
import { runTableDefinition } from "../dynamo-run-store.ts";
import { batchResources, batches, hasManifestBucket } from "./batch.ts";
import { attr, join, ref, type Json, type Output, type Resources } from "./cfn.ts";
import { eventInvokeConfigs, serverlessFunctions, stackFunctions } from "./functions.ts";
import { functionRoles, jobSchedulerRole, sweepSchedulerRole } from "./iam.ts";
import { LOGICAL } from "./logical-ids.ts";
import { checkStage, stackNames, type FunctionName, type StackNames } from "./names.ts";
import { queues } from "./queues.ts";
import { BUDGETS, QUOTAS } from "./quotas.ts";
import { busKey, planRouting, type BusKey, type GroupLevel, type RoutingPlan } from "./routing.ts";
import { ruleResources } from "./rules.ts";
import { schedules } from "./schedules.ts";

export interface StackOptions {
  readonly stage: string;
}

export interface StackSummary {
  readonly rulesByBus: Readonly<Record<BusKey, number>>;
  readonly grouped: Readonly<Record<BusKey, GroupLevel>>;
  readonly jobSchedules: number;
  /** Whether the stack has the webhook function, and its URL in the BerthWebhookUrl output. */
  readonly webhook: boolean;
  /** Resources in the packaged template, Serverless's own included. */
  readonly resources: number;
}

export interface Stack {
  readonly names: StackNames;
  readonly functions: Record<string, Json>;
  readonly resources: { readonly Resources: Resources; readonly Outputs: Record<string, Output> };
  readonly summary: StackSummary;
}

/**
 * What Serverless adds to the template: the deployment bucket and its policy, per function the function and
 * its log group, and for the webhook's `url:` the function URL and its two permissions.
 */
export function serverlessResources(functions: readonly FunctionName[]): number {
  return 2 + 2 * functions.length + (functions.includes("webhook") ? 3 : 0);
}

export function compileStack(compiled: CompiledCatalog, options: StackOptions): Stack {
  const stageProblem = checkStage(options.stage);
  if (stageProblem) throw new ConfigurationError(stageProblem);
  const names = stackNames(compiled.catalog.service, options.stage);

  // Group more buses, most rules first, until the stack fits its resource budget.
  const groupBuses = new Set<BusKey>();
  for (;;) {
    const plan = planRouting(compiled, names, { groupBuses });
    const stack = assemble(compiled, names, plan);
    if (stack.summary.resources <= BUDGETS.resourcesPerStack) return stack;
    const next = ungroupedBusWithMostRules(plan);
    if (next === undefined) {
      throw new ConfigurationError(
        `the stack would have ${stack.summary.resources} resources (CloudFormation allows ${QUOTAS.resourcesPerStack} per stack; berth keeps ` +
          `${BUDGETS.resourcesPerStack}) even with every bus's rules grouped by event source: ${stack.summary.jobSchedules} schedules ` +
          `are one resource each. Move some schedule jobs to a second service (another berth.yml).`,
      );
    }
    groupBuses.add(next);
  }
}

function ungroupedBusWithMostRules(plan: RoutingPlan): BusKey | undefined {
  const counts = new Map<BusKey, number>();
  for (const r of plan.rules) if (r.input.kind === "job" && !plan.grouped.has(busKey(r.bus))) counts.set(busKey(r.bus), (counts.get(busKey(r.bus)) ?? 0) + 1);
  const [best] = [...counts.entries()].filter(([, n]) => n > 1).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return best?.[0];
}

function assemble(compiled: CompiledCatalog, names: StackNames, plan: RoutingPlan): Stack {
  const catalog = compiled.catalog;
  const table = runTableDefinition(names.table);
  const scheduled = schedules(catalog, names);
  const queued = queues(names, plan.rules, batches(catalog));
  const functions = stackFunctions(catalog);
  const resources: Resources = {
    [LOGICAL.table]: {
      Type: "AWS::DynamoDB::Table",
      Properties: {
        TableName: names.table,
        BillingMode: table.BillingMode as string,
        AttributeDefinitions: (table.AttributeDefinitions ?? []).map((a) => ({ AttributeName: a.AttributeName!, AttributeType: a.AttributeType! })),
        KeySchema: (table.KeySchema ?? []).map((k) => ({ AttributeName: k.AttributeName!, KeyType: k.KeyType! })),
        GlobalSecondaryIndexes: (table.GlobalSecondaryIndexes ?? []).map((i) => ({
          IndexName: i.IndexName!,
          KeySchema: (i.KeySchema ?? []).map((k) => ({ AttributeName: k.AttributeName!, KeyType: k.KeyType! })),
          Projection: { ProjectionType: i.Projection!.ProjectionType! },
        })),
        TimeToLiveSpecification: { AttributeName: table.TimeToLiveSpecification.AttributeName!, Enabled: table.TimeToLiveSpecification.Enabled! },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    },
    [LOGICAL.bus]: { Type: "AWS::Events::EventBus", Properties: { Name: names.bus } },
    ...ruleResources(plan.rules, names),
    ...scheduled.resources,
    ...queued.resources,
    ...functionRoles(catalog, names),
    ...(scheduled.jobSchedules > 0 ? { [LOGICAL.jobSchedulerRole]: jobSchedulerRole(names) } : {}),
    [LOGICAL.sweepSchedulerRole]: sweepSchedulerRole(names),
    ...eventInvokeConfigs(),
    ...batchResources(catalog),
  };
  const Outputs: Record<string, Output> = {
    BerthRunsTable: { Description: "the DynamoDB table of berth's runs", Value: ref(LOGICAL.table) },
    BerthBus: { Description: "berth's event bus of the stage", Value: ref(LOGICAL.bus) },
    BerthRejectedQueue: { Description: "URL of the SQS queue of events dispatch rejected, each with its reason", Value: ref(LOGICAL.rejectedQueue) },
    BerthDeadLetterQueues: { Description: "URLs of every dead-letter queue of the stack, comma-separated", Value: join(",", queued.deadLetterQueues.map(ref)) },
    ...(functions.includes("webhook")
      ? { BerthWebhookUrl: { Description: "the webhook's function URL: GitHub deliveries to <url>github, GitLab's to <url>gitlab", Value: attr(LOGICAL.functionUrl("webhook"), "FunctionUrl") } }
      : {}),
    ...(batches(catalog) ? { BerthBatchQueue: { Description: "URL of the SQS queue whose reminders close batch windows on time", Value: ref(LOGICAL.batchQueue) } } : {}),
    ...(hasManifestBucket(catalog)
      ? { BerthManifestBucket: { Description: "the S3 bucket of the stage's batch manifests, s3://<bucket>/<job>/<batch id>.jsonl", Value: ref(LOGICAL.manifestBucket) } }
      : {}),
  };
  const rulesByBus: Record<BusKey, number> = {};
  for (const r of plan.rules) rulesByBus[busKey(r.bus)] = (rulesByBus[busKey(r.bus)] ?? 0) + 1;
  return {
    names,
    functions: serverlessFunctions(catalog, names),
    resources: { Resources: resources, Outputs },
    summary: {
      rulesByBus,
      grouped: Object.fromEntries(plan.grouped),
      jobSchedules: scheduled.jobSchedules,
      webhook: functions.includes("webhook"),
      resources: Object.keys(resources).length + serverlessResources(functions),
    },
  };
}
