/**
 * Event-pattern validation: reports everything AWS EventBridge would reject
 * in a rule's pattern, each issue with the path it sits at
 * (`detail.object.key[0].prefix`) and what would be accepted instead.
 * The rules follow the EventBridge user guide and the behaviour of its
 * matching engine (aws/event-ruler).
 */
import {
  OPERATORS,
  isOperator,
  numericOperandProblem,
  parseCidr,
  parseWildcard,
} from "./operands.ts";

export interface PatternIssue {
  readonly path: string;
  readonly message: string;
}

export interface ValidateOptions {
  /**
   * Longest pattern, in characters of its compact JSON, EventBridge accepts.
   * The default quota is 2048; AWS raises it to at most 4096 on request.
   */
  readonly maxLength?: number;
}

export const DEFAULT_MAX_PATTERN_LENGTH = 2048;

const OPERATOR_LIST = OPERATORS.join(", ");
const NUMERIC_OPERATORS = ["=", "<", "<=", ">", ">="];

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isPlainObject(value)) return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return typeof value;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

class Collector {
  readonly issues: PatternIssue[] = [];
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
}

/** Anything JSON cannot carry (undefined, functions, NaN, class instances) is rejected up front. */
function checkJson(value: unknown, path: string, out: Collector): value is Json {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return true;
    out.add(path, `${value} is not a JSON number; use a finite number`);
    return false;
  }
  if (Array.isArray(value)) {
    let ok = true;
    value.forEach((item, i) => {
      ok = checkJson(item, `${path}[${i}]`, out) && ok;
    });
    return ok;
  }
  if (isPlainObject(value)) {
    let ok = true;
    for (const [key, item] of Object.entries(value)) ok = checkJson(item, join(path, key), out) && ok;
    return ok;
  }
  out.add(path, `${describeType(value)} is not a JSON value; patterns hold only objects, arrays, strings, numbers, booleans and null`);
  return false;
}

function checkObject(node: { readonly [key: string]: Json }, path: string, insideOr: boolean, out: Collector): void {
  const keys = Object.keys(node);
  if (keys.length === 0) {
    out.add(path, "empty objects are not allowed; name at least one field to match");
    return;
  }
  for (const key of keys) {
    const value = node[key]!;
    const at = join(path, key);
    if (key === "$or") {
      checkOr(value, at, out);
      continue;
    }
    if (insideOr && isOperator(key)) {
      out.add(at, `"${key}" is an operator name and cannot be used as a field name inside $or; put operators in a match array, e.g. "field": [{ "${key}": ... }]`);
      continue;
    }
    if (Array.isArray(value)) checkMatchList(value, at, out);
    else if (isPlainObject(value)) checkObject(value as { readonly [key: string]: Json }, at, insideOr, out);
    else out.add(at, `must be an array of values to match (e.g. ${JSON.stringify([value])}) or an object of nested fields, not ${describeType(value)}`);
  }
}

function checkOr(value: Json, path: string, out: Collector): void {
  if (!Array.isArray(value)) {
    out.add(path, `$or must be an array of at least two objects, each a pattern for the same level; got ${describeType(value)}`);
    return;
  }
  if (value.length < 2) {
    out.add(path, `$or needs at least two alternatives; got ${value.length}. With one alternative, write its fields directly`);
  }
  value.forEach((alternative, i) => {
    const at = `${path}[${i}]`;
    if (isPlainObject(alternative)) checkObject(alternative as { readonly [key: string]: Json }, at, true, out);
    else out.add(at, `each $or alternative must be an object of fields; got ${describeType(alternative)}`);
  });
}

function checkMatchList(list: readonly Json[], path: string, out: Collector): void {
  if (list.length === 0) {
    out.add(path, "empty arrays are not allowed; list at least one value or operator to match");
    return;
  }
  list.forEach((item, i) => {
    const at = `${path}[${i}]`;
    if (Array.isArray(item)) out.add(at, "nested arrays are not allowed; a match array holds strings, numbers, booleans, null or operator objects");
    else if (isPlainObject(item)) checkOperator(item as { readonly [key: string]: Json }, at, out);
  });
}

function checkOperator(matcher: { readonly [key: string]: Json }, path: string, out: Collector): void {
  const keys = Object.keys(matcher);
  if (keys.length !== 1) {
    out.add(path, `an operator object must have exactly one key (one of ${OPERATOR_LIST}); got ${keys.length === 0 ? "none" : keys.map((k) => `"${k}"`).join(", ")}`);
    return;
  }
  const name = keys[0]!;
  const operand = matcher[name]!;
  const at = join(path, name);
  switch (name) {
    case "prefix":
    case "suffix":
      checkAffix(name, operand, at, out);
      return;
    case "equals-ignore-case":
      if (typeof operand !== "string") out.add(at, `equals-ignore-case takes a string; got ${describeType(operand)}`);
      return;
    case "wildcard":
      checkWildcard(operand, at, out);
      return;
    case "anything-but":
      checkAnythingBut(operand, at, out);
      return;
    case "numeric":
      checkNumeric(operand, at, out);
      return;
    case "exists":
      if (typeof operand !== "boolean") out.add(at, `exists takes true or false; got ${describeType(operand)}`);
      return;
    case "cidr":
      if (typeof operand !== "string") out.add(at, `cidr takes a string such as "10.0.0.0/24"; got ${describeType(operand)}`);
      else {
        const block = parseCidr(operand);
        if (typeof block === "string") out.add(at, block);
      }
      return;
    default:
      out.add(path, `unknown operator "${name}"; EventBridge supports ${OPERATOR_LIST}`);
  }
}

function checkAffix(name: "prefix" | "suffix", operand: Json, path: string, out: Collector): void {
  if (typeof operand === "string") return;
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    const inner = (operand as { readonly [key: string]: Json })["equals-ignore-case"];
    if (keys.length === 1 && inner !== undefined) {
      if (typeof inner !== "string") out.add(`${path}.equals-ignore-case`, `equals-ignore-case takes a string; got ${describeType(inner)}`);
      return;
    }
    out.add(path, `${name} takes a string or { "equals-ignore-case": "<string>" }; got an object with ${keys.length === 0 ? "no keys" : keys.map((k) => `"${k}"`).join(", ")}`);
    return;
  }
  out.add(path, `${name} takes a string or { "equals-ignore-case": "<string>" }; got ${describeType(operand)}`);
}

function checkWildcard(operand: Json, path: string, out: Collector): void {
  if (typeof operand !== "string") {
    out.add(path, `wildcard takes a string such as "dir/*.png"; got ${describeType(operand)}`);
    return;
  }
  const pieces = parseWildcard(operand);
  if (typeof pieces === "string") out.add(path, pieces);
}

const ANYTHING_BUT_FORMS = `a string, a number, a non-empty array of only strings or only numbers, or one of { "prefix" | "suffix" | "wildcard" | "equals-ignore-case": <string or array of strings> }`;

function checkAnythingBut(operand: Json, path: string, out: Collector): void {
  if (typeof operand === "string") return;
  if (typeof operand === "number") {
    const problem = numericOperandProblem(operand);
    if (problem !== undefined) out.add(path, problem);
    return;
  }
  if (Array.isArray(operand)) {
    if (operand.length === 0) {
      out.add(path, "anything-but needs at least one value to exclude");
      return;
    }
    const strings = operand.every((v) => typeof v === "string");
    const numbers = operand.every((v) => typeof v === "number");
    if (!strings && !numbers) {
      out.add(path, "anything-but lists must hold only strings or only numbers (no mixing, no null, booleans or objects)");
      return;
    }
    if (numbers) {
      operand.forEach((v, i) => {
        const problem = numericOperandProblem(v as number);
        if (problem !== undefined) out.add(`${path}[${i}]`, problem);
      });
    }
    return;
  }
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    const name = keys[0];
    if (keys.length !== 1 || name === undefined || !["prefix", "suffix", "wildcard", "equals-ignore-case"].includes(name)) {
      out.add(path, `anything-but takes ${ANYTHING_BUT_FORMS}; got an object with ${keys.length === 0 ? "no keys" : keys.map((k) => `"${k}"`).join(", ")}`);
      return;
    }
    const inner = (operand as { readonly [key: string]: Json })[name]!;
    const at = `${path}.${name}`;
    const values = Array.isArray(inner) ? inner : [inner];
    if (Array.isArray(inner) && inner.length === 0) {
      out.add(at, "anything-but needs at least one value to exclude");
      return;
    }
    values.forEach((v, i) => {
      const itemPath = Array.isArray(inner) ? `${at}[${i}]` : at;
      if (typeof v !== "string") {
        out.add(itemPath, `anything-but ${name} takes a string or an array of strings; got ${describeType(v)}`);
      } else if ((name === "prefix" || name === "suffix") && v === "") {
        out.add(itemPath, `anything-but ${name} must not be empty`);
      } else if (name === "wildcard") {
        const pieces = parseWildcard(v);
        if (typeof pieces === "string") out.add(itemPath, pieces);
      }
    });
    return;
  }
  out.add(path, `anything-but takes ${ANYTHING_BUT_FORMS}; got ${describeType(operand)}`);
}

const NUMERIC_FORMS = `["=", n], ["<" | "<=" | ">" | ">=", n] or [">" | ">=", low, "<" | "<=", high]`;

function checkNumeric(operand: Json, path: string, out: Collector): void {
  if (!Array.isArray(operand)) {
    out.add(path, `numeric takes an array: ${NUMERIC_FORMS}; got ${describeType(operand)}`);
    return;
  }
  const first = operand[0];
  if (typeof first !== "string" || !NUMERIC_OPERATORS.includes(first)) {
    out.add(path, `numeric must start with one of "=", "<", "<=", ">", ">="; got ${first === undefined ? "an empty array" : describeType(first)}`);
    return;
  }
  const lowerBound = first === ">" || first === ">=";
  if (operand.length !== 2 && !(lowerBound && operand.length === 4)) {
    out.add(path, `numeric takes ${NUMERIC_FORMS}; got ${operand.length} elements`);
    return;
  }
  let ok = true;
  const checkNumber = (index: number): number | undefined => {
    const v = operand[index];
    if (typeof v !== "number") {
      out.add(`${path}[${index}]`, `the value after "${String(operand[index - 1])}" must be a number, not ${describeType(v)}`);
      ok = false;
      return undefined;
    }
    const problem = numericOperandProblem(v);
    if (problem !== undefined) {
      out.add(`${path}[${index}]`, problem);
      ok = false;
    }
    return v;
  };
  const low = checkNumber(1);
  if (operand.length === 4) {
    const second = operand[2];
    if (second !== "<" && second !== "<=") {
      out.add(`${path}[2]`, `a two-sided range must give its lower bound first, then "<" or "<="; got ${describeType(second)}`);
      return;
    }
    const high = checkNumber(3);
    if (ok && low !== undefined && high !== undefined && low >= high) {
      out.add(path, `the lower bound ${low} must be less than the upper bound ${high}`);
    }
  }
}

/**
 * EventBridge refuses a rule whose wildcards would make matching slow ("Rule is too complex - try using fewer
 * wildcard characters or fewer repeating character sequences after a wildcard character"). Its engine measures
 * each field's wildcards by the most wildcard-pattern prefixes one input value can keep alive at once (aws/event-ruler
 * README, "Matching with a Machine", and its MachineComplexityEvaluator); AWS does not document its threshold,
 * and refuses fields past 10.
 */
export const MAX_WILDCARD_COMPLEXITY = 10;

/** Subsets of NFA states explored per field before the evaluation stops with what it found (keeps validation bounded). */
const MAX_COMPLEXITY_STATES = 20_000;

const STAR = -1;

/** A wildcard operand as event-ruler compiles it: its characters between the JSON string's quotes, `*` a loop. */
function wildcardTokens(operand: string): number[] {
  const tokens = [34];
  for (let i = 0; i < operand.length; i++) {
    const c = operand[i]!;
    if (c === "*") tokens.push(STAR);
    else if (c === "\\") tokens.push(operand.charCodeAt(++i));
    else tokens.push(operand.charCodeAt(i));
  }
  tokens.push(34);
  return tokens;
}

/**
 * The most prefixes of `operands` one input value keeps alive at once, at most `MAX_WILDCARD_COMPLEXITY + 1`:
 * the subsets of the wildcards' combined automaton reachable by some input, each weighed by its live states.
 */
export function wildcardComplexity(operands: readonly string[]): number {
  const patterns = [...new Set(operands)].map(wildcardTokens);
  const offsets: number[] = [];
  let total = 0;
  for (const tokens of patterns) {
    offsets.push(total);
    total += tokens.length + 1;
  }
  const owner = (state: number): [number, number] => {
    let p = offsets.length - 1;
    while (offsets[p]! > state) p--;
    return [p, state - offsets[p]!];
  };
  const close = (states: Set<number>, state: number): void => {
    let at = state;
    for (;;) {
      states.add(at);
      const [p, position] = owner(at);
      if (patterns[p]![position] !== STAR) return;
      at++;
    }
  };
  const alphabet = new Set<number>([0]);
  for (const tokens of patterns) for (const t of tokens) if (t !== STAR) alphabet.add(t);
  const start = new Set<number>();
  for (const offset of offsets) close(start, offset);
  const seen = new Set<string>();
  const pending: Set<number>[] = [start];
  let worst = 0;
  while (pending.length > 0 && seen.size < MAX_COMPLEXITY_STATES) {
    const states = pending.pop()!;
    for (const c of alphabet) {
      const next = new Set<number>();
      for (const state of states) {
        const [p, position] = owner(state);
        const token = patterns[p]![position];
        if (token === undefined) continue;
        if (token === STAR) close(next, state);
        else if (token === c) close(next, state + 1);
      }
      if (next.size === 0) continue;
      // A star and the literal after it are one prefix in play: count the states awaiting a character (or done).
      let live = 0;
      for (const state of next) {
        const [p, position] = owner(state);
        if (patterns[p]![position] !== STAR) live++;
      }
      worst = Math.max(worst, live);
      if (worst > MAX_WILDCARD_COMPLEXITY) return worst;
      const key = [...next].sort((a, b) => a - b).join(",");
      if (!seen.has(key)) {
        seen.add(key);
        pending.push(next);
      }
    }
  }
  return worst;
}

/** Wildcard operands (`wildcard` and `anything-but` `wildcard`) by field, `$or` alternatives included, with where each field first appears. */
function collectWildcards(node: { readonly [key: string]: Json }, field: string, path: string, out: Map<string, { path: string; operands: string[] }>): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === "$or" && Array.isArray(value)) {
      value.forEach((alternative, i) => collectWildcards(alternative as { readonly [key: string]: Json }, field, `${path}$or[${i}]`, out));
      continue;
    }
    const at = join(field, key);
    const where = path === "" || path.endsWith("]") ? `${path}${path === "" ? "" : "."}${key}` : join(path, key);
    if (!Array.isArray(value)) {
      if (isPlainObject(value)) collectWildcards(value as { readonly [key: string]: Json }, at, where, out);
      continue;
    }
    for (const item of value) {
      if (!isPlainObject(item)) continue;
      const operator = item as { readonly [key: string]: Json };
      const inner = operator["anything-but"];
      const found = typeof operator.wildcard === "string" ? [operator.wildcard] : isPlainObject(inner) && inner.wildcard !== undefined ? [inner.wildcard].flat() : [];
      for (const operand of found) {
        if (typeof operand !== "string") continue;
        const entry = out.get(at) ?? { path: where, operands: [] };
        entry.operands.push(operand);
        out.set(at, entry);
      }
    }
  }
}

/**
 * Every reason EventBridge would reject `pattern`, empty when it is valid.
 * `pattern` is the parsed JSON object, as `berth.yml` or a rule holds it.
 */
export function validatePattern(pattern: unknown, options: ValidateOptions = {}): PatternIssue[] {
  const out = new Collector();
  if (!isPlainObject(pattern)) {
    out.add("", `an event pattern must be a JSON object such as { "source": ["my.app"] }; got ${describeType(pattern)}`);
    return out.issues;
  }
  if (!checkJson(pattern, "", out)) return out.issues;
  checkObject(pattern as { readonly [key: string]: Json }, "", false, out);
  if (out.issues.length === 0) {
    const wildcards = new Map<string, { path: string; operands: string[] }>();
    collectWildcards(pattern as { readonly [key: string]: Json }, "", "", wildcards);
    for (const { path, operands } of wildcards.values()) {
      const complexity = wildcardComplexity(operands);
      if (complexity > MAX_WILDCARD_COMPLEXITY) {
        out.add(
          path,
          `EventBridge rejects these wildcards as too complex: one value can keep ${complexity} or more of their prefixes in play at once, at most ${MAX_WILDCARD_COMPLEXITY} are allowed; use fewer wildcard characters or fewer repeating character sequences after a wildcard`,
        );
      }
    }
  }
  const maxLength = options.maxLength ?? DEFAULT_MAX_PATTERN_LENGTH;
  const length = JSON.stringify(pattern).length;
  if (length > maxLength) {
    out.add("", `the pattern is ${length} characters of JSON; EventBridge accepts at most ${maxLength} (the default quota is 2048, raisable to 4096). Split it into several rules or shorten value lists`);
  }
  return out.issues;
}
