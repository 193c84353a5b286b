/** The harness delivers to an SQS target only what the queue's policy lets the rule send, as SQS decides. */
import { describe, expect, it } from "vitest";
import { StackModel, type Template } from "./stack-harness.ts";

const PLACE = { stackName: "svc-dev", region: "us-east-1", account: "123456789012" };
const RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/svc-dev/svc-dev-rejected";
const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:svc-dev-rejected";

function stackWithPolicy(statement: Record<string, unknown>): StackModel {
  const template: Template = {
    Resources: {
      Bus: { Type: "AWS::Events::EventBus", Properties: { Name: "svc-dev" } },
      Queue: { Type: "AWS::SQS::Queue", Properties: { QueueName: "svc-dev-rejected" } },
      Rule: {
        Type: "AWS::Events::Rule",
        Properties: { Name: "svc-dev-rejected", EventBusName: { Ref: "Bus" }, EventPattern: { source: ["berth"] }, Targets: [{ Id: "queue", Arn: { "Fn::GetAtt": ["Queue", "Arn"] } }] },
      },
      Policy: {
        Type: "AWS::SQS::QueuePolicy",
        Properties: { Queues: [{ Ref: "Queue" }], PolicyDocument: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [{ "Fn::GetAtt": ["Queue", "Arn"] }], ...statement }] } },
      },
    },
  };
  return new StackModel(template, PLACE, "/nonexistent");
}

describe("StackModel.queueAccepts", () => {
  it.each([
    ["the rule's ARN exactly", { Principal: { Service: "events.amazonaws.com" }, Condition: { ArnEquals: { "aws:SourceArn": [{ "Fn::GetAtt": ["Rule", "Arn"] }] } } }, true],
    ["a pattern of the stack's rule names", { Principal: { Service: "events.amazonaws.com" }, Condition: { ArnLike: { "aws:SourceArn": ["arn:aws:events:us-east-1:123456789012:rule/svc-dev/svc-dev-*"] } } }, true],
    ["another rule's ARN", { Principal: { Service: "events.amazonaws.com" }, Condition: { ArnEquals: { "aws:SourceArn": ["arn:aws:events:us-east-1:123456789012:rule/svc-dev/other"] } } }, false],
    ["another service", { Principal: { Service: "sns.amazonaws.com" } }, false],
  ])("takes a message allowed for %s: %s", (_what, statement, accepted) => {
    const stack = stackWithPolicy(statement);
    expect(stack.rules.map((r) => r.arn)).toEqual([RULE_ARN]);
    expect(stack.queueAccepts(QUEUE_ARN, RULE_ARN)).toBe(accepted);
  });

  it("refuses a queue no policy names", () => {
    const stack = stackWithPolicy({ Principal: { Service: "events.amazonaws.com" } });
    expect(stack.queueAccepts("arn:aws:sqs:us-east-1:123456789012:another-queue", RULE_ARN)).toBe(false);
  });
});
