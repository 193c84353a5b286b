import { describe, expect, it } from "vitest";
import { MAX_TASK_CONTAINERS, MAX_TASK_FIELD_LENGTH, MAX_TASK_VERSION, parseTaskStateEvent } from "../../../src/core/events/ecs-task.ts";
import { parseDeploymentStateEvent } from "../../../src/core/events/ecs-deployment.ts";
import { describeValue, logString } from "../../../src/core/events/untrusted.ts";

/** An object nested `depth` levels deep: `JSON.stringify` of it overflows the stack. */
function deep(depth: number): unknown {
  let v: unknown = {};
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

const DEEP = deep(200_000);
const HUGE = "x".repeat(2 * 1024 * 1024);

function event(detail: Record<string, unknown>, envelope: Record<string, unknown> = {}): unknown {
  return {
    source: "aws.ecs",
    "detail-type": "ECS Task State Change",
    detail: { taskArn: "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123", lastStatus: "RUNNING", version: 3, ...detail },
    ...envelope,
  };
}

describe("parseTaskStateEvent on hostile input (issue 10, bad input never crashes)", () => {
  it("the deep input really is one JSON.stringify cannot write", () => {
    expect(() => JSON.stringify(DEEP)).toThrow(RangeError);
  });

  // Values are made inside the test: a test title formatted from them would overflow too.
  it.each<[string, () => Record<string, unknown>]>([
    ["a deeply nested source", () => ({ source: DEEP })],
    ["a deeply nested detail-type", () => ({ "detail-type": DEEP })],
    ["a 2 MB source", () => ({ source: HUGE })],
  ])("%s is rejected with a short message naming what it is", (_what, envelope) => {
    const parsed = parseTaskStateEvent(event({}, envelope()));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.message).toMatch(/^not an ECS Task State Change event/);
    expect(parsed.error.message.length).toBeLessThan(300);
  });

  it("a deployment event with a deep or huge source is rejected the same way", () => {
    for (const source of [DEEP, HUGE]) {
      const parsed = parseDeploymentStateEvent({ source, "detail-type": "ECS Deployment State Change", detail: {} });
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error.message.length).toBeLessThan(300);
    }
  });

  it.each<[string, () => Record<string, unknown>, string]>([
    ["a version above the bound", () => ({ version: MAX_TASK_VERSION + 1 }), `detail.version must be between 0 and ${MAX_TASK_VERSION}`],
    ["a negative version", () => ({ version: -1 }), `detail.version must be between 0 and ${MAX_TASK_VERSION}`],
    ["a version that is not an integer", () => ({ version: 2.5 }), "detail.version must be an integer"],
    ["a 2 MB task ARN", () => ({ taskArn: HUGE }), `detail.taskArn is longer than ${MAX_TASK_FIELD_LENGTH} characters`],
    ["a 2 MB stoppedReason", () => ({ stoppedReason: HUGE }), `detail.stoppedReason is longer than ${MAX_TASK_FIELD_LENGTH} characters`],
    ["a deep startedBy", () => ({ startedBy: DEEP }), "detail.startedBy must be a string"],
    ["a container with a 2 MB name", () => ({ containers: [{ name: HUGE }] }), `detail.containers[0].name is longer than ${MAX_TASK_FIELD_LENGTH} characters`],
    ["a container with a deep reason", () => ({ containers: [{ name: "w", reason: DEEP }] }), "detail.containers[0].reason must be a string"],
    ["more containers than a task has", () => ({ containers: Array.from({ length: MAX_TASK_CONTAINERS + 1 }, (_, i) => ({ name: `c${i}` })) }), `detail.containers has more than ${MAX_TASK_CONTAINERS} entries`],
  ])("%s is rejected", (_what, detail, problem) => {
    const parsed = parseTaskStateEvent(event(detail()));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toContain(problem);
  });

  it("the largest accepted version, and the task definition ARN, are read", () => {
    const parsed = parseTaskStateEvent(event({ version: MAX_TASK_VERSION, taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/etl:4" }));
    expect(parsed).toMatchObject({ ok: true, task: { version: MAX_TASK_VERSION, taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/etl:4" } });
  });
});

describe("describeValue and logString", () => {
  it.each<[string, () => unknown, string]>([
    ["a string", () => "aws.ecs", '"aws.ecs"'],
    ["a long string", () => "y".repeat(100), `"${"y".repeat(64)}…"`],
    ["a number", () => 7, "7"],
    ["null", () => null, "null"],
    ["nothing", () => undefined, "undefined"],
    ["a list", () => [1, 2], "a list"],
    ["a deep object", () => DEEP, "an object"],
  ])("describes %s as %s", (_what, value, text) => {
    expect(describeValue(value())).toBe(text);
  });

  it("keeps strings only, cut short", () => {
    expect(logString(HUGE)).toHaveLength(256);
    expect(logString(DEEP)).toBeUndefined();
    expect(logString("arn:aws:ecs:us-east-1:123456789012:task/jobs/1")).toBe("arn:aws:ecs:us-east-1:123456789012:task/jobs/1");
  });
});
