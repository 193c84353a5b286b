import { describe, expect, it } from "vitest";
import { validatePattern } from "../../../src/core/match/validate.ts";

describe("validatePattern accepts what EventBridge accepts", () => {
  it.each([
    { name: "exact values of every JSON type", pattern: { source: ["aws.s3"], detail: { n: [1, 2.5], b: [true, false], z: [null], e: [""] } } },
    { name: "prefix and suffix, plain and ignoring case", pattern: { a: [{ prefix: "x" }, { prefix: { "equals-ignore-case": "X" } }, { suffix: ".png" }, { suffix: { "equals-ignore-case": ".PNG" } }] } },
    { name: "every anything-but form", pattern: { a: [{ "anything-but": "x" }, { "anything-but": 1 }, { "anything-but": ["x", "y"] }, { "anything-but": [1, 2] }, { "anything-but": { prefix: "p" } }, { "anything-but": { suffix: ["s", "t"] } }, { "anything-but": { wildcard: "*/lib/*" } }, { "anything-but": { "equals-ignore-case": ["A", "b"] } }] } },
    { name: "numeric with one and two bounds", pattern: { a: [{ numeric: ["=", 3.018e2] }, { numeric: ["<", 10] }, { numeric: [">", 0, "<=", 5] }, { numeric: [">=", -5e9, "<", 5e9] }, { numeric: ["<=", 0.000001] }] } },
    { name: "exists, cidr, equals-ignore-case and wildcard", pattern: { a: [{ exists: false }], b: [{ cidr: "10.0.0.0/24" }, { cidr: "2001:db8::/32" }], c: [{ "equals-ignore-case": "x" }], d: [{ wildcard: "a\\*b\\\\c*d" }] } },
    { name: "$or at the top and nested", pattern: { $or: [{ a: ["1"] }, { b: { $or: [{ c: ["2"] }, { d: ["3"] }] } }] } },
    { name: "operator names as plain field names outside $or", pattern: { detail: { prefix: ["x"] } } },
  ])("$name", ({ pattern }) => {
    expect(validatePattern(pattern)).toEqual([]);
  });
});

describe("validatePattern rejects what EventBridge rejects", () => {
  it.each([
    { name: "a non-object pattern", pattern: ["source"], path: "", message: "must be a JSON object" },
    { name: "null as the pattern", pattern: null, path: "", message: "must be a JSON object" },
    { name: "an empty pattern", pattern: {}, path: "", message: "empty objects are not allowed" },
    { name: "an empty nested object", pattern: { detail: {} }, path: "detail", message: "empty objects are not allowed" },
    { name: "a leaf value that is not an array", pattern: { source: "aws.s3" }, path: "source", message: 'must be an array of values to match (e.g. ["aws.s3"])' },
    { name: "an empty match array", pattern: { source: [] }, path: "source", message: "empty arrays are not allowed" },
    { name: "a nested array in a match array", pattern: { source: [["a"]] }, path: "source[0]", message: "nested arrays are not allowed" },
    { name: "an unknown operator", pattern: { detail: { object: { key: [{ contains: "x" }] } } }, path: "detail.object.key[0]", message: 'unknown operator "contains"' },
    { name: "two operators in one object", pattern: { a: [{ prefix: "a", suffix: "b" }] }, path: "a[0]", message: "exactly one key" },
    { name: "an empty operator object", pattern: { a: [{}] }, path: "a[0]", message: "exactly one key" },
    { name: "a prefix that is not a string", pattern: { detail: { object: { key: [{ prefix: 1 }] } } }, path: "detail.object.key[0].prefix", message: "prefix takes a string" },
    { name: "a prefix object other than equals-ignore-case", pattern: { a: [{ prefix: { wildcard: "x" } }] }, path: "a[0].prefix", message: 'prefix takes a string or { "equals-ignore-case"' },
    { name: "a suffix equals-ignore-case that is not a string", pattern: { a: [{ suffix: { "equals-ignore-case": 1 } }] }, path: "a[0].suffix.equals-ignore-case", message: "takes a string" },
    { name: "equals-ignore-case with a number", pattern: { a: [{ "equals-ignore-case": 1 }] }, path: "a[0].equals-ignore-case", message: "takes a string" },
    { name: "exists with a string", pattern: { a: [{ exists: "true" }] }, path: "a[0].exists", message: "exists takes true or false" },
    { name: "an invalid cidr", pattern: { a: [{ cidr: "10.0.0.0/33" }] }, path: "a[0].cidr", message: "allows /0 to /32" },
    { name: "a cidr without a prefix length", pattern: { a: [{ cidr: "10.0.0.1" }] }, path: "a[0].cidr", message: "is not a CIDR block" },
    { name: "a cidr that is not an address", pattern: { a: [{ cidr: "banana/8" }] }, path: "a[0].cidr", message: "is not a CIDR block" },
    { name: "consecutive wildcards", pattern: { a: [{ wildcard: "a**b" }] }, path: "a[0].wildcard", message: "consecutive wildcard characters" },
    { name: "an escape of an ordinary character in a wildcard", pattern: { a: [{ wildcard: "a\\b" }] }, path: "a[0].wildcard", message: "invalid escape" },
    { name: "a trailing backslash in a wildcard", pattern: { a: [{ wildcard: "a\\" }] }, path: "a[0].wildcard", message: "invalid escape" },
    { name: "a wildcard that is not a string", pattern: { a: [{ wildcard: 3 }] }, path: "a[0].wildcard", message: "wildcard takes a string" },
    { name: "numeric that is not an array", pattern: { a: [{ numeric: 5 }] }, path: "a[0].numeric", message: "numeric takes an array" },
    { name: "numeric with an unknown operator", pattern: { a: [{ numeric: ["!=", 5] }] }, path: "a[0].numeric", message: 'must start with one of "=", "<"' },
    { name: "numeric with a string operand", pattern: { a: [{ numeric: [">", "5"] }] }, path: "a[0].numeric[1]", message: "must be a number" },
    { name: "numeric upper bound first", pattern: { a: [{ numeric: ["<", 10, ">", 0] }] }, path: "a[0].numeric", message: "got 4 elements" },
    { name: "numeric with a second lower bound", pattern: { a: [{ numeric: [">", 0, ">", 5] }] }, path: "a[0].numeric[2]", message: 'lower bound first, then "<" or "<="' },
    { name: "numeric with an empty range", pattern: { a: [{ numeric: [">", 5, "<", 5] }] }, path: "a[0].numeric", message: "must be less than the upper bound" },
    { name: "numeric with a dangling element", pattern: { a: [{ numeric: ["=", 5, "<"] }] }, path: "a[0].numeric", message: "got 3 elements" },
    { name: "numeric beyond 5e9", pattern: { a: [{ numeric: [">", 6e9] }] }, path: "a[0].numeric[1]", message: "outside the range" },
    { name: "numeric with seven decimals", pattern: { a: [{ numeric: [">", 0.0000001] }] }, path: "a[0].numeric[1]", message: "more than 6 digits" },
    { name: "anything-but with a boolean", pattern: { a: [{ "anything-but": true }] }, path: "a[0].anything-but", message: "anything-but takes" },
    { name: "anything-but with null", pattern: { a: [{ "anything-but": null }] }, path: "a[0].anything-but", message: "anything-but takes" },
    { name: "anything-but with a mixed list", pattern: { a: [{ "anything-but": ["a", 1] }] }, path: "a[0].anything-but", message: "only strings or only numbers" },
    { name: "anything-but with an empty list", pattern: { a: [{ "anything-but": [] }] }, path: "a[0].anything-but", message: "at least one value" },
    { name: "anything-but with an unsupported operator", pattern: { a: [{ "anything-but": { numeric: [">", 1] } }] }, path: "a[0].anything-but", message: 'got an object with "numeric"' },
    { name: "anything-but with an empty prefix", pattern: { a: [{ "anything-but": { prefix: "" } }] }, path: "a[0].anything-but.prefix", message: "must not be empty" },
    { name: "anything-but suffix with a number in its list", pattern: { a: [{ "anything-but": { suffix: ["x", 1] } }] }, path: "a[0].anything-but.suffix[1]", message: "takes a string or an array of strings" },
    { name: "anything-but equals-ignore-case with a number", pattern: { a: [{ "anything-but": { "equals-ignore-case": 1 } }] }, path: "a[0].anything-but.equals-ignore-case", message: "takes a string" },
    { name: "anything-but wildcard with consecutive stars", pattern: { a: [{ "anything-but": { wildcard: ["ok*", "x**"] } }] }, path: "a[0].anything-but.wildcard[1]", message: "consecutive wildcard" },
    { name: "anything-but number beyond 5e9", pattern: { a: [{ "anything-but": [1, 1e10] }] }, path: "a[0].anything-but[1]", message: "outside the range" },
    { name: "$or that is not an array", pattern: { $or: { a: ["x"] } }, path: "$or", message: "$or must be an array of at least two objects" },
    { name: "$or with one alternative", pattern: { $or: [{ a: ["x"] }] }, path: "$or", message: "at least two alternatives" },
    { name: "$or with a non-object alternative", pattern: { $or: [{ a: ["x"] }, ["b"]] }, path: "$or[1]", message: "must be an object" },
    { name: "an operator name as a field inside $or", pattern: { $or: [{ prefix: ["x"] }, { a: ["y"] }] }, path: "$or[0].prefix", message: "cannot be used as a field name inside $or" },
    { name: "an invalid field inside a nested $or", pattern: { detail: { $or: [{ a: "x" }, { b: ["y"] }] } }, path: "detail.$or[0].a", message: "must be an array" },
    { name: "a non-finite number", pattern: { a: [Number.NaN] }, path: "a[0]", message: "not a JSON number" },
    { name: "a value JSON cannot carry", pattern: { a: [undefined] }, path: "a[0]", message: "not a JSON value" },
    { name: "a pattern longer than the default quota", pattern: { a: ["x".repeat(2100)] }, path: "", message: "at most 2048" },
  ])("$name", ({ pattern, path, message }) => {
    const issues = validatePattern(pattern);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe(path);
    expect(issues[0]!.message).toContain(message);
  });

  it("reports every issue, not just the first", () => {
    const issues = validatePattern({ source: "a", detail: { x: [], y: [{ prefix: 1 }] } });
    expect(issues.map((i) => i.path)).toEqual(["source", "detail.x", "detail.y[0].prefix"]);
  });

  it("honours a raised length quota", () => {
    const pattern = { a: ["x".repeat(3000)] };
    expect(validatePattern(pattern, { maxLength: 4096 })).toEqual([]);
    expect(validatePattern(pattern)).toHaveLength(1);
  });
});
