/**
 * What admission reads from the store, counted: the head of the queue only (never the whole queue),
 * and the slot holders only when the slots can decide (a run behind an older queued run waits
 * whatever they say). Each read is a query on DynamoDB, so these counts are what a dispatch costs.
 */
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { Engine } from "../../../src/core/engine/engine.ts";
import { manualRunEvent } from "../../../src/core/events/berth-events.ts";
import type { RunStore } from "../../../src/core/ports.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256 } from "../../support/memory-shell.ts";

const CATALOG = `
version: 1
service: acme
defaults:
  network: { subnets: [subnet-1] }
jobs:
  queued:
    on: { manual: true }
    run: { taskDefinition: t }
    concurrency: { max: 2, overlap: queue }
  forbidden:
    on: { manual: true }
    run: { taskDefinition: t }
    concurrency: { max: 1, overlap: forbid }
`;

/** A memory store that counts the calls of each method and the queue-head limits asked for. */
function countingStore() {
  const store = new MemoryRunStore();
  const calls: Record<string, number> = {};
  const limits: number[] = [];
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls[String(name)] = (calls[String(name)] ?? 0) + 1;
        if (name === "listQueuedRuns") limits.push(args[1] as number);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as RunStore;
  const reset = () => {
    for (const name of Object.keys(calls)) delete calls[name];
    limits.length = 0;
  };
  return { store: counted, calls, limits, reset };
}

function setup() {
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const counting = countingStore();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store: counting.store, launcher: new MemoryLauncher(), publisher: new MemoryPublisher(), clock: new ManualClock(), randomBytes: countingBytes, sha256 });
  return { engine, ...counting };
}

const manual = (job: string, key: string) => manualRunEvent({ service: "acme", job, params: {}, idempotencyKey: key }, { id: `m-${key}`, time: 0 });

describe("admission's reads", () => {
  it("reads the slot holders while slots decide, and not once a run waits behind an older queued one", async () => {
    const { engine, calls, limits, reset } = setup();
    const statuses: string[] = [];
    const holderReads: number[] = [];
    for (let i = 0; i < 6; i++) {
      reset();
      const [outcome] = await engine.dispatch(manual("queued", `k${i}`));
      statuses.push(outcome!.kind === "accepted" ? outcome!.status : outcome!.kind);
      holderReads.push(calls["slotHolders"] ?? 0);
      // Only the head of the queue, however long it grows.
      expect(limits).toEqual([1]);
    }
    // Two start; the third finds both slots taken (it reads them); from the fourth on an older run waits ahead.
    expect(statuses).toEqual(["STARTING", "STARTING", "QUEUED", "QUEUED", "QUEUED", "QUEUED"]);
    expect(holderReads).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it("still reads the slot holders for a policy that does not queue", async () => {
    const { engine, calls, reset } = setup();
    await engine.dispatch(manual("forbidden", "a"));
    reset();
    const [outcome] = await engine.dispatch(manual("forbidden", "b"));
    expect(outcome).toMatchObject({ kind: "accepted", status: "SKIPPED" });
    expect(calls["slotHolders"]).toBe(1);
  });
});
