/** "What would this event do?" — the decision berth makes, without doing it. */
import type { Router } from "./router.ts";
import { explainMismatch } from "./match/compile.ts";
import type { BusEvent } from "./events/envelope.ts";
import { buildAction, runContext, type PlannedAction } from "./plan.ts";
import type { TemplateContext } from "./context/index.ts";
import type { BatchPolicy } from "./catalog/types.ts";
import { formatDuration } from "./catalog/duration.ts";
import { formatSize } from "./catalog/size.ts";
import { fullReason, placeItem, type BatchHead, type CloseReason, type FullReason } from "./batch/index.ts";

/** What an upload does to a batched job: it joins the open batch, or opens one; the run starts when the batch closes. */
export interface BatchExplanation {
  /** `join-or-open`: explain could not see the job's batches. */
  readonly decision: "join" | "open" | "join-or-open";
  /** The batch it joins; a new batch's id is only known once it opens. */
  readonly batchId?: string;
  /** The batch with this upload in it (a new batch: the upload alone). */
  readonly count: number;
  readonly bytes: number;
  /** Epoch ms its window ends, when known (a batch it joins; one it opens at `now`). */
  readonly closesAt?: number;
  /** It closes at once: this upload fills it. */
  readonly fills?: FullReason;
  /** The job's current batch, which closes (or is closing) first, when the upload cannot join it. */
  readonly after?: { readonly batchId: string; readonly why: string };
  /** A batch before the current one that is still closing (its run not made yet), when the store keeps one beside it. */
  readonly previous?: { readonly batchId: string; readonly state: string; readonly count: number; readonly bytes: number };
  /** One line saying all of it. */
  readonly summary: string;
}

export interface FiredJob {
  readonly job: string;
  readonly trigger: string;
  readonly triggerIndex: number;
  readonly context?: TemplateContext;
  /** A batched job: where the upload goes; its run (and request) come when the batch closes. */
  readonly batch?: BatchExplanation;
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
  /** Where the batches were read (the BatchView's `from`), when an upload to a batched job fired. */
  readonly batchesFrom?: string;
}

/** The batching state explain sees: the clock, and each batched job's head (its current batch) as stored. */
export interface BatchView {
  readonly now: number;
  readonly head: (job: string) => BatchHead | undefined;
  /** Where these heads were read, for people: the local runtime's file, a stage's table. */
  readonly from?: string;
}

/**
 * `runId` stands in for the id dispatch would assign; attempt 1. `batches`: the stored batch state, to say
 * which batch an upload joins and when it closes; without it, what batching would do in general.
 */
export function explainEvent(router: Router, event: BusEvent, runId: string, batches?: BatchView): Explanation {
  const matched = router.match(event);
  const fired: FiredJob[] = matched.map((route) => {
    const base = { job: route.job.name, trigger: route.trigger.kind, triggerIndex: route.triggerIndex };
    const ctx = runContext(route, event);
    if (!ctx.ok) return { ...base, errors: [ctx.error.message] };
    const policy = route.job.batch;
    if (policy !== undefined && route.trigger.kind === "s3") {
      return { ...base, context: ctx.context, batch: explainBatch(route.job.name, policy, Number(ctx.context["s3.size"] ?? 0), batches) };
    }
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
  const firedOnce = dedupeByJob(fired);
  const from = batches?.from !== undefined && firedOnce.some((f) => f.batch !== undefined) ? batches.from : undefined;
  return {
    event: { source: event.source, detailType: event["detail-type"], id: event.id },
    fired: firedOnce,
    notFired: [...notFired].map(([job, reasons]) => ({ job, reasons })),
    ...(from !== undefined ? { batchesFrom: from } : {}),
  };
}

/** A job with two triggers matching the same event still runs once: the first trigger wins. */
function dedupeByJob(fired: FiredJob[]): FiredJob[] {
  const seen = new Set<string>();
  return fired.filter((f) => (seen.has(f.job) ? false : (seen.add(f.job), true)));
}

const CLOSE_WHY: Record<CloseReason, string> = { window: "its window has passed", "max-items": "it is full", "max-bytes": "it has no room for this upload's bytes" };

const uploads = (n: number) => `${n} upload${n === 1 ? "" : "s"}`;

function limits(policy: BatchPolicy): string {
  return `${uploads(policy.maxItems)}${policy.maxBytes !== undefined ? ` or ${formatSize(policy.maxBytes)}` : ""}`;
}

/**
 * The closing batch a head keeps beside its current one, when its store keeps one (an optional `previous`): read
 * as far as it looks like a head, so that a head without one, or a store that keeps none, explains as before.
 */
function closingBefore(head: BatchHead | undefined): BatchExplanation["previous"] {
  const p = (head as { readonly previous?: unknown } | undefined)?.previous as Partial<Record<keyof BatchHead, unknown>> | undefined;
  if (p === undefined || p === null || typeof p !== "object" || typeof p.batchId !== "string" || typeof p.count !== "number" || typeof p.bytes !== "number") return undefined;
  return { batchId: p.batchId, state: typeof p.state === "string" ? p.state : "closing", count: p.count, bytes: p.bytes };
}

/** Where the upload goes (batch/decide.ts `placeItem`, the rule dispatch follows), in words. */
function explainBatch(job: string, policy: BatchPolicy, size: number, view: BatchView | undefined): BatchExplanation {
  const window = formatDuration(policy.window);
  const closes = (at: number) => new Date(at).toISOString();
  if (view === undefined) {
    return {
      decision: "join-or-open",
      count: 1,
      bytes: size,
      summary: `joins the open batch of ${job}, or opens one; a batch closes ${window} after its first upload, or at once at ${limits(policy)}, and then starts one run with its manifest`,
    };
  }
  const head = view.head(job);
  const place = placeItem(head, policy, size, view.now);
  const prior = closingBefore(head);
  const previous = prior !== undefined && prior.batchId !== head?.batchId ? prior : undefined;
  const beforeIt = previous === undefined ? "" : `; batch ${previous.batchId} before it (${uploads(previous.count)}, ${previous.bytes} bytes) is ${previous.state}, its run not started yet`;
  if (place.kind === "join") {
    const h = place.head;
    const when = place.full ? `at once: this upload fills it (${limits(policy)})` : `at ${closes(h.closesAt)} (${window} after its first upload), or at once at ${limits(policy)}`;
    return {
      decision: "join",
      batchId: h.batchId,
      count: h.count,
      bytes: h.bytes,
      closesAt: h.closesAt,
      ...(place.full ? { fills: place.full } : {}),
      ...(previous ? { previous } : {}),
      summary: `would join batch ${h.batchId} of ${job} (${uploads(h.count)}, ${h.bytes} bytes with this one); it closes ${when}${beforeIt}`,
    };
  }
  const closesAt = view.now + policy.window * 1000;
  const full = fullReason({ count: 1, bytes: size }, policy);
  const after =
    place.kind === "settle"
      ? { batchId: place.step.kind === "close" ? place.step.change.batchId : place.step.head.batchId, why: place.step.kind === "close" ? CLOSE_WHY[place.step.change.reason] : "it is closing" }
      : undefined;
  const when = full ? "at once: this upload fills it" : `at ${closes(closesAt)} (${window} from now), or at once at ${limits(policy)}`;
  return {
    decision: "open",
    count: 1,
    bytes: size,
    ...(full ? {} : { closesAt }),
    ...(full ? { fills: full } : {}),
    ...(after ? { after } : {}),
    ...(previous ? { previous } : {}),
    summary: `would open a new batch of ${job}${after ? ` (batch ${after.batchId} takes no more: ${after.why})` : ""}; it closes ${when}${beforeIt}`,
  };
}
