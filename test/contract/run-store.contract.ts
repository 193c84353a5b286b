/**
 * The RunStore contract: every adapter (memory, SQLite, DynamoDB) passes this
 * one suite. Races use two handles onto the same data (`store` and `peer`:
 * two connections to one SQLite file, two DynamoDB clients) so the atomicity
 * the port promises is exercised across connections, not only inside one.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "../../src/core/errors.ts";
import type { RunStore } from "../../src/core/ports.ts";
import { boundKey, MAX_IDEMPOTENCY_KEY_BYTES } from "../../src/core/runs/idempotency.ts";
import type { Run } from "../../src/core/runs/model.ts";
import type { RunStatus } from "../../src/core/runs/status.ts";
import { advance, makeRun, T0 } from "./run-fixtures.ts";

export interface RunStoreFixture {
  readonly store: RunStore;
  /** A second handle onto the same data. */
  readonly peer: RunStore;
  close(): Promise<void> | void;
}

const ids = (runs: readonly Run[]): string[] => runs.map((r) => r.id);
const minutes = (n: number): number => T0 + n * 60_000;

const OPEN: readonly RunStatus[] = ["QUEUED", "STARTING", "PROVISIONING", "PENDING", "RUNNING", "RETRY_WAIT"];
const TERMINAL: readonly RunStatus[] = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"];

export function runStoreContract(name: string, open: () => Promise<RunStoreFixture>): void {
  describe(`RunStore contract: ${name}`, () => {
    let fixture: RunStoreFixture;
    let store: RunStore;
    let peer: RunStore;

    beforeEach(async () => {
      fixture = await open();
      ({ store, peer } = fixture);
    });
    afterEach(async () => {
      await fixture.close();
    });

    /** Creates runs in order, failing the test if any of them was not new. */
    async function seed(runs: readonly Run[]): Promise<Run[]> {
      for (const run of runs) expect((await store.createRun(run)).created).toBe(true);
      return [...runs];
    }

    describe("createRun", () => {
      it("stores a run under a new idempotency key and getRun returns it unchanged", async () => {
        const run = makeRun();
        expect(await store.createRun(run)).toEqual({ created: true, run });
        expect(await store.getRun(run.id)).toEqual(run);
        expect(await peer.getRun(run.id)).toEqual(run);
      });

      it("returns the stored run for a key already taken, and writes nothing", async () => {
        const first = makeRun({ key: "resize#s3:media:a.png:1" });
        await store.createRun(first);
        const duplicate = makeRun({ key: "resize#s3:media:a.png:1", at: minutes(1), context: { "params.size": "999" } });

        expect(await store.createRun(duplicate)).toEqual({ created: false, existing: first });
        expect(await store.getRun(duplicate.id)).toBeUndefined();
        expect(ids(await store.listRuns({}))).toEqual([first.id]);
      });

      it("returns the current record, not the first one, once the run has moved on", async () => {
        const first = makeRun({ key: "k" });
        await store.createRun(first);
        const running = advance(first, "RUNNING");
        await store.updateRun(running, first.version);

        expect(await store.createRun(makeRun({ key: "k" }))).toEqual({ created: false, existing: running });
      });

      it("creates a second run for a different key", async () => {
        const [a, b] = [makeRun({ key: "resize#git:x:main:1" }), makeRun({ key: "resize#git:x:main:2", at: minutes(1) })];
        expect((await store.createRun(a)).created).toBe(true);
        expect((await store.createRun(b)).created).toBe(true);
        expect(ids(await store.listRuns({}))).toEqual([b.id, a.id]);
      });

      it("of ten concurrent creates with one key exactly one creates and the rest get that run", async () => {
        const candidates = Array.from({ length: 10 }, (_, i) => makeRun({ key: "resize#event:e-1", at: minutes(i) }));
        const results = await Promise.all(candidates.map((run, i) => (i % 2 === 0 ? store : peer).createRun(run)));

        const created = results.flatMap((r) => (r.created ? [r.run] : []));
        expect(created).toHaveLength(1);
        for (const r of results) if (!r.created) expect(r.existing).toEqual(created[0]);
        expect(ids(await store.listRuns({}))).toEqual(ids(created));
      });

      it("rejects a run whose id is taken by a run with another key", async () => {
        const run = makeRun({ key: "a" });
        await store.createRun(run);
        const clash = { ...run, trigger: { ...run.trigger, idempotencyKey: "b" } };

        await expect(store.createRun(clash)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.getRun(run.id)).toEqual(run);
        expect((await store.createRun(makeRun({ key: "b" }))).created).toBe(true);
      });

      it("returns undefined for an id it never stored", async () => {
        expect(await store.getRun(makeRun().id)).toBeUndefined();
      });
    });

    describe("updateRun", () => {
      it("replaces the run when the stored version is the expected one", async () => {
        const [run] = await seed([makeRun()]);
        const next = advance(run!, "STARTING");
        expect(await store.updateRun(next, run!.version)).toEqual({ ok: true, run: next });
        expect(await peer.getRun(run!.id)).toEqual(next);
      });

      it("writes nothing and returns the current run when the stored version moved on (lost update)", async () => {
        const [run] = await seed([makeRun()]);
        const winner = advance(run!, "STARTING");
        await store.updateRun(winner, run!.version);
        const loser = advance(run!, "CANCELLED");

        expect(await peer.updateRun(loser, run!.version)).toEqual({ ok: false, current: winner });
        expect(await store.getRun(run!.id)).toEqual(winner);
      });

      it("returns no current record when the run does not exist", async () => {
        const run = makeRun();
        expect(await store.updateRun(advance(run, "STARTING"), run.version)).toEqual({ ok: false, current: undefined });
        expect(await store.getRun(run.id)).toBeUndefined();
      });

      it("of concurrent updates from one version exactly one wins", async () => {
        const [run] = await seed([makeRun()]);
        const contenders = (["STARTING", "CANCELLED", "SKIPPED", "STARTING", "CANCELLED", "SKIPPED"] as const).map((s, i) =>
          advance(run!, s, run!.updatedAt + i + 1),
        );
        const results = await Promise.all(contenders.map((c, i) => (i % 2 === 0 ? store : peer).updateRun(c, run!.version)));

        const winners = results.flatMap((r) => (r.ok ? [r.run] : []));
        expect(winners).toHaveLength(1);
        expect(await store.getRun(run!.id)).toEqual(winners[0]);
      });
    });

    describe("listRuns", () => {
      // resize: QUEUED@0, FAILED@1, SUCCEEDED@2, FAILED@3; thumbs: RUNNING@4, FAILED@5 — ids sort by minute.
      const history = (): Run[] => [
        makeRun({ job: "resize", at: minutes(0) }),
        makeRun({ job: "resize", status: "FAILED", at: minutes(1) }),
        makeRun({ job: "resize", status: "SUCCEEDED", at: minutes(2) }),
        makeRun({ job: "resize", status: "FAILED", at: minutes(3) }),
        makeRun({ job: "thumbs", status: "RUNNING", at: minutes(4) }),
        makeRun({ job: "thumbs", status: "FAILED", at: minutes(5) }),
      ];

      it.each([
        { query: {}, expected: [5, 4, 3, 2, 1, 0] },
        { query: { job: "resize" }, expected: [3, 2, 1, 0] },
        { query: { status: "FAILED" as const }, expected: [5, 3, 1] },
        { query: { job: "resize", status: "FAILED" as const }, expected: [3, 1] },
        { query: { limit: 2 }, expected: [5, 4] },
        { query: { job: "thumbs", limit: 1 }, expected: [5] },
        { query: { status: "FAILED" as const, limit: 2 }, expected: [5, 3] },
        { query: { job: "nobody" }, expected: [] },
      ])("$query returns the matching runs newest first", async ({ query, expected }) => {
        const runs = await seed(history());
        expect(ids(await store.listRuns(query))).toEqual(expected.map((i) => runs[i]!.id));
      });

      it.each([
        { query: {}, expected: [3, 2, 1, 0] },
        { query: { job: "resize" }, expected: [3, 2, 1, 0] },
        { query: { status: "FAILED" as const }, expected: [3, 1] },
      ])("$query with `before` returns only older runs", async ({ query, expected }) => {
        const runs = await seed(history());
        expect(ids(await store.listRuns({ ...query, before: runs[4]!.id }))).toEqual(expected.map((i) => runs[i]!.id));
      });

      it("pages through everything with `before`, each run once, newest first", async () => {
        const runs = await seed(Array.from({ length: 7 }, (_, i) => makeRun({ job: "backup", at: minutes(i) })));
        const seen: string[] = [];
        for (let page = await store.listRuns({ job: "backup", limit: 3 }); page.length > 0; ) {
          seen.push(...ids(page));
          page = await store.listRuns({ job: "backup", limit: 3, before: page[page.length - 1]!.id });
        }
        expect(seen).toEqual(ids(runs).reverse());
      });

      it("finds rare statuses far back in the history", async () => {
        const runs = await seed(
          Array.from({ length: 40 }, (_, i) => makeRun({ job: "backup", status: i % 13 === 0 ? "TIMED_OUT" : "SUCCEEDED", at: minutes(i) })),
        );
        expect(ids(await store.listRuns({ job: "backup", status: "TIMED_OUT", limit: 2 }))).toEqual([runs[39]!.id, runs[26]!.id]);
      });

      it("returns 50 runs when no limit is given", async () => {
        const runs = await seed(Array.from({ length: 55 }, (_, i) => makeRun({ at: minutes(i) })));
        expect(ids(await store.listRuns({}))).toEqual(ids(runs).reverse().slice(0, 50));
      });

      it.each([0, -1, 1.5, 1001])("rejects limit %s as a validation error", async (limit) => {
        await expect(store.listRuns({ limit })).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe("open runs", () => {
      it("lists every non-terminal status and no terminal one, oldest first", async () => {
        const open = OPEN.map((status, i) => makeRun({ status, job: i % 2 === 0 ? "resize" : "thumbs", at: minutes(i) }));
        const closed = TERMINAL.map((status, i) => makeRun({ status, at: minutes(10 + i) }));
        await seed([...closed, ...open]);

        expect(ids(await store.listOpenRuns())).toEqual(ids(open));
      });

      it("keeps an ended run listed until its end was announced, then drops it", async () => {
        const [a, b] = await seed([makeRun({ at: minutes(0) }), makeRun({ at: minutes(1) })]);
        const running = advance(a!, "RUNNING");
        await store.updateRun(running, a!.version);
        expect(ids(await store.listOpenRuns())).toEqual([a!.id, b!.id]);
        expect(await store.listOpenRuns()).toEqual([running, b]);

        const ended = advance(running, "SUCCEEDED");
        await store.updateRun(ended, running.version);
        expect(ids(await store.listOpenRuns())).toEqual([a!.id, b!.id]);

        await store.updateRun({ ...ended, announced: true, version: ended.version + 1 }, ended.version);
        expect(ids(await store.listOpenRuns())).toEqual([b!.id]);
      });

    });

    describe("listQueuedRuns", () => {
      // Created out of order, so a store that returns runs in write order fails.
      const queue = (): Run[] => [
        makeRun({ job: "resize", at: minutes(6) }),
        makeRun({ job: "resize", status: "RUNNING", at: minutes(2) }),
        makeRun({ job: "resize-large", at: minutes(1) }),
        makeRun({ job: "resize", at: minutes(0) }),
        makeRun({ job: "resize", status: "CANCELLED", at: minutes(4) }),
        makeRun({ job: "thumbs", at: minutes(5) }),
        makeRun({ job: "resize", status: "RETRY_WAIT", at: minutes(7) }),
        makeRun({ job: "resize", at: minutes(3) }),
      ];

      it.each([
        { job: "resize", limit: 1000, expected: [3, 7, 0] },
        { job: "resize", limit: 2, expected: [3, 7] },
        { job: "resize", limit: 1, expected: [3] },
        { job: "resize-large", limit: 10, expected: [2] },
        { job: "res", limit: 10, expected: [] },
        { job: "nobody", limit: 10, expected: [] },
      ])("lists the QUEUED runs of $job only, oldest first, at most $limit", async ({ job, limit, expected }) => {
        const runs = await seed(queue());
        expect(await store.listQueuedRuns(job, limit)).toEqual(expected.map((i) => runs[i]));
        expect(ids(await peer.listQueuedRuns(job, limit))).toEqual(expected.map((i) => runs[i]!.id));
      });

      it.each(["STARTING", "SKIPPED", "CANCELLED"] as const)("drops a run from the listing once it moves to %s", async (status) => {
        const [a, b] = await seed([makeRun({ at: minutes(0) }), makeRun({ at: minutes(1) })]);
        expect((await store.updateRun(advance(a!, status), a!.version)).ok).toBe(true);

        expect(await store.listQueuedRuns("resize", 10)).toEqual([b]);
        expect(await peer.listQueuedRuns("resize", 10)).toEqual([b]);
      });

      it("lists the current record of a run updated while still QUEUED", async () => {
        const [run] = await seed([makeRun()]);
        const checked = { ...run!, checkedAt: minutes(1), updatedAt: minutes(1), version: run!.version + 1 };
        expect((await store.updateRun(checked, run!.version)).ok).toBe(true);

        expect(await peer.listQueuedRuns("resize", 10)).toEqual([checked]);
      });

      it.each([0, -1, 1.5, 1001, Number.NaN])("rejects limit %s as a validation error", async (limit) => {
        await expect(store.listQueuedRuns("resize", limit)).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe("concurrency slots", () => {
      it("grants up to max slots and refuses the next", async () => {
        expect(await store.acquireSlot("resize", "r1", 2, minutes(0))).toBe(true);
        expect(await store.acquireSlot("resize", "r2", 2, minutes(1))).toBe(true);
        expect(await store.acquireSlot("resize", "r3", 2, minutes(2))).toBe(false);
        expect(await store.slotHolders("resize")).toEqual(
          expect.arrayContaining([
            { runId: "r1", since: minutes(0) },
            { runId: "r2", since: minutes(1) },
          ]),
        );
        expect(await store.slotHolders("resize")).toHaveLength(2);
      });

      it("grants a slot the run already holds again, keeping when it was first taken", async () => {
        await store.acquireSlot("resize", "r1", 1, minutes(0));
        expect(await store.acquireSlot("resize", "r1", 1, minutes(5))).toBe(true);
        expect(await store.slotHolders("resize")).toEqual([{ runId: "r1", since: minutes(0) }]);
      });

      it("frees a released slot for another run", async () => {
        await store.acquireSlot("resize", "r1", 1, minutes(0));
        await store.releaseSlot("resize", "r1");
        expect(await store.slotHolders("resize")).toEqual([]);
        expect(await store.acquireSlot("resize", "r2", 1, minutes(1))).toBe(true);
        expect(await store.slotHolders("resize")).toEqual([{ runId: "r2", since: minutes(1) }]);
      });

      it("treats releasing a slot that is not held as a no-op", async () => {
        await store.acquireSlot("resize", "r1", 1, minutes(0));
        await expect(store.releaseSlot("resize", "r9")).resolves.toBeUndefined();
        await expect(store.releaseSlot("never-seen", "r1")).resolves.toBeUndefined();
        expect(await store.slotHolders("resize")).toEqual([{ runId: "r1", since: minutes(0) }]);
        expect(await store.slotHolders("never-seen")).toEqual([]);
        expect(await store.acquireSlot("never-seen", "r2", 1, minutes(1))).toBe(true);
      });

      it("counts slots per job", async () => {
        expect(await store.acquireSlot("resize", "r1", 1, minutes(0))).toBe(true);
        expect(await store.acquireSlot("thumbs", "t1", 1, minutes(0))).toBe(true);
        expect(await store.acquireSlot("resize", "r2", 1, minutes(0))).toBe(false);
      });

      it("never refuses when the cap is unlimited", async () => {
        for (let i = 0; i < 5; i += 1) expect(await store.acquireSlot("fanout", `r${i}`, Number.POSITIVE_INFINITY, minutes(i))).toBe(true);
        expect(await store.slotHolders("fanout")).toHaveLength(5);
      });

      it.each([
        { max: 1, held: 0, racers: 20, winners: 1 },
        { max: 5, held: 3, racers: 20, winners: 2 },
      ])("of $racers concurrent acquires with max $max and $winners slot(s) left, exactly $winners win", async ({ max, held, racers, winners }) => {
        for (let i = 0; i < held; i += 1) await store.acquireSlot("render", `held-${i}`, max, minutes(0));
        const runIds = Array.from({ length: racers }, (_, i) => `racer-${i}`);
        const granted = await Promise.all(runIds.map((id, i) => (i % 2 === 0 ? store : peer).acquireSlot("render", id, max, minutes(1))));

        const won = runIds.filter((_, i) => granted[i]);
        expect(won).toHaveLength(winners);
        const holders = (await peer.slotHolders("render")).map((h) => h.runId);
        expect(holders.sort()).toEqual([...Array.from({ length: held }, (_, i) => `held-${i}`), ...won].sort());
      });
    });

    describe("large records", () => {
      it("round-trips a context holding a 1,024-byte UTF-8 S3 key and a bounded idempotency key", async () => {
        const s3Key = `incoming/${"é".repeat(504)}/ü.png`;
        expect(new TextEncoder().encode(s3Key).length).toBe(1024);
        const key = boundKey(`resize#s3:media:${s3Key}:3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY`, (data) => createHash("sha256").update(data).digest());
        expect(new TextEncoder().encode(key).length).toBeLessThanOrEqual(MAX_IDEMPOTENCY_KEY_BYTES);
        const run = makeRun({ key, context: { "s3.bucket": "media", "s3.key": s3Key } });

        await store.createRun(run);
        expect(await peer.getRun(run.id)).toEqual(run);
        expect(await store.createRun(makeRun({ key }))).toEqual({ created: false, existing: run });
      });

      it("round-trips a run with ten attempts through create and update", async () => {
        const run = makeRun({ status: "RETRY_WAIT", attempts: 10 });
        await store.createRun(run);
        const failed = advance(run, "FAILED");
        expect((await store.updateRun(failed, run.version)).ok).toBe(true);
        expect(await peer.getRun(run.id)).toEqual(failed);
        expect((await store.listRuns({ status: "FAILED" }))[0]?.attempts).toHaveLength(10);
      });
    });
  });
}
