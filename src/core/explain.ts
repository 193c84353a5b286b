/** "What would this event do?" — the decision berth makes, without doing it. */
import type { Router } from "./router.ts";
import { explainMismatch } from "./match/compile.ts";
import type { BusEvent } from "./events/envelope.ts";
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

/** `runId` stands in for the id dispatch would assign; attempt 1. */
export function explainEvent(router: Router, event: BusEvent, runId: string): Explanation {
  const matched = router.match(event);
  const fired: FiredJob[] = matched.map((route) => {
    const base = { job: route.job.name, trigger: route.trigger.kind, triggerIndex: route.triggerIndex };
    const ctx = runContext(route, event);
    if (!ctx.ok) return { ...base, errors: [ctx.error.message] };
    const built = buildAction(route.job, ctx.context, { runId, attempt: 1, jobName: route.job.name });
    return built.ok ? { ...base, context: ctx.context, action: built.action } : { ...base, context: ctx.context, errors: built.error.problems };
  });
  const firedJobs = new Set(fired.map((f) => f.job));
  const notFired = new Map<string, { trigger: string; reason: string }[]>();
  for (const route of router.routes) {
    if (firedJobs.has(route.job.name)) continue;
    const reason = explainMismatch(route.compiled, event) ?? "matched";
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
