/**
 * From a matched event to the run it asks for: what identifies the
 * triggering occurrence (read from the run context the trigger produced, and
 * the event envelope for ids the context lacks), its one-line summary, and
 * the record dispatch writes first.
 */
import type { Trigger } from "../catalog/types.ts";
import type { BusEvent } from "../events/envelope.ts";
import type { ManualRunDetail } from "../events/berth-events.ts";
import type { TemplateContext } from "../context/index.ts";
import { failure, isBerthError, type Failure } from "../errors.ts";
import { idempotencyKey, type Sha256, type TriggerOccurrence } from "./idempotency.ts";
import type { NewRun } from "./lifecycle.ts";

export interface Occurrence {
  readonly job: string;
  readonly service: string;
  readonly trigger: Trigger;
  readonly context: TemplateContext;
  readonly event: BusEvent;
}

/**
 * The run an occurrence asks for, under id `id` (fresh for every delivery;
 * the idempotency key is what a redelivery shares). An occurrence that cannot
 * be told apart from another (an S3 event without version or sequencer) is a
 * validation failure.
 */
export function newRunFor(o: Occurrence, id: string, sha256: Sha256): { readonly ok: true; readonly run: NewRun } | Failure {
  let key: string;
  try {
    key = idempotencyKey(o.job, occurrenceOf(o.trigger, o.context, o.event, id), sha256);
  } catch (e) {
    if (isBerthError(e) && !e.retryable) return failure(e);
    throw e;
  }
  const params = Object.fromEntries(Object.entries(o.context).filter(([k]) => k.startsWith("params.")).map(([k, v]) => [k.slice("params.".length), v]));
  return {
    ok: true,
    run: {
      id,
      job: o.job,
      service: o.service,
      trigger: { kind: o.trigger.kind, summary: triggerSummaryOf(o.trigger, o.context, o.event), idempotencyKey: key },
      context: o.context,
      ...(o.trigger.kind === "manual" ? { params } : {}),
    },
  };
}

export function occurrenceOf(trigger: Trigger, context: TemplateContext, event: BusEvent, freshId: string): TriggerOccurrence {
  const v = (name: string) => context[name] ?? "";
  switch (trigger.kind) {
    case "s3":
      return {
        kind: "s3",
        bucket: v("s3.bucket"),
        key: v("s3.key"),
        ...(v("s3.versionId") ? { versionId: v("s3.versionId") } : {}),
        ...(v("s3.sequencer") ? { sequencer: v("s3.sequencer") } : {}),
      };
    case "git":
      return { kind: "git", repo: v("git.repo"), ref: v("git.ref"), sha: v("git.sha") };
    case "schedule":
      return { kind: "schedule", scheduledTime: v("schedule.time") };
    case "manual": {
      const key = (event.detail as Partial<ManualRunDetail>).idempotencyKey;
      return { kind: "manual", key: typeof key === "string" && key !== "" ? key : event.id || freshId };
    }
    case "job":
      return { kind: "job", upstreamRunId: v("upstream.runId"), status: v("upstream.status") };
    case "event":
      return { kind: "event", eventId: event.id || freshId };
  }
}

/** One line for run listings: `s3://media/incoming/a.png`, `acme/web@main 1a2b3c4`. */
export function triggerSummaryOf(trigger: Trigger, context: TemplateContext, event: BusEvent): string {
  const v = (name: string) => context[name] ?? "";
  switch (trigger.kind) {
    case "s3":
      return `s3://${v("s3.bucket")}/${v("s3.key")}`;
    case "git":
      return `${v("git.repo")}@${v("git.branch") || v("git.tag")} ${v("git.shortSha")}`;
    case "schedule":
      return `schedule ${v("schedule.time")}`;
    case "manual": {
      const params = Object.entries(context).filter(([k]) => k.startsWith("params."));
      const by = (event.detail as Partial<ManualRunDetail>).requestedBy;
      return `manual${by ? ` by ${by}` : ""}${params.length ? ` ${params.map(([k, val]) => `${k.slice(7)}=${val}`).join(" ")}` : ""}`;
    }
    case "job": {
      // A chained run that carries a push says which: `after migrate-web 01J… succeeded: acme/web@main 1a2b3c4`.
      const push = v("git.sha") ? `: ${v("git.repo")}@${v("git.branch") || v("git.tag")} ${v("git.shortSha")}` : "";
      return `after ${v("upstream.job")} ${v("upstream.runId")} ${v("upstream.status")}${push}`;
    }
    case "event":
      return `${event.source} ${event["detail-type"]} ${event.id}`;
  }
}
