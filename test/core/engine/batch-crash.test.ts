/**
 * Each upload delivered three times at once, and a crash after any one side effect of the whole scenario (a
 * batch record written, the manifest put, a run written or updated, RunTask sent, a state change published,
 * the timer asked): after redeliveries, reminders and a sweep, the same batches, manifests and runs as without
 * the crash; every upload in exactly one manifest, every run one task.
 */
import { describe, expect, it } from "vitest";
import { Engine } from "../../../src/core/engine/engine.ts";
import { TransientError } from "../../../src/core/errors.ts";
import { batchWorld, catalogYaml, keys, runsOf, upload } from "../batch/engine-world.ts";

const MINUTE = 60_000;
const YAML = catalogYaml("{ window: 10m }");
const FIRST = keys(6, "in/a/");
const SECOND = keys(4, "in/b/");

class Crash extends Error {}

/** Counts side effects; throws after the `at`-th, once. */
class Crasher {
  readonly effects: string[] = [];
  constructor(readonly at: number | undefined) {}
  hit(name: string): void {
    this.effects.push(name);
    if (this.effects.length === this.at) throw new Crash(`crash after side effect ${this.at} (${name})`);
  }
}

/** Each call of the named methods does its work, then counts as a side effect. */
function afterEach<T extends object>(target: T, methods: readonly (keyof T & string)[], crasher: Crasher): void {
  for (const m of methods) {
    const original = (target[m] as (...a: unknown[]) => Promise<unknown>).bind(target);
    (target as Record<string, unknown>)[m] = async (...args: unknown[]) => {
      const out = await original(...args);
      crasher.hit(m);
      return out;
    };
  }
}

async function scenario(crashAt: number | undefined) {
  const w = batchWorld(YAML);
  const crasher = new Crasher(crashAt);
  afterEach(w.store, ["createRun", "updateRun"], crasher);
  afterEach(w.launcher, ["runTask"], crasher);
  afterEach(w.manifests, ["putManifest"], crasher);
  afterEach(w.timer, ["settleAt"], crasher);
  afterEach(w.publisher, ["publish"], crasher);
  const engine = new Engine({ ...w.deps, batches: { ...w.deps.batches!, fault: (point) => crasher.hit(point) } });

  const survives = (e: unknown): boolean => e instanceof Crash || e instanceof TransientError;
  let n = 0;
  /** Three deliveries at once; then again, one at a time, until one is acknowledged. */
  const deliver = async (key: string) => {
    const event = upload(key, ++n);
    let results: PromiseSettledResult<unknown>[] = await Promise.allSettled([engine.dispatch(event), engine.dispatch(event), engine.dispatch(event)]);
    for (let attempt = 0; attempt < 10; attempt++) {
      const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      const unexpected = failed.find((e) => !survives(e));
      if (unexpected !== undefined) throw unexpected;
      if (failed.length < results.length) return;
      // The batch is completing its slots: the event comes again later.
      const wait = failed.find((e): e is TransientError => e instanceof TransientError);
      if (wait?.retryAfterMs !== undefined) w.clock.advance(wait.retryAfterMs);
      results = await Promise.allSettled([engine.dispatch(event)]);
    }
    throw new Error(`upload ${key} never acknowledged`);
  };
  /** The timer's reminders, as many as the batch asks for. */
  const settle = async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const out = await engine.settleBatch("thumbs");
        if (out.kind === "none") return;
        if (out.kind === "open" || out.kind === "wait") w.clock.ms = Math.max(w.clock.ms, out.until);
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
      }
    }
    throw new Error("the batch never settled");
  };

  for (const key of FIRST) {
    await deliver(key);
    w.clock.advance(1000);
  }
  w.clock.advance(10 * MINUTE);
  // The first of these finds the first batch due: it closes it and hands it off before opening the next.
  for (const key of SECOND) {
    await deliver(key);
    w.clock.advance(1000);
  }
  w.clock.advance(10 * MINUTE);
  await settle();
  // Launches a crash interrupted are sent again by the sweep, with the attempt's clientToken.
  for (let pass = 0; pass < 3; pass++) {
    w.clock.advance(10 * MINUTE);
    try {
      await engine.sweep();
    } catch (e) {
      if (!(e instanceof Crash)) throw e;
    }
  }
  const runs = await runsOf(w.store);
  return { w, crasher, runs };
}

const summary = (runs: Awaited<ReturnType<typeof scenario>>["runs"]) =>
  runs.map((r) => ({ key: r.trigger.idempotencyKey, manifest: r.context["batch.manifest"], count: r.context["batch.count"], bytes: r.context["batch.bytes"], status: r.status }));

const baseline = await scenario(undefined);

describe("batches survive redeliveries and crashes", () => {
  it("without a crash: two runs, one per window, each upload in one manifest", () => {
    expect(baseline.runs.map((r) => r.context["batch.count"])).toEqual(["6", "4"]);
    expect(baseline.w.manifests.objects.size).toBe(2);
    expect([...baseline.w.manifests.objects.keys()].flatMap((name) => baseline.w.manifests.listed(name))).toEqual([...FIRST, ...SECOND].map((k) => `media/${k}`));
    expect(baseline.w.launcher.tasks.size).toBe(2);
    expect(baseline.crasher.effects.length).toBeGreaterThan(50);
  });

  const points = Array.from({ length: baseline.crasher.effects.length }, (_, i) => [i + 1, baseline.crasher.effects[i]!] as const);
  it.each(points)("a crash after side effect %i (%s) changes nothing", async (at) => {
    const { w, runs, crasher } = await scenario(at);
    expect(crasher.effects.length).toBeGreaterThanOrEqual(at);
    expect(summary(runs)).toEqual(summary(baseline.runs));
    expect(w.manifests.objects).toEqual(baseline.w.manifests.objects);
    // One task per run, started by its first attempt's clientToken.
    expect(w.launcher.tasks.size).toBe(runs.length);
    expect(new Set(w.launcher.byToken.keys())).toEqual(new Set(runs.map((r) => r.attempts[0]!.clientToken)));
    expect(runs.every((r) => r.attempts.length === 1 && r.attempts[0]!.taskArn === w.launcher.byToken.get(r.attempts[0]!.clientToken))).toBe(true);
  });
});

describe("a hand-off whose manifest or run write fails", () => {
  it.each([
    ["PutObject fails", (w: ReturnType<typeof batchWorld>) => (w.manifests.failNext = 1)],
    [
      "writing the run fails",
      (w: ReturnType<typeof batchWorld>) => {
        const createRun = w.store.createRun.bind(w.store);
        let failed = false;
        w.store.createRun = async (run) => {
          if (!failed) {
            failed = true;
            throw new TransientError("injected: the runs table did not answer");
          }
          return createRun(run);
        };
      },
    ],
  ])("%s once: the next reminder hands the batch off, one run, one manifest", async (_what, fail) => {
    const w = batchWorld(YAML);
    for (const [i, key] of FIRST.entries()) await w.engine.dispatch(upload(key, i + 1));
    w.clock.advance(10 * MINUTE);
    fail(w);
    await expect(w.engine.settleBatch("thumbs")).rejects.toThrow(/injected/);
    expect(await runsOf(w.store)).toHaveLength(0);
    expect(await w.engine.settleBatch("thumbs")).toMatchObject({ kind: "handed-off" });
    expect(await w.engine.settleBatch("thumbs")).toEqual({ kind: "none" });
    const runs = await runsOf(w.store);
    expect(runs).toHaveLength(1);
    expect(w.manifests.objects.size).toBe(1);
    expect(w.launcher.runTaskCalls).toBe(1);
  });
});
