import { describe, expect, it } from "vitest";
import { compilePattern, isAnchored, matchesPattern, type LeafField, type PatternNode } from "../../../src/core/match/compile.ts";
import { expandEventKeys } from "../../../src/core/match/dotted-keys.ts";
import { PatternIndex } from "../../../src/core/match/index.ts";
import type { EventPattern } from "../../../src/core/match/types.ts";
import { CATALOG_SHAPES } from "./catalog-shapes.ts";
import { random } from "../../support/random.ts";

const EVENTS = 200;

/** The leaf values of `value` at `segments`, arrays flattened at every level. */
function valuesAt(value: unknown, segments: readonly string[], depth: number, out: unknown[]): unknown[] {
  if (Array.isArray(value)) for (const item of value) valuesAt(item, segments, depth, out);
  else if (depth === segments.length) out.push(value);
  else if (typeof value === "object" && value !== null && Object.hasOwn(value, segments[depth]!)) valuesAt((value as Record<string, unknown>)[segments[depth]!], segments, depth + 1, out);
  return out;
}

/** Whether the event holds a value at the field's path that every key the index could file the field under admits. */
function holdsKeys(field: LeafField, event: unknown): boolean {
  return valuesAt(event, field.segments, 0, []).some(
    (v) =>
      (field.exact?.has(v as never) ?? false) ||
      (typeof v === "string" && (field.affixes ?? []).some((a) => (a.prefix === undefined || v.startsWith(a.prefix)) && (a.suffix === undefined || v.endsWith(a.suffix)))),
  );
}

/**
 * Whether any index keyed by exact values, prefixes and suffixes must test the pattern against `event`: the
 * event holds every field the pattern could be filed under, and so for one alternative of each `$or`.
 */
function unavoidable(node: PatternNode, event: unknown): boolean {
  for (const field of node.fields) {
    if (field.kind === "object") {
      if (!unavoidable(field.node, event)) return false;
    } else if (isAnchored(field) && !holdsKeys(field, event)) {
      return false;
    }
  }
  return node.ors.every((alternatives) => alternatives.some((alternative) => unavoidable(alternative, event)));
}

/** The catalog's patterns in the order given, and `tested` counted over `events` (what `match` returned checked elsewhere). */
function counted(patterns: readonly EventPattern[], order: readonly number[], events: readonly unknown[]) {
  const index = new PatternIndex<number>();
  for (const i of order) index.add(patterns[i]!, i);
  const results = events.map((e) => index.match(e));
  return { index, results, testedPerEvent: index.tested / events.length, matchesPerEvent: results.reduce((n, r) => n + r.length, 0) / events.length };
}

function shuffled(length: number, seed: number): number[] {
  const r = random(seed);
  const order = Array.from({ length }, (_, i) => i);
  for (let i = length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

describe("PatternIndex over realistic catalogs", () => {
  describe.each(CATALOG_SHAPES.map((shape) => [shape.name, shape] as const))("%s", (_, shape) => {
    it("returns what testing every pattern returns, the patterns added in any order", () => {
      const catalog = shape.build(1000, 7);
      const events = catalog.events(EVENTS);
      const compiled = catalog.patterns.map((p) => compilePattern(p));
      const expected = events.map((e) => compiled.flatMap((c, i) => (matchesPattern(c, e) ? [i] : [])));
      const inOrder = catalog.patterns.map((_, i) => i);
      for (const order of [inOrder, [...inOrder].reverse(), shuffled(inOrder.length, 3)]) {
        const { results } = counted(catalog.patterns, order, events);
        // Values come back in insertion order: sorted by id they are the naive loop's answer.
        results.forEach((got, j) => expect([...got].sort((a, b) => a - b), JSON.stringify(events[j])).toEqual(expected[j]));
      }
      expect(expected.some((m) => m.length > 0)).toBe(true);
    });

    it("fully tests, beyond the patterns that match, those no key can rule out and a few more per event, however large the catalog and in any order", () => {
      for (const size of [100, 1500]) {
        const catalog = shape.build(size, size);
        const events = catalog.events(EVENTS);
        const compiled = catalog.patterns.map((p) => compilePattern(p));
        let mustTest = 0;
        for (const e of events) {
          const expanded = expandEventKeys(e);
          for (const c of compiled) if (!matchesPattern(c, e) && unavoidable(c.root, expanded)) mustTest++;
        }
        const inOrder = catalog.patterns.map((_, i) => i);
        for (const order of [inOrder, [...inOrder].reverse(), shuffled(size, size)]) {
          const { testedPerEvent, matchesPerEvent } = counted(catalog.patterns, order, events);
          expect(testedPerEvent - matchesPerEvent - mustTest / events.length, `${size} jobs`).toBeLessThanOrEqual(2);
        }
      }
    });
  });

  it("files jobs that each watch their own bucket and one of a few folders under their bucket, whichever field a pattern names first", () => {
    const folders = ["incoming/", "uploads/", "raw/", "exports/"];
    const index = new PatternIndex<number>();
    for (let i = 0; i < 2000; i++) {
      const bucket = { name: [`bucket-${i}`] };
      const object = { key: [{ prefix: folders[i % 4] }] };
      index.add({ source: ["aws.s3"], "detail-type": ["Object Created"], detail: i % 2 === 0 ? { object, bucket } : { bucket, object } }, i);
    }
    const event = (i: number) => ({ source: "aws.s3", "detail-type": "Object Created", detail: { bucket: { name: `bucket-${i}` }, object: { key: `${folders[i % 4]}a.csv` } } });
    expect(index.match(event(6))).toEqual([6]);
    expect(index.match(event(7))).toEqual([7]);
    expect(index.tested).toBe(2);
  });

  it("files the patterns added after a match too, and again by the keys fewest patterns share once the catalog has grown", () => {
    const index = new PatternIndex<number>();
    const s3 = (i: number) => ({ detail: { object: { key: [{ prefix: "in/" }] }, bucket: { name: [`b-${i}`] } } });
    index.add(s3(0), 0);
    expect(index.match({ detail: { bucket: { name: "b-0" }, object: { key: "in/x" } } })).toEqual([0]);
    for (let i = 1; i < 1000; i++) {
      index.add(s3(i), i);
      // One match per pattern added: filing stays linear in the catalog, not quadratic.
      expect(index.match({ detail: { bucket: { name: `b-${i}` }, object: { key: "in/x" } } })).toEqual([i]);
    }
    const before = index.tested;
    expect(index.match({ detail: { bucket: { name: "b-500" }, object: { key: "in/x" } } })).toEqual([500]);
    expect(index.tested - before).toBe(1);
  });
});
