/** The template checker itself: it must find each kind of defect, and pass what CloudFormation takes. */
import { describe, expect, it } from "vitest";
import { checkTemplate, loadSpecification, PROPERTIES_ADDED_SINCE_SPEC, withAdditions, type SpecIssue } from "./cfn-spec.ts";

const role = { "Fn::GetAtt": ["Role", "Arn"] };

/** A template as the tests mutate it: any path may be set or deleted. */
type Tpl = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A small stack CloudFormation accepts: a queue, a role and a function using both. */
function goodTemplate(): Tpl {
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Parameters: { Stage: { Type: "String", Default: "dev" } },
    Conditions: { IsProd: { "Fn::Equals": [{ Ref: "Stage" }, "prod"] } },
    Resources: {
      Queue: { Type: "AWS::SQS::Queue", Properties: { MessageRetentionPeriod: 1209600, VisibilityTimeout: "30" } },
      Role: {
        Type: "AWS::IAM::Role",
        Properties: {
          AssumeRolePolicyDocument: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: ["lambda.amazonaws.com"] }, Action: ["sts:AssumeRole"] }] },
          Policies: [{ PolicyName: "q", PolicyDocument: { Statement: [{ Effect: "Allow", Action: "sqs:SendMessage", Resource: { "Fn::GetAtt": ["Queue", "Arn"] } }] } }],
        },
      },
      Fn: {
        Type: "AWS::Lambda::Function",
        DependsOn: ["Role"],
        Condition: "IsProd",
        DeletionPolicy: "Delete",
        UpdateReplacePolicy: "Retain",
        Metadata: { why: "a test" },
        Properties: {
          Code: { S3Bucket: "b", S3Key: { "Fn::Sub": "${AWS::StackName}/${Stage}/fn.zip" } },
          Role: role,
          Handler: "index.handler",
          Runtime: "nodejs22.x",
          Architectures: ["arm64"],
          MemorySize: 256,
          Timeout: { "Fn::If": ["IsProd", 30, 10] },
          Environment: { Variables: { QUEUE: { Ref: "Queue" }, QUEUE_ARN: { "Fn::Sub": "${Queue.Arn}" }, REGION: { Ref: "AWS::Region" } } },
          DeadLetterConfig: { "Fn::If": ["IsProd", { TargetArn: { "Fn::GetAtt": ["Queue", "Arn"] } }, { Ref: "AWS::NoValue" }] },
          LoggingConfig: { LogFormat: "JSON", ApplicationLogLevel: "INFO" },
          Tags: [{ Key: "team", Value: "data" }],
        },
      },
    },
    Outputs: { FunctionArn: { Value: { "Fn::GetAtt": ["Fn", "Arn"] } } },
  };
}

function issuesOf(mutate: (t: Tpl) => void): SpecIssue[] {
  const t = goodTemplate();
  mutate(t);
  return checkTemplate(t);
}

describe("checkTemplate", () => {
  it("passes a template CloudFormation accepts, intrinsics and resource attributes included", () => {
    expect(checkTemplate(goodTemplate())).toEqual([]);
  });

  it.each<[string, (t: Tpl) => void, Partial<SpecIssue>]>([
    ["an unknown resource type", (t) => (t.Resources.Queue.Type = "AWS::SQS::Queeu"), { resource: "Queue", path: "Type", message: expect.stringContaining("AWS::SQS::Queeu is not in") }],
    ["an unknown property", (t) => (t.Resources.Fn.Properties.MemorySizeMb = 256), { resource: "Fn", path: "Properties.MemorySizeMb", message: expect.stringContaining("has no property MemorySizeMb") }],
    ["an unknown property of a nested type", (t) => (t.Resources.Fn.Properties.Environment.Vars = {}), { path: "Properties.Environment.Vars", message: expect.stringContaining("AWS::Lambda::Function.Environment has no property Vars") }],
    ["an unknown property of a list item", (t) => (t.Resources.Fn.Properties.Tags[0].Name = "x"), { path: "Properties.Tags[0].Name", message: expect.stringContaining("has no property Name") }],
    ["a missing required property", (t) => delete t.Resources.Fn.Properties.Role, { path: "Properties.Role", message: "AWS::Lambda::Function requires Role" }],
    ["a missing required property of a nested type", (t) => delete t.Resources.Fn.Properties.Tags[0].Value, { path: "Properties.Tags[0].Value", message: expect.stringContaining("requires Value") }],
    ["an Integer that is text", (t) => (t.Resources.Fn.Properties.MemorySize = "lots"), { path: "Properties.MemorySize", message: expect.stringContaining("must be Integer") }],
    ["an Integer that is a fraction", (t) => (t.Resources.Fn.Properties.MemorySize = 256.5), { path: "Properties.MemorySize", message: expect.stringContaining("must be Integer") }],
    ["a String that is an object", (t) => (t.Resources.Fn.Properties.Handler = { name: "x" }), { path: "Properties.Handler", message: expect.stringContaining("must be String") }],
    ["a List that is a scalar", (t) => (t.Resources.Fn.Properties.Architectures = "arm64"), { path: "Properties.Architectures", message: expect.stringContaining("must be a list") }],
    ["a List item of the wrong type", (t) => (t.Resources.Fn.Properties.Architectures = [["arm64"]]), { path: "Properties.Architectures[0]", message: expect.stringContaining("must be String") }],
    ["a Map value of the wrong type", (t) => (t.Resources.Fn.Properties.Environment.Variables.X = { nested: 1 }), { path: "Properties.Environment.Variables.X", message: expect.stringContaining("must be String") }],
    ["a nested type given as a scalar", (t) => (t.Resources.Fn.Properties.Code = "s3://b/fn.zip"), { path: "Properties.Code", message: expect.stringContaining("must be a AWS::Lambda::Function.Code object") }],
    ["a wrong type in one branch of Fn::If", (t) => (t.Resources.Fn.Properties.Timeout = { "Fn::If": ["IsProd", 30, "ten"] }), { path: "Properties.Timeout.Fn::If[2]", message: expect.stringContaining("must be Integer") }],
    ["a type added since the spec, with a wrong value", (t) => (t.Resources.Fn.Properties.LoggingConfig.LogFormat = ["JSON"]), { path: "Properties.LoggingConfig.LogFormat", message: expect.stringContaining("must be String") }],
    ["an unknown GetAtt attribute", (t) => (t.Resources.Fn.Properties.Role = { "Fn::GetAtt": ["Role", "Name"] }), { path: "Properties.Role.Fn::GetAtt", message: expect.stringContaining('AWS::IAM::Role has no attribute "Name"') }],
    ["an unknown attribute in the dotted GetAtt form", (t) => (t.Outputs.FunctionArn.Value = { "Fn::GetAtt": "Fn.Url" }), { resource: "Outputs.FunctionArn", message: expect.stringContaining('has no attribute "Url"') }],
    ["a GetAtt of a resource that does not exist", (t) => (t.Resources.Fn.Properties.Role = { "Fn::GetAtt": ["Rolle", "Arn"] }), { message: expect.stringContaining('"Rolle", which is no resource') }],
    ["a Ref to nothing", (t) => (t.Resources.Fn.Properties.Environment.Variables.QUEUE = { Ref: "Queu" }), { path: "Properties.Environment.Variables.QUEUE.Ref", message: expect.stringContaining('Ref to "Queu"') }],
    ["a Ref to nothing inside a Json policy", (t) => (t.Resources.Role.Properties.Policies[0].PolicyDocument.Statement[0].Resource = { Ref: "Nope" }), { resource: "Role", message: expect.stringContaining('Ref to "Nope"') }],
    ["a Fn::Sub naming nothing", (t) => (t.Resources.Fn.Properties.Code.S3Key = { "Fn::Sub": "${Stag}/fn.zip" }), { message: expect.stringContaining('Ref to "Stag"') }],
    ["a Fn::Sub with an unknown attribute", (t) => (t.Resources.Fn.Properties.Environment.Variables.QUEUE_ARN = { "Fn::Sub": "${Queue.Url}" }), { message: expect.stringContaining('AWS::SQS::Queue has no attribute "Url"') }],
    ["a DependsOn on nothing", (t) => (t.Resources.Fn.DependsOn = ["Rol"]), { path: "DependsOn", message: expect.stringContaining('"Rol"') }],
    ["an unknown resource attribute", (t) => (t.Resources.Fn.DependOn = ["Role"]), { path: "DependOn", message: expect.stringContaining("no resource attribute") }],
    ["an undefined Condition", (t) => (t.Resources.Fn.Condition = "IsProduction"), { path: "Condition", message: expect.stringContaining("IsProduction") }],
    ["a DeletionPolicy CloudFormation does not have", (t) => (t.Resources.Fn.DeletionPolicy = "Keep"), { path: "DeletionPolicy", message: expect.stringContaining('"Keep"') }],
  ])("finds %s", (_what, mutate, expected) => {
    const issues = issuesOf(mutate);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject(expected);
  });

  it("takes CloudFormation's scalar conversions: numeric text for numbers, numbers as text, 'true' for Boolean", () => {
    expect(
      issuesOf((t) => {
        t.Resources.Fn.Properties.MemorySize = "512";
        t.Resources.Fn.Properties.Environment.Variables.PORT = 8080;
        t.Resources.Queue.Properties.FifoQueue = "true";
      }),
    ).toEqual([]);
    expect(issuesOf((t) => (t.Resources.Queue.Properties.FifoQueue = "yes"))).toMatchObject([{ path: "Properties.FifoQueue", message: expect.stringContaining("must be Boolean") }]);
  });

  it("without the allow-list, a property AWS added after the specification is unknown", () => {
    expect(checkTemplate(goodTemplate(), { additions: [] })).toMatchObject([{ resource: "Fn", path: "Properties.LoggingConfig", message: expect.stringContaining("has no property LoggingConfig") }]);
  });

  it("an allow-list entry for something the specification already has is refused, so the list cannot go stale", () => {
    expect(() => withAdditions(loadSpecification(), [{ resourceType: "AWS::Lambda::Function", property: { name: "Handler", spec: { PrimitiveType: "String" } }, docs: "https://example.invalid" }])).toThrow(/Handler is in the specification now/);
  });

  it("every allow-list entry links the current AWS docs page that documents it", () => {
    for (const entry of PROPERTIES_ADDED_SINCE_SPEC) expect(entry.docs).toMatch(/^https:\/\/docs\.aws\.amazon\.com\/AWSCloudFormation\/latest\//);
  });

  it("is checked against the real specification, which knows the resources a berth stack needs", () => {
    const spec = loadSpecification();
    expect(spec.ResourceSpecificationVersion).toMatch(/^\d+\.\d+\.\d+$/);
    for (const type of ["AWS::Lambda::Function", "AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::CloudWatch::Alarm"]) {
      expect(spec.ResourceTypes[type]?.Properties, type).toBeDefined();
    }
  });
});
