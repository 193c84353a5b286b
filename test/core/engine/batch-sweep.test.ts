import { describe, expect, it } from "vitest";
import { settleBatches } from "../../../src/core/engine/batch.ts";
import { engineContext } from "../../../src/core/engine/engine.ts";
import type { BatchStore } from "../../../src/core/ports.ts";
import { batchedJob, batchWorld, catalogOf, keys, runsOf, upload } from "../batch/engine-world.ts";

const MINUTE = 60_000;

const YAML = catalogOf(batchedJob("thumbs", "in/", "{ window: 1m }") + batchedJob("clips", "clips/", "{ window: 1h }") + batchedJob("idle", "idle/", "{ window: 1m }"));

/** Counts head reads, and fails every call for the jobs named. */
function watched(store: BatchStore, failing: Set<string>): { store: BatchStore; headReads: () => number } {
  let reads = 0;
  const guard = (job: string) => {
    if (failing.has(job)) throw new Error(`injected: the batch store did not answer for ${job}`);
  };
  return {
    headReads: () => reads,
    store: {
      getHead: async (job) => {
        reads++;
        guard(job);
        return store.getHead(job);
      },
      changeHead: async (job, change) => {
        guard(job);
        return store.changeHead(job, change);
      },
      getItemKey: (k) => store.getItemKey(k),
      changeItemKey: (c) => store.changeItemKey(c),
      writeSlot: (s) => store.writeSlot(s),
      listSlots: (b) => store.listSlots(b),
    },
  };
}

describe("the sweep settles every batching job's batch", () => {
  it("with one head read per batching job when nothing is due, and no reminder asked for", async () => {
    const w = batchWorld(YAML);
    const seen = watched(w.batchStore, new Set());
    const ctx = engineContext({ ...w.deps, batches: { ...w.deps.batches!, store: seen.store } });
    await w.engine.dispatch(upload("in/a.png", 1));
    await w.engine.dispatch(upload("clips/a.mp4", 2));
    const reminders = w.timer.requests.length;
    const before = seen.headReads();
    expect(await settleBatches(ctx)).toEqual({ jobs: 3, handedOff: 0, failures: [] });
    expect(seen.headReads() - before).toBe(3);
    expect(w.timer.requests).toHaveLength(reminders);
  });

  it("hands off the due batches, and reports a job whose settling failed without keeping the others from theirs", async () => {
    const w = batchWorld(YAML);
    for (const [i, key] of keys(3).entries()) await w.engine.dispatch(upload(key, i + 1));
    await w.engine.dispatch(upload("clips/a.mp4", 10));
    await w.engine.dispatch(upload("idle/a.bin", 11));
    w.clock.advance(2 * MINUTE);
    const seen = watched(w.batchStore, new Set(["idle"]));
    const ctx = engineContext({ ...w.deps, batches: { ...w.deps.batches!, store: seen.store } });
    const report = await settleBatches(ctx);
    expect(report).toMatchObject({ jobs: 3, handedOff: 1, failures: [{ job: "idle", error: expect.objectContaining({ message: expect.stringMatching(/injected/) }) }] });
    expect((await runsOf(w.store)).map((r) => r.context["batch.count"])).toEqual(["3"]);
    expect(await runsOf(w.store, "clips")).toHaveLength(0);
    // The next pass, with the store answering again, hands off the rest that is due.
    expect(await settleBatches(engineContext(w.deps))).toEqual({ jobs: 3, handedOff: 1, failures: [] });
    expect(await runsOf(w.store, "idle")).toHaveLength(1);
    expect(w.launcher.runTaskCalls).toBe(2);
  });
});
