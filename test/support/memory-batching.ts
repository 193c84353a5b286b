/**
 * In-memory ManifestWriter and BatchTimer for engine tests: the writer keeps S3's observable rule for a
 * manifest (PutObject of a key replaces it; a batch's key must only ever be written with the same bytes, so a
 * different body is an error here) and can fail its next calls; the timer records what it was asked.
 */
import type { BatchTimer, ManifestWriter } from "../../src/core/ports.ts";

export class MemoryManifestWriter implements ManifestWriter {
  /** By `bucket/key`. */
  readonly objects = new Map<string, string>();
  puts = 0;
  /** Throw on the next this many calls, before writing (a network cut, S3 5xx). */
  failNext = 0;
  /** Throw on the next this many calls, after writing (the answer was lost). */
  failAfterNext = 0;

  async putManifest(bucket: string, key: string, body: string): Promise<void> {
    this.puts++;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`injected PutObject failure for s3://${bucket}/${key}`);
    }
    const name = `${bucket}/${key}`;
    const before = this.objects.get(name);
    if (before !== undefined && before !== body) throw new Error(`manifest s3://${name} rewritten with other content`);
    this.objects.set(name, body);
    if (this.failAfterNext > 0) {
      this.failAfterNext--;
      throw new Error(`injected lost answer after PutObject of s3://${name}`);
    }
  }

  /** The objects a manifest lists, as `bucket/key`, in its order. */
  listed(name: string): string[] {
    const body = this.objects.get(name);
    if (body === undefined) throw new Error(`no manifest s3://${name}`);
    return body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const o = JSON.parse(line) as { bucket: string; key: string };
        return `${o.bucket}/${o.key}`;
      });
  }
}

export interface TimerRequest {
  readonly job: string;
  readonly batchId: string;
  readonly at: number;
}

export class RecordingBatchTimer implements BatchTimer {
  readonly requests: TimerRequest[] = [];
  /** Throw on the next this many calls (SendMessage failed). */
  failNext = 0;

  async settleAt(job: string, batchId: string, at: number): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`injected SendMessage failure for ${job}`);
    }
    this.requests.push({ job, batchId, at });
  }
}
