import { describe, expect, it } from "vitest";
import { BatchWait } from "../../../src/core/engine/batch.ts";
import { batchSettler, dispatcher, Engine, sweeper, taskEventRecorder, type DispatchOutcome } from "../../../src/core/engine/engine.ts";
import { ConfigurationError, ValidationError } from "../../../src/core/errors.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256, taskEvent } from "../../support/memory-shell.ts";
import { batchWorld, catalogYaml, GRACE_MS, keys, loadYaml, runsOf, STAGE_BUCKET, upload } from "../batch/engine-world.ts";

const MINUTE = 60_000;

const manifestName = (run: { context: Readonly<Record<string, string>> }) => run.context["batch.manifest"]!.slice("s3://".length);

describe("an upload for a batching job joins its batch", () => {
  it("1,000 uploads in one window are one run, whose manifest lists exactly them and whose task gets it", async () => {
    const w = batchWorld(catalogYaml("{ window: 1m, maxItems: 5000 }"));
    const uploads = keys(1000);
    const opened = w.clock.ms;
    const outcomes: DispatchOutcome[] = [];
    for (const [i, key] of uploads.entries()) {
      outcomes.push(...(await w.engine.dispatch(upload(key, i + 1))));
      if (i % 100 === 99) w.clock.advance(5_000);
    }
    expect(outcomes.map((o) => o.kind)).toEqual(uploads.map(() => "batched"));
    const [first] = outcomes;
    expect(first).toMatchObject({ kind: "batched", job: "thumbs", slot: 0, opened: true, closesAt: opened + MINUTE });
    expect(outcomes.filter((o) => o.kind === "batched" && o.opened)).toHaveLength(1);
    // Nothing ran yet; the batch's opener asked the timer for its window's end, once.
    expect(w.launcher.runTaskCalls).toBe(0);
    expect(w.timer.requests).toEqual([{ job: "thumbs", batchId: (first as { batchId: string }).batchId, at: (first as { closesAt: number }).closesAt }]);

    expect(await w.engine.settleBatch("thumbs")).toMatchObject({ kind: "open" });
    w.clock.ms = w.timer.requests[0]!.at;
    const settled = await w.engine.settleBatch("thumbs");
    expect(settled).toMatchObject({ kind: "handed-off", batchId: (first as { batchId: string }).batchId });

    const runs = await runsOf(w.store);
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(run).toMatchObject({ status: "STARTING", trigger: { kind: "s3" }, context: { "batch.count": "1000" } });
    expect(w.manifests.puts).toBe(1);
    expect(w.manifests.listed(manifestName(run!))).toEqual(uploads.map((k) => `media/${k}`));
    expect(manifestName(run!)).toBe(`${STAGE_BUCKET}/thumbs/${(first as { batchId: string }).batchId}.jsonl`);
    expect(w.launcher.runTaskCalls).toBe(1);
    const [task] = w.launcher.tasks.values();
    expect(task!.request.overrides?.containerOverrides?.[0]?.command).toEqual(["thumbs", run!.context["batch.manifest"], "1000"]);
    // A second reminder finds nothing to do.
    expect(await w.engine.settleBatch("thumbs")).toEqual({ kind: "none" });
    expect(w.launcher.runTaskCalls).toBe(1);
  });

  it("maxItems 100 and 250 uploads: three runs of 100, 100 and 50 with disjoint manifests; full batches run at once", async () => {
    const w = batchWorld(catalogYaml("{ window: 10m, maxItems: 100 }"));
    const uploads = keys(250);
    for (const [i, key] of uploads.entries()) {
      await w.engine.dispatch(upload(key, i + 1));
      w.clock.advance(1000);
    }
    // The two full batches closed with their 100th upload, without a timer.
    expect(await runsOf(w.store)).toHaveLength(2);
    expect(w.timer.requests).toHaveLength(3);
    w.clock.advance(10 * MINUTE);
    expect(await w.engine.settleBatch("thumbs")).toMatchObject({ kind: "handed-off" });
    expect(w.timer.requests).toHaveLength(3);

    const runs = await runsOf(w.store);
    expect(runs.map((r) => r.context["batch.count"])).toEqual(["100", "100", "50"]);
    const listed = runs.map((r) => w.manifests.listed(manifestName(r)));
    expect(listed.map((l) => l.length)).toEqual([100, 100, 50]);
    expect(listed.flat().sort()).toEqual(uploads.map((k) => `media/${k}`));
    expect(new Set(runs.map(manifestName)).size).toBe(3);
    expect(w.launcher.runTaskCalls).toBe(3);
  });

  it("an event that also matches an unbatched job starts that job's run as before", async () => {
    const w = batchWorld(catalogYaml("{ window: 1m }"));
    const outcomes = await w.engine.dispatch(upload("in/both/a.png", 1));
    expect(outcomes.map((o) => [o.kind, o.job])).toEqual([
      ["batched", "thumbs"],
      ["accepted", "single"],
    ]);
    expect([...w.launcher.tasks.values()].map((t) => t.request.overrides?.containerOverrides?.[0]?.command)).toEqual([["one", "in/both/a.png"]]);
    expect(await w.engine.dispatch(upload("in/both/a.png", 1))).toMatchObject([
      { kind: "duplicate", job: "thumbs", slot: 0 },
      { kind: "duplicate", job: "single" },
    ]);
    // On AWS each rule names its job.
    expect(await w.engine.dispatch(upload("in/both/b.png", 2), "single")).toMatchObject([{ kind: "accepted", job: "single" }]);
    expect(await w.engine.dispatch(upload("in/both/b.png", 2), "thumbs")).toMatchObject([{ kind: "batched", job: "thumbs", slot: 1, opened: false }]);
  });

  it("an upload arriving while the batch completes its slots opens the next batch at once; the closing one is handed off by its timer", async () => {
    let crash = true;
    const w = batchWorld(catalogYaml("{ window: 1m }"), {});
    const faulty = batchWorld(catalogYaml("{ window: 1m }"), {
      batches: {
        store: w.batchStore,
        manifests: w.manifests,
        timer: w.timer,
        stageManifestBucket: STAGE_BUCKET,
        graceMs: GRACE_MS,
        fault: (point) => {
          if (point === "reserved" && crash) {
            crash = false;
            throw new Error("injected crash after reserving a slot");
          }
        },
      },
      store: w.store,
      launcher: w.launcher,
      clock: w.clock,
    });
    await w.engine.dispatch(upload("in/a.png", 1));
    // This delivery dies holding slot 1, which nobody will write: the batch waits the grace for it, then gives it up.
    await expect(faulty.engine.dispatch(upload("in/b.png", 2))).rejects.toThrow(/injected crash/);
    w.clock.advance(MINUTE);
    const closing = await w.engine.settleBatch("thumbs");
    // Looked at again a second after the close, then less and less often until the grace is over.
    expect(closing).toEqual({ kind: "wait", until: w.clock.ms + 1000 });
    const first = (await w.batchStore.getHead("thumbs"))!;
    expect(w.timer.requests.at(-1)).toEqual({ job: "thumbs", batchId: first.batchId, at: w.clock.ms + 1000 });

    const late = await w.engine.dispatch(upload("in/both/c.png", 3));
    expect(late).toMatchObject([{ kind: "batched", job: "thumbs", slot: 0, opened: true }, { kind: "accepted", job: "single" }]);
    expect(await w.batchStore.getHead("thumbs")).toMatchObject({ state: "open", count: 1, previous: { batchId: first.batchId, count: 2 } });
    expect(w.manifests.puts).toBe(0);

    w.clock.advance(GRACE_MS);
    expect(await w.engine.settleBatch("thumbs")).toMatchObject({ kind: "open", previous: { batchId: first.batchId } });
    expect(await w.batchStore.getHead("thumbs")).not.toHaveProperty("previous");
    // The delivery that died holding slot 1 comes again: the slot is a tombstone, so the upload joins the open batch.
    expect(await w.engine.dispatch(upload("in/b.png", 2))).toMatchObject([{ kind: "batched", slot: 1 }]);
    const [run] = await runsOf(w.store);
    expect(w.manifests.listed(manifestName(run!))).toEqual(["media/in/a.png"]);
  });

  it("an upload finding two batches closing waits, without handing either off, until the first is", async () => {
    const w = batchWorld(catalogYaml("{ window: 10m, maxItems: 2 }"));
    const crashing = new Engine({
      ...w.deps,
      batches: {
        ...w.deps.batches!,
        fault: (point) => {
          if (point === "closed") throw new Error("injected crash after closing the batch");
        },
      },
    });
    await w.engine.dispatch(upload("in/a.png", 1));
    // The second upload fills the batch and dies having closed it: nobody hands it off but the timer or the sweep.
    await expect(crashing.dispatch(upload("in/b.png", 2))).rejects.toThrow(/injected/);
    const first = (await w.batchStore.getHead("thumbs"))!;
    expect(first).toMatchObject({ state: "closing", closeReason: "max-items" });
    // The next opens the next batch, beside the first, which its window's timer closes (a timer that then dies).
    await w.engine.dispatch(upload("in/c.png", 3));
    const second = (await w.batchStore.getHead("thumbs"))!;
    expect(second).toMatchObject({ state: "open", previous: { batchId: first.batchId } });
    expect(await w.batchStore.changeHead("thumbs", { kind: "close", batchId: second.batchId, closedAt: w.clock.ms, reason: "window" })).toMatchObject({ ok: true });
    const puts = w.manifests.puts;
    const waiting = w.engine.dispatch(upload("in/e.png", 5));
    await expect(waiting).rejects.toBeInstanceOf(BatchWait);
    await expect(w.engine.dispatch(upload("in/e.png", 5))).rejects.toMatchObject({ retryAfterMs: 1000 });
    expect(w.manifests.puts).toBe(puts);
    // The sweep hands off both, in order; the upload then opens the third batch.
    await w.engine.sweep();
    expect((await runsOf(w.store)).map((r) => r.context["batch.count"]).sort()).toEqual(["1", "2"]);
    expect(await w.engine.dispatch(upload("in/e.png", 5))).toMatchObject([{ kind: "batched", slot: 0, opened: true }]);
    expect(await w.batchStore.getHead("thumbs")).not.toHaveProperty("previous");
  });
});


describe("a batch's run is a run like any other", () => {
  it("its retries render the same manifest from the same context", async () => {
    const w = batchWorld(catalogYaml("{ window: 1m }", `    retry: { attempts: 2, on: ["exit:1"], backoff: { initial: 30s } }\n`));
    for (const [i, key] of keys(3).entries()) await w.engine.dispatch(upload(key, i + 1));
    w.clock.advance(MINUTE);
    await w.engine.settleBatch("thumbs");
    const [first] = w.launcher.tasks.values();
    await w.engine.recordTaskEvent(taskEvent(first!, "STOPPED", 3, { exitCode: 1 }));
    w.clock.advance(30_000);
    await w.engine.sweep();
    expect(w.launcher.tasks.size).toBe(2);
    const [, second] = w.launcher.tasks.values();
    const command = (t: typeof first) => t!.request.overrides?.containerOverrides?.[0]?.command;
    expect(command(second)).toEqual(command(first));
    const [run] = await runsOf(w.store);
    expect(run!.attempts).toHaveLength(2);
    expect(command(first)).toEqual(["thumbs", run!.context["batch.manifest"], "3"]);
    expect(w.manifests.puts).toBe(1);
  });

  it("concurrency and its queue hold batch runs as any runs", async () => {
    const w = batchWorld(catalogYaml("{ window: 10m, maxItems: 2 }", "    concurrency: { max: 1, overlap: queue }\n"));
    for (const [i, key] of keys(6).entries()) {
      await w.engine.dispatch(upload(key, i + 1));
      w.clock.advance(1000);
    }
    const runs = await runsOf(w.store);
    expect(runs.map((r) => r.status)).toEqual(["STARTING", "QUEUED", "QUEUED"]);
    expect(w.launcher.runTaskCalls).toBe(1);
    const [task] = w.launcher.tasks.values();
    await w.engine.recordTaskEvent(taskEvent(task!, "STOPPED", 3, { exitCode: 0 }));
    expect((await runsOf(w.store)).map((r) => r.status)).toEqual(["SUCCEEDED", "STARTING", "QUEUED"]);
    expect(w.launcher.runTaskCalls).toBe(2);
  });
});

describe("the window's timer", () => {
  it("asks again when its reminder comes before the window's end (SQS delays reach 15 minutes)", async () => {
    const w = batchWorld(catalogYaml("{ window: 1h }"));
    const [opened] = await w.engine.dispatch(upload("in/a.png", 1));
    const { batchId, closesAt } = opened as { batchId: string; closesAt: number };
    expect(w.timer.requests).toEqual([{ job: "thumbs", batchId, at: closesAt }]);
    for (let reminder = 1; reminder <= 3; reminder++) {
      w.clock.advance(15 * MINUTE);
      expect(await w.engine.settleBatch("thumbs")).toEqual({ kind: "open", until: closesAt });
      expect(w.timer.requests).toHaveLength(1 + reminder);
      expect(w.timer.requests.at(-1)).toEqual({ job: "thumbs", batchId, at: closesAt });
    }
    w.clock.ms = closesAt;
    expect(await w.engine.settleBatch("thumbs")).toMatchObject({ kind: "handed-off", batchId });
    expect(w.timer.requests).toHaveLength(4);
    expect(w.launcher.runTaskCalls).toBe(1);
  });

  it("is armed again by a redelivery of the opening upload whose first delivery could not arm it", async () => {
    const w = batchWorld(catalogYaml("{ window: 5m }"));
    w.timer.failNext = 1;
    await expect(w.engine.dispatch(upload("in/a.png", 1))).rejects.toThrow(/SendMessage/);
    const [again] = await w.engine.dispatch(upload("in/a.png", 1));
    expect(again).toMatchObject({ kind: "duplicate", slot: 0 });
    expect(w.timer.requests).toEqual([{ job: "thumbs", batchId: (again as { batchId: string }).batchId, at: w.clock.ms + 5 * MINUTE }]);
    // Later uploads read nothing more than they need and ask no timer.
    await w.engine.dispatch(upload("in/b.png", 2));
    expect(w.timer.requests).toHaveLength(1);
  });

  it("a redelivery finishing what a crashed delivery began reports the batch's window, and asks no second reminder", async () => {
    const w = batchWorld(catalogYaml("{ window: 5m }"));
    const crashing = new Engine({
      ...w.deps,
      batches: {
        ...w.deps.batches!,
        fault: (point) => {
          if (point === "placed") throw new Error("injected crash after placing the item");
        },
      },
    });
    const [opened] = await w.engine.dispatch(upload("in/a.png", 1));
    await expect(crashing.dispatch(upload("in/b.png", 2))).rejects.toThrow(/injected/);
    w.clock.advance(1000);
    expect(await w.engine.dispatch(upload("in/b.png", 2))).toEqual([{ kind: "batched", job: "thumbs", batchId: (opened as { batchId: string }).batchId, slot: 1, opened: false, closesAt: (opened as { closesAt: number }).closesAt }]);
    expect(w.timer.requests).toHaveLength(1);
  });

  it("a reminder for a job that does not batch is refused", async () => {
    const w = batchWorld(catalogYaml("{ window: 1m }"));
    await expect(w.engine.settleBatch("single")).rejects.toBeInstanceOf(ValidationError);
    await expect(batchSettler(w.deps)("nope")).rejects.toThrow(/does not batch/);
  });
});

describe("composition", () => {
  const bare = (yaml: string) => ({
    router: buildRouter(loadYaml(yaml)),
    store: new MemoryRunStore(),
    launcher: new MemoryLauncher(),
    publisher: new MemoryPublisher(),
    clock: new ManualClock(),
    randomBytes: countingBytes,
    sha256,
  });

  it("a catalog that batches, without the batch ports, fails at construction naming the job", () => {
    const deps = bare(catalogYaml("{ window: 1m }"));
    for (const compose of [() => new Engine(deps), () => dispatcher(deps), () => sweeper(deps), () => batchSettler(deps)]) {
      expect(compose).toThrow(ConfigurationError);
      expect(compose).toThrow(/job thumbs batches uploads/);
    }
    // Tracking tasks never meets a batch.
    expect(() => taskEventRecorder(deps)).not.toThrow();
  });

  it("a batching job without batch.manifest needs the stage's manifest bucket", () => {
    const w = batchWorld(catalogYaml("{ window: 1m }"));
    const { stageManifestBucket: _, ...batches } = w.deps.batches!;
    expect(() => new Engine({ ...w.deps, batches })).toThrow(/job thumbs batches uploads but names no batch.manifest/);
    const own = loadYaml(catalogYaml("{ window: 1m, manifest: s3://own-manifests/t/ }"));
    expect(() => new Engine({ ...w.deps, router: buildRouter(own), batches })).not.toThrow();
  });

  it("a catalog that does not batch needs none", () => {
    const deps = bare(catalogYaml("{ window: 1m }").replace(/ {4}batch: .*\n/, "").replace(/"\$\{batch\.manifest\}", "\$\{batch\.count\}"/, ""));
    expect(() => new Engine(deps)).not.toThrow();
  });
});
