/**
 * A closed batch becomes a manifest and a run. Everything here is a function of the batch's head and its
 * complete listing (every reserved slot written: decide.ts `completion`), which cannot change once
 * complete: whoever hands a batch off, and however often, computes the same manifest (key and bytes) and
 * the same run (id and idempotency key).
 */
import type { Job, ManifestLocation } from "../catalog/types.ts";
import { MANIFEST_SUFFIX } from "../catalog/types.ts";
import { ConfigurationError, failure, InvalidTransitionError, TransientError, type Failure } from "../errors.ts";
import { newRunId } from "../ids.ts";
import { boundKey, type Sha256 } from "../runs/idempotency.ts";
import type { NewRun } from "../runs/lifecycle.ts";
import { completion, itemsOf } from "./decide.ts";
import type { BatchHead, BatchItem, BatchItemRecord, BatchSlot, HeadChange } from "./model.ts";

const utf8 = new TextEncoder();

/**
 * Where the job's manifests go: the catalog's `batch.manifest`, else the stage's manifest bucket (created
 * by berth's stack; locally, the S3 folder stand-in's) under the job's name.
 */
export function manifestLocationFor(job: Job, stageBucket: string | undefined): { readonly ok: true; readonly location: ManifestLocation } | Failure<ConfigurationError> {
  if (job.batch?.manifest) return { ok: true, location: job.batch.manifest };
  if (stageBucket === undefined || stageBucket === "") {
    return failure(new ConfigurationError(`job ${job.name} batches uploads but names no batch.manifest, and this stage has no manifest bucket: deploy the stack again, or set batch.manifest`));
  }
  return { ok: true, location: { bucket: stageBucket, prefix: `${job.name}/` } };
}

export interface ManifestObject {
  readonly bucket: string;
  readonly key: string;
  /** `s3://bucket/key`: the run's `${batch.manifest}`. */
  readonly url: string;
}

/** The manifest of batch `batchId`: `<prefix><batch id>.jsonl`. */
export function manifestObject(location: ManifestLocation, batchId: string): ManifestObject {
  const key = `${location.prefix}${batchId}${MANIFEST_SUFFIX}`;
  return { bucket: location.bucket, key, url: `s3://${location.bucket}/${key}` };
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Manifest order: by bucket, then key (UTF-16 code units, as JavaScript compares strings, never a locale),
 * then event time; two writes of one key at one time by their idempotency key, which no two items share.
 * Arrival order is not used: it differs between a run and its retry's re-made manifest.
 */
export function compareItems(a: BatchItem, b: BatchItem): number {
  return byCodeUnits(a.bucket, b.bucket) || byCodeUnits(a.key, b.key) || byCodeUnits(a.eventTime, b.eventTime) || byCodeUnits(a.itemKey, b.itemKey);
}

/**
 * The manifest's content: JSON Lines, one object per item, each line ending in "\n", fields always in this
 * order; an etag, version id or sequencer the event lacked is null. JSON escapes every control character,
 * so a key with a newline in it stays on its line.
 */
export function manifestBody(items: readonly BatchItem[]): string {
  return [...items]
    .sort(compareItems)
    .map((i) =>
      JSON.stringify({
        bucket: i.bucket,
        key: i.key,
        size: i.size,
        etag: i.etag || null,
        versionId: i.versionId || null,
        sequencer: i.sequencer || null,
        eventTime: i.eventTime,
      }),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/**
 * The run's template context: `${batch.manifest} ${batch.count} ${batch.bytes} ${batch.opened}` (catalog/variables.ts).
 * Count and bytes are the manifest's, not the head's reservations (a tombstoned slot reserved bytes too).
 */
export function batchContext(head: BatchHead, items: readonly BatchItem[], manifest: ManifestObject): Readonly<Record<string, string>> {
  return Object.freeze({
    "batch.manifest": manifest.url,
    "batch.count": String(items.length),
    "batch.bytes": String(items.reduce((sum, i) => sum + i.size, 0)),
    "batch.opened": new Date(head.opened).toISOString(),
  });
}

/** The run's idempotency key: one run per batch, however often the batch is handed off. */
export function batchRunKey(job: string, batchId: string, sha256: Sha256): string {
  return boundKey(`${job}#batch:${batchId}`, sha256);
}

/**
 * The run's id, derived from the batch: a ULID of the time the batch opened (fixed by the write that
 * opened it) and randomness taken from the batch id's digest, so every hand-off names the same run, however
 * late a crash made it. The run sorts among the job's runs by its batch's first upload.
 */
export function batchRunId(head: BatchHead, sha256: Sha256): string {
  return newRunId(head.opened, sha256(utf8.encode(`run\n${head.batchId}`)).slice(0, 10));
}

/** What a hand-off does, in order: each step repeats harmlessly. */
export type HandOff =
  | {
      readonly empty: false;
      /** First: PutObject of the same key and bytes, so a repeat changes nothing. */
      readonly manifest: ManifestObject & { readonly body: string };
      /** Then RunStore.createRun: the same run for every hand-off of the batch (id and idempotency key). */
      readonly run: NewRun;
      /** Last: closing → closed. */
      readonly change: Extract<HeadChange, { kind: "hand-off" }>;
    }
  /** Every slot is a tombstone (the items' writers died and their redeliveries went to a later batch): no manifest, no run. */
  | { readonly empty: true; readonly change: Extract<HeadChange, { kind: "hand-off" }> };

/**
 * The hand-off of a closing batch, from its head and its slots (a strongly consistent listing). A listing
 * missing a reserved slot is refused as transient, never written as a short manifest: complete the slots
 * (`completion`) and list again.
 */
export function handOff(
  head: BatchHead,
  slots: readonly BatchSlot[],
  location: ManifestLocation,
  service: string,
  sha256: Sha256,
): { readonly ok: true; readonly handOff: HandOff } | Failure<InvalidTransitionError | TransientError> {
  if (head.state !== "closing") return failure(new InvalidTransitionError(head.state, "closed", `batch ${head.batchId} of ${head.job} is ${head.state}, not closing: nothing to hand off`));
  const done = completion(head, slots, Number.NEGATIVE_INFINITY, 0);
  if (done.kind !== "complete") {
    const missing = done.kind === "wait" ? done.missing : [];
    return failure(new TransientError(`batch ${head.batchId} of ${head.job} reserved ${head.count} slots but ${missing.length} of them (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}) are not written yet: complete them and list again`));
  }
  const items: BatchItemRecord[] = itemsOf(done.slots).filter((i) => i.job === head.job);
  if (items.length === 0) return { ok: true, handOff: { empty: true, change: { kind: "hand-off", batchId: head.batchId } } };
  const manifest = manifestObject(location, head.batchId);
  const runId = batchRunId(head, sha256);
  const bytes = items.reduce((sum, i) => sum + i.size, 0);
  return {
    ok: true,
    handOff: {
      empty: false,
      manifest: { ...manifest, body: manifestBody(items) },
      run: {
        id: runId,
        job: head.job,
        service,
        trigger: { kind: "s3", summary: `batch of ${items.length} upload${items.length === 1 ? "" : "s"} (${bytes} bytes): ${manifest.url}`, idempotencyKey: batchRunKey(head.job, head.batchId, sha256) },
        context: batchContext(head, items, manifest),
      },
      change: { kind: "hand-off", batchId: head.batchId, runId },
    },
  };
}
