import { describe, expect, it } from "vitest";
import { compilePattern, explainMismatch, matchesPattern } from "../../../src/core/match/compile.ts";
import { InvalidPatternError } from "../../../src/core/errors.ts";

interface Case {
  readonly name: string;
  readonly pattern: Record<string, unknown>;
  readonly event: unknown;
  readonly want: boolean;
}

// The EC2 event of the EventBridge user guide and aws/event-ruler README.
const ec2 = {
  version: "0",
  id: "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  source: "aws.ec2",
  account: "012345679012",
  time: "2017-10-02T16:24:49Z",
  region: "us-east-1",
  resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  detail: {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    state: "running",
  },
};

const autoscaling = {
  version: "0",
  id: "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful",
  source: "aws.autoscaling",
  account: "123456789012",
  time: "2015-11-11T21:31:47Z",
  region: "us-east-1",
  resources: [],
  detail: { eventVersion: "", responseElements: null },
};

const withDetail = (detail: Record<string, unknown>) => ({ ...ec2, detail });

const cases: Case[] = [
  // exact values, null and empty strings
  { name: "exact strings on several fields all match", pattern: { source: ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], detail: { state: ["running"] } }, event: ec2, want: true },
  { name: "one differing field fails the whole pattern", pattern: { source: ["aws.ec2"], detail: { state: ["terminated"] } }, event: ec2, want: false },
  { name: "any value of a pattern array may match", pattern: { detail: { state: ["initializing", "running"] } }, event: ec2, want: true },
  { name: "string matching is case-sensitive", pattern: { source: ["AWS.EC2"] }, event: ec2, want: false },
  { name: "an empty-string pattern matches an empty string", pattern: { detail: { eventVersion: [""] } }, event: autoscaling, want: true },
  { name: "null matches a null value", pattern: { detail: { responseElements: [null] } }, event: autoscaling, want: true },
  { name: "an empty string does not match null", pattern: { detail: { responseElements: [""] } }, event: autoscaling, want: false },
  { name: "null does not match an empty string", pattern: { detail: { eventVersion: [null] } }, event: autoscaling, want: false },
  { name: "null does not match an absent field", pattern: { detail: { missing: [null] } }, event: autoscaling, want: false },
  { name: "numbers match by value", pattern: { detail: { "c-count": [5] } }, event: ec2, want: true },
  { name: "a number does not match a numeric string", pattern: { detail: { "c-count": ["5"] } }, event: ec2, want: false },
  { name: "a string does not match the same digits as a number", pattern: { detail: { code: [300] } }, event: withDetail({ code: "300" }), want: false },
  { name: "true matches the boolean true", pattern: { detail: { ok: [true] } }, event: withDetail({ ok: true }), want: true },
  { name: "true does not match the string \"true\"", pattern: { detail: { ok: [true] } }, event: withDetail({ ok: "true" }), want: false },
  { name: "nested fields follow the event's nesting", pattern: { detail: { trigger: { risk: [8] } } }, event: withDetail({ trigger: { risk: 8 } }), want: true },
  { name: "a pattern object does not match a leaf in the event", pattern: { detail: { state: { name: ["running"] } } }, event: ec2, want: false },
  { name: "a pattern leaf does not match an object in the event", pattern: { detail: ["running"] }, event: ec2, want: false },
  { name: "a missing field fails", pattern: { detail: { nothing: ["x"] } }, event: ec2, want: false },
  { name: "a non-object event matches no field", pattern: { source: ["aws.ec2"] }, event: "aws.ec2", want: false },

  // arrays
  { name: "an event array matches when any element matches", pattern: { resources: ["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"] }, event: ec2, want: true },
  { name: "an event array with no matching element fails", pattern: { resources: ["arn:other"] }, event: ec2, want: false },
  { name: "an empty event array has no value", pattern: { resources: [{ exists: true }] }, event: autoscaling, want: false },
  { name: "objects inside an event array are searched", pattern: { detail: { employees: { firstName: ["Anna"] } } }, event: withDetail({ employees: [{ firstName: "John", lastName: "Doe" }, { firstName: "Anna", lastName: "Smith" }] }), want: true },
  { name: "fields under an array must match within one element", pattern: { detail: { employees: { firstName: ["Anna"], lastName: ["Jones"] } } }, event: withDetail({ employees: [{ firstName: "Anna", lastName: "Smith" }, { firstName: "Peter", lastName: "Jones" }] }), want: false },
  { name: "fields under an array may match together in one element", pattern: { detail: { employees: { firstName: ["Anna"], lastName: ["Smith"] } } }, event: withDetail({ employees: [{ firstName: "John", lastName: "Doe" }, { firstName: "Anna", lastName: "Smith" }] }), want: true },
  { name: "nested event arrays are flattened", pattern: { detail: { employees: { firstName: ["Peter"] } } }, event: withDetail({ employees: [[{ firstName: "John" }], [{ firstName: "Peter" }]] }), want: true },
  { name: "leaf arrays nested in arrays are flattened", pattern: { detail: { tags: ["b"] } }, event: withDetail({ tags: [["a"], ["b"]] }), want: true },

  // prefix / suffix
  { name: "prefix matches the start of a string", pattern: { time: [{ prefix: "2017-10-02" }] }, event: ec2, want: true },
  { name: "prefix fails on another start", pattern: { time: [{ prefix: "2018" }] }, event: ec2, want: false },
  { name: "prefix does not apply to numbers", pattern: { detail: { "c-count": [{ prefix: "5" }] } }, event: ec2, want: false },
  { name: "an empty prefix matches any string", pattern: { detail: { state: [{ prefix: "" }] } }, event: ec2, want: true },
  { name: "prefix equals-ignore-case ignores case", pattern: { detail: { service: [{ prefix: { "equals-ignore-case": "EventB" } }] } }, event: withDetail({ service: "eventbridge" }), want: true },
  { name: "prefix equals-ignore-case still needs the prefix", pattern: { detail: { service: [{ prefix: { "equals-ignore-case": "EventB" } }] } }, event: withDetail({ service: "xeventbridge" }), want: false },
  { name: "suffix matches the end of a string", pattern: { detail: { FileName: [{ suffix: ".png" }] } }, event: withDetail({ FileName: "cat.png" }), want: true },
  { name: "suffix is case-sensitive", pattern: { detail: { FileName: [{ suffix: ".png" }] } }, event: withDetail({ FileName: "cat.PNG" }), want: false },
  { name: "suffix equals-ignore-case ignores case", pattern: { detail: { FileName: [{ suffix: { "equals-ignore-case": ".png" } }] } }, event: withDetail({ FileName: "cat.PNG" }), want: true },

  // equals-ignore-case
  { name: "equals-ignore-case matches any casing", pattern: { source: [{ "equals-ignore-case": "AWS.EC2" }] }, event: ec2, want: true },
  { name: "equals-ignore-case still compares the whole string", pattern: { source: [{ "equals-ignore-case": "AWS.EC" }] }, event: ec2, want: false },

  // anything-but
  { name: "anything-but a string matches another string", pattern: { detail: { state: [{ "anything-but": "initializing" }] } }, event: ec2, want: true },
  { name: "anything-but a string fails on that string", pattern: { detail: { state: [{ "anything-but": "running" }] } }, event: ec2, want: false },
  { name: "anything-but does not match an absent field", pattern: { detail: { nothing: [{ "anything-but": "x" }] } }, event: ec2, want: false },
  { name: "anything-but a number matches another number", pattern: { detail: { "x-limit": [{ "anything-but": 123 }] } }, event: ec2, want: true },
  { name: "anything-but a number fails on that number", pattern: { detail: { "c-count": [{ "anything-but": 5 }] } }, event: ec2, want: false },
  { name: "anything-but a list of strings fails on a listed one", pattern: { detail: { state: [{ "anything-but": ["stopped", "running"] }] } }, event: ec2, want: false },
  { name: "anything-but a list of strings matches an unlisted one", pattern: { detail: { state: [{ "anything-but": ["stopped", "overloaded"] }] } }, event: ec2, want: true },
  { name: "anything-but a list of numbers fails on a listed one", pattern: { detail: { "d-count": [{ "anything-but": [1, 2, 3] }] } }, event: ec2, want: false },
  { name: "anything-but a list of numbers matches an unlisted one", pattern: { detail: { "x-limit": [{ "anything-but": [100, 200, 300] }] } }, event: ec2, want: true },
  { name: "anything-but a string matches a number", pattern: { detail: { "c-count": [{ "anything-but": "5" }] } }, event: ec2, want: true },
  { name: "anything-but prefix fails on that prefix", pattern: { detail: { state: [{ "anything-but": { prefix: "run" } }] } }, event: ec2, want: false },
  { name: "anything-but prefix matches another start", pattern: { detail: { state: [{ "anything-but": { prefix: "init" } }] } }, event: ec2, want: true },
  { name: "anything-but suffix fails on that suffix", pattern: { detail: { FileName: [{ "anything-but": { suffix: ".png" } }] } }, event: withDetail({ FileName: "a.png" }), want: false },
  { name: "anything-but suffix matches another ending", pattern: { detail: { FileName: [{ "anything-but": { suffix: ".png" } }] } }, event: withDetail({ FileName: "a.jpg" }), want: true },
  { name: "anything-but wildcard fails on a matching path", pattern: { detail: { FilePath: [{ "anything-but": { wildcard: "*/lib/*" } }] } }, event: withDetail({ FilePath: "/usr/lib/x.so" }), want: false },
  { name: "anything-but wildcard matches a path outside", pattern: { detail: { FilePath: [{ "anything-but": { wildcard: "*/lib/*" } }] } }, event: withDetail({ FilePath: "/usr/bin/x" }), want: true },
  { name: "anything-but equals-ignore-case fails on any casing", pattern: { detail: { state: [{ "anything-but": { "equals-ignore-case": ["INITIALIZING", "RUNNING"] } }] } }, event: ec2, want: false },
  { name: "anything-but equals-ignore-case matches other values", pattern: { detail: { state: [{ "anything-but": { "equals-ignore-case": "initializing" } }] } }, event: ec2, want: true },
  { name: "anything-but matches an event array with one other value", pattern: { detail: { tags: [{ "anything-but": "a" }] } }, event: withDetail({ tags: ["a", "b"] }), want: true },
  { name: "anything-but fails when every array value is excluded", pattern: { detail: { tags: [{ "anything-but": ["a", "b"] }] } }, event: withDetail({ tags: ["a", "b"] }), want: false },

  // numeric
  { name: "numeric ranges from the user guide all match", pattern: { detail: { "c-count": [{ numeric: [">", 0, "<=", 5] }], "d-count": [{ numeric: ["<", 10] }], "x-limit": [{ numeric: ["=", 3.018e2] }] } }, event: ec2, want: true },
  { name: "numeric upper bound is exclusive with <", pattern: { detail: { "c-count": [{ numeric: [">", 0, "<", 5] }] } }, event: ec2, want: false },
  { name: "numeric lower bound is exclusive with >", pattern: { detail: { "c-count": [{ numeric: [">", 5] }] } }, event: ec2, want: false },
  { name: "numeric >= includes the bound", pattern: { detail: { "c-count": [{ numeric: [">=", 5] }] } }, event: ec2, want: true },
  { name: "numeric does not match a numeric string", pattern: { detail: { n: [{ numeric: [">", 0] }] } }, event: withDetail({ n: "5" }), want: false },
  { name: "numeric does not match numbers beyond 5e9", pattern: { detail: { n: [{ numeric: [">", 0] }] } }, event: withDetail({ n: 6e9 }), want: false },
  { name: "numeric matches negative numbers", pattern: { detail: { n: [{ numeric: [">=", -10, "<", 0] }] } }, event: withDetail({ n: -0.5 }), want: true },

  // exists
  { name: "exists true matches a present value", pattern: { detail: { state: [{ exists: true }] } }, event: ec2, want: true },
  { name: "exists true fails on an absent field", pattern: { detail: { nothing: [{ exists: true }] } }, event: ec2, want: false },
  { name: "exists true matches a null value", pattern: { detail: { responseElements: [{ exists: true }] } }, event: autoscaling, want: true },
  { name: "exists false fails on a null value", pattern: { detail: { responseElements: [{ exists: false }] } }, event: autoscaling, want: false },
  { name: "exists false matches an absent field", pattern: { detail: { "c-count": [{ exists: false }] } }, event: autoscaling, want: true },
  { name: "exists false fails on a present field", pattern: { detail: { "c-count": [{ exists: false }] } }, event: ec2, want: false },
  { name: "exists false matches a field holding an object (not a leaf)", pattern: { detail: { "c-count": [{ exists: false }] } }, event: withDetail({ state: "running", "c-count": { c1: 100 } }), want: true },
  { name: "exists true fails on a field holding an object", pattern: { detail: { "c-count": [{ exists: true }] } }, event: withDetail({ "c-count": { c1: 100 } }), want: false },
  { name: "exists false matches when the parent object is absent", pattern: { detail: { deeper: { x: [{ exists: false }] } } }, event: ec2, want: true },
  { name: "exists false fails when any array element holds the field", pattern: { detail: { items: { x: [{ exists: false }] } } }, event: withDetail({ items: [{ y: 1 }, { x: 2 }] }), want: false },
  { name: "exists false matches when no array element holds the field", pattern: { detail: { items: { x: [{ exists: false }] } } }, event: withDetail({ items: [{ y: 1 }, { y: 2 }] }), want: true },
  { name: "exists false or a value matches the value", pattern: { detail: { state: ["running", { exists: false }] } }, event: ec2, want: true },

  // cidr
  { name: "cidr matches an IPv4 address inside the block", pattern: { detail: { "source-ip": [{ cidr: "10.0.0.0/24" }] } }, event: ec2, want: true },
  { name: "cidr fails on an IPv4 address outside the block", pattern: { detail: { "source-ip": [{ cidr: "10.0.1.0/24" }] } }, event: ec2, want: false },
  { name: "cidr matches an IPv6 address inside the block", pattern: { detail: { ip: [{ cidr: "2001:db8::/32" }] } }, event: withDetail({ ip: "2001:db8:0:1::5" }), want: true },
  { name: "cidr fails on an IPv6 address outside the block", pattern: { detail: { ip: [{ cidr: "2001:db8::/32" }] } }, event: withDetail({ ip: "2001:db9::1" }), want: false },
  { name: "cidr does not match an IPv4 address against an IPv6 block", pattern: { detail: { ip: [{ cidr: "::/0" }] } }, event: withDetail({ ip: "10.0.0.1" }), want: false },
  { name: "cidr fails on a string that is not an address", pattern: { detail: { ip: [{ cidr: "10.0.0.0/8" }] } }, event: withDetail({ ip: "10.0.0.x" }), want: false },

  // wildcard
  { name: "wildcard matches any run of characters", pattern: { source: [{ wildcard: "Simple*Service" }] }, event: { source: "SimpleQueueService" }, want: true },
  { name: "wildcard star may match nothing", pattern: { source: [{ wildcard: "Simple*Service" }] }, event: { source: "SimpleService" }, want: true },
  { name: "wildcard must match the whole string", pattern: { source: [{ wildcard: "Simple*Service" }] }, event: { source: "SimpleQueueServices" }, want: false },
  { name: "wildcard star crosses slashes", pattern: { detail: { key: [{ wildcard: "dir/*.png" }] } }, event: withDetail({ key: "dir/a/b.png" }), want: true },
  { name: "wildcard with several stars", pattern: { detail: { key: [{ wildcard: "*/2024/*/*.csv" }] } }, event: withDetail({ key: "in/2024/05/x.csv" }), want: true },
  { name: "wildcard escaped star matches a literal star", pattern: { detail: { key: [{ wildcard: "a\\*b" }] } }, event: withDetail({ key: "a*b" }), want: true },
  { name: "wildcard escaped star is not a wildcard", pattern: { detail: { key: [{ wildcard: "a\\*b" }] } }, event: withDetail({ key: "axb" }), want: false },
  { name: "wildcard escaped backslash matches a backslash", pattern: { detail: { key: [{ wildcard: "a\\\\*" }] } }, event: withDetail({ key: "a\\anything" }), want: true },

  // $or
  { name: "$or at the top level matches either alternative", pattern: { source: ["aws.ec2"], $or: [{ detail: { state: ["stopped"] } }, { detail: { "c-count": [5] } }] }, event: ec2, want: true },
  { name: "$or fails when no alternative matches", pattern: { $or: [{ source: ["aws.s3"] }, { detail: { state: ["stopped"] } }] }, event: ec2, want: false },
  { name: "$or inside an object adds nothing to the path", pattern: { detail: { $or: [{ "c-count": [{ numeric: [">", 10] }] }, { "d-count": [{ numeric: ["<", 10] }] }] } }, event: ec2, want: true },
  { name: "$or alternatives may hold several fields (and)", pattern: { $or: [{ source: ["aws.ec2"], region: ["eu-west-1"] }, { source: ["aws.ec2"], region: ["us-east-1"] }] }, event: ec2, want: true },
  { name: "two $or at different levels must both hold", pattern: { $or: [{ source: ["aws.s3"] }, { region: ["us-east-1"] }], detail: { $or: [{ state: ["stopped"] }, { "c-count": [6] }] } }, event: ec2, want: false },
  { name: "nested $or inside an alternative", pattern: { source: ["aws.ec2"], $or: [{ detail: { state: ["stopped"] } }, { region: ["us-east-1"], $or: [{ detail: { "c-count": [1] } }, { detail: { "d-count": [3] } }] }] }, event: ec2, want: true },
];

describe("matchesPattern", () => {
  it.each(cases)("$name", ({ pattern, event, want }) => {
    expect(matchesPattern(compilePattern(pattern), event)).toBe(want);
  });

  it("agrees with explainMismatch on every case", () => {
    for (const { pattern, event, want } of cases) {
      const reason = explainMismatch(compilePattern(pattern), event);
      expect(reason === undefined, JSON.stringify(pattern)).toBe(want);
    }
  });
});

describe("compilePattern", () => {
  it("throws an InvalidPatternError listing every issue", () => {
    let caught: unknown;
    try {
      compilePattern({ source: "aws.s3", detail: { size: [{ numeric: [">", "1"] }] } });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidPatternError);
    const error = caught as InvalidPatternError;
    expect(error.issues.map((i) => i.path)).toEqual(["source", "detail.size[0].numeric[1]"]);
    expect(error.message).toContain("detail.size[0].numeric[1]");
  });
});

describe("explainMismatch", () => {
  const s3 = compilePattern({
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: { bucket: { name: ["media-uploads"] }, object: { key: [{ prefix: "incoming/" }] } },
  });
  const event = (bucket: unknown, key: unknown) => ({
    source: "aws.s3",
    "detail-type": "Object Created",
    detail: { bucket: { name: bucket }, object: { key } },
  });

  it.each([
    { name: "names a differing exact value", event: event("other", "incoming/a"), want: 'detail.bucket.name is "other", wanted one of "media-uploads"' },
    { name: "names a failed operator", event: event("media-uploads", "out/a"), want: 'detail.object.key is "out/a", wanted prefix "incoming/"' },
    { name: "says when a field is missing", event: { source: "aws.s3", "detail-type": "Object Created", detail: {} }, want: 'detail.bucket.name is missing, wanted one of "media-uploads"' },
    { name: "says when an object is found where a value is wanted", event: event({ x: 1 }, "incoming/a"), want: "detail.bucket.name is an object (operators only match leaf values), wanted one of \"media-uploads\"" },
    { name: "reports envelope fields first", event: { ...event("other", "x"), source: "aws.ec2" }, want: 'source is "aws.ec2", wanted one of "aws.s3"' },
    { name: "says when a value is found where an object is wanted", event: { source: "aws.s3", "detail-type": "Object Created", detail: "x" }, want: 'detail is "x", wanted an object' },
  ])("$name", ({ event: e, want }) => {
    expect(explainMismatch(s3, e)).toBe(want);
  });

  it("lists each failed $or alternative", () => {
    const compiled = compilePattern({ $or: [{ source: ["a"] }, { detail: { n: [{ numeric: [">", 1] }] } }] });
    expect(explainMismatch(compiled, { source: "b", detail: { n: 0 } })).toBe(
      'no $or alternative matched: (1) source is "b", wanted one of "a"; (2) detail.n is 0, wanted a number > 1',
    );
  });

  it("explains a failed array element", () => {
    const compiled = compilePattern({ detail: { items: { a: [1], b: [2] } } });
    expect(explainMismatch(compiled, { detail: { items: [{ a: 1, b: 3 }, { a: 2, b: 2 }] } })).toBe(
      "no element of detail.items matched; the first one fails because detail.items.b is 3, wanted one of 2",
    );
  });

  it("returns undefined when the event matches", () => {
    expect(explainMismatch(s3, event("media-uploads", "incoming/a.png"))).toBeUndefined();
  });
});
