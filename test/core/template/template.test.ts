import { describe, expect, it } from "vitest";
import { isVariableName, parseTemplate, renderTemplate, type Template } from "../../../src/core/template/template.ts";

function parse(source: string): Template {
  const r = parseTemplate(source);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(source)} to parse: ${r.error.message}`);
  return r.template;
}

function render(source: string, values: Record<string, string>): string {
  const r = renderTemplate(parse(source), (n) => (Object.hasOwn(values, n) ? values[n] : undefined));
  if (!r.ok) throw new Error(`missing ${r.error.missing.join(", ")}`);
  return r.value;
}

const HOSTILE = "a b/$(rm -rf ~);'x'.png";
// 1,024 bytes of UTF-8 mixing 1-, 2-, 3- and 4-byte characters.
const UTF8_1024 = "aé€😀".repeat(100) + "x".repeat(24);

describe("parseTemplate", () => {
  it.each([
    { source: "", variables: [], parts: [] },
    { source: "plain text", variables: [], parts: [{ kind: "text", text: "plain text" }] },
    {
      source: "s3://${s3.bucket}/${s3.key}",
      variables: ["s3.bucket", "s3.key"],
      parts: [
        { kind: "text", text: "s3://" },
        { kind: "var", name: "s3.bucket" },
        { kind: "text", text: "/" },
        { kind: "var", name: "s3.key" },
      ],
    },
    {
      source: "${event.detail.repository-name}${params.index_2}",
      variables: ["event.detail.repository-name", "params.index_2"],
      parts: [
        { kind: "var", name: "event.detail.repository-name" },
        { kind: "var", name: "params.index_2" },
      ],
    },
    { source: "${a}-${a}", variables: ["a"], parts: [{ kind: "var", name: "a" }, { kind: "text", text: "-" }, { kind: "var", name: "a" }] },
  ])("parses $source into text and variable parts", ({ source, variables, parts }) => {
    const t = parse(source);
    expect(t.source).toBe(source);
    expect(t.variables).toEqual(variables);
    expect(t.parts).toEqual(parts);
  });

  it.each([
    { source: "$${s3.key}", literal: "${s3.key}" },
    { source: "cost $5", literal: "cost $5" },
    { source: "$", literal: "$" },
    { source: "a$", literal: "a$" },
    { source: "$$", literal: "$$" },
    { source: "$}", literal: "$}" },
    { source: "{a}", literal: "{a}" },
    { source: "$$${", literal: "$${" },
  ])("treats $source as the literal $literal", ({ source, literal }) => {
    const t = parse(source);
    expect(t.variables).toEqual([]);
    expect(renderTemplate(t, () => undefined)).toEqual({ ok: true, value: literal });
  });

  it("reads a reference right after an escaped one", () => {
    expect(render("$${a}${a}", { a: "1" })).toBe("${a}1");
  });

  it.each([
    { source: "x ${s3.key", offset: 2, message: /unclosed/ },
    { source: "${", offset: 0, message: /unclosed/ },
    { source: "ab${}", offset: 2, message: /empty variable reference/ },
    { source: "${s3 key}", offset: 4, message: /character " " at offset 4/ },
    { source: "${s3.k$y}", offset: 6, message: /character "\$"/ },
    { source: "${.key}", offset: 2, message: /empty segment/ },
    { source: "${s3.}", offset: 4, message: /empty segment/ },
    { source: "${s3..key}", offset: 4, message: /empty segment/ },
    { source: "ok ${a} then ${b c}", offset: 16, message: /invalid variable name "b c"/ },
  ])("rejects $source at offset $offset", ({ source, offset, message }) => {
    const r = parseTemplate(source);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.offset).toBe(offset);
    expect(r.error.message).toMatch(message);
  });
});

describe("isVariableName", () => {
  it.each([
    ["s3.key", true],
    ["event.detail.repository-name", true],
    ["A_1", true],
    ["", false],
    ["a.", false],
    ["a..b", false],
    ["a b", false],
    ["a/b", false],
  ] as const)("%s → %s", (name, valid) => {
    expect(isVariableName(name)).toBe(valid);
  });
});

describe("renderTemplate", () => {
  it("substitutes a hostile S3 key byte for byte", () => {
    expect(render("${s3.key}", { "s3.key": HOSTILE })).toBe(HOSTILE);
    expect(render("s3://b/${s3.key}!", { "s3.key": HOSTILE })).toBe(`s3://b/${HOSTILE}!`);
  });

  it("never re-scans a value for references", () => {
    const values = { a: "${b}", b: "SHOULD-NOT-APPEAR", c: "$${b}" };
    expect(render("${a}|${c}", values)).toBe("${b}|$${b}");
  });

  it("keeps a 1,024-byte UTF-8 value byte-identical", () => {
    const bytes = new TextEncoder().encode(UTF8_1024);
    expect(bytes.length).toBe(1024);
    const out = render("${s3.key}", { "s3.key": UTF8_1024 });
    expect(new TextEncoder().encode(out)).toEqual(bytes);
  });

  it("substitutes an empty string as empty, not as missing", () => {
    expect(render("v=${a};", { a: "" })).toBe("v=;");
  });

  it("lists every missing variable once, in order of appearance", () => {
    const r = renderTemplate(parse("${b}${a}${b}${c}"), (n) => (n === "c" ? "x" : undefined));
    expect(r).toMatchObject({ ok: false, error: { missing: ["b", "a"] } });
  });

  it("returns text without references unchanged", () => {
    const source = "node thumb.js --quality=80% 'quoted' \"double\" `tick`";
    expect(render(source, {})).toBe(source);
  });
});
