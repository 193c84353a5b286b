import { describe, expect, it } from "vitest";
import { BerthError } from "../../src/core/errors.ts";
import { prettyJson, table, UsageError } from "../../src/cli/output.ts";

describe("prettyJson", () => {
  const values: [string, unknown][] = [
    ["a RunTask-like object", { cluster: "jobs", overrides: { containerOverrides: [{ name: "w", command: ["a b", "$(rm -rf ~);'x'", "ü".repeat(300)] }] }, count: 1 }],
    ["scalars", [1, "two", null, true, -0.5]],
    ["empty containers", { a: [], b: {} }],
    ["keys needing escapes", { 'a"b': "c\nd", "\u2028": "\\" }],
  ];
  it.each(values)("%s reads back as the same JSON", (_what, value) => {
    expect(JSON.parse(prettyJson(value))).toEqual(value);
  });

  it("keeps what fits on one line and breaks what does not", () => {
    const text = prettyJson({ short: [1, 2], long: Array.from({ length: 40 }, (_, i) => `item-${i}`) });
    expect(text).toContain('"short": [1, 2]');
    expect(text.split("\n").length).toBeGreaterThan(40);
  });
});

describe("table", () => {
  it("aligns columns by their visible width, colour codes aside", () => {
    expect(table([["a", "\x1b[31mred\x1b[39m", "x"], ["long", "b", "y"]])).toBe("a     \x1b[31mred\x1b[39m  x\nlong  b    y");
  });
});

describe("UsageError", () => {
  it("is a berth validation error, never retried, that exits 2 unless it says otherwise", () => {
    const usage = new UsageError("choose one of --aws and --local");
    expect(usage).toBeInstanceOf(BerthError);
    expect(usage).toMatchObject({ name: "UsageError", code: "VALIDATION", retryable: false, exitCode: 2 });
    expect(new UsageError("berth dev answered 500", 1).exitCode).toBe(1);
  });
});
