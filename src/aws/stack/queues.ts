/**
 * Nothing lost: every way an event can fail to reach berth, or fail inside
 * it, ends in an SQS queue with a CloudWatch alarm on its depth.
 *
 * | queue                      | receives                                                         | written by                         |
 * |----------------------------|------------------------------------------------------------------|------------------------------------|
 * | RuleTargetsDeadLetterQueue | events a rule could not deliver to its target (dispatch, track, SNS) | EventBridge, per its queue policy |
 * | SchedulesDeadLetterQueue   | schedule firings Scheduler could not deliver (the bus, the sweep)   | Scheduler, with its role          |
 * | <Fn>FailedInvocationsQueue | asynchronous invocations that failed after Lambda's retries     | Lambda, with the function's role   |
 * | RejectedEventsQueue        | events dispatch rejects (malformed, unknown job), with the reason | EventBridge, for the rejected-events rule only |
 * | BatchDeadLetterQueue       | batch reminders the batch function failed to settle, time after time | SQS, the batch queue's redrive policy |
 *
 * Dispatch puts each rejection on berth's bus as a `Berth Event Rejected` event (src/aws/rejected-events.ts);
 * the rejected-events rule (routing.ts) delivers its detail here, so dispatch needs no SQS client.
 *
 * EventBridge dead-letter queues and SQS targets: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions
 * (the queue policy must let events.amazonaws.com send, conditioned on the rule's ARN);
 * Lambda on-failure destinations: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
 */
import { arnOf, attr, ref, resolvedSize, type CfnString, type Json, type Resource, type Resources } from "./cfn.ts";
import { ENGINE_FUNCTIONS, ruleArnPattern, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";
import { BATCH_FUNCTION_TIMEOUT, MAX_RECEIVES } from "./batch.ts";
import { BUDGETS } from "./quotas.ts";
import { busName, type PlannedRule } from "./routing.ts";

/** The longest SQS keeps a message: 14 days to look at what failed and send it again. */
const RETENTION_SECONDS = 14 * 24 * 3600;

function queue(name: string): Resource {
  // SSE with SQS-owned keys: EventBridge and Scheduler can write to it without a KMS key policy.
  return { Type: "AWS::SQS::Queue", Properties: { QueueName: name, MessageRetentionPeriod: RETENTION_SECONDS, SqsManagedSseEnabled: true } };
}

/**
 * Any message in the queue is worth a look: the alarm goes off at the first one and clears when it is empty.
 * SQS sends ApproximateNumberOfMessagesVisible every minute: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
 */
function depthAlarm(names: StackNames, queueLogicalId: string, what: string): Resource {
  return {
    Type: "AWS::CloudWatch::Alarm",
    Properties: {
      AlarmName: `${names.prefix}-${queueLogicalId}-not-empty`,
      AlarmDescription: `berth ${names.prefix}: ${what}. Read the messages in the queue (berth doctor --stage ${names.stage} lists the queues).`,
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: attr(queueLogicalId, "QueueName") }],
      Statistic: "Maximum",
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching",
    },
  };
}

export interface QueueSet {
  readonly resources: Resources;
  /** Logical ids of the dead-letter queues (the rejected queue is not one: it is the answer to bad input). */
  readonly deadLetterQueues: readonly string[];
}

/** With `batching`, the batch queue and its dead-letter queue too (batch.ts). */
export function queues(names: StackNames, rules: readonly PlannedRule[], batching = false): QueueSet {
  const resources: Resources = {};
  const add = (logicalId: string, name: string, what: string) => {
    resources[logicalId] = queue(names.queue(name));
    resources[LOGICAL.alarm(logicalId)] = depthAlarm(names, logicalId, what);
  };
  const deadLetterQueues: string[] = [];
  if (rules.length > 0) {
    add(LOGICAL.ruleDeadLetterQueue, "rule-targets-dlq", "EventBridge could not deliver events to a rule's target");
    resources[LOGICAL.ruleDeadLetterQueuePolicy] = ruleQueuePolicy(names, rules);
    deadLetterQueues.push(LOGICAL.ruleDeadLetterQueue);
  }
  // The sweep's schedule is always there, so is this queue.
  add(LOGICAL.schedulesDeadLetterQueue, "schedules-dlq", "EventBridge Scheduler could not deliver a schedule's firing");
  deadLetterQueues.push(LOGICAL.schedulesDeadLetterQueue);
  for (const fn of ENGINE_FUNCTIONS) {
    add(LOGICAL.failureQueue(fn), `${fn}-failed`, `invocations of ${fn} failed after Lambda's retries`);
    deadLetterQueues.push(LOGICAL.failureQueue(fn));
  }
  add(LOGICAL.rejectedQueue, "rejected", "dispatch rejected events (each message says why)");
  resources[LOGICAL.rejectedQueuePolicy] = rejectedQueuePolicy(rules);
  if (batching) {
    add(LOGICAL.batchDeadLetterQueue, "batch-dlq", `the batch function failed to settle a batch ${MAX_RECEIVES} times (the message names its job)`);
    deadLetterQueues.push(LOGICAL.batchDeadLetterQueue);
    resources[LOGICAL.batchQueue] = batchQueue(names);
  }
  return { resources, deadLetterQueues };
}

/**
 * The batch timer's reminders, each held back until its batch's window ends. A reminder being settled stays
 * invisible for six times the batch function's timeout, as AWS advises for a Lambda event source; one that
 * failed `MAX_RECEIVES` times waits in the dead-letter queue. Only the stack's functions use it: no queue policy.
 */
function batchQueue(names: StackNames): Resource {
  const { Properties } = queue(names.queue("batch"));
  return {
    Type: "AWS::SQS::Queue",
    Properties: {
      ...Properties,
      VisibilityTimeout: 6 * BATCH_FUNCTION_TIMEOUT,
      RedrivePolicy: { deadLetterTargetArn: arnOf(LOGICAL.batchDeadLetterQueue), maxReceiveCount: MAX_RECEIVES },
    },
  };
}

/** EventBridge may send to the rejected-events queue for the rules that target it, and for nothing else. */
function rejectedQueuePolicy(rules: readonly PlannedRule[]): Resource {
  const targeting = rules.filter((r) => r.target.kind === "queue" && r.target.queue === LOGICAL.rejectedQueue);
  return {
    Type: "AWS::SQS::QueuePolicy",
    Properties: {
      Queues: [ref(LOGICAL.rejectedQueue)],
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "EventBridgeRejectedEventsRule",
            Effect: "Allow",
            Principal: { Service: "events.amazonaws.com" },
            Action: ["sqs:SendMessage"],
            Resource: [arnOf(LOGICAL.rejectedQueue)],
            Condition: { ArnEquals: { "aws:SourceArn": targeting.map((r) => arnOf(r.logicalId)) } },
          },
        ],
      },
    },
  };
}

/**
 * EventBridge may send only for berth's own rules: their ARNs exactly while the policy fits its quota,
 * else berth's rule names on each bus (every rule of the stack is named `<service>-<stage>-…`).
 */
function ruleQueuePolicy(names: StackNames, rules: readonly PlannedRule[]): Resource {
  const exact: CfnString[] = rules.map((r) => arnOf(r.logicalId));
  const statement = (condition: Record<string, Json>) => ({
    Sid: "EventBridgeRulesOfThisStack",
    Effect: "Allow" as const,
    Principal: { Service: "events.amazonaws.com" },
    Action: ["sqs:SendMessage"],
    Resource: [arnOf(LOGICAL.ruleDeadLetterQueue)],
    Condition: condition,
  });
  const document = (condition: Record<string, Json>): Json => ({ Version: "2012-10-17", Statement: [statement(condition)] });
  let chosen = document({ ArnEquals: { "aws:SourceArn": exact } });
  if (resolvedSize(chosen) > BUDGETS.queuePolicyBytes) {
    const buses = [...new Set(rules.map((r) => busName(r.bus, names) ?? ""))].sort();
    chosen = document({ ArnLike: { "aws:SourceArn": buses.map((b) => ruleArnPattern(b === "" ? undefined : b, `${names.prefix}-*`)) } });
  }
  return { Type: "AWS::SQS::QueuePolicy", Properties: { Queues: [ref(LOGICAL.ruleDeadLetterQueue)], PolicyDocument: chosen } };
}
