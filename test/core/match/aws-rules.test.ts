/**
 * Matching as EventBridge matches, one table per documented rule berth once got wrong:
 * - events without a `detail` object: TestEventPattern (EventBridge API reference) requires an event's id,
 *   account, source, time, region, resources and detail-type, not its detail, and matches such events;
 * - keys with dots: aws/event-ruler README, "Caveat: Compiled rules and JSON keys with dots": nested keys are
 *   joined with "." when rules and events are flattened, so dotted and nested spellings are one name;
 * - wildcards too complex: EventBridge refuses "Rule is too complex - try using fewer wildcard characters or
 *   fewer repeating character sequences after a wildcard character"; event-ruler's README ("Matching with a
 *   Machine") and MachineComplexityEvaluator define the measure: the wildcard prefixes one value keeps alive.
 */
import { describe, expect, it } from "vitest";
import { compilePattern, explainMismatch, matchesPattern } from "../../../src/core/match/compile.ts";
import { PatternIndex } from "../../../src/core/match/index.ts";
import { MAX_WILDCARD_COMPLEXITY, validatePattern, wildcardComplexity } from "../../../src/core/match/validate.ts";
import { asBusEvent } from "../../../src/core/events/envelope.ts";

const envelope = { version: "0", id: "e-1", "detail-type": "Thing Happened", source: "my.app", account: "123456789012", time: "2026-03-01T12:00:00Z", region: "us-east-1", resources: [] };

function matches(pattern: Record<string, unknown>, event: unknown): boolean {
  const compiled = compilePattern(pattern);
  const index = new PatternIndex<string>();
  index.add(pattern, "p");
  const byIndex = index.match(event).length === 1;
  // The index and the matcher must agree, and explain must agree with both.
  expect(byIndex).toBe(matchesPattern(compiled, event));
  expect(explainMismatch(compiled, event) === undefined).toBe(byIndex);
  return byIndex;
}

describe("events without a detail object (TestEventPattern: detail is not a required field)", () => {
  it.each([
    ["an envelope-only pattern", { source: ["my.app"] }, true],
    ["detail-type and source", { source: ["my.app"], "detail-type": ["Thing Happened"] }, true],
    ["exists: false under detail", { detail: { state: [{ exists: false }] } }, true],
    ["anything-but under detail (never matches an absent field)", { detail: { state: [{ "anything-but": "x" }] } }, false],
    ["a value under detail", { detail: { state: ["running"] } }, false],
    ["exists: true under detail", { detail: { state: [{ exists: true }] } }, false],
  ])("%s", (_, pattern, expected) => {
    expect(matches(pattern, envelope)).toBe(expected);
  });

  it.each([
    ["no detail at all", envelope],
    ["detail null", { ...envelope, detail: null }],
    ["detail a string", { ...envelope, detail: "text" }],
  ])("asBusEvent accepts an event with %s: the patterns decide", (_, event) => {
    expect(asBusEvent(event).ok).toBe(true);
  });
});

describe("keys with dots name nested fields (event-ruler README, JSON keys with dots)", () => {
  const nested = { ...envelope, detail: { state: { status: "running" } } };
  const dotted = { ...envelope, detail: { "state.status": "running" } };
  it.each([
    ["nested pattern, nested event", { detail: { state: { status: ["running"] } } }, nested, true],
    ["nested pattern, dotted event", { detail: { state: { status: ["running"] } } }, dotted, true],
    ["dotted pattern, nested event", { detail: { "state.status": ["running"] } }, nested, true],
    ["dotted pattern, dotted event", { detail: { "state.status": ["running"] } }, dotted, true],
    ["a top-level dotted pattern key", { "detail.state.status": ["running"] }, nested, true],
    ["a dotted pattern key, other value", { detail: { "state.status": ["stopped"] } }, dotted, false],
    ["exists: false on the dotted name", { detail: { "state.status": [{ exists: false }] } }, dotted, false],
    ["a prefix on a dotted event key", { detail: { state: { status: [{ prefix: "run" }] } } }, dotted, true],
    ["dotted and nested keys of one pattern merge (AND)", { detail: { "state.status": ["running"], state: { code: [16] } } }, { ...envelope, detail: { "state.status": "running", state: { code: 16 } } }, true],
    ["the merge still needs both fields", { detail: { "state.status": ["running"], state: { code: [16] } } }, dotted, false],
    ["dotted event keys inside an array element", { detail: { items: { "a.b": ["x"] } } }, { ...envelope, detail: { items: [{ "a.b": "y" }, { a: { b: "x" } }] } }, true],
  ])("%s", (_, pattern, event, expected) => {
    expect(matches(pattern, event)).toBe(expected);
  });

  it("a dotted key and a nested field of one name are two values of that name, either may match", () => {
    const event = { ...envelope, detail: { "state.status": "stopped", state: { status: "running" } } };
    expect(matches({ detail: { state: { status: ["running"] } } }, event)).toBe(true);
    expect(matches({ detail: { state: { status: ["stopped"] } } }, event)).toBe(true);
    expect(matches({ detail: { state: { status: ["paused"] } } }, event)).toBe(false);
  });

  it("an event key __proto__ stays an own field when keys are split", () => {
    const event = JSON.parse('{"source":"my.app","detail-type":"t","detail":{"a.__proto__":{"b":"x"},"c.d":1}}');
    expect(matches(JSON.parse('{"detail":{"a":{"__proto__":{"b":["x"]}}}}'), event)).toBe(true);
    expect(({} as Record<string, unknown>)["b"]).toBeUndefined();
  });
});

describe("wildcards EventBridge rejects as too complex", () => {
  const field = (...wildcards: string[]) => ({ detail: { key: wildcards.map((w) => ({ wildcard: w })) } });
  it.each([
    ["one suffix wildcard", ["*.png"]],
    ["a folder and a suffix", ["in/*/*.png"]],
    ["a timestamp shape", ["2017-*-*T*:*:*Z"]],
    ["two folder wildcards", ["uploads/*/raw/*.csv", "uploads/*/raw/*.json"]],
    ["ten prefix wildcards", ["a*", "b*", "c*", "d*", "e*", "f*", "g*", "h*", "i*", "j*"]],
  ])("accepts %s", (_, wildcards) => {
    expect(validatePattern(field(...wildcards))).toEqual([]);
    expect(wildcardComplexity(wildcards)).toBeLessThanOrEqual(MAX_WILDCARD_COMPLEXITY);
  });

  it.each([
    ["eleven prefix wildcards on one field", ["a*", "b*", "c*", "d*", "e*", "f*", "g*", "h*", "i*", "j*", "k*"]],
    ["five leading-star wildcards on one field", ["*a*", "*b*", "*c*", "*d*", "*e*"]],
    ["a sequence repeated after wildcards", ["*ab*ab*ab*ab*ab*"]],
    ["one character repeated after eleven wildcards", ["*a*a*a*a*a*a*a*a*a*a*a*"]],
  ])("rejects %s, at the field", (_, wildcards) => {
    const issues = validatePattern(field(...wildcards));
    expect(issues).toEqual([{ path: "detail.key", message: expect.stringMatching(/^EventBridge rejects these wildcards as too complex: .*at most 10 are allowed; use fewer wildcard characters or fewer repeating character sequences after a wildcard$/) }]);
  });

  it("counts anything-but wildcards and $or alternatives of one field together", () => {
    const pattern = {
      $or: [
        { detail: { key: ["a*", "b*", "c*", "d*", "e*", "f*"].map((w) => ({ wildcard: w })) } },
        { detail: { key: [{ "anything-but": { wildcard: ["g*", "h*", "i*", "j*", "k*"] } }] } },
      ],
    };
    expect(validatePattern(pattern)).toEqual([{ path: "$or[0].detail.key", message: expect.stringMatching(/too complex/) }]);
  });

  it("keeps wildcards of different fields apart", () => {
    const wildcards = ["a*", "b*", "c*", "d*", "e*", "f*"];
    const pattern = { detail: { key: wildcards.map((w) => ({ wildcard: w })), name: wildcards.map((w) => ({ wildcard: w })) } };
    expect(validatePattern(pattern)).toEqual([]);
  });

  it("stays bounded on a long wildcard", () => {
    expect(wildcardComplexity([`*${"ab*".repeat(300)}`])).toBeGreaterThan(MAX_WILDCARD_COMPLEXITY);
  });
});
