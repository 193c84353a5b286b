/**
 * The EventBridge envelope: its shape as rule targets receive it, the check
 * every untrusted input passes before routing (`asBusEvent`), and the builder
 * berth's own events and the local stand-ins use (`busEvent`).
 */
import { failure, ValidationError, type Failure } from "../errors.ts";

/** The EventBridge envelope as delivered to rule targets. */
export interface BusEvent<D = unknown> {
  readonly version: string;
  readonly id: string;
  readonly "detail-type": string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: D;
}

export interface EnvelopeFields {
  readonly id: string;
  /** Epoch ms. */
  readonly time: number;
  readonly account?: string;
  readonly region?: string;
  readonly resources?: readonly string[];
}

export function busEvent<D>(source: string, detailType: string, detail: D, f: EnvelopeFields): BusEvent<D> {
  return {
    version: "0",
    id: f.id,
    "detail-type": detailType,
    source,
    account: f.account ?? "000000000000",
    // EventBridge's `time` has whole seconds.
    time: new Date(Math.floor(f.time / 1000) * 1000).toISOString().replace(".000Z", "Z"),
    region: f.region ?? "local",
    resources: f.resources ?? [],
    detail,
  };
}

/**
 * The largest event berth reads, as characters of its JSON. EventBridge accepts PutEvents entries of at most
 * 256 KB ("Amazon EventBridge quotas": event size), counting the entry's Detail, DetailType, Source, Resources
 * and Time; the delivered envelope adds its id, account, region and version, for which 4 KiB more is allowed.
 * Events arriving another way (a direct invoke takes up to 6 MB) get the same limit.
 */
export const MAX_EVENT_CHARS = 260 * 1024;

/**
 * The deepest nesting of objects and arrays berth reads in an event. EventBridge documents no nesting limit,
 * so 256 KB of `[` is a valid event; AWS service events nest a few levels (an ECS task event's
 * detail.containers[].networkInterfaces[] is five). Deeper input is refused before anything walks it.
 */
export const MAX_EVENT_DEPTH = 32;

/**
 * Why `value` is too large or too deep to read, or undefined. Iterative, so any input is safe; the size is a
 * lower bound of its compact JSON (UTF-16 units, no escapes), so an event EventBridge accepts always passes.
 */
export function eventShapeProblem(value: unknown): string | undefined {
  let chars = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === "string") chars += item.length + 2;
    else if (typeof item === "number" || typeof item === "boolean") chars += String(item).length;
    else if (item === null) chars += 4;
    else if (typeof item === "object") {
      if (depth >= MAX_EVENT_DEPTH) return `the event nests objects and arrays more than ${MAX_EVENT_DEPTH} levels deep; no EventBridge event berth handles does`;
      chars += 2;
      if (Array.isArray(item)) {
        for (let i = item.length - 1; i >= 0; i--) {
          chars += 1;
          stack.push([item[i], depth + 1]);
        }
      } else {
        for (const key of Object.keys(item)) {
          chars += key.length + 4;
          stack.push([(item as Record<string, unknown>)[key], depth + 1]);
        }
      }
    }
    if (chars > MAX_EVENT_CHARS) return `the event is more than ${MAX_EVENT_CHARS} characters of JSON; EventBridge events are at most 256 KB`;
  }
  return undefined;
}

/**
 * Checks the envelope fields every route relies on; anything else is decided by the patterns. `detail` may
 * be missing or of any type: EventBridge matches such events (TestEventPattern requires id, account, source,
 * time, region, resources and detail-type, not detail), and a trigger that reads detail refuses them itself.
 */
export function asBusEvent(value: unknown): { ok: true; event: BusEvent } | Failure<ValidationError> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return failure(new ValidationError("an event is a JSON object (an EventBridge event envelope)"));
  const shape = eventShapeProblem(value);
  if (shape !== undefined) return failure(new ValidationError(shape));
  const e = value as Record<string, unknown>;
  for (const field of ["source", "detail-type"] as const) {
    if (typeof e[field] !== "string") {
      return failure(new ValidationError(`the event has no "${field}" string: is this an EventBridge event envelope (source, detail-type, detail)?`, { field }));
    }
  }
  return {
    ok: true,
    event: {
      version: typeof e.version === "string" ? e.version : "0",
      id: typeof e.id === "string" ? e.id : "",
      "detail-type": e["detail-type"] as string,
      source: e.source as string,
      account: typeof e.account === "string" ? e.account : "",
      time: typeof e.time === "string" ? e.time : "",
      region: typeof e.region === "string" ? e.region : "",
      resources: Array.isArray(e.resources) ? (e.resources.filter((r) => typeof r === "string") as string[]) : [],
      detail: e.detail,
    },
  };
}
