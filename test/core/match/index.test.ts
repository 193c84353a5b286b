import { describe, expect, it } from "vitest";
import { compilePattern, compileValidatedPattern, matchesPattern } from "../../../src/core/match/compile.ts";
import { CompiledPatternIndex, PatternIndex } from "../../../src/core/match/index.ts";
import { validatePattern } from "../../../src/core/match/validate.ts";
import { random, type Rng } from "../../support/random.ts";

const STRINGS = ["a", "b", "ab", "A", "", "10.0.0.5"];
const NUMBERS = [0, 1, 2, 5];
const LEAVES: readonly unknown[] = [...STRINGS, ...NUMBERS, true, null];

function matcher(r: Rng): unknown {
  switch (r.int(12)) {
    case 0:
      return { prefix: r.pick(["a", ""]) };
    case 1:
      return { "anything-but": r.pick<unknown>(["a", ["a", "b"], 1, { prefix: "a" }, { suffix: "b" }]) };
    case 2:
      return { numeric: r.pick<unknown[]>([[">", 0], ["<=", 1], [">=", 1, "<", 5]]) };
    case 3:
      return { exists: r.next() < 0.5 };
    case 4:
      return { "equals-ignore-case": "a" };
    case 5:
      return { wildcard: r.pick(["*b", "a*", "a*b", "ab", "*ab", "*a*b", "b*a", "*.5", "*"]) };
    case 6:
      return { cidr: "10.0.0.0/24" };
    case 7:
    case 8:
      return { suffix: r.pick<unknown>(["b", "ab", "a", "", ".5", { "equals-ignore-case": "B" }]) };
    default:
      return r.pick(LEAVES);
  }
}

function matchList(r: Rng): unknown[] {
  return Array.from({ length: 1 + r.int(2) }, () => matcher(r));
}

function pattern(r: Rng): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (r.next() < 0.7) p.source = [r.pick(["s1", "s2", "s3"])];
  if (r.next() < 0.3) p["detail-type"] = r.next() < 0.8 ? [r.pick(["t1", "t2"])] : matchList(r);
  const detail: Record<string, unknown> = {};
  if (r.next() < 0.5) detail.a = r.next() < 0.6 ? [r.pick(STRINGS)] : matchList(r);
  if (r.next() < 0.4) detail.b = matchList(r);
  if (r.next() < 0.3) detail.c = { d: r.next() < 0.5 ? [r.pick(LEAVES)] : matchList(r) };
  if (r.next() < 0.3) detail.items = r.next() < 0.5 ? { x: [r.pick(STRINGS)] } : { x: matchList(r), y: matchList(r) };
  if (r.next() < 0.15) detail.$or = [{ a: matchList(r) }, { b: matchList(r) }];
  if (Object.keys(detail).length > 0) p.detail = detail;
  if (r.next() < 0.1) p.$or = [{ source: [r.pick(["s1", "s2"])] }, { detail: { a: matchList(r) } }];
  if (Object.keys(p).length === 0) p.source = [{ exists: true }];
  return p;
}

function leafOrArray(r: Rng): unknown {
  const roll = r.next();
  if (roll < 0.15) return Array.from({ length: r.int(3) }, () => r.pick(LEAVES));
  if (roll < 0.2) return { nested: r.pick(LEAVES) };
  return r.pick(LEAVES);
}

function event(r: Rng): Record<string, unknown> {
  const detail: Record<string, unknown> = {};
  if (r.next() < 0.8) detail.a = leafOrArray(r);
  if (r.next() < 0.7) detail.b = leafOrArray(r);
  if (r.next() < 0.5) detail.c = r.next() < 0.8 ? { d: leafOrArray(r) } : r.pick(LEAVES);
  if (r.next() < 0.5) {
    detail.items = Array.from({ length: r.int(3) }, () => ({ x: r.pick(LEAVES), ...(r.next() < 0.5 ? { y: r.pick(LEAVES) } : {}) }));
  }
  const e: Record<string, unknown> = { source: r.next() < 0.1 ? ["s1", "s2"] : r.pick(["s1", "s2", "s3"]), "detail-type": r.pick(["t1", "t2"]), resources: [] };
  if (r.next() < 0.95) e.detail = detail;
  return e;
}

describe("PatternIndex", () => {
  it("returns exactly what testing every pattern returns, in insertion order, its patterns validated or compiled without the validator (random patterns and events)", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = random(seed);
      const index = new PatternIndex<number>();
      // A compiled catalog's patterns, validated before, compiled without the validator.
      const trusted = new CompiledPatternIndex<number>();
      const compiled = [];
      for (let i = 0; i < 300; i++) {
        const p = pattern(r);
        expect(validatePattern(p), JSON.stringify(p)).toEqual([]);
        index.add(p, i);
        trusted.addCompiled(compileValidatedPattern(p), i);
        compiled.push(compilePattern(p));
      }
      let matched = 0;
      for (let j = 0; j < 1500; j++) {
        const e = event(r);
        const expected = compiled.flatMap((c, i) => (matchesPattern(c, e) ? [i] : []));
        expect(index.match(e), `seed ${seed} event ${JSON.stringify(e)}`).toEqual(expected);
        expect(trusted.match(e), `seed ${seed} event ${JSON.stringify(e)}`).toEqual(expected);
        matched += expected.length;
      }
      // The generators must produce real matches, or the comparison proves little.
      expect(matched).toBeGreaterThan(1000);
    }
  });

  it("finds patterns by any value of an event array, once each", () => {
    const index = new PatternIndex<string>();
    index.add({ resources: ["r1", "r2"] }, "both");
    index.add({ resources: ["r2"] }, "second");
    index.add({ resources: ["r3"] }, "other");
    expect(index.match({ resources: ["r1", "r2", "r2"] })).toEqual(["both", "second"]);
  });

  it("finds patterns whose only exact field sits under an event array of objects", () => {
    const index = new PatternIndex<string>();
    index.add({ detail: { items: { sku: ["x"] } } }, "x");
    expect(index.match({ detail: { items: [{ sku: "y" }, [{ sku: "x" }]] } })).toEqual(["x"]);
  });

  it("checks patterns without an exact value, prefix or suffix against every event", () => {
    const index = new PatternIndex<string>();
    index.add({ detail: { key: [{ suffix: { "equals-ignore-case": ".PNG" } }] } }, "suffix in any case");
    index.add({ $or: [{ source: ["a"] }, { detail: { n: [{ numeric: [">", 1] }] } }] }, "or without anchor");
    index.add({ detail: { gone: [{ exists: false }] } }, "absent");
    index.add({ detail: { key: [{ wildcard: "*" }] } }, "any string");
    expect(index.match({ source: "b", detail: { key: "in/x.Png", n: 2 } })).toEqual(["suffix in any case", "or without anchor", "absent", "any string"]);
  });

  it("finds a $or pattern through the exact field of any alternative", () => {
    const index = new PatternIndex<string>();
    index.add({ $or: [{ source: ["a"] }, { detail: { $or: [{ kind: ["k1"] }, { type: ["t1"] }] } }] }, "or");
    index.add({ source: ["z"] }, "z");
    expect(index.match({ source: "a" })).toEqual(["or"]);
    expect(index.match({ source: "b", detail: { type: "t1" } })).toEqual(["or"]);
    expect(index.match({ source: "b", detail: { kind: "k2", type: "t2" } })).toEqual([]);
  });

  it("finds patterns by key prefix when they share every exact field", () => {
    const index = new PatternIndex<string>();
    const s3 = (key: unknown[]) => ({ source: ["aws.s3"], detail: { bucket: { name: ["b"] }, object: { key } } });
    index.add(s3([{ prefix: "in/" }]), "in");
    index.add(s3([{ prefix: "in/raw/" }, "exact.txt"]), "raw");
    index.add(s3([{ prefix: "out/" }]), "out");
    index.add(s3([{ wildcard: "in/*.csv" }]), "csv");
    const event = (key: string) => ({ source: "aws.s3", detail: { bucket: { name: "b" }, object: { key } } });
    expect(index.match(event("in/raw/a.csv"))).toEqual(["in", "raw", "csv"]);
    expect(index.match(event("in/x"))).toEqual(["in"]);
    expect(index.match(event("exact.txt"))).toEqual(["raw"]);
    expect(index.match(event("in"))).toEqual([]);
  });

  it.each([
    ["in/1/x.png", ["png", "in/*/x.png", "PNG any case"]],
    ["a.png", ["png", "PNG any case", "exact a.png"]],
    [".png", ["png", "PNG any case"]],
    ["png", []],
    ["x.PNG", ["PNG any case"]],
    ["photos/cat.jpg", ["*.jpg"]],
    ["out/a.txt", ["out/ or .csv"]],
    ["b.csv", ["out/ or .csv"]],
    ["in/2/y.png", ["png", "PNG any case"]],
  ])("finds patterns by key suffix when they share every exact field (%s)", (key, expected) => {
    const index = new PatternIndex<string>();
    const s3 = (k: unknown[]) => ({ source: ["aws.s3"], detail: { bucket: { name: ["b"] }, object: { key: k } } });
    index.add(s3([{ suffix: ".png" }]), "png");
    index.add(s3([{ wildcard: "*.jpg" }]), "*.jpg");
    index.add(s3([{ wildcard: "in/*/x.png" }]), "in/*/x.png");
    index.add(s3([{ prefix: "out/" }, { suffix: ".csv" }]), "out/ or .csv");
    index.add(s3([{ suffix: { "equals-ignore-case": ".PNG" } }]), "PNG any case");
    index.add(s3(["a.png"]), "exact a.png");
    expect(index.match({ source: "aws.s3", detail: { bucket: { name: "b" }, object: { key } } })).toEqual(expected);
  });

  it("reads dotted event keys where patterns look, wherever they are, and ignores them elsewhere", () => {
    const patterns = [{ detail: { a: { b: ["x"] } } }, { detail: { "a.c": [{ prefix: "y" }] } }, { source: ["s"], detail: { n: { m: [{ exists: false }] } } }];
    const index = new PatternIndex<number>();
    patterns.forEach((p, i) => index.add(p, i));
    const events = [
      { source: "s", detail: { "a.b": "x", "n.m": 1 } },
      { source: "s", "detail.a": { c: "yes" }, detail: { other: { "z.q": 1 } } },
      { source: "s", detail: [{ a: { "b.x": 1 } }, { "a.b": ["x"] }], junk: { "a.b": "x" } },
      { source: "s", detail: { a: { b: "x" }, elsewhere: { "n.m": 1 } } },
    ];
    for (const e of events) {
      expect(index.match(e), JSON.stringify(e)).toEqual(patterns.flatMap((p, i) => (matchesPattern(compilePattern(p), e) ? [i] : [])));
    }
    expect(index.match(events[0])).toEqual([0]);
    expect(index.match(events[1])).toEqual([1, 2]);
  });

  it("keeps the same pattern added twice as two entries", () => {
    const index = new PatternIndex<string>();
    index.add({ source: ["a"] }, "first");
    index.add({ source: ["a"] }, "second");
    expect(index.match({ source: "a" })).toEqual(["first", "second"]);
    expect(index.size).toBe(2);
  });

  it("rejects an invalid pattern and stays unchanged", () => {
    const index = new PatternIndex<string>();
    expect(() => index.add({ source: "a" }, "bad")).toThrow(/source: must be an array/);
    expect(index.size).toBe(0);
    expect(index.match({ source: "a" })).toEqual([]);
  });

  it("keys typical berth patterns by their most selective field", () => {
    const index = new PatternIndex<string>();
    for (let i = 0; i < 50; i++) {
      index.add({ source: ["berth.scheduler"], "detail-type": ["Berth Schedule Fired"], detail: { service: ["acme"], job: [`job-${i}`] } }, `job-${i}`);
    }
    expect(index.match({ source: "berth.scheduler", "detail-type": "Berth Schedule Fired", detail: { service: "acme", job: "job-7" } })).toEqual(["job-7"]);
  });
});
