import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { Engine } from "../../../src/core/engine/engine.ts";
import { SWEEP_LAUNCH_CONCURRENCY } from "../../../src/core/engine/sweep.ts";
import type { RunTaskRequest } from "../../../src/core/ecs/types.ts";
import type { LaunchFailure, LaunchOutcome } from "../../../src/core/ports.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { DEFAULT_RELAUNCH_AFTER_MS } from "../../../src/core/runs/sweep.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256 } from "../../support/memory-shell.ts";

const CATALOG = `
version: 1
service: acme
defaults:
  network: { subnets: [subnet-1] }
jobs:
  upload:
    on: { s3: { bucket: media, key: { prefix: in/ } } }
    run: { taskDefinition: thumb, container: worker, command: [thumb, "\${s3.key}"] }
`;

// ECS answers ThrottlingException while the account's RunTask bucket is empty (Amazon ECS API Reference, "Request
// throttling for the Amazon ECS API"); the launcher hands it back once it has re-sent it for as long as it may.
const THROTTLED: LaunchFailure = { kind: "throttled", retryable: true, message: "Rate exceeded" };

/** A launcher whose RunTask answers wait until released, so the test sees how many are in flight at once. */
class GatedLauncher extends MemoryLauncher {
  inFlight = 0;
  maxInFlight = 0;
  throttleAll = false;
  readonly #waiting: (() => void)[] = [];

  override async runTask(request: RunTaskRequest): Promise<LaunchOutcome> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.inFlight--;
    if (this.throttleAll) {
      this.runTaskCalls++;
      return { ok: false, failure: THROTTLED };
    }
    return super.runTask(request);
  }

  /** Answers every waiting call, and those that come while answering, until none waits. */
  async answerAll(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const batch = this.#waiting.splice(0);
      if (batch.length === 0) return;
      batch.forEach((resolve) => resolve());
    }
  }
}

const s3Event = JSON.parse(readFileSync(new URL("../../../events/s3-object-created.json", import.meta.url), "utf8"));
const upload = (i: number) => ({
  ...s3Event,
  id: `e-${i}`,
  detail: { ...s3Event.detail, bucket: { name: "media" }, object: { ...s3Event.detail.object, key: `in/${i}.png`, sequencer: i.toString(16).padStart(18, "0"), "version-id": undefined } },
});

async function setup(deferred: number) {
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const clock = new ManualClock();
  const store = new MemoryRunStore();
  const launcher = new GatedLauncher();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store, launcher, publisher: new MemoryPublisher(), clock, randomBytes: countingBytes, sha256 });
  // Every dispatch's launch comes back throttled: its sender gives it up, and the run waits STARTING for the sweep.
  launcher.throttleAll = true;
  for (let i = 0; i < deferred; i++) {
    const dispatching = engine.dispatch(upload(i));
    await launcher.answerAll();
    await dispatching;
  }
  launcher.throttleAll = false;
  launcher.runTaskCalls = 0;
  launcher.maxInFlight = 0;
  return { engine, store, launcher, clock };
}

const sweepNow = async (engine: Engine, launcher: GatedLauncher) => {
  const sweeping = engine.sweep();
  await launcher.answerAll();
  return sweeping;
};

describe("the sweep launches the backlog ECS throttled", () => {
  it("sends a launch its sender gave up at once, without waiting out the sender's hold", async () => {
    const { engine, store, launcher } = await setup(1);
    const report = await sweepNow(engine, launcher);
    expect(report.relaunched).toBe(1);
    expect(launcher.runTaskCalls).toBe(1);
    expect((await store.listOpenRuns()).every((r) => r.attempts[0]?.taskArn !== undefined)).toBe(true);
  });

  it(`sends up to ${SWEEP_LAUNCH_CONCURRENCY} launches at once, and every run of the backlog once`, async () => {
    const { engine, store, launcher } = await setup(50);
    const report = await sweepNow(engine, launcher);
    expect(report.relaunched).toBe(50);
    expect(launcher.maxInFlight).toBe(SWEEP_LAUNCH_CONCURRENCY);
    expect(launcher.runTaskCalls).toBe(50);
    expect(launcher.tasks.size).toBe(50);
    expect((await store.listOpenRuns()).filter((r) => r.attempts[0]?.taskArn === undefined)).toEqual([]);
  });

  it("two sweeps at once send each launch once: the first to store its hold sends it", async () => {
    const { engine, launcher } = await setup(30);
    const both = Promise.all([engine.sweep(), engine.sweep()]);
    await launcher.answerAll();
    const [a, b] = await both;
    expect(launcher.runTaskCalls).toBe(30);
    expect(launcher.tasks.size).toBe(30);
    expect(a.relaunched + b.relaunched).toBeGreaterThanOrEqual(30);
  });

  it("once a launch comes back given up (the invocation's time is over), no further one is begun; the next sweep sends the rest", async () => {
    const { engine, store, launcher } = await setup(50);
    launcher.throttleAll = true;
    await sweepNow(engine, launcher);
    // The lanes that had begun finish their launch; nothing more is taken over.
    expect(launcher.runTaskCalls).toBe(SWEEP_LAUNCH_CONCURRENCY);
    launcher.throttleAll = false;
    launcher.runTaskCalls = 0;
    await sweepNow(engine, launcher);
    expect(launcher.runTaskCalls).toBe(50);
    expect((await store.listOpenRuns()).filter((r) => r.attempts[0]?.taskArn === undefined)).toEqual([]);
  });

  it("a launch whose sender still holds it (sent, no answer yet) is not sent by the sweep until the hold is over", async () => {
    const { engine, store, launcher, clock } = await setup(0);
    const dispatching = engine.dispatch(upload(1));
    await new Promise((r) => setImmediate(r));
    // The dispatch's RunTask is in flight: a sweep now must leave it alone.
    const sweeping = engine.sweep();
    await new Promise((r) => setImmediate(r));
    expect(launcher.inFlight).toBe(1);
    await launcher.answerAll();
    await Promise.all([dispatching, sweeping]);
    expect(launcher.runTaskCalls).toBe(1);

    // A sender that crashed before storing anything: the sweep takes the launch over once its hold ends.
    const stuck = (await store.listOpenRuns())[0]!;
    await store.updateRun({ ...stuck, attempts: stuck.attempts.map((a) => ({ ...a, taskArn: undefined })) as typeof stuck.attempts, version: stuck.version + 1 }, stuck.version);
    clock.advance(DEFAULT_RELAUNCH_AFTER_MS - 1);
    expect((await sweepNow(engine, launcher)).relaunched).toBe(0);
    clock.advance(1);
    expect((await sweepNow(engine, launcher)).relaunched).toBe(1);
    expect(launcher.runTaskCalls).toBe(2);
    expect(launcher.tasks.size).toBe(1);
  });
});
