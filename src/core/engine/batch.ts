/**
 * Batching in the engine: an upload for a job with `batch:` joins the job's batch (batch/flow.ts `addItem`)
 * instead of starting a run of its own. A batch's hand-off writes its manifest (ManifestWriter), then starts
 * its run exactly as dispatch starts any run (`ctx.startRun`, dispatch.ts): written under its idempotency key,
 * admitted, launched. The window's timer (`settleJobBatch`, on each reminder) and the sweep (`settleBatches`)
 * close and hand off what no upload will.
 */
import { batchItemOf } from "../batch/decide.ts";
import { addItem, settleBatch, type BatchFlow, type SettleOutcome } from "../batch/flow.ts";
import { manifestLocationFor } from "../batch/manifest.ts";
import type { SlotRef } from "../batch/model.ts";
import type { Job, S3Trigger } from "../catalog/types.ts";
import type { TemplateContext } from "../context/index.ts";
import { ConfigurationError, TransientError, ValidationError } from "../errors.ts";
import type { BusEvent } from "../events/envelope.ts";
import type { Route } from "../router.ts";
import type { BatchDeps, EngineContext } from "./context.ts";

export type BatchedOutcome =
  /**
   * The upload is in slot `slot` of batch `batchId`; `opened`: it is the batch's first. `closesAt` (epoch ms): the
   * end of the batch's window (a full batch closed before it); absent when the batch had already been replaced
   * by the next when this delivery, resuming an earlier one's work, looked.
   */
  | { readonly kind: "batched"; readonly job: string; readonly batchId: string; readonly slot: number; readonly opened: boolean; readonly closesAt?: number }
  /** A delivery before this one put the upload in slot `slot` of batch `batchId`: nothing written. */
  | { readonly kind: "duplicate"; readonly job: string; readonly batchId: string; readonly slot: number };

/** The job's batch cannot take the upload yet (it is closing, and so is the one before it): the event stays unacknowledged and comes again. */
export class BatchWait extends TransientError {}

/** An S3 upload for a job with `batch:` joins a batch; the job's other triggers (if any) start runs of their own. */
export const isBatchedRoute = (route: Route): route is Route & { readonly trigger: S3Trigger } => route.job.batch !== undefined && route.trigger.kind === "s3";

/**
 * The batch protocol of every job with `batch:`, checked when the engine is composed: a batching job without
 * the batch ports, or without a place for its manifests, fails then, naming the job, never at its first upload.
 */
export function batchFlowsFor(ctx: EngineContext): Map<string, BatchFlow> {
  const flows = new Map<string, BatchFlow>();
  const jobs = Object.values(ctx.catalog.jobs).filter((j) => j.batch !== undefined);
  if (jobs.length === 0) return flows;
  const batches = ctx.deps.batches;
  if (batches === undefined) {
    const names = jobs.map((j) => j.name).join(", ");
    throw new ConfigurationError(
      `job${jobs.length === 1 ? "" : "s"} ${names} batch${jobs.length === 1 ? "es" : ""} uploads (batch:), but berth was started without a batch store, manifest writer and timer, so ${jobs.length === 1 ? "its" : "their"} uploads could only be dropped or run one by one: give the engine its batches, or remove batch:`,
    );
  }
  for (const job of jobs) flows.set(job.name, flowFor(ctx, job, batches));
  return flows;
}

function flowFor(ctx: EngineContext, job: Job, batches: BatchDeps): BatchFlow {
  const location = manifestLocationFor(job, batches.stageManifestBucket);
  if (!location.ok) throw location.error;
  return {
    store: batches.store,
    job: job.name,
    policy: job.batch!,
    location: location.location,
    service: ctx.catalog.service,
    sha256: ctx.deps.sha256,
    // The manifest first: the run's context names it, so a retry of the run reads the same object.
    publish: async (handOff) => {
      await batches.manifests.putManifest(handOff.manifest.bucket, handOff.manifest.key, handOff.manifest.body);
      await ctx.startRun(handOff.run);
    },
    ...(batches.graceMs !== undefined ? { graceMs: batches.graceMs } : {}),
    ...(batches.fault !== undefined ? { fault: batches.fault } : {}),
  };
}

function flowOf(ctx: EngineContext, job: string): BatchFlow {
  const flow = ctx.batchFlows.get(job);
  if (flow === undefined) throw new ValidationError(`job ${JSON.stringify(job.length > 60 ? `${job.slice(0, 60)}…` : job)} does not batch uploads in this catalog`, { field: "job" });
  return flow;
}

/** One delivery of an upload for a batching job: it joins the job's batch, and what the batch then needs is asked for. */
export async function joinBatch(ctx: EngineContext, route: Route & { readonly trigger: S3Trigger }, event: BusEvent, context: TemplateContext): Promise<BatchedOutcome | { readonly kind: "rejected"; readonly job: string; readonly reason: string }> {
  const job = route.job.name;
  const flow = flowOf(ctx, job);
  const made = batchItemOf(job, route.trigger, context, event, ctx.deps.sha256);
  if (!made.ok) return { kind: "rejected", job, reason: made.error.message };
  const now = ctx.now();
  const out = await addItem(flow, made.item, now);
  if (out.kind === "wait") {
    if (out.settled !== undefined) await rearm(ctx, flow, out.settled, false);
    throw new BatchWait(`the batches of ${job} are closing, two at once, and take no upload until the first is handed off: deliver the upload again`, { retryAfterMs: Math.max(0, out.until - now) });
  }
  if (out.kind === "duplicate") {
    if (out.at.slot === 0) await resumedBatch(ctx, flow, out.at);
    return { kind: "duplicate", job, batchId: out.at.batchId, slot: out.at.slot };
  }
  const timer = ctx.deps.batches!.timer;
  if (out.then.kind === "schedule-close") await timer.settleAt(job, out.then.batchId, out.then.at);
  // This upload closed a batch (it filled it, or found it due) and settled it; a hand-off still waiting for slots is settled
  // again soon. An open batch's timer was asked for by the upload that opened it.
  if (out.settled !== undefined) await rearm(ctx, flow, out.settled, false);
  const closesAt = out.head !== undefined ? out.head.closesAt : await resumedBatch(ctx, flow, out.at);
  return { kind: "batched", job, batchId: out.at.batchId, slot: out.at.slot, opened: out.at.slot === 0, ...(closesAt !== undefined ? { closesAt } : {}) };
}

/**
 * A delivery that resumed an earlier one's work (or found it done) reads the item's batch; when the item is
 * its first (slot 0, reserved only by the `open` that made it) and the batch is still open, it arms the
 * timer again: the earlier delivery may have crashed before it did. Returns the batch's `closesAt`, unless
 * the batch was replaced by the next.
 */
async function resumedBatch(ctx: EngineContext, flow: BatchFlow, at: SlotRef): Promise<number | undefined> {
  const head = await flow.store.getHead(flow.job);
  if (head?.batchId !== at.batchId) return undefined;
  if (at.slot === 0 && head.state === "open") await ctx.deps.batches!.timer.settleAt(flow.job, head.batchId, head.closesAt);
  return head.closesAt;
}

/**
 * Asks the timer to settle again when the batch needs it: at its window's end (`open`, if `open` is asked for),
 * or when a closing batch's slots (its own or its previous's) are looked at again (`wait`). The reminder names
 * the job's current batch, read again (settling works on whichever batch the job has then): a read only when a
 * reminder is due, not one per upload.
 */
async function rearm(ctx: EngineContext, flow: BatchFlow, settled: SettleOutcome, open: boolean): Promise<void> {
  if (settled.kind !== "wait" && !(open && settled.kind === "open")) return;
  const head = await flow.store.getHead(flow.job);
  if (head !== undefined && (head.state !== "closed" || head.previous !== undefined)) await ctx.deps.batches!.timer.settleAt(flow.job, head.batchId, settled.until);
}

/**
 * The timer's reminder: settles the job's batch (closes it when due or full, hands it off once its slots are
 * complete: manifest, run, admission, launch), and asks the timer again for what is left (a window longer than
 * one reminder reaches, a hand-off waiting for slots).
 */
export async function settleJobBatch(ctx: EngineContext, job: string): Promise<SettleOutcome> {
  const flow = flowOf(ctx, job);
  const settled = await settleBatch(flow, ctx.now());
  await rearm(ctx, flow, settled, true);
  return settled;
}

export interface BatchSweepReport {
  /** Batching jobs whose batch was looked at (one head read each, when nothing is due). */
  readonly jobs: number;
  /** Batches handed off: manifest written, run made. */
  readonly handedOff: number;
  /** Jobs whose settling failed, and why: the next sweep, reminder or upload tries again. */
  readonly failures: readonly { readonly job: string; readonly error: unknown }[];
}

/**
 * The sweep's part: settles every batching job's batch, catching what a lost reminder left (a window passed,
 * a full batch not closed, a hand-off a crash interrupted). An open batch's timer is not asked again (one was
 * asked when the batch opened, and the next sweep closes it if that was lost); a hand-off waiting for slots is.
 * One job's failure does not keep the others from being settled.
 */
export async function settleBatches(ctx: EngineContext): Promise<BatchSweepReport> {
  let handedOff = 0;
  const failures: { job: string; error: unknown }[] = [];
  for (const [job, flow] of ctx.batchFlows) {
    try {
      const settled = await settleBatch(flow, ctx.now());
      if (settled.kind === "handed-off") handedOff++;
      if (settled.previous !== undefined) handedOff++;
      await rearm(ctx, flow, settled, false);
    } catch (error) {
      failures.push({ job, error });
    }
  }
  return { jobs: ctx.batchFlows.size, handedOff, failures };
}
