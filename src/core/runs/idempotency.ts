/**
 * Idempotency keys: one triggering occurrence, one run per job. The dispatch
 * handler writes the run under this key with a conditional put, so a
 * redelivered event, a Lambda retry or a second webhook delivery finds the
 * key taken and launches nothing.
 *
 * Format: `<job>#<occurrence>`, where the occurrence is
 *   s3:<bucket>:<key>:<versionId, else sequencer>
 *   git:<repo>:<ref>:<sha>
 *   schedule:<scheduledTime>
 *   manual:<caller's key, else a fresh id>
 *   job:<upstream run id>:<upstream status>
 *   event:<EventBridge event id>
 *   batch:<batch id: 32 hex digits>   (the run of a batch of uploads, batch/manifest.ts `batchRunKey`; each upload in it keeps its own s3: key)
 * Scoping by job lets one upload start one run of each job that matches it.
 * Keys longer than 256 UTF-8 bytes (S3 keys reach 1024) keep a readable
 * prefix and end in `~` + the SHA-256 of the whole key, so they stay unique
 * and fit any store's key limit. Two different S3 keys must never share a
 * run, so the digest is a real SHA-256, passed in by the shell (node:crypto
 * locally and in Lambda) as HMAC is for webhooks.
 */
import { ValidationError } from "../errors.ts";

/** SHA-256 of the bytes given. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

const utf8 = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

export type TriggerOccurrence =
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly key: string;
      readonly versionId?: string;
      /** S3's per-key event order token; identifies the write when the bucket is unversioned. */
      readonly sequencer?: string;
    }
  | { readonly kind: "git"; readonly repo: string; readonly ref: string; readonly sha: string }
  | { readonly kind: "schedule"; readonly scheduledTime: string }
  /** `key`: the caller's idempotency key, or a fresh id when the caller gave none. */
  | { readonly kind: "manual"; readonly key: string }
  | { readonly kind: "job"; readonly upstreamRunId: string; readonly status: string }
  | { readonly kind: "event"; readonly eventId: string };

function occurrenceKey(o: TriggerOccurrence): string {
  switch (o.kind) {
    case "s3": {
      const version = o.versionId ?? o.sequencer;
      if (version === undefined || version === "") {
        throw new ValidationError(
          `S3 event for s3://${o.bucket}/${o.key} has neither version-id nor sequencer, so a redelivery could not be told apart from a new upload`,
          { field: "detail.object.sequencer" },
        );
      }
      return `s3:${o.bucket}:${o.key}:${version}`;
    }
    case "git":
      return `git:${o.repo}:${o.ref}:${o.sha}`;
    case "schedule":
      return `schedule:${o.scheduledTime}`;
    case "manual":
      return `manual:${o.key}`;
    case "job":
      return `job:${o.upstreamRunId}:${o.status}`;
    case "event":
      return `event:${o.eventId}`;
  }
}

export function idempotencyKey(job: string, occurrence: TriggerOccurrence, sha256: Sha256): string {
  return boundKey(`${job}#${occurrenceKey(occurrence)}`, sha256);
}

function utf8Length(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

/** Leaves keys within the limit alone; shortens longer ones to a prefix plus a digest of the whole. */
export function boundKey(key: string, sha256: Sha256, maxBytes = MAX_IDEMPOTENCY_KEY_BYTES): string {
  let bytes = 0;
  for (const ch of key) bytes += utf8Length(ch.codePointAt(0)!);
  if (bytes <= maxBytes) return key;

  const suffix = `~${hex(sha256(utf8.encode(key)))}`;
  const room = maxBytes - suffix.length;
  let prefix = "";
  let used = 0;
  // Cut on a code point, never inside one: a split surrogate pair is not valid UTF-8.
  for (const ch of key) {
    const n = utf8Length(ch.codePointAt(0)!);
    if (used + n > room) break;
    prefix += ch;
    used += n;
  }
  return prefix + suffix;
}
