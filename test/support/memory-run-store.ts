/**
 * RunStore in a Map: for tests and benchmarks. Every method finishes its work
 * synchronously before its promise settles, so each call is atomic with
 * respect to every other call, which is what the port asks of a real store.
 */
import { ConflictError } from "../../src/core/errors.ts";
import { runQueryLimit } from "../../src/core/ports.ts";
import type { CreateRunResult, RunQuery, RunStore, UpdateRunResult } from "../../src/core/ports.ts";
import { isOpen } from "../../src/core/runs/model.ts";
import { isQueued } from "../../src/core/runs/status.ts";
import type { Run } from "../../src/core/runs/model.ts";

const newestFirst = (a: Run, b: Run): number => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const oldestFirst = (a: Run, b: Run): number => -newestFirst(a, b);

export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<string, Run>();
  /** idempotency key → run id */
  readonly #keys = new Map<string, string>();
  /** job → run id → since */
  readonly #slots = new Map<string, Map<string, number>>();

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
    return { created: true, run };
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.#runs.get(id);
  }

  async updateRun(run: Run, expectedVersion: number): Promise<UpdateRunResult> {
    const current = this.#runs.get(run.id);
    if (current === undefined || current.version !== expectedVersion) return { ok: false, current };
    this.#runs.set(run.id, run);
    return { ok: true, run };
  }

  async listRuns(query: RunQuery): Promise<readonly Run[]> {
    const limit = runQueryLimit(query);
    return [...this.#runs.values()]
      .filter(
        (r) =>
          (query.job === undefined || r.job === query.job) &&
          (query.status === undefined || r.status === query.status) &&
          (query.before === undefined || r.id < query.before),
      )
      .sort(newestFirst)
      .slice(0, limit);
  }

  async listOpenRuns(): Promise<readonly Run[]> {
    return [...this.#runs.values()].filter(isOpen).sort(oldestFirst);
  }

  async listQueuedRuns(job: string, limit: number): Promise<readonly Run[]> {
    const count = runQueryLimit({ limit });
    return [...this.#runs.values()]
      .filter((r) => r.job === job && isQueued(r.status))
      .sort(oldestFirst)
      .slice(0, count);
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
