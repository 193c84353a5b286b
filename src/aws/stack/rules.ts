/**
 * The planned rules as CloudFormation: AWS::Events::Rule with one target
 * each, its input, retry policy and dead-letter queue, and the invoke
 * permissions that let EventBridge call dispatch and track.
 *
 * Targets and their input transformers:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-events-rule-target.html
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
 * (`<aws.events.event.json>` is the whole event, usable only as a JSON value: it is not escaped).
 * SNS and SQS targets are authorized by the topic's or queue's own policy, never a role:
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
 */
import { arnOf, ref, type Json, type Resource, type Resources } from "./cfn.ts";
import { digest, ruleArnPattern, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";
import { BUDGETS } from "./quotas.ts";
import { busKey, busName, type PlannedRule } from "./routing.ts";

/** The input a rule targeting dispatch for one job sends: exactly `{"job": "<name>", "event": <the event>}`. */
export function jobInputTemplate(job: string): string {
  return `{"job": ${JSON.stringify(job)}, "event": <aws.events.event.json>}`;
}

/**
 * A run state change as one line for a person: only fields every `Berth Run State Change` carries
 * (runs/effects.ts `RunStateChangeDetail`), and the command that shows the rest. The template is one
 * quoted string, so EventBridge inserts each value as plain text; outside quotes it would insert them as
 * JSON, each in quotes of its own (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
 * Inside quotes values go in unescaped, so only values that cannot hold a quote are used: job names,
 * run ids, statuses and attempt numbers (a trigger summary can: an S3 key may contain `"`).
 */
export function notifyInputTransformer(names: StackNames): Json {
  return {
    InputPathsMap: {
      job: "$.detail.job",
      runId: "$.detail.runId",
      status: "$.detail.status",
      attempt: "$.detail.attempt",
    },
    InputTemplate: `"berth ${names.prefix}: job <job> run <runId> is <status> (attempt <attempt>). Details: berth runs show <runId> --stage ${names.stage}"`,
  };
}

/**
 * EventBridge retries a target for up to 24 hours, 185 times (its defaults, written out), then dead-letters
 * the event: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html
 */
const TARGET_RETRY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 };

function target(rule: PlannedRule, names: StackNames): Json {
  const common = { RetryPolicy: TARGET_RETRY, DeadLetterConfig: { Arn: arnOf(LOGICAL.ruleDeadLetterQueue) } };
  if (rule.target.kind === "sns") {
    return { Id: "notify", Arn: rule.target.topic, InputTransformer: notifyInputTransformer(names), ...common };
  }
  // The queue's policy lets this rule send (queues.ts); the message body is the detail alone.
  if (rule.target.kind === "queue") return { Id: "queue", Arn: arnOf(rule.target.queue), InputPath: "$.detail", ...common };
  const fn = rule.target.fn;
  return {
    Id: fn,
    Arn: arnOf(LOGICAL.lambda(fn)),
    ...(rule.input.kind === "job" ? { InputTransformer: { InputTemplate: jobInputTemplate(rule.input.job) } } : {}),
    ...common,
  };
}

function eventRule(rule: PlannedRule, names: StackNames): Resource {
  const bus: Record<string, Json> = rule.bus.kind === "berth" ? { EventBusName: ref(LOGICAL.bus) } : rule.bus.kind === "named" ? { EventBusName: rule.bus.name } : {};
  return {
    Type: "AWS::Events::Rule",
    Properties: {
      Name: rule.name,
      Description: `berth ${names.prefix}: ${rule.description}`.slice(0, 512),
      ...bus,
      EventPattern: rule.pattern,
      State: "ENABLED",
      Targets: [target(rule, names)],
    },
  };
}

/**
 * EventBridge may invoke a function for the rules that target it: one permission per rule while the
 * function's resource policy stays well under its 20 KB quota, else one per bus matching the stack's rule
 * names (https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html; consolidating with
 * wildcards: https://repost.aws/knowledge-center/lambda-resource-based-policy-size-error).
 */
function invokePermissions(rules: readonly PlannedRule[], names: StackNames): Resources {
  const resources: Resources = {};
  const permission = (fn: "dispatch" | "track", sourceArn: Json): Resource => ({
    Type: "AWS::Lambda::Permission",
    Properties: { Action: "lambda:InvokeFunction", FunctionName: arnOf(LOGICAL.lambda(fn)), Principal: "events.amazonaws.com", SourceArn: sourceArn },
  });
  for (const fn of ["dispatch", "track"] as const) {
    const targeting = rules.filter((r) => r.target.kind === "function" && r.target.fn === fn);
    if (targeting.length <= BUDGETS.exactInvokePermissions) {
      for (const r of targeting) resources[`${r.logicalId}Permission`] = permission(fn, arnOf(r.logicalId));
      continue;
    }
    const buses = new Map(targeting.map((r) => [busKey(r.bus), busName(r.bus, names)]));
    for (const [key, name] of buses) {
      const id = `${fn === "dispatch" ? "Dispatch" : "Track"}Permission${key === "default" ? "DefaultBus" : key === "berth" ? "BerthBus" : `Bus${digest(key)}`}`;
      resources[id] = permission(fn, ruleArnPattern(name, `${names.prefix}-*`));
    }
  }
  return resources;
}

export function ruleResources(rules: readonly PlannedRule[], names: StackNames): Resources {
  return {
    ...Object.fromEntries(rules.map((r) => [r.logicalId, eventRule(r, names)])),
    ...invokePermissions(rules, names),
  };
}
