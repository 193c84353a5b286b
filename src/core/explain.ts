/** "What would this event do?" — the decision berth makes, without doing it. */
import type { Router } from "./router.ts";
import type { BusEvent } from "./events.ts";
import { buildAction, runContext, type PlannedAction } from "./plan.ts";
import type { TemplateContext } from "./context/index.ts";

export interface FiredJob {
  readonly job: string;
  readonly trigger: string;
  readonly triggerIndex: number;
  readonly context?: TemplateContext;
  readonly action?: PlannedAction;
  /** The job matched but its request cannot be built (malformed event, limits). */
  readonly errors?: readonly string[];
}

export interface UnfiredJob {
  readonly job: string;
  /** One reason per trigger: why its pattern did not match. */
  readonly reasons: readonly { readonly trigger: string; readonly reason: string }[];
}

export interface Explanation {
  readonly event: { readonly source: string; readonly detailType: string; readonly id: string };
  readonly fired: readonly FiredJob[];
  readonly notFired: readonly UnfiredJob[];
}

/** Checks the envelope fields every route relies on; anything else is decided by the patterns. */
export function asBusEvent(value: unknown): { ok: true; event: BusEvent } | { ok: false; error: string } {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { ok: false, error: "an event is a JSON object (an EventBridge event envelope)" };
  const e = value as Record<string, unknown>;
  for (const field of ["source", "detail-type"] as const) {
    if (typeof e[field] !== "string") return { ok: false, error: `the event has no "${field}" string: is this an EventBridge event envelope (source, detail-type, detail)?` };
  }
  if (e.detail === null || typeof e.detail !== "object") return { ok: false, error: 'the event has no "detail" object' };
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

/** `runId` stands in for the id dispatch would assign; attempt 1. */
export function explainEvent(router: Router, event: BusEvent, runId: string): Explanation {
  const matched = router.match(event);
  const fired: FiredJob[] = matched.map((route) => {
    const base = { job: route.job.name, trigger: route.trigger.kind, triggerIndex: route.triggerIndex };
    const ctx = runContext(route, event);
    if (!ctx.ok) return { ...base, errors: [ctx.error] };
    const built = buildAction(route.job, ctx.context, { runId, attempt: 1, jobName: route.job.name });
    return built.ok ? { ...base, context: ctx.context, action: built.action } : { ...base, context: ctx.context, errors: built.errors };
  });
  const firedJobs = new Set(fired.map((f) => f.job));
  const notFired = new Map<string, { trigger: string; reason: string }[]>();
  for (const route of router.routes) {
    if (firedJobs.has(route.job.name)) continue;
    const reason = router.whyNot(route, event) ?? "matched";
    notFired.set(route.job.name, [...(notFired.get(route.job.name) ?? []), { trigger: route.trigger.kind, reason }]);
  }
  return {
    event: { source: event.source, detailType: event["detail-type"], id: event.id },
    fired: dedupeByJob(fired),
    notFired: [...notFired].map(([job, reasons]) => ({ job, reasons })),
  };
}

/** A job with two triggers matching the same event still runs once: the first trigger wins. */
function dedupeByJob(fired: FiredJob[]): FiredJob[] {
  const seen = new Set<string>();
  return fired.filter((f) => (seen.has(f.job) ? false : (seen.add(f.job), true)));
}
