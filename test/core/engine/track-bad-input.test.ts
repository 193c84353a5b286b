import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { Engine } from "../../../src/core/engine/engine.ts";
import { manualRunEvent } from "../../../src/core/events/berth-events.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256, taskEvent } from "../../support/memory-shell.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";

const CATALOG = `
version: 1
service: acme
defaults:
  network: { subnets: [subnet-1] }
jobs:
  etl:
    on: { manual: true }
    run: { taskDefinition: etl, container: worker }
`;

function deep(depth: number): unknown {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

async function setup() {
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const store = new MemoryRunStore();
  const launcher = new MemoryLauncher();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store, launcher, publisher: new MemoryPublisher(), clock: new ManualClock(), randomBytes: countingBytes, sha256 });
  await engine.dispatch(manualRunEvent({ service: "acme", job: "etl", params: {}, idempotencyKey: "k" }, { id: "m", time: 0 }));
  const [run] = await store.listRuns({});
  const task = [...launcher.tasks.values()][0]!;
  return { engine, store, run: run!, task };
}

// Issue 10, "Bad input never crashes, never writes": track threw while building its rejection message (JSON.stringify
// of a deeply nested value) — a malformed event must end in a deliberate rejection with its reason.
describe("track on hostile task events", () => {
  it.each<[string, (valid: Record<string, unknown>) => unknown]>([
    ["a deeply nested source", (e) => ({ ...e, source: deep(100_000) })],
    ["a deeply nested detail-type", (e) => ({ ...e, "detail-type": deep(100_000) })],
    ["a 2 MB source", (e) => ({ ...e, source: "s".repeat(2 * 1024 * 1024) })],
    ["a deeply nested startedBy", (e) => ({ ...e, detail: { ...(e.detail as object), startedBy: deep(100_000) } })],
    ["a 2 MB stoppedReason", (e) => ({ ...e, detail: { ...(e.detail as object), lastStatus: "STOPPED", stoppedReason: "r".repeat(2 * 1024 * 1024) } })],
    ["an enormous version", (e) => ({ ...e, detail: { ...(e.detail as object), version: Number.MAX_SAFE_INTEGER } })],
  ])("%s is rejected with a short reason and changes nothing", async (_what, mutate) => {
    const { engine, store, run, task } = await setup();
    const outcome = await engine.recordTaskEvent(mutate(taskEvent(task, "RUNNING", 2) as Record<string, unknown>));
    expect(outcome.kind).toBe("rejected");
    if (outcome.kind === "rejected") expect(outcome.reason.length).toBeLessThan(500);
    expect(await store.getRun(run.id)).toEqual(run);
  });
});
