/**
 * RunStore in a Map: for tests and benchmarks. Every method finishes its work
 * synchronously before its promise settles, so each call is atomic with
 * respect to every other call, which is what the port asks of a real store.
 *
 * Like the real stores it keeps indexes (ids in order: all runs, each job's,
 * the open ones, each job's queue), so a benchmark through it measures the
 * engine, not a scan of the whole history.
 */
import { ConflictError } from "../../src/core/errors.ts";
import { runQueryLimit } from "../../src/core/ports.ts";
import type { CreateRunResult, RunQuery, RunStore, UpdateRunResult } from "../../src/core/ports.ts";
import { isOpen } from "../../src/core/runs/model.ts";
import { isQueued } from "../../src/core/runs/status.ts";
import type { Run } from "../../src/core/runs/model.ts";

/** Ids in ascending order. New runs have the newest ids, so an insert is almost always an append. */
class SortedIds {
  readonly ids: string[] = [];

  /** The position of the first id ≥ `id`. */
  #at(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(id: string): void {
    const last = this.ids[this.ids.length - 1];
    if (last === undefined || last < id) {
      this.ids.push(id);
      return;
    }
    const i = this.#at(id);
    if (this.ids[i] !== id) this.ids.splice(i, 0, id);
  }

  delete(id: string): void {
    const i = this.#at(id);
    if (this.ids[i] === id) this.ids.splice(i, 1);
  }

  /** Ids before `before` (all without it), newest first. */
  *newestFirst(before?: string): Generator<string> {
    for (let i = (before === undefined ? this.ids.length : this.#at(before)) - 1; i >= 0; i--) yield this.ids[i]!;
  }
}

/** `key`'s entry of `map`, created when missing. */
function entry<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = create()));
  return value;
}

export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<string, Run>();
  /** idempotency key → run id */
  readonly #keys = new Map<string, string>();
  /** job → run id → since */
  readonly #slots = new Map<string, Map<string, number>>();
  readonly #all = new SortedIds();
  readonly #byJob = new Map<string, SortedIds>();
  readonly #open = new SortedIds();
  /** job → its QUEUED runs */
  readonly #queued = new Map<string, SortedIds>();

  async createRun(run: Run): Promise<CreateRunResult> {
    const existingId = this.#keys.get(run.trigger.idempotencyKey);
    const existing = existingId === undefined ? undefined : this.#runs.get(existingId);
    if (existing !== undefined) return { created: false, existing };
    if (this.#runs.has(run.id)) {
      throw new ConflictError(`run id ${run.id} is already taken by a run with another idempotency key; create the run with a fresh id`, {
        existing: this.#runs.get(run.id),
      });
    }
    this.#runs.set(run.id, run);
    this.#keys.set(run.trigger.idempotencyKey, run.id);
    this.#all.add(run.id);
    entry(this.#byJob, run.job, () => new SortedIds()).add(run.id);
    this.#index(run);
    return { created: true, run };
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.#runs.get(id);
  }

  async updateRun(run: Run, expectedVersion: number): Promise<UpdateRunResult> {
    const current = this.#runs.get(run.id);
    if (current === undefined || current.version !== expectedVersion) return { ok: false, current };
    this.#runs.set(run.id, run);
    if (run.status !== current.status || isOpen(run) !== isOpen(current)) this.#index(run);
    return { ok: true, run };
  }

  /** Files the run under the open and queued indexes its current state belongs to, and no others. */
  #index(run: Run): void {
    if (isOpen(run)) this.#open.add(run.id);
    else this.#open.delete(run.id);
    const queue = entry(this.#queued, run.job, () => new SortedIds());
    if (isQueued(run.status)) queue.add(run.id);
    else queue.delete(run.id);
  }

  async listRuns(query: RunQuery): Promise<readonly Run[]> {
    const limit = runQueryLimit(query);
    const ids = query.job === undefined ? this.#all : this.#byJob.get(query.job);
    const out: Run[] = [];
    for (const id of ids?.newestFirst(query.before) ?? []) {
      if (out.length === limit) break;
      const run = this.#runs.get(id)!;
      if (query.status === undefined || run.status === query.status) out.push(run);
    }
    return out;
  }

  async listOpenRuns(): Promise<readonly Run[]> {
    return this.#open.ids.map((id) => this.#runs.get(id)!);
  }

  async listQueuedRuns(job: string, limit: number): Promise<readonly Run[]> {
    const count = runQueryLimit({ limit });
    return (this.#queued.get(job)?.ids ?? []).slice(0, count).map((id) => this.#runs.get(id)!);
  }

  async acquireSlot(job: string, runId: string, max: number, now: number): Promise<boolean> {
    const holders = this.#slots.get(job) ?? new Map<string, number>();
    if (holders.has(runId)) return true;
    if (holders.size >= max) return false;
    holders.set(runId, now);
    this.#slots.set(job, holders);
    return true;
  }

  async releaseSlot(job: string, runId: string): Promise<void> {
    this.#slots.get(job)?.delete(runId);
  }

  async slotHolders(job: string): Promise<readonly { readonly runId: string; readonly since: number }[]> {
    return [...(this.#slots.get(job) ?? new Map<string, number>())].map(([runId, since]) => ({ runId, since }));
  }
}
