/**
 * Target inputs, table-tested with the examples of the AWS pages the helper follows:
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html (input transform examples),
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html,
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html.
 */
import { describe, expect, it } from "vitest";
import { applyInputTemplate, evaluateJsonPath, ruleTargetPayload, scheduleEvent, scheduleTargetPayload, schedulerTime } from "./event-inputs.ts";

/** The EC2 event of the user guide's examples. */
const ec2Event = {
  version: "0",
  id: "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification",
  source: "aws.ec2",
  account: "123456789012",
  time: "2015-11-11T21:29:54Z",
  region: "us-east-1",
  resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  detail: { "instance-id": "i-0123456789", state: "RUNNING" },
};
/** The user guide's Input Path for them. */
const userGuidePaths = { timestamp: "$.time", instance: "$.detail.instance-id", state: "$.detail.state" };
const delivery = { ruleArn: "arn:aws:events:us-east-2:123456789012:rule/example" };
const { detail: _detail, ...ec2WithoutDetail } = ec2Event;

describe("input transformer (user guide: Input transform examples)", () => {
  it.each<[string, string, string]>([
    ["Simple string", `"instance <instance> is in <state>"`, `"instance i-0123456789 is in RUNNING"`],
    ["String with escaped quotes", `"instance \\"<instance>\\" is in <state>"`, `"instance \\"i-0123456789\\" is in RUNNING"`],
    ["Simple JSON", `{\n  "instance" : <instance>,\n  "state": <state>\n}`, `{"instance":"i-0123456789","state":"RUNNING"}`],
    [
      "JSON with strings and variables",
      `{\n "instance" : <instance>,\n "state": "<state>",\n "instanceStatus": "instance \\"<instance>\\" is in <state>"\n}`,
      `{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \\"i-0123456789\\" is in RUNNING"}`,
    ],
    ["JSON with a mix of variables and static information", `{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "Transformed" : "Yes"\n}`, `{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}`],
    ["Including reserved variables in a string", `"<aws.events.rule-name> triggered"`, `"example triggered"`],
  ])("%s", (_name, template, output) => {
    expect(applyInputTemplate({ InputPathsMap: userGuidePaths, InputTemplate: template }, ec2Event, delivery)).toBe(output);
  });

  it("Including reserved variables in JSON: rule ARN and name as strings, <aws.events.event> as the event without detail", () => {
    const out = applyInputTemplate(
      {
        InputPathsMap: userGuidePaths,
        InputTemplate: `{\n  "instance" : <instance>,\n  "state": <state>,\n  "ruleArn" : <aws.events.rule-arn>,\n  "ruleName" : <aws.events.rule-name>,\n  "originalEvent" : <aws.events.event>\n}`,
      },
      ec2Event,
      delivery,
    );
    expect(JSON.parse(out)).toEqual({ instance: "i-0123456789", state: "RUNNING", ruleArn: delivery.ruleArn, ruleName: "example", originalEvent: ec2WithoutDetail });
  });

  it("<aws.events.event.json> is the whole event, detail included, and <aws.events.event.ingestion-time> the time EventBridge got it", () => {
    const out = applyInputTemplate({ InputTemplate: `{"job": "thumbnails", "event": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}` }, ec2Event, { ...delivery, ingestionTime: "2015-11-11T21:29:55Z" });
    expect(JSON.parse(out)).toEqual({ job: "thumbnails", event: ec2Event, at: "2015-11-11T21:29:55Z" });
    expect(out).not.toContain("\n");
  });

  it("numbers, objects and lists go in as JSON outside quotes and as their text inside", () => {
    const event = { detail: { size: 482133, tags: ["a", "b"], owner: { id: 7 } } };
    const out = applyInputTemplate({ InputPathsMap: { size: "$.detail.size", tags: "$.detail.tags", owner: "$.detail.owner" }, InputTemplate: `{"n": <size>, "t": <tags>, "o": <owner>, "s": "<size> bytes"}` }, event, delivery);
    expect(JSON.parse(out)).toEqual({ n: 482133, t: ["a", "b"], o: { id: 7 }, s: "482133 bytes" });
  });

  it("values are not escaped: a quote inside a value breaks a template that puts it inside a string, and the text goes out as it is", () => {
    const event = { detail: { key: 'say "hi"' } };
    const inside = applyInputTemplate({ InputPathsMap: { key: "$.detail.key" }, InputTemplate: `{"k": "<key>"}` }, event, delivery);
    expect(inside).toBe(`{"k": "say "hi""}`);
    const outside = applyInputTemplate({ InputPathsMap: { key: "$.detail.key" }, InputTemplate: `{"k": <key>}` }, event, delivery);
    expect(JSON.parse(outside)).toEqual({ k: 'say "hi"' });
  });

  it("a variable whose path the event lacks is not created and does not appear in the output", () => {
    expect(applyInputTemplate({ InputPathsMap: { gone: "$.detail.nothing" }, InputTemplate: `"[<gone>]"` }, ec2Event, delivery)).toBe(`"[]"`);
  });

  it("placeholders that name no variable stay as text", () => {
    expect(applyInputTemplate({ InputTemplate: `"<b>bold</b>"` }, ec2Event, delivery)).toBe(`"<b>bold</b>"`);
  });

  it("refuses InputPathsMap keys that start with AWS.", () => {
    expect(() => applyInputTemplate({ InputPathsMap: { "aws.events.rule-arn": "$.id" }, InputTemplate: "<aws.events.rule-arn>" }, ec2Event, delivery)).toThrow(/reserved/);
  });
});

describe("JSON paths (the subset the user guide lists)", () => {
  const event = { detail: { "object-key": "k", "a/b": 1, items: [{ n: 1 }, { n: 2 }], under_score: true } };
  it.each<[string, unknown]>([
    ["$", event],
    ["$.detail.object-key", "k"],
    ["$.detail.a/b", 1],
    ["$.detail.under_score", true],
    ["$.detail.items[1].n", 2],
    ["$.detail.items[*].n", [1, 2]],
    ["$.detail.items.*.n", [1, 2]],
  ])("%s", (path, value) => {
    expect(evaluateJsonPath(event, path)).toEqual({ found: true, value });
  });
  it.each(["$.detail.missing", "$.detail.items[5]", "$.detail.object-key.deeper"])("%s finds nothing", (path) => {
    expect(evaluateJsonPath(event, path)).toEqual({ found: false });
  });
  it("refuses bracket notation for names, as the docs require dot notation", () => {
    expect(() => evaluateJsonPath(event, "$['detail']")).toThrow(/dot notation|brackets/);
  });
});

describe("rule targets", () => {
  it("Input: the constant JSON text, whatever the event", () => {
    expect(ruleTargetPayload({ Input: '{"job":"nightly"}' }, ec2Event, delivery)).toBe('{"job":"nightly"}');
    expect(() => ruleTargetPayload({ Input: "not json" }, ec2Event, delivery)).toThrow();
  });
  it("InputPath: the part of the event the path selects", () => {
    expect(JSON.parse(ruleTargetPayload({ InputPath: "$.detail" }, ec2Event, delivery))).toEqual(ec2Event.detail);
  });
  it("no input settings: the matched event", () => {
    expect(JSON.parse(ruleTargetPayload({}, ec2Event, delivery))).toEqual(ec2Event);
  });
  it("at most one of Input, InputPath, InputTransformer", () => {
    expect(() => ruleTargetPayload({ Input: "{}", InputPath: "$" }, ec2Event, delivery)).toThrow(/at most one/);
  });
});

describe("EventBridge Scheduler", () => {
  const invocation = { scheduleArn: "arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly", scheduledTime: "2022-03-22T18:59:43Z", executionId: "d32c5kddcf5bb8c3", attemptNumber: 1 };

  it("replaces the four context attributes (the docs' SQS example body)", () => {
    expect(scheduleTargetPayload('{"MessageBody":"<aws.scheduler.scheduled-time>","QueueUrl":"https://sqs.us-west-2.amazonaws.com/123456789012/scheduler-cli-test"}', invocation)).toBe(
      '{"MessageBody":"2022-03-22T18:59:43Z","QueueUrl":"https://sqs.us-west-2.amazonaws.com/123456789012/scheduler-cli-test"}',
    );
    expect(JSON.parse(scheduleTargetPayload('{"a":"<aws.scheduler.schedule-arn>","e":"<aws.scheduler.execution-id>","n":<aws.scheduler.attempt-number>}', { ...invocation, attemptNumber: 2 }))).toEqual({
      a: invocation.scheduleArn,
      e: "d32c5kddcf5bb8c3",
      n: 2,
    });
  });

  it("writes the scheduled time as the docs show it, to the second in UTC", () => {
    expect(schedulerTime(new Date("2024-11-26T18:00:00.000Z"))).toBe("2024-11-26T18:00:00Z");
  });

  it("an event-bus target puts one event: Source and DetailType from EventBridgeParameters, the input as detail", () => {
    const { busName, event } = scheduleEvent(
      {
        Arn: "arn:aws:events:us-east-1:123456789012:event-bus/berth-acme-jobs-dev",
        Input: '{"job":"nightly-backup","scheduledTime":"<aws.scheduler.scheduled-time>"}',
        EventBridgeParameters: { Source: "berth.scheduler", DetailType: "Berth Schedule Fired" },
      },
      invocation,
      { id: "e-1", time: "2022-03-22T18:59:44Z" },
    );
    expect(busName).toBe("berth-acme-jobs-dev");
    expect(event).toEqual({
      version: "0",
      id: "e-1",
      "detail-type": "Berth Schedule Fired",
      source: "berth.scheduler",
      account: "123456789012",
      time: "2022-03-22T18:59:44Z",
      region: "us-east-1",
      resources: [invocation.scheduleArn],
      detail: { job: "nightly-backup", scheduledTime: "2022-03-22T18:59:43Z" },
    });
  });

  it("an event-bus target whose input is not a JSON object puts nothing", () => {
    const target = { Arn: "arn:aws:events:us-east-1:123456789012:event-bus/b", Input: '"text"', EventBridgeParameters: { Source: "s", DetailType: "d" } };
    expect(() => scheduleEvent(target, invocation, { id: "e", time: "t" })).toThrow(/JSON object/);
  });
});
