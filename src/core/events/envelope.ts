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

/** Checks the envelope fields every route relies on; anything else is decided by the patterns. */
export function asBusEvent(value: unknown): { ok: true; event: BusEvent } | Failure<ValidationError> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return failure(new ValidationError("an event is a JSON object (an EventBridge event envelope)"));
  const e = value as Record<string, unknown>;
  for (const field of ["source", "detail-type"] as const) {
    if (typeof e[field] !== "string") {
      return failure(new ValidationError(`the event has no "${field}" string: is this an EventBridge event envelope (source, detail-type, detail)?`, { field }));
    }
  }
  if (e.detail === null || typeof e.detail !== "object") return failure(new ValidationError('the event has no "detail" object', { field: "detail" }));
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
