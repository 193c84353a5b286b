/**
 * EventBridge event-pattern matching.
 *
 * A pattern is compiled once into a small tree of fields whose leaves hold
 * ready-made tests; matching walks that tree against the event and never
 * looks at the pattern JSON again.
 *
 * Semantics, following the EventBridge user guide and its engine (aws/event-ruler):
 * - a key with dots names nested fields, in patterns and in events alike (dotted-keys.ts);
 * - fields of an object are ANDed, values of a match array are ORed, `$or`
 *   ORs whole sub-patterns at its level (it adds nothing to the path);
 * - an event array matches when any of its elements does (nested arrays are
 *   flattened); objects inside different elements of one array are never
 *   combined: all fields under an array must match within one element;
 * - operators see only leaf values (strings, numbers, booleans, null): a
 *   field holding an object has no value, so `exists: true` fails on it and
 *   `exists: false` succeeds; `exists: false` means no leaf at that path
 *   anywhere in the event; `null` is a value (`[null]` matches it, `exists:
 *   true` matches it, `""` does not);
 * - prefix, suffix, equals-ignore-case, wildcard and cidr match strings only;
 *   numeric and numeric exact values match JSON numbers only (never numeric
 *   strings), numeric ranges only within ±5e9;
 * - anything-but matches any present leaf value that is not one of the
 *   excluded values (so a number passes an anything-but of strings); it
 *   never matches an absent field.
 */
import type { EventPattern } from "./types.ts";
import { InvalidPatternError } from "../errors.ts";
import {
  NUMERIC_LIMIT,
  cidrContains,
  parseCidr,
  parseWildcard,
  wildcardMatches,
  type CidrBlock,
  type WildcardPieces,
} from "./operands.ts";
import { validatePattern, type ValidateOptions } from "./validate.ts";
import { expandEventKeys, expandPatternKeys, isNestedFields, type PatternFields } from "./dotted-keys.ts";

export type Leaf = string | number | boolean | null;

interface ValueTest {
  readonly test: (value: Leaf) => boolean;
  readonly text: string;
}

export interface LeafField {
  readonly kind: "leaf";
  readonly key: string;
  /** The key also names an Object.prototype member, so lookups must check own properties. */
  readonly guarded: boolean;
  /** Dotted path from the event root, for messages. */
  readonly path: string;
  readonly segments: readonly string[];
  /** Exact values (strings, numbers, booleans, null); absent when the field lists none. */
  readonly exact: ReadonlySet<Leaf> | undefined;
  readonly tests: readonly ValueTest[];
  /**
   * Set when every operator of the field implies a non-empty prefix or suffix
   * (plain `prefix` or `suffix` strings, or a `wildcard` not both starting and
   * ending with `*`): one entry per operator.
   */
  readonly affixes: readonly Affix[] | undefined;
  readonly existsTrue: boolean;
  readonly existsFalse: boolean;
  readonly wanted: string;
}

/** What every string matching one operator starts and/or ends with (at least one is set, never ""). */
export interface Affix {
  readonly prefix: string | undefined;
  readonly suffix: string | undefined;
}

export interface ObjectField {
  readonly kind: "object";
  readonly key: string;
  readonly guarded: boolean;
  readonly path: string;
  readonly node: PatternNode;
}

export interface PatternNode {
  readonly fields: readonly (LeafField | ObjectField)[];
  /** Each `$or` at this level: at least one alternative must match. */
  readonly ors: readonly (readonly PatternNode[])[];
}

export interface CompiledPattern {
  readonly pattern: EventPattern;
  readonly root: PatternNode;
}

type Obj = Readonly<Record<string, unknown>>;

const hasOwn = Object.prototype.hasOwnProperty;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/**
 * The event's own value for `key`. Only names that also exist on
 * Object.prototype (`constructor`, `toString`, ...) need the slower own-property check.
 */
function own(obj: Obj | undefined, key: string, guarded: boolean): unknown {
  if (obj === undefined) return undefined;
  return guarded && !hasOwn.call(obj, key) ? undefined : obj[key];
}

function quote(value: Leaf): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function quoteList(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

// ---------------------------------------------------------------- compile

function stringTest(text: string, test: (value: string) => boolean): ValueTest {
  return { text, test: (value) => typeof value === "string" && test(value) };
}

function affixTest(kind: "prefix" | "suffix", operand: unknown): ValueTest {
  if (typeof operand === "string") {
    return kind === "prefix"
      ? stringTest(`prefix ${JSON.stringify(operand)}`, (v) => v.startsWith(operand))
      : stringTest(`suffix ${JSON.stringify(operand)}`, (v) => v.endsWith(operand));
  }
  const text = String((operand as Obj)["equals-ignore-case"]);
  const lower = text.toLowerCase();
  const label = `${kind} ${JSON.stringify(text)} (any case)`;
  return kind === "prefix"
    ? stringTest(label, (v) => v.toLowerCase().startsWith(lower))
    : stringTest(label, (v) => v.toLowerCase().endsWith(lower));
}

function anythingButTest(operand: unknown): ValueTest {
  if (typeof operand === "string" || typeof operand === "number" || Array.isArray(operand)) {
    const values = (Array.isArray(operand) ? operand : [operand]) as readonly (string | number)[];
    const excluded = new Set<Leaf>(values);
    const kind = typeof values[0];
    return {
      text: `anything but ${values.map((v) => quote(v)).join(", ")}`,
      test: (value) => !(typeof value === kind && excluded.has(value)),
    };
  }
  const [name, inner] = Object.entries(operand as Obj)[0]!;
  const values = (Array.isArray(inner) ? inner : [inner]) as readonly string[];
  const text = `anything but ${name} ${quoteList(values)}`;
  let excludes: (value: string) => boolean;
  switch (name) {
    case "prefix":
      excludes = (v) => values.some((p) => v.startsWith(p));
      break;
    case "suffix":
      excludes = (v) => values.some((s) => v.endsWith(s));
      break;
    case "wildcard": {
      const patterns = values.map((w) => parseWildcard(w) as WildcardPieces);
      excludes = (v) => patterns.some((p) => wildcardMatches(p, v));
      break;
    }
    default: {
      const lowered = new Set(values.map((v) => v.toLowerCase()));
      excludes = (v) => lowered.has(v.toLowerCase());
    }
  }
  return { text, test: (value) => typeof value !== "string" || !excludes(value) };
}

function numericTest(operand: readonly unknown[]): ValueTest {
  const op = operand[0] as string;
  const n = operand[1] as number;
  const inRange = (v: number) => v >= -NUMERIC_LIMIT && v <= NUMERIC_LIMIT;
  const numeric = (text: string, test: (v: number) => boolean): ValueTest => ({
    text,
    test: (value) => typeof value === "number" && inRange(value) && test(value),
  });
  if (operand.length === 4) {
    const op2 = operand[2] as string;
    const high = operand[3] as number;
    const lowOk = op === ">" ? (v: number) => v > n : (v: number) => v >= n;
    const highOk = op2 === "<" ? (v: number) => v < high : (v: number) => v <= high;
    return numeric(`a number ${op} ${n} and ${op2} ${high}`, (v) => lowOk(v) && highOk(v));
  }
  const text = `a number ${op} ${n}`;
  switch (op) {
    case "=":
      return numeric(text, (v) => v === n);
    case "<":
      return numeric(text, (v) => v < n);
    case "<=":
      return numeric(text, (v) => v <= n);
    case ">":
      return numeric(text, (v) => v > n);
    default:
      return numeric(text, (v) => v >= n);
  }
}

/**
 * The non-empty prefix and suffix every string matching this operator has, if
 * any. Case-insensitive affixes have none: their bytes differ from the event's.
 */
function impliedAffix(name: string, operand: unknown): Affix | undefined {
  if (typeof operand !== "string" || operand === "") return undefined;
  if (name === "prefix") return { prefix: operand, suffix: undefined };
  if (name === "suffix") return { prefix: undefined, suffix: operand };
  if (name !== "wildcard") return undefined;
  const pieces = parseWildcard(operand) as WildcardPieces;
  const first = pieces[0]!;
  // Without a star the wildcard is one exact string, which the prefix covers.
  const last = pieces.length > 1 ? pieces[pieces.length - 1]! : "";
  if (first === "" && last === "") return undefined;
  return { prefix: first === "" ? undefined : first, suffix: last === "" ? undefined : last };
}

function compileLeaf(key: string, path: string, segments: readonly string[], list: readonly unknown[]): LeafField {
  const exact: Leaf[] = [];
  const tests: ValueTest[] = [];
  const wanted: string[] = [];
  let existsTrue = false;
  let existsFalse = false;
  const affixes: Affix[] = [];
  let onlyAffixes = true;
  for (const item of list) {
    if (isLeaf(item)) {
      exact.push(item);
      wanted.push(quote(item));
      continue;
    }
    const [name, operand] = Object.entries(item as Obj)[0]!;
    const implied = impliedAffix(name, operand);
    if (implied !== undefined) affixes.push(implied);
    else onlyAffixes = false;
    let test: ValueTest | undefined;
    switch (name) {
      case "prefix":
      case "suffix":
        test = affixTest(name, operand);
        break;
      case "equals-ignore-case": {
        const lower = (operand as string).toLowerCase();
        test = stringTest(`${JSON.stringify(operand)} (any case)`, (v) => v.toLowerCase() === lower);
        break;
      }
      case "wildcard": {
        const pieces = parseWildcard(operand as string) as WildcardPieces;
        test = stringTest(`wildcard ${JSON.stringify(operand)}`, (v) => wildcardMatches(pieces, v));
        break;
      }
      case "anything-but":
        test = anythingButTest(operand);
        break;
      case "numeric":
        test = numericTest(operand as readonly unknown[]);
        break;
      case "cidr": {
        const block = parseCidr(operand as string) as CidrBlock;
        test = stringTest(`an IP address in ${String(operand)}`, (v) => cidrContains(block, v));
        break;
      }
      default: // exists
        if (operand === true) {
          existsTrue = true;
          wanted.push("any value (exists)");
        } else {
          existsFalse = true;
          wanted.push("no value (exists: false)");
        }
    }
    if (test !== undefined) {
      tests.push(test);
      wanted.push(test.text);
    }
  }
  const allExact = tests.length === 0 && !existsTrue && !existsFalse;
  return {
    kind: "leaf",
    key,
    guarded: key in Object.prototype,
    path,
    segments,
    exact: exact.length > 0 ? new Set(exact) : undefined,
    tests,
    affixes: onlyAffixes && affixes.length > 0 ? affixes : undefined,
    existsTrue,
    existsFalse,
    wanted: allExact || wanted.length > 1 ? `one of ${wanted.join(", ")}` : wanted[0]!,
  };
}

function compileNode(pattern: PatternFields, segments: readonly string[]): PatternNode {
  const fields: (LeafField | ObjectField)[] = [];
  const ors: PatternNode[][] = [];
  for (const [key, value] of pattern) {
    if (key === "$or") {
      ors.push((value as readonly PatternFields[]).map((alternative) => compileNode(alternative, segments)));
      continue;
    }
    const childSegments = [...segments, key];
    const path = childSegments.join(".");
    if (isNestedFields(value)) fields.push({ kind: "object", key, guarded: key in Object.prototype, path, node: compileNode(value.nested, childSegments) });
    else fields.push(compileLeaf(key, path, childSegments, value));
  }
  // Cheap exact checks first, so most mismatches are found after a lookup or two.
  fields.sort((a, b) => rank(a) - rank(b));
  return { fields, ors };
}

function rank(field: LeafField | ObjectField): number {
  if (field.kind === "object") return 2;
  return field.tests.length === 0 && !field.existsFalse ? 0 : 1;
}

/**
 * Compile `pattern` for repeated matching. Throws InvalidPatternError listing
 * every problem when EventBridge would reject the pattern.
 */
export function compilePattern(pattern: EventPattern, options?: ValidateOptions): CompiledPattern {
  const issues = validatePattern(pattern, options);
  if (issues.length > 0) throw new InvalidPatternError(issues);
  return compileValidatedPattern(pattern);
}

/**
 * Compile a pattern that has been validated already (the patterns of a compiled catalog), without
 * checking it again: a bundle that compiles only such patterns leaves the validator out. What a
 * pattern EventBridge would reject matches is undefined.
 */
export function compileValidatedPattern(pattern: EventPattern): CompiledPattern {
  return { pattern, root: compileNode(expandPatternKeys(pattern), []) };
}

// ---------------------------------------------------------------- match

function leafMatches(field: LeafField, value: Leaf): boolean {
  if (field.existsTrue) return true;
  if (field.exact !== undefined && field.exact.has(value)) return true;
  for (const test of field.tests) if (test.test(value)) return true;
  return false;
}

function anyLeafMatches(field: LeafField, value: unknown): boolean {
  if (Array.isArray(value)) {
    for (const item of value) if (anyLeafMatches(field, item)) return true;
    return false;
  }
  return isLeaf(value) && leafMatches(field, value);
}

/** Whether the event holds at least one leaf value at `segments` (arrays flattened at every level). */
function hasLeafAt(value: unknown, segments: readonly string[], index: number): boolean {
  if (Array.isArray(value)) {
    for (const item of value) if (hasLeafAt(item, segments, index)) return true;
    return false;
  }
  if (index === segments.length) return isLeaf(value);
  if (!isObject(value)) return false;
  const key = segments[index]!;
  return hasOwn.call(value, key) && hasLeafAt(value[key], segments, index + 1);
}

function matchLeaf(field: LeafField, obj: Obj | undefined, root: unknown): boolean {
  if (field.existsFalse && !hasLeafAt(root, field.segments, 0)) return true;
  const value = own(obj, field.key, field.guarded);
  return value !== undefined && anyLeafMatches(field, value);
}

function matchInArray(node: PatternNode, items: readonly unknown[], root: unknown): boolean | undefined {
  let sawObject: boolean | undefined;
  for (const item of items) {
    if (Array.isArray(item)) {
      const inner = matchInArray(node, item, root);
      if (inner === true) return true;
      if (inner === false) sawObject = false;
    } else if (isObject(item)) {
      if (matchNode(node, item, root)) return true;
      sawObject = false;
    }
  }
  // undefined: the array held no object at all, so the nested fields are simply absent.
  return sawObject;
}

function matchObjectField(field: ObjectField, obj: Obj | undefined, root: unknown): boolean {
  const value = own(obj, field.key, field.guarded);
  if (isObject(value)) return matchNode(field.node, value, root);
  if (Array.isArray(value)) {
    const result = matchInArray(field.node, value, root);
    if (result !== undefined) return result;
  }
  return matchNode(field.node, undefined, root);
}

function matchNode(node: PatternNode, obj: Obj | undefined, root: unknown): boolean {
  for (const field of node.fields) {
    const ok = field.kind === "leaf" ? matchLeaf(field, obj, root) : matchObjectField(field, obj, root);
    if (!ok) return false;
  }
  for (const alternatives of node.ors) {
    let any = false;
    for (const alternative of alternatives) {
      if (matchNode(alternative, obj, root)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

/** Whether `event` (the full EventBridge envelope, parsed) matches the compiled pattern. */
export function matchesPattern(compiled: CompiledPattern, event: unknown): boolean {
  return matchesExpanded(compiled, expandEventKeys(event));
}

/** `matchesPattern` for an event whose dotted keys were expanded already (dotted-keys.ts `expandEventKeys`). */
export function matchesExpanded(compiled: CompiledPattern, event: unknown): boolean {
  return matchNode(compiled.root, isObject(event) ? event : undefined, event);
}

// ---------------------------------------------------------------- explain

function describeValue(value: unknown): string {
  if (value === undefined) return "missing";
  if (isLeaf(value)) return quote(value);
  if (Array.isArray(value)) {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
  return "an object (operators only match leaf values)";
}

function explainLeaf(field: LeafField, obj: Obj | undefined, root: unknown): string | undefined {
  if (matchLeaf(field, obj, root)) return undefined;
  const value = own(obj, field.key, field.guarded);
  return `${field.path} is ${describeValue(value)}, wanted ${field.wanted}`;
}

function explainObjectField(field: ObjectField, obj: Obj | undefined, root: unknown): string | undefined {
  if (matchObjectField(field, obj, root)) return undefined;
  const value = own(obj, field.key, field.guarded);
  if (isObject(value)) return explainNode(field.node, value, root);
  if (Array.isArray(value)) {
    const first = flattenObjects(value)[0];
    if (first !== undefined) {
      return `no element of ${field.path} matched; the first one fails because ${explainNode(field.node, first, root) ?? "of a field in another element"}`;
    }
  }
  if (value !== undefined) return `${field.path} is ${describeValue(value)}, wanted an object`;
  return explainNode(field.node, undefined, root);
}

function flattenObjects(items: readonly unknown[]): Obj[] {
  const out: Obj[] = [];
  for (const item of items) {
    if (Array.isArray(item)) out.push(...flattenObjects(item));
    else if (isObject(item)) out.push(item);
  }
  return out;
}

function explainNode(node: PatternNode, obj: Obj | undefined, root: unknown): string | undefined {
  for (const field of node.fields) {
    const reason = field.kind === "leaf" ? explainLeaf(field, obj, root) : explainObjectField(field, obj, root);
    if (reason !== undefined) return reason;
  }
  for (const alternatives of node.ors) {
    if (alternatives.some((alternative) => matchNode(alternative, obj, root))) continue;
    const reasons = alternatives.map((alternative, i) => `(${i + 1}) ${explainNode(alternative, obj, root) ?? "no match"}`);
    return `no $or alternative matched: ${reasons.join("; ")}`;
  }
  return undefined;
}

/**
 * Why `event` does not match, in one sentence naming the first field that
 * fails (`detail.bucket.name is "other", wanted one of "media-uploads"`);
 * undefined when it matches.
 */
export function explainMismatch(compiled: CompiledPattern, input: unknown): string | undefined {
  const event = expandEventKeys(input);
  if (matchesExpanded(compiled, event)) return undefined;
  if (!isObject(event)) return `the event is ${describeValue(event)}, not a JSON object`;
  return explainNode(compiled.root, event, event) ?? "the event does not match";
}

/**
 * A field every matching event must hold with one of a few exact values, or
 * a value starting with one of a few prefixes or ending with one of a few
 * suffixes, found without looking inside other operators: the index keys
 * patterns by these.
 */
export interface Anchor {
  readonly segments: readonly string[];
  readonly values: ReadonlySet<Leaf>;
  readonly prefixes: readonly string[];
  readonly suffixes: readonly string[];
}

/** Anchors of which a matching event satisfies at least one (several only for a `$or`). */
export type AnchorChoice = readonly Anchor[];

const NO_VALUES: ReadonlySet<Leaf> = new Set();

/**
 * The anchors of one field. A wildcard with literal text at both ends (`in/*.png`)
 * can be keyed by either; offering both lets the index take whichever
 * separates the field's patterns better (a shared folder, or a shared extension).
 */
function fieldAnchors(field: LeafField): Anchor[] {
  const values = field.exact ?? NO_VALUES;
  const affixes = field.affixes ?? [];
  const keyed = (preferSuffix: boolean): Anchor => {
    const prefixes: string[] = [];
    const suffixes: string[] = [];
    for (const { prefix, suffix } of affixes) {
      if (suffix !== undefined && (preferSuffix || prefix === undefined)) suffixes.push(suffix);
      else prefixes.push(prefix!);
    }
    return { segments: field.segments, values, prefixes, suffixes };
  };
  const either = affixes.some((a) => a.prefix !== undefined && a.suffix !== undefined);
  return either ? [keyed(false), keyed(true)] : [keyed(false)];
}

/**
 * Every anchor choice of the pattern. A `$or` yields one choice made of the
 * best choice of each alternative (as `pick` ranks them), when every
 * alternative has one.
 */
export function anchorChoices(compiled: CompiledPattern, pick: (choices: readonly AnchorChoice[]) => AnchorChoice | undefined): AnchorChoice[] {
  const visit = (node: PatternNode, out: AnchorChoice[]): void => {
    for (const field of node.fields) {
      if (field.kind === "object") visit(field.node, out);
      else if (isAnchored(field)) for (const anchor of fieldAnchors(field)) out.push([anchor]);
    }
    for (const alternatives of node.ors) {
      const combined: Anchor[] = [];
      for (const alternative of alternatives) {
        const inner: AnchorChoice[] = [];
        visit(alternative, inner);
        const best = pick(inner);
        if (best === undefined) return;
        combined.push(...best);
      }
      out.push(combined);
    }
  };
  const out: AnchorChoice[] = [];
  visit(compiled.root, out);
  return out;
}

/**
 * Every anchor the pattern offers, those of `$or` alternatives included: what the index counts to learn
 * how many patterns share each key.
 */
export function everyAnchor(compiled: CompiledPattern): Anchor[] {
  const out: Anchor[] = [];
  const visit = (node: PatternNode): void => {
    for (const field of node.fields) {
      if (field.kind === "object") visit(field.node);
      else if (isAnchored(field)) out.push(...fieldAnchors(field));
    }
    for (const alternatives of node.ors) for (const alternative of alternatives) visit(alternative);
  };
  visit(compiled.root);
  return out;
}

/** Whether every value the field accepts is one of its exact values or has one of its affixes. */
export function isAnchored(field: LeafField): boolean {
  return !field.existsTrue && !field.existsFalse && (field.tests.length === 0 || field.affixes !== undefined);
}
