/**
 * The batch protocols (src/core/batch/flow.ts) driven over any BatchStore, with the manifest bucket and the
 * run store kept in maps that refuse a second, different manifest or run for a batch. A crash can be
 * injected after any one side effect, whereupon the event is delivered again and the timers fire again.
 */
import { createHash } from "node:crypto";
import type { BatchPolicy, ManifestLocation } from "../../../src/core/catalog/types.ts";
import { addItem, settleBatch, type BatchFlow, type BatchItem, type BatchStore, type HandOff, type ItemOutcome, type SettleOutcome } from "../../../src/core/batch/index.ts";
import type { NewRun } from "../../../src/core/runs/lifecycle.ts";
import { random } from "../../support/random.ts";

export const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());

export class Crash extends Error {}

export const GRACE_MS = 30_000;

export class BatchWorld {
  readonly manifests = new Map<string, string>();
  /** By idempotency key, as RunStore.createRun keeps them. */
  readonly runs = new Map<string, NewRun>();
  readonly timers: { job: string; at: number }[] = [];
  /** Side effects so far, by kind. */
  readonly effects: string[] = [];
  /** The latest time any delivery or tick has used: redeliveries never go back in time. */
  clock = 0;
  #crashAt: number | undefined;

  constructor(
    readonly job: string,
    readonly policy: BatchPolicy,
    /** Handles onto one store's data; deliveries take turns. */
    readonly stores: readonly BatchStore[],
    readonly location: ManifestLocation = { bucket: "manifests", prefix: `${job}/` },
  ) {}

  /** The `n`-th side effect from now on is applied, then the process dies before the next. */
  crashAfter(n: number | undefined): void {
    this.#crashAt = n === undefined ? undefined : this.effects.length + n;
  }

  #effect(point: string): void {
    this.effects.push(point);
    if (this.effects.length === this.#crashAt) throw new Crash(`crash after side effect ${this.effects.length} (${point})`);
  }

  flow(i = 0): BatchFlow {
    return {
      store: this.stores[i % this.stores.length]!,
      job: this.job,
      policy: this.policy,
      location: this.location,
      service: "svc",
      sha256,
      graceMs: GRACE_MS,
      fault: (point) => this.#effect(point),
      publish: async (h: Extract<HandOff, { empty: false }>) => {
        const before = this.manifests.get(h.manifest.key);
        if (before !== undefined && before !== h.manifest.body) throw new Error(`manifest ${h.manifest.key} rewritten with other content`);
        this.manifests.set(h.manifest.key, h.manifest.body);
        this.#effect("manifest");
        const existing = this.runs.get(h.run.trigger.idempotencyKey);
        if (existing !== undefined && existing.id !== h.run.id) throw new Error(`a second run id ${h.run.id} for ${h.run.trigger.idempotencyKey}`);
        if (existing === undefined) {
          this.runs.set(h.run.trigger.idempotencyKey, h.run);
          this.#effect("run");
        }
      },
    };
  }

  /** One delivery of the item's event, until it is acknowledged (or the process crashes). */
  async deliver(item: BatchItem, now: number, handle = 0): Promise<ItemOutcome> {
    this.clock = Math.max(this.clock, now);
    const out = await addItem(this.flow(handle), item, this.clock);
    if (out.kind === "added" && out.then.kind === "schedule-close") this.timers.push({ job: this.job, at: out.then.at });
    return out;
  }

  /**
   * Deliver, and after a crash, or while the job has two batches closing, deliver again until acknowledged;
   * a wait lets the sweep settle the job's batches first (a closer may have died, and nothing else is due).
   */
  async deliverSurviving(item: BatchItem, now: number, handle = 0): Promise<ItemOutcome> {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const out = await this.deliver(item, now, handle + attempt);
        if (out.kind !== "wait") return out;
        now = out.until;
        await this.tick(now, handle + attempt);
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
      }
    }
    throw new Error(`item ${item.itemKey} never acknowledged`);
  }

  /** The window timer and the sweep: settle whatever the job's batch needs at `now`. */
  async tick(now: number, handle = 0): Promise<SettleOutcome> {
    this.clock = Math.max(this.clock, now);
    return settleBatch(this.flow(handle), this.clock);
  }

  /** Tick until the job's batch is closed, surviving crashes and waiting out the grace. */
  async settleAll(now: number): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        const out = await this.tick(now, attempt);
        if (out.kind === "none") return;
        now = out.kind === "wait" || out.kind === "open" ? out.until : now;
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
      }
    }
    throw new Error("the batch never settled");
  }

  /** Each manifest as the objects it lists (bucket/key), in its order; manifests in the order written. */
  manifestKeys(): string[][] {
    return [...this.manifests.values()].map((body) =>
      body
        .trimEnd()
        .split("\n")
        .map((line) => {
          const o = JSON.parse(line) as { bucket: string; key: string };
          return `${o.bucket}/${o.key}`;
        }),
    );
  }
}

let sequence = 0;

/** An upload of `key` (size in bytes), as batchItemOf makes it from the event; a fresh sequencer each call. */
export function upload(key: string, size = 100, job = "thumbs"): BatchItem {
  sequence += 1;
  const sequencer = sequence.toString(16).toUpperCase().padStart(18, "0");
  return { itemKey: `${job}#s3:in:${key}:${sequencer}`, bucket: "in", key, size, etag: "e", versionId: "", sequencer, eventTime: "2026-12-02T05:00:00Z" };
}

/** A deterministic shuffle, so a failing order can be replayed from its seed. */
export function shuffled<T>(list: readonly T[], seed: number): T[] {
  const rng = random(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
