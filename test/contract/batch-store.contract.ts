/**
 * The BatchStore contract: every adapter (memory, SQLite, DynamoDB) passes this one suite. Each write is
 * checked against its model.ts rule, and the batch protocols (core/batch/flow.ts) run over the store:
 * concurrent writers, redeliveries, crashes between any two side effects, abandoned slots. Races use two
 * handles onto the same data (`store`, `peer`: two connections to one SQLite file, two DynamoDB clients).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BatchPolicy } from "../../src/core/catalog/types.ts";
import { isTombstone, type BatchHead, type BatchItemRecord, type BatchStore, type Tombstone } from "../../src/core/batch/index.ts";
import { BatchWorld, GRACE_MS, shuffled, upload } from "../core/batch/harness.ts";

export interface BatchStoreFixture {
  readonly store: BatchStore;
  /** A second handle onto the same data. */
  readonly peer: BatchStore;
  /** Listing requests sent so far, where the adapter pages (DynamoDB). */
  readonly listingRequests?: () => number;
  close(): Promise<void> | void;
}

const T0 = Date.UTC(2026, 11, 2, 5, 0, 0);
const sec = (s: number) => T0 + s * 1000;
const policy = (p: Partial<BatchPolicy> = {}): BatchPolicy => ({ window: 60, maxItems: 1000, ...p });
const head = (h: Partial<BatchHead> = {}): BatchHead => ({ job: "thumbs", batchId: "b1", state: "open", opened: T0, closesAt: sec(60), count: 1, bytes: 100, ...h });
const record = (slot: number, batchId = "b1", key = `k${slot}`): BatchItemRecord => ({
  itemKey: `thumbs#s3:in:${key}:01`,
  bucket: "in",
  key,
  size: 100,
  etag: "e",
  versionId: "",
  sequencer: "01",
  eventTime: "2026-12-02T05:00:00Z",
  job: "thumbs",
  batchId,
  slot,
  joinedAt: T0,
});
const tombstone = (slot: number, batchId = "b1"): Tombstone => ({ job: "thumbs", batchId, slot, tombstone: true, at: sec(90) });

/** Runs `fn` on `items` with at most `limit` in flight. */
async function inFlight<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

export function batchStoreContract(name: string, open: () => Promise<BatchStoreFixture>): void {
  describe(`BatchStore contract: ${name}`, () => {
    let fixture: BatchStoreFixture;
    let store: BatchStore;
    let peer: BatchStore;

    beforeEach(async () => {
      fixture = await open();
      ({ store, peer } = fixture);
    });
    afterEach(async () => {
      await fixture.close();
    });

    describe("the head's conditions (applyHeadChange)", () => {
      it("opens a job's first batch once, and answers the open head to a second opener", async () => {
        expect(await store.getHead("thumbs")).toBeUndefined();
        expect(await store.changeHead("thumbs", { kind: "open", head: head() })).toEqual({ ok: true, record: head() });
        expect(await peer.getHead("thumbs")).toEqual(head());
        expect(await peer.changeHead("thumbs", { kind: "open", head: head({ batchId: "b2" }) })).toEqual({ ok: false, current: head() });
        expect(await store.getHead("other")).toBeUndefined();
      });

      it("reserves the next slot for each reservation until maxItems, and none after", async () => {
        await store.changeHead("thumbs", { kind: "open", head: head() });
        const reserve = { kind: "reserve", batchId: "b1", size: 10, now: sec(1), maxItems: 3 } as const;
        expect(await store.changeHead("thumbs", reserve)).toEqual({ ok: true, record: head({ count: 2, bytes: 110 }) });
        expect(await peer.changeHead("thumbs", reserve)).toEqual({ ok: true, record: head({ count: 3, bytes: 120 }) });
        expect(await store.changeHead("thumbs", reserve)).toEqual({ ok: false, current: head({ count: 3, bytes: 120 }) });
      });

      it.each([
        ["after the window", { now: sec(60) }],
        ["past maxBytes", { bytesAtMost: 99 }],
        ["to another batch", { batchId: "b0" }],
      ])("refuses a reservation %s", async (_what, over) => {
        await store.changeHead("thumbs", { kind: "open", head: head() });
        const r = await peer.changeHead("thumbs", { kind: "reserve", batchId: "b1", size: 10, now: sec(1), maxItems: 9, bytesAtMost: 100, ...over });
        expect(r).toEqual({ ok: false, current: head() });
      });

      it("closes an open batch once, hands a closing one off once, then lets the next batch replace it", async () => {
        await store.changeHead("thumbs", { kind: "open", head: head() });
        const closing = head({ state: "closing", closedAt: sec(60), closeReason: "window" });
        expect(await store.changeHead("thumbs", { kind: "close", batchId: "b1", closedAt: sec(60), reason: "window" })).toEqual({ ok: true, record: closing });
        expect(await peer.changeHead("thumbs", { kind: "close", batchId: "b1", closedAt: sec(61), reason: "max-items" })).toEqual({ ok: false, current: closing });
        expect(await peer.changeHead("thumbs", { kind: "reserve", batchId: "b1", size: 1, now: sec(1), maxItems: 9 })).toEqual({ ok: false, current: closing });
        expect(await peer.changeHead("thumbs", { kind: "open", replaces: "b1", head: head({ batchId: "b2" }) })).toEqual({ ok: false, current: closing });
        const closed = { ...closing, state: "closed", runId: "R1" } as const;
        expect(await peer.changeHead("thumbs", { kind: "hand-off", batchId: "b1", runId: "R1" })).toEqual({ ok: true, record: closed });
        expect(await store.changeHead("thumbs", { kind: "hand-off", batchId: "b1", runId: "R2" })).toEqual({ ok: false, current: closed });
        expect(await store.changeHead("thumbs", { kind: "open", replaces: "b0", head: head({ batchId: "b2" }) })).toEqual({ ok: false, current: closed });
        expect(await store.changeHead("thumbs", { kind: "open", replaces: "b1", head: head({ batchId: "b2" }) })).toEqual({ ok: true, record: head({ batchId: "b2" }) });
      });

      it("hands a batch of tombstones off without a run", async () => {
        await store.changeHead("thumbs", { kind: "open", head: head({ state: "closing", closedAt: sec(60) }) });
        expect(await store.changeHead("thumbs", { kind: "hand-off", batchId: "b1" })).toEqual({ ok: true, record: head({ state: "closed", closedAt: sec(60) }) });
        expect(await peer.getHead("thumbs")).not.toHaveProperty("runId");
      });
    });

    describe("a closing batch kept as the next one's previous", () => {
      const closing = head({ state: "closing", closedAt: sec(60), closeReason: "window" });
      const prev = { batchId: "b1", opened: T0, closesAt: sec(60), count: 1, bytes: 100, closedAt: sec(60), closeReason: "window" } as const;
      const next = head({ batchId: "b2", opened: sec(61), closesAt: sec(121), previous: prev });

      it("opens the next batch beside a closing one, once, and hands them off in order", async () => {
        await store.changeHead("thumbs", { kind: "open", head: head() });
        await store.changeHead("thumbs", { kind: "close", batchId: "b1", closedAt: sec(60), reason: "window" });
        expect(await peer.changeHead("thumbs", { kind: "open", replaces: "b1", head: next })).toEqual({ ok: true, record: next });
        expect(await store.getHead("thumbs")).toEqual(next);
        expect(await store.changeHead("thumbs", { kind: "open", replaces: "b1", head: head({ batchId: "b3", previous: prev }) })).toEqual({ ok: false, current: next });
        const reserved = { ...next, count: 2, bytes: 110 };
        expect(await store.changeHead("thumbs", { kind: "reserve", batchId: "b2", size: 10, now: sec(62), maxItems: 9 })).toEqual({ ok: true, record: reserved });
        const second = { ...reserved, state: "closing", closedAt: sec(63), closeReason: "max-items" } as const;
        expect(await peer.changeHead("thumbs", { kind: "close", batchId: "b2", closedAt: sec(63), reason: "max-items" })).toEqual({ ok: true, record: second });
        // Two closing: no third batch, and the head is handed off only after its previous.
        expect(await peer.changeHead("thumbs", { kind: "open", replaces: "b2", head: head({ batchId: "b3", previous: { ...prev, batchId: "b2" } }) })).toEqual({ ok: false, current: second });
        expect(await store.changeHead("thumbs", { kind: "hand-off", batchId: "b2", runId: "R2" })).toEqual({ ok: false, current: second });
        expect(await store.changeHead("thumbs", { kind: "hand-off", batchId: "b2", runId: "R2", previous: true })).toEqual({ ok: false, current: second });
        const { previous: _, ...alone } = second;
        expect(await store.changeHead("thumbs", { kind: "hand-off", batchId: "b1", runId: "R1", previous: true })).toEqual({ ok: true, record: alone });
        expect(await peer.changeHead("thumbs", { kind: "hand-off", batchId: "b1", runId: "R1", previous: true })).toEqual({ ok: false, current: alone });
        expect(await peer.getHead("thumbs")).toEqual(alone);
        expect(await peer.changeHead("thumbs", { kind: "hand-off", batchId: "b2", runId: "R2" })).toEqual({ ok: true, record: { ...alone, state: "closed", runId: "R2" } });
      });

      it("opens beside a closing batch only when the opener saw it closing, and over a closed one only when it saw it closed", async () => {
        await store.changeHead("thumbs", { kind: "open", head: head() });
        expect(await peer.changeHead("thumbs", { kind: "open", replaces: "b1", head: next })).toEqual({ ok: false, current: head() });
        await store.changeHead("thumbs", { kind: "close", batchId: "b1", closedAt: sec(60), reason: "window" });
        await store.changeHead("thumbs", { kind: "hand-off", batchId: "b1", runId: "R1" });
        // A batch handed off since the opener read it closing is not brought back as a previous.
        expect(await peer.changeHead("thumbs", { kind: "open", replaces: "b1", head: next })).toEqual({ ok: false, current: { ...closing, state: "closed", runId: "R1" } });
        expect(await peer.changeHead("thumbs", { kind: "open", replaces: "b1", head: head({ batchId: "b2" }) })).toMatchObject({ ok: true });
      });

      it("an item finding its batch closing opens the next at once; one finding two closing waits; the timer hands both off, in order, after a crash at any write", async () => {
        /** A closing batch whose slot 1 a dead writer holds; c opens the next beside it, d fills that; e finds both closing. */
        const scenario = async (job: string, crashAt: number | undefined) => {
          const w = new BatchWorld(job, policy({ maxItems: 2 }), [store, peer]);
          const mine = ["a", "c", "d", "e"].map((k) => ({ ...upload(k), itemKey: `${job}#${k}` }));
          await w.deliverSurviving(mine[0]!, T0);
          const first = (await store.getHead(job))!;
          await store.changeHead(job, { kind: "reserve", batchId: first.batchId, size: 100, now: sec(1), maxItems: 2 });
          w.crashAfter(crashAt);
          const outcomes: string[] = [];
          const tick = async (at: number) => {
            try {
              return await w.tick(at);
            } catch {
              return undefined;
            }
          };
          await tick(sec(2));
          for (const [n, item] of mine.slice(1).entries()) outcomes.push((await w.deliverSurviving(item, sec(3 + n))).kind);
          await w.settleAll(sec(40));
          return { w, first, outcomes };
        };
        const clean = await scenario("thumbs", undefined);
        expect(clean.outcomes).toEqual(["added", "added", "added"]);
        // a (and the tombstone) | c, d | e
        expect(clean.w.manifestKeys().map((m) => m.join(" ")).sort()).toEqual(["in/a", "in/c in/d", "in/e"]);
        expect(clean.w.runs.size).toBe(3);
        expect(clean.w.effects).toContain("closed");

        for (let at = 1; at <= clean.w.effects.length; at++) {
          const { w } = await scenario(`beside-${at}`, at);
          expect([...w.manifestKeys().flat()].sort()).toEqual(["in/a", "in/c", "in/d", "in/e"]);
          expect(w.runs.size).toBe(w.manifests.size);
          expect(await store.getHead(`beside-${at}`)).toMatchObject({ state: "closed" });
          expect(await store.getHead(`beside-${at}`)).not.toHaveProperty("previous");
        }
      });

      it("a batch that became the next one's previous while it was being completed is handed off as the previous", async () => {
        const w = new BatchWorld("thumbs", policy(), [store, peer]);
        await w.deliver(upload("a"), T0);
        const first = (await store.getHead("thumbs"))!;
        let interleaved = false;
        const racing: BatchStore = {
          getHead: (job) => store.getHead(job),
          changeHead: (job, change) => store.changeHead(job, change),
          getItemKey: (k) => store.getItemKey(k),
          changeItemKey: (c) => store.changeItemKey(c),
          writeSlot: (slot) => store.writeSlot(slot),
          listSlots: async (batchId) => {
            const slots = await store.listSlots(batchId);
            if (!interleaved) {
              interleaved = true;
              // Between the settler's read of the closing head and its hand-off, an upload opens the next batch beside it.
              expect(await w.deliver(upload("b"), sec(61), 1)).toMatchObject({ kind: "added", at: { slot: 0 } });
            }
            return slots;
          },
        };
        const settler = new BatchWorld("thumbs", policy(), [racing]);
        expect(await settler.tick(sec(60))).toMatchObject({ kind: "handed-off", batchId: first.batchId });
        expect(interleaved).toBe(true);
        const after = (await peer.getHead("thumbs"))!;
        expect(after).toMatchObject({ state: "open", count: 1, opened: sec(61) });
        expect(after).not.toHaveProperty("previous");
        expect(settler.manifestKeys()).toEqual([["in/a"]]);
      });

      it("an item finding two batches closing gets wait, and hands neither off", async () => {
        const w = new BatchWorld("thumbs", policy({ maxItems: 1 }), [store, peer]);
        await w.deliver(upload("a"), T0);
        const first = (await store.getHead("thumbs"))!;
        // a filled and handed off its batch; a dead writer holds the next batch's slot 0, which a timer closed.
        const stuck = head({ batchId: "b2", opened: sec(1), closesAt: sec(61), bytes: 100 });
        expect(await store.changeHead("thumbs", { kind: "open", replaces: first.batchId, head: stuck })).toMatchObject({ ok: true });
        await store.changeHead("thumbs", { kind: "close", batchId: "b2", closedAt: sec(2), reason: "max-items" });
        expect(await w.deliver(upload("b"), sec(3))).toMatchObject({ kind: "added", at: { slot: 0 } }); // opens beside b2, fills, closes
        const listings = (await store.listSlots("b2")).length;
        expect(await w.deliver(upload("c"), sec(4))).toEqual({ kind: "wait", until: sec(5) });
        expect((await store.listSlots("b2")).length).toBe(listings);
        expect(w.runs.size).toBe(1);
        await w.settleAll(sec(40));
        expect(w.manifestKeys()).toHaveLength(2);
        expect(await w.deliver(upload("c"), sec(41))).toMatchObject({ kind: "added", at: { slot: 0 } });
      });
    });

    describe("the item key's conditions (applyItemKeyChange)", () => {
      const at = { batchId: "b1", slot: 4 };
      const place = (over: Record<string, unknown> = {}) => ({ kind: "place", itemKey: "k", job: "thumbs", at, now: sec(1), ...over }) as const;
      it("places a key once, moves it only from the slot it names", async () => {
        const placed = { itemKey: "k", job: "thumbs", placed: at };
        expect(await store.changeItemKey(place())).toEqual({ ok: true, record: placed });
        expect(await peer.changeItemKey(place({ at: { batchId: "b1", slot: 5 } }))).toMatchObject({ ok: false, current: placed });
        const moved = { batchId: "b2", slot: 0 };
        expect(await store.changeItemKey(place({ at: moved, from: { batchId: "b1", slot: 3 } }))).toMatchObject({ ok: false, current: placed });
        expect(await store.changeItemKey(place({ at: moved, from: at }))).toEqual({ ok: true, record: { ...placed, placed: moved } });
        expect(await peer.changeItemKey(place({ at: { batchId: "b3", slot: 1 }, from: at }))).toMatchObject({ ok: false, current: { placed: moved } });
        expect(await peer.getItemKey("k")).toMatchObject({ ...placed, placed: moved });
      });

      it("moves nothing for a key never placed", async () => {
        expect(await store.changeItemKey(place({ itemKey: "nobody", from: at }))).toEqual({ ok: false, current: undefined });
        expect(await store.getItemKey("nobody")).toBeUndefined();
      });
    });

    describe("slots (applySlotWrite) and their listing", () => {
      it("writes a slot once: a second record or a tombstone finds the first", async () => {
        expect(await store.writeSlot(record(0))).toEqual({ ok: true, record: record(0) });
        expect(await peer.writeSlot(record(0, "b1", "other"))).toEqual({ ok: false, current: record(0) });
        expect(await peer.writeSlot(tombstone(0))).toEqual({ ok: false, current: record(0) });
        expect(await peer.writeSlot(tombstone(1))).toEqual({ ok: true, record: tombstone(1) });
        expect(await store.writeSlot(record(1))).toEqual({ ok: false, current: tombstone(1) });
      });

      it("lists a batch's slots in slot order, and only that batch's", async () => {
        for (const slot of [record(2), tombstone(0), record(11), record(1), record(0, "b2")]) await store.writeSlot(slot);
        expect(await peer.listSlots("b1")).toEqual([tombstone(0), record(1), record(2), record(11)]);
        expect(await peer.listSlots("b2")).toEqual([record(0, "b2")]);
        expect(await peer.listSlots("b3")).toEqual([]);
      });

      it("lists a 10,000-item batch completely, with a strongly consistent read right after the writes", { timeout: 300_000 }, async () => {
        const items = Array.from({ length: 10_000 }, (_, i) => record(i, "big", `incoming/${String(i).padStart(5, "0")}-${"x".repeat(150)}.png`));
        await inFlight(items, 32, async (item, i) => {
          const written = await (i % 2 === 0 ? store : peer).writeSlot(item);
          if (!written.ok) throw new Error(`slot ${i} refused`);
        });
        const before = fixture.listingRequests?.();
        const slots = await peer.listSlots("big");
        expect(slots).toHaveLength(10_000);
        expect(slots.map((s) => s.slot)).toEqual(items.map((_, i) => i));
        expect(slots.map((s) => (isTombstone(s) ? "" : s.itemKey))).toEqual(items.map((i) => i.itemKey));
        // DynamoDB answers a Query with at most 1 MB ("Paginating table query results", DynamoDB Developer Guide): ~4 MB of slots is several pages.
        if (before !== undefined) expect(fixture.listingRequests!() - before).toBeGreaterThan(2);
      });
    });

    describe("the item protocol over the store", () => {
      it("N concurrent writers of distinct items to one open batch get exactly N slots", async () => {
        const w = new BatchWorld("thumbs", policy(), [store, peer]);
        await w.deliver(upload("first"), T0);
        const items = Array.from({ length: 40 }, (_, i) => upload(`k${i}`));
        const outcomes = await Promise.all(items.map((item, i) => w.deliver(item, sec(1), i)));
        expect(outcomes.map((o) => o.kind)).toEqual(items.map(() => "added"));
        const h = await store.getHead("thumbs");
        expect(h).toMatchObject({ state: "open", count: 41, bytes: 4100 });
        const slots = await store.listSlots(h!.batchId);
        expect(slots.map((s) => s.slot)).toEqual(Array.from({ length: 41 }, (_, i) => i));
        expect(new Set(slots.map((s) => (isTombstone(s) ? "" : s.itemKey))).size).toBe(41);
      });

      it("the same item delivered three times at once takes one slot; redelivered later, it is a duplicate", async () => {
        const w = new BatchWorld("thumbs", policy({ maxItems: 100 }), [store, peer]);
        const items = Array.from({ length: 12 }, (_, i) => upload(`k${i}`));
        await Promise.all([...items, ...items, ...items].map((item, i) => w.deliver(item, T0, i)));
        expect(await Promise.all(items.map((item) => w.deliver(item, sec(1)).then((o) => o.kind)))).toEqual(items.map(() => "duplicate"));
        // Every slot reserved is written already: a losing delivery tombstones its own slot, leaving no gap to wait for.
        const h = (await store.getHead("thumbs"))!;
        const slots = await store.listSlots(h.batchId);
        expect(slots.map((s) => s.slot)).toEqual(Array.from({ length: h.count }, (_, i) => i));
        expect(slots.filter((s) => !isTombstone(s))).toHaveLength(12);
        expect(await w.tick(sec(60))).toMatchObject({ kind: "handed-off", batchId: h.batchId });
        expect(w.manifestKeys()).toHaveLength(1);
        expect([...w.manifestKeys()[0]!].sort()).toEqual(items.map((i) => `in/${i.key}`).sort());
        expect(w.runs.size).toBe(1);
      });

      it("maxItems 100 with 250 uploads makes batches of 100, 100 and 50 with disjoint manifests", async () => {
        const w = new BatchWorld("thumbs", policy({ maxItems: 100 }), [store, peer]);
        const items = Array.from({ length: 250 }, (_, i) => upload(`incoming/${String(i).padStart(3, "0")}.png`));
        for (const [i, item] of items.entries()) await w.deliver(item, T0 + i, i);
        expect(w.runs.size).toBe(2); // the first two closed at once when full
        await w.settleAll(sec(60.25));
        const manifests = w.manifestKeys();
        expect(manifests.map((m) => m.length)).toEqual([100, 100, 50]);
        expect(new Set(manifests.flat()).size).toBe(250);
        expect(manifests[0]).toEqual(items.slice(0, 100).map((i) => `in/${i.key}`));
        expect([...w.runs.values()].map((r) => r.context["batch.count"])).toEqual(["100", "100", "50"]);
        expect(w.timers.map((t) => t.at)).toEqual([sec(60), sec(60.1), sec(60.2)]);
      });
    });

    describe("abandoned slots", () => {
      it("a closing batch waits for a reserved slot through the grace, then tombstones it and hands off the rest", async () => {
        const w = new BatchWorld("thumbs", policy(), [store, peer]);
        await w.deliver(upload("a"), T0);
        // A writer reserves slot 1 and dies before writing it.
        const batchId = (await store.getHead("thumbs"))!.batchId;
        expect(await store.changeHead("thumbs", { kind: "reserve", batchId, size: 100, now: sec(1), maxItems: 1000 })).toMatchObject({ ok: true });
        await w.deliver(upload("b"), sec(2));

        // Looked at again soon after the close, then less and less often, until the grace is over.
        expect(await w.tick(sec(60))).toEqual({ kind: "wait", until: sec(61) });
        expect(await w.tick(sec(64))).toEqual({ kind: "wait", until: sec(68) });
        expect(await w.tick(sec(60) + GRACE_MS - 1)).toEqual({ kind: "wait", until: sec(60) + GRACE_MS });
        expect(w.runs.size).toBe(0);
        expect(await w.tick(sec(60) + GRACE_MS, 1)).toMatchObject({ kind: "handed-off", batchId });
        expect((await store.listSlots(batchId)).map((s) => (isTombstone(s) ? "tombstone" : s.key))).toEqual(["a", "tombstone", "b"]);
        expect(w.manifestKeys()).toEqual([["in/a", "in/b"]]);
        expect([...w.runs.values()][0]!.context).toMatchObject({ "batch.count": "2", "batch.bytes": "200" });
        // The late writer finds the tombstone.
        expect(await peer.writeSlot(record(1, batchId))).toMatchObject({ ok: false, current: { tombstone: true } });
      });

      it("a late writer's record keeps its slot: the closer tombstones only empty slots", async () => {
        const w = new BatchWorld("thumbs", policy(), [store, peer]);
        await w.deliver(upload("a"), T0);
        const batchId = (await store.getHead("thumbs"))!.batchId;
        await store.changeHead("thumbs", { kind: "reserve", batchId, size: 100, now: sec(1), maxItems: 1000 });
        expect(await w.tick(sec(60))).toMatchObject({ kind: "wait" });
        await peer.writeSlot(record(1, batchId, "late"));
        expect(await w.tick(sec(61))).toMatchObject({ kind: "handed-off" });
        expect(w.manifestKeys()).toEqual([["in/a", "in/late"]]);
      });

      it("a batch whose every slot was abandoned closes without a manifest or a run, and the item goes to the next", async () => {
        const w = new BatchWorld("thumbs", policy(), [store, peer]);
        const item = upload("a");
        w.crashAfter(1); // reserved (opening the batch): dead before placing
        await expect(w.deliver(item, T0)).rejects.toThrow(/crash after side effect 1 \(reserved\)/);
        const first = (await store.getHead("thumbs"))!;
        // The redelivery finds the batch due: it closes it, opens the next beside it, and, its item in, settles the first (still within the grace).
        const again = await w.deliver(item, sec(90));
        expect(again).toMatchObject({ kind: "added", at: { slot: 0 }, settled: { kind: "wait", until: sec(91) } });
        expect(await store.getHead("thumbs")).toMatchObject({ state: "open", count: 1, opened: sec(90), previous: { batchId: first.batchId, count: 1, closeReason: "window" } });
        expect(await w.tick(sec(91))).toEqual({ kind: "wait", until: sec(92) });
        expect(w.runs.size).toBe(0);
        expect(await w.tick(sec(90) + GRACE_MS)).toEqual({ kind: "open", until: sec(150), previous: { batchId: first.batchId } });
        expect(await store.getHead("thumbs")).not.toHaveProperty("previous");
        expect(w.runs.size).toBe(0);
        await w.settleAll(sec(200));
        expect(w.manifestKeys()).toEqual([["in/a"]]);
        expect(w.runs.size).toBe(1);
        expect(w.effects.filter((e) => e === "tombstoned")).toHaveLength(1);
      });
    });

    describe("crashes", () => {
      it("a crash between any two side effects of the item protocol, close or hand-off loses no item and makes no second run", async () => {
        const items = Array.from({ length: 7 }, (_, i) => upload(`k${i}`));
        const order = shuffled([...items.keys(), ...items.keys()], 3);
        const expected = items.map((i) => `in/${i.key}`).sort();
        /** Each delivery of the items in `order`, surviving crashes, then the timers until every batch is closed: on a job of its own, so each round starts from no batch. */
        const runAll = async (job: string, crashAt: number | undefined) => {
          const w = new BatchWorld(job, policy({ maxItems: 3 }), [store, peer]);
          w.crashAfter(crashAt);
          const mine = items.map((i) => ({ ...i, itemKey: i.itemKey.replace(/^thumbs/, job) }));
          for (const [n, i] of order.entries()) await w.deliverSurviving(mine[i]!, T0 + n * 1000, n);
          await w.settleAll(sec(120));
          return w;
        };
        const clean = await runAll("thumbs", undefined);
        expect(clean.manifestKeys().map((m) => m.length)).toEqual([3, 3, 1]);
        expect([...new Set(clean.effects)].sort()).toEqual(["closed", "handed-off", "manifest", "placed", "reserved", "run", "written"]);

        let crashes = 0;
        for (let at = 1; at <= clean.effects.length; at++) {
          const w = await runAll(`job-${at}`, at);
          crashes += w.effects.length >= at ? 1 : 0;
          expect([...w.manifestKeys().flat()].sort()).toEqual(expected);
          expect(w.runs.size).toBe(w.manifests.size);
          for (const m of w.manifestKeys()) expect(m.length).toBeLessThanOrEqual(3);
          expect(await store.getHead(`job-${at}`)).toMatchObject({ state: "closed" });
        }
        expect(crashes).toBe(clean.effects.length);
      });
    });
  });
}
