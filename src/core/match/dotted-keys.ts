/**
 * Field names with dots. EventBridge's engine (aws/event-ruler) flattens patterns and events into names
 * joined with "." before matching, so `{"detail": {"state.status": ["running"]}}` and
 * `{"detail": {"state": {"status": ["running"]}}}` are one pattern, and both match an event holding either
 * `{"state": {"status": "running"}}` or `{"state.status": "running"}` under detail (event-ruler README,
 * "Caveat: Compiled rules and JSON keys with dots"). berth gets the same answers by splitting dotted keys
 * into nested ones on both sides: patterns when they are compiled, events when they are matched.
 */

type Obj = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A pattern object as compiled: its fields in order, each a match list or nested fields; `$or` holds alternatives. */
export type PatternFields = [string, readonly unknown[] | NestedFields | readonly PatternFields[]][];
export interface NestedFields {
  readonly nested: PatternFields;
}

export function isNestedFields(value: unknown): value is NestedFields {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "nested" in value;
}

/**
 * A pattern object's fields with dotted keys split into nested fields, fields that end up with one name
 * merged (nested fields joined, match lists concatenated, as event-ruler keeps one list per name). A name
 * used both for a match list and for nested fields stays two entries: both must match, as in event-ruler.
 * `$or` keeps its place; its alternatives are expanded in turn. The pattern was validated, so it is JSON.
 */
export function expandPatternKeys(pattern: Obj): PatternFields {
  const out: PatternFields = [];
  for (const [key, value] of Object.entries(pattern)) {
    if (key === "$or") out.push([key, (value as readonly Obj[]).map((alternative) => expandPatternKeys(alternative))]);
    else place(out, key.split("."), Array.isArray(value) ? value : { nested: expandPatternKeys(value as Obj) });
  }
  return out;
}

function place(target: PatternFields, segments: readonly string[], value: readonly unknown[] | NestedFields): void {
  const [first, ...rest] = segments as [string, ...string[]];
  const nestedAt = () => target.find(([k, v]) => k === first && isNestedFields(v)) as [string, NestedFields] | undefined;
  if (rest.length > 0) {
    let nested = nestedAt();
    if (nested === undefined) {
      nested = [first, { nested: [] }];
      target.push(nested);
    }
    place(nested[1].nested, rest, value);
    return;
  }
  if (isNestedFields(value)) {
    const nested = nestedAt();
    if (nested === undefined) target.push([first, value]);
    else for (const [k, v] of value.nested) place(nested[1].nested, [k], v as readonly unknown[] | NestedFields);
    return;
  }
  const list = first === "$or" ? undefined : target.find(([k, v]) => k === first && Array.isArray(v) && !isNestedFields(v));
  if (list !== undefined) list[1] = [...(list[1] as readonly unknown[]), ...value];
  else target.push([first, value]);
}

/** Nesting past this is left as it is (asBusEvent refuses events far shallower). */
const MAX_EXPANDED_DEPTH = 256;

/**
 * `event` with every dotted key split into nested objects, or `event` itself when no key has a dot (the
 * usual case: one walk, no copy). Where a split key meets a field of the same name, objects merge and
 * other values are gathered into an array, as two values under one flattened name. Never recursive on
 * the walk, so any input is safe.
 */
export function expandEventKeys(event: unknown): unknown {
  const stack: unknown[] = [event];
  let dotted = false;
  let seen = 0;
  while (stack.length > 0 && !dotted) {
    const item = stack.pop();
    if (typeof item !== "object" || item === null) continue;
    // A cap on the walk, not the event: an in-process cycle must end it too.
    if (++seen > 1_000_000) return event;
    if (Array.isArray(item)) {
      for (const element of item) stack.push(element);
      continue;
    }
    for (const key of Object.keys(item)) {
      if (key.includes(".")) {
        dotted = true;
        break;
      }
      stack.push((item as Obj)[key]);
    }
  }
  return dotted ? expandValue(event, 0) : event;
}

/** The field names patterns look at, level by level from the event root (`$or` alternatives merged in). */
export type FieldNames = Map<string, FieldNames>;

/**
 * `expandEventKeys(event)` for matching against patterns that look only at `names`: the walk stops at
 * fields no pattern names, since a dotted key there (`"x.y"` where no pattern has `x`) can only make
 * fields no pattern reads. Events whose looked-at fields hold no dotted key come back as they are
 * after a walk of just those fields.
 */
export function expandEventKeysFor(event: unknown, names: FieldNames): unknown {
  return hasDottedKeyUnder(event, names, 0) ? expandEventKeys(event) : event;
}

function hasDottedKeyUnder(value: unknown, names: FieldNames, depth: number): boolean {
  if (typeof value !== "object" || value === null || names.size === 0 || depth > MAX_EXPANDED_DEPTH) return false;
  if (Array.isArray(value)) return value.some((item) => hasDottedKeyUnder(item, names, depth + 1));
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const dot = key.indexOf(".");
    if (dot >= 0) {
      if (names.has(key.slice(0, dot))) return true;
      continue;
    }
    const inner = names.get(key);
    if (inner !== undefined && hasDottedKeyUnder((value as Obj)[key], inner, depth + 1)) return true;
  }
  return false;
}

function expandValue(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_EXPANDED_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => expandValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const segments = key.split(".");
    let target = out;
    for (let i = 0; i < segments.length - 1; i++) {
      const segment = segments[i]!;
      const existing = Object.hasOwn(target, segment) ? target[segment] : undefined;
      if (isObject(existing)) target = existing as Record<string, unknown>;
      else {
        const created: Record<string, unknown> = {};
        define(target, segment, existing === undefined ? created : [existing, created].flat());
        target = created;
      }
    }
    put(target, segments[segments.length - 1]!, expandValue(item, depth + 1));
  }
  return out;
}

/** Sets `key` as an own data property, even `__proto__`. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (!Object.hasOwn(target, key)) return define(target, key, value);
  const existing = target[key];
  if (isObject(existing) && isObject(value)) {
    for (const [k, v] of Object.entries(value)) put(existing as Record<string, unknown>, k, v);
    return;
  }
  define(target, key, [existing, value].flat());
}
