import { describe, expect, it } from "vitest";
import type { BatchPolicy } from "../../../src/core/catalog/types.ts";
import {
  afterReserve,
  applyHeadChange,
  applyItemKeyChange,
  applySlotWrite,
  batchIdFor,
  completion,
  decideItem,
  nextStep,
  placeItem,
  reservedSlot,
  BATCH_WAIT_MS,
  recheckAt,
  type BatchHead,
  type ItemFacts,
} from "../../../src/core/batch/index.ts";
import { MemoryBatchStore } from "../../support/memory-batch-store.ts";
import { BatchWorld, sha256, shuffled, upload } from "./harness.ts";

const T0 = Date.UTC(2026, 11, 2, 5, 0, 0);
const sec = (s: number) => T0 + s * 1000;

function policy(p: Partial<BatchPolicy> = {}): BatchPolicy {
  return { window: 60, maxItems: 1000, ...p };
}

function head(h: Partial<BatchHead> = {}): BatchHead {
  return { job: "thumbs", batchId: "b1", state: "open", opened: T0, closesAt: sec(60), count: 3, bytes: 300, ...h };
}

describe("where an item goes", () => {
  it.each([
    ["no batch yet: it opens one", undefined, policy(), 100, sec(1), { kind: "open" }],
    ["the last batch is closed: it opens the next", head({ state: "closed", runId: "r" }), policy(), 100, sec(1), { kind: "open" }],
    ["an open batch with room: it joins", head(), policy(), 100, sec(59.999), { kind: "join", head: head({ count: 4, bytes: 400 }) }],
    ["the item fills the batch: it joins and the batch closes at once", head({ count: 9 }), policy({ maxItems: 10 }), 100, sec(1), { kind: "join", head: head({ count: 10, bytes: 400 }), full: "max-items" }],
    ["the item reaches maxBytes exactly: it joins and the batch closes", head(), policy({ maxBytes: 400 }), 100, sec(1), { kind: "join", head: head({ count: 4, bytes: 400 }), full: "max-bytes" }],
    ["the window has passed: the batch closes first", head(), policy(), 100, sec(60), { kind: "settle", step: { kind: "close", change: { kind: "close", batchId: "b1", closedAt: sec(60), reason: "window" } } }],
    ["the item would pass maxBytes: the batch closes first, the item opens the next", head(), policy({ maxBytes: 350 }), 100, sec(1), { kind: "settle", step: { kind: "close", change: { kind: "close", batchId: "b1", closedAt: sec(1), reason: "max-bytes" } } }],
    ["a full batch left open by a crash: it closes first", head({ count: 10 }), policy({ maxItems: 10 }), 100, sec(1), { kind: "settle", step: { kind: "close", change: { kind: "close", batchId: "b1", closedAt: sec(1), reason: "max-items" } } }],
    ["the batch is closing: it takes no more", head({ state: "closing", closedAt: sec(5), closeReason: "max-items" }), policy(), 100, sec(6), { kind: "settle", step: { kind: "hand-off", head: head({ state: "closing", closedAt: sec(5), closeReason: "max-items" }) } }],
  ] as const)("%s", (_what, h, p, size, now, expected) => {
    expect(placeItem(h, p, size, now)).toEqual(expected);
  });

  it("an item larger than maxBytes opens a batch of its own, which closes at once", () => {
    const d = decideItem({ job: "thumbs", policy: policy({ maxBytes: 1000 }), head: undefined, key: undefined, item: upload("big.bin", 5000), now: T0, sha256 });
    if (d.kind !== "reserve" || d.change.kind !== "open") throw new Error(d.kind);
    expect(afterReserve(d.change.head, true, policy({ maxBytes: 1000 }), T0)).toEqual({ kind: "close", change: { kind: "close", batchId: d.change.head.batchId, reason: "max-bytes", closedAt: T0 } });
  });
});


describe("the item protocol's next step", () => {
  const item = upload("a.png", 250);
  const facts = (over: Partial<ItemFacts>): ItemFacts => ({ job: "thumbs", policy: policy(), head: head(), key: undefined, item, now: sec(1), sha256, ...over });
  const at = { batchId: "b1", slot: 7 };
  const keyAt = (placed: { batchId: string; slot: number }) => ({ itemKey: item.itemKey, job: "thumbs", placed });
  const closing = head({ state: "closing", closedAt: sec(1), closeReason: "max-items" });

  it.each([
    ["its key is placed: write the record into that slot, whatever the head says", facts({ key: keyAt(at), head: undefined }), { kind: "write", record: { ...item, job: "thumbs", batchId: "b1", slot: 7, joinedAt: sec(1) } }],
    [
      "its key is placed at a tombstone: reserve a slot in the current batch, moving the key from there",
      facts({ key: keyAt({ batchId: "b0", slot: 3 }), tombstoned: true }),
      { kind: "reserve", change: { kind: "reserve", batchId: "b1", size: 250, now: sec(1), maxItems: 1000 }, from: { batchId: "b0", slot: 3 } },
    ],
    [
      "no record of its key: reserve the next slot of the open batch, bytes bounded as a condition can compare",
      facts({ policy: policy({ maxBytes: 1000 }) }),
      { kind: "reserve", change: { kind: "reserve", batchId: "b1", size: 250, now: sec(1), maxItems: 1000, bytesAtMost: 750 } },
    ],
    ["the open batch is due: close it first", facts({ now: sec(60) }), { kind: "close", change: { kind: "close", batchId: "b1", closedAt: sec(60), reason: "window" } }],
    [
      "the batch is closing: open the next beside it, the closing one its previous",
      facts({ head: closing, now: sec(2) }),
      {
        kind: "reserve",
        change: {
          kind: "open",
          replaces: "b1",
          head: { job: "thumbs", batchId: batchIdFor("thumbs", "b1", item.itemKey, sha256), state: "open", opened: sec(2), closesAt: sec(62), count: 1, bytes: 250, previous: { batchId: "b1", opened: T0, closesAt: sec(60), count: 3, bytes: 300, closedAt: sec(1), closeReason: "max-items" } },
        },
      },
    ],
    ["the batch is closing and so is the one before it: wait", facts({ head: { ...closing, previous: { batchId: "b0", opened: T0, closesAt: sec(60), count: 1, bytes: 1, closedAt: T0, closeReason: "max-items" } } }), { kind: "wait", until: sec(1) + BATCH_WAIT_MS }],
  ] as const)("%s", (_what, f, expected) => {
    expect(decideItem(f)).toEqual(expected);
  });

  it("opening names the batch after the job, the batch it replaces and the first item's key, with slot 0 reserved", () => {
    const d = decideItem(facts({ head: head({ state: "closed", runId: "r" }), policy: policy({ window: 90 }), now: T0 }));
    const id = batchIdFor("thumbs", "b1", item.itemKey, sha256);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(d).toEqual({ kind: "reserve", change: { kind: "open", replaces: "b1", head: { job: "thumbs", batchId: id, state: "open", opened: T0, closesAt: sec(90), count: 1, bytes: 250 } } });
    // The same item opening after another batch (its first slot was tombstoned) names another batch.
    expect(batchIdFor("thumbs", id, item.itemKey, sha256)).not.toBe(id);
    expect(batchIdFor("thumbs", undefined, item.itemKey, sha256)).not.toBe(id);
    expect(batchIdFor("other-job", "b1", item.itemKey, sha256)).not.toBe(id);
  });

  it.each([
    ["the reservation opened a batch with room: schedule its close", head({ count: 1 }), true, { kind: "schedule-close", batchId: "b1", at: sec(60) }],
    ["the reservation filled the batch: close it", head({ count: 10 }), false, { kind: "close", change: { kind: "close", batchId: "b1", closedAt: sec(1), reason: "max-items" } }],
    ["the reservation joined a batch with room: nothing", head({ count: 5 }), false, { kind: "none" }],
  ] as const)("after a reservation, %s", (_what, h, opened, expected) => {
    expect(afterReserve(h, opened, policy({ maxItems: 10 }), sec(1))).toEqual(expected);
  });
});

const prev = (batchId: string) => ({ batchId, opened: T0 - 60_000, closesAt: T0, count: 2, bytes: 200, closedAt: T0, closeReason: "window" }) as const;

describe("the conditions a store applies", () => {
  const reserve = { kind: "reserve", batchId: "b1", size: 100, now: sec(1), maxItems: 4 } as const;
  it.each([
    ["a reservation in the open batch with room", head(), reserve, head({ count: 4, bytes: 400 })],
    ["a reservation in another batch", head({ batchId: "b2" }), reserve, undefined],
    ["a reservation in a full batch", head({ count: 4 }), reserve, undefined],
    ["a reservation whose bytes would pass maxBytes", head(), { ...reserve, bytesAtMost: 299 }, undefined],
    ["a reservation that reaches maxBytes", head(), { ...reserve, bytesAtMost: 300 }, head({ count: 4, bytes: 400 })],
    ["a reservation after the window", head(), { ...reserve, now: sec(60) }, undefined],
    ["a reservation in a closing batch", head({ state: "closing" }), reserve, undefined],
    ["a close of the open batch", head(), { kind: "close", batchId: "b1", closedAt: sec(2), reason: "window" }, head({ state: "closing", closedAt: sec(2), closeReason: "window" })],
    ["a second close", head({ state: "closing", closedAt: sec(2), closeReason: "window" }), { kind: "close", batchId: "b1", closedAt: sec(3), reason: "max-items" }, undefined],
    ["a hand-off of the closing batch", head({ state: "closing", closedAt: sec(2) }), { kind: "hand-off", batchId: "b1", runId: "R" }, head({ state: "closed", closedAt: sec(2), runId: "R" })],
    ["a hand-off without a run", head({ state: "closing", closedAt: sec(2) }), { kind: "hand-off", batchId: "b1" }, head({ state: "closed", closedAt: sec(2) })],
    ["a hand-off of an open batch", head(), { kind: "hand-off", batchId: "b1", runId: "R" }, undefined],
    ["an open over a closed batch it names", head({ state: "closed" }), { kind: "open", replaces: "b1", head: head({ batchId: "b2", count: 1 }) }, head({ batchId: "b2", count: 1 })],
    ["an open over a closed batch it does not name", head({ state: "closed" }), { kind: "open", replaces: "b0", head: head({ batchId: "b2" }) }, undefined],
    ["an open over a closing batch, as if it were closed", head({ state: "closing" }), { kind: "open", replaces: "b1", head: head({ batchId: "b2" }) }, undefined],
    ["an open over a closing batch it keeps as previous", head({ state: "closing" }), { kind: "open", replaces: "b1", head: head({ batchId: "b2", previous: prev("b1") }) }, head({ batchId: "b2", previous: prev("b1") })],
    ["an open over a closing batch that has a previous", head({ state: "closing", previous: prev("b0") }), { kind: "open", replaces: "b1", head: head({ batchId: "b2", previous: prev("b1") }) }, undefined],
    ["an open over a closed batch, as if it were closing", head({ state: "closed" }), { kind: "open", replaces: "b1", head: head({ batchId: "b2", previous: prev("b1") }) }, undefined],
    ["a hand-off of the head's previous", head({ previous: prev("b0") }), { kind: "hand-off", batchId: "b0", runId: "R", previous: true }, head()],
    ["a hand-off of a previous the head does not have", head({ previous: prev("b0") }), { kind: "hand-off", batchId: "b9", previous: true }, undefined],
    ["a hand-off of a closing head before its previous", head({ state: "closing", previous: prev("b0") }), { kind: "hand-off", batchId: "b1", runId: "R" }, undefined],
    ["a reservation in an open batch with a previous", head({ previous: prev("b0") }), reserve, head({ count: 4, bytes: 400, previous: prev("b0") })],
    ["an open over an open batch", head(), { kind: "open", head: head({ batchId: "b2" }) }, undefined],
  ] as const)("%s", (_what, current, change, after) => {
    expect(applyHeadChange(current, change)).toEqual(after === undefined ? { ok: false, current } : { ok: true, record: after });
  });

  it("reservations decided on one read each get their own slot while there is room: they commute", () => {
    let current: BatchHead = head({ count: 2 });
    const slots = ["a", "b", "c"].map((key) => {
      const d = decideItem({ job: "thumbs", policy: policy({ maxItems: 4 }), head: head({ count: 2 }), key: undefined, item: upload(key), now: sec(1), sha256 });
      if (d.kind !== "reserve") throw new Error(d.kind);
      const r = applyHeadChange(current, d.change);
      if (!r.ok) return undefined;
      current = r.record;
      return reservedSlot(r.record).slot;
    });
    expect(slots).toEqual([2, 3, undefined]);
    expect(current).toEqual(head({ count: 4, bytes: 500 }));
  });

  const at = { batchId: "b1", slot: 2 };
  const placed = { itemKey: "k", job: "thumbs", placed: at };
  const place = { kind: "place", itemKey: "k", job: "thumbs", at, now: sec(1) } as const;
  const elsewhere = { batchId: "b2", slot: 0 };
  it.each([
    ["a first placement", undefined, place, placed],
    ["a second first placement (another delivery's)", placed, { ...place, at: { batchId: "b1", slot: 3 } }, undefined],
    ["a first placement over an expired record", { ...placed, placed: elsewhere, expiresAt: Math.floor(sec(1) / 1000) - 1 }, place, placed],
    ["a first placement over a record expiring this second", { ...placed, placed: elsewhere, expiresAt: Math.floor(sec(1) / 1000) }, place, undefined],
    ["a move from the slot it names", placed, { ...place, at: elsewhere, from: at }, { ...placed, placed: elsewhere }],
    ["a move from another slot", placed, { ...place, at: elsewhere, from: { batchId: "b1", slot: 1 } }, undefined],
    ["a move of a key never placed", undefined, { ...place, from: elsewhere }, undefined],
  ] as const)("item key: %s", (_what, current, change, after) => {
    expect(applyItemKeyChange(current, change)).toEqual(after === undefined ? { ok: false, current } : { ok: true, record: after });
  });

  it("writes a slot only while it is empty", () => {
    const stone = { job: "thumbs", batchId: "b1", slot: 0, tombstone: true, at: T0 } as const;
    expect(applySlotWrite(undefined, stone)).toEqual({ ok: true, record: stone });
    const item = { ...upload("a"), job: "thumbs", batchId: "b1", slot: 0, joinedAt: T0 };
    expect(applySlotWrite(stone, item)).toEqual({ ok: false, current: stone });
  });
});

describe("whether a closing batch is complete", () => {
  const closing = head({ state: "closing", count: 3, closedAt: sec(60) });
  const item = (slot: number, batchId = "b1") => ({ ...upload(`k${slot}`), job: "thumbs", batchId, slot, joinedAt: T0 });
  const stone = (slot: number, at: number) => ({ job: "thumbs", batchId: "b1", slot, tombstone: true, at }) as const;
  const [a, b, c] = [item(0), item(1), item(2)];

  it.each([
    ["every reserved slot written: complete", [a, b, c], sec(60), { kind: "complete", slots: [a, b, c] }],
    ["a tombstone counts as written", [a, stone(1, sec(50)), c], sec(60), { kind: "complete", slots: [a, stone(1, sec(50)), c] }],
    ["a slot missing within the grace: wait for its writer", [a, c], sec(89.999), { kind: "wait", until: sec(90), missing: [1] }],
    ["a slot missing after the grace: tombstone it", [a], sec(90), { kind: "tombstone", tombstones: [stone(1, sec(90)), stone(2, sec(90))] }],
    ["another batch's slot is no slot of this one", [a, item(1, "b2"), c], sec(61), { kind: "wait", until: sec(90), missing: [1] }],
  ] as const)("%s", (_what, slots, now, expected) => {
    expect(completion(closing, slots, now, 30_000)).toEqual(expected);
  });
});

describe("when a closer looks again at a batch missing slots", () => {
  it("soon after the close, then doubling the time since it, never past the grace", () => {
    const grace = sec(90);
    const seen: number[] = [];
    for (let now = sec(60); now < grace; now = recheckAt(sec(60), now, grace, 1000)) seen.push((now - sec(60)) / 1000);
    expect(seen).toEqual([0, 1, 2, 4, 8, 16]);
  });
});

describe("what a batch needs next", () => {
  it.each([
    ["open before its window ends: wait for it", head(), sec(59), { kind: "wait", until: sec(60) }],
    ["open at its window's end: close", head(), sec(60), { kind: "close", change: { kind: "close", batchId: "b1", closedAt: sec(60), reason: "window" } }],
    ["closing: hand off", head({ state: "closing", closedAt: sec(60) }), sec(61), { kind: "hand-off", head: head({ state: "closing", closedAt: sec(60) }) }],
    ["closed: nothing", head({ state: "closed", closedAt: sec(60), runId: "R" }), sec(61), { kind: "none" }],
  ] as const)("%s", (_what, h, now, expected) => {
    expect(nextStep(h, policy(), now)).toEqual(expected);
  });
});

describe("batches from many uploads", () => {
  const world = (p: BatchPolicy) => new BatchWorld("thumbs", p, [new MemoryBatchStore()]);

  it("1,000 uploads in one window make one batch whose manifest lists exactly those objects", async () => {
    const w = world(policy({ window: 60, maxItems: 10_000 }));
    const items = Array.from({ length: 1000 }, (_, i) => upload(`incoming/${i}.png`));
    for (const [i, item] of items.entries()) await w.deliver(item, T0 + i * 50);
    expect(w.runs.size).toBe(0);
    expect(await w.tick(sec(59.999))).toEqual({ kind: "open", until: sec(60) }); // the last upload came at 49.95 s; the window of the first ends at 60 s
    expect(w.runs.size).toBe(0);
    expect(await w.tick(sec(60))).toMatchObject({ kind: "handed-off" });
    expect(w.runs.size).toBe(1);
    const [run] = [...w.runs.values()];
    expect(run!.context).toMatchObject({ "batch.count": "1000", "batch.bytes": "100000", "batch.opened": "2026-12-02T05:00:00.000Z" });
    expect(w.manifestKeys()).toHaveLength(1);
    expect(new Set(w.manifestKeys()[0])).toEqual(new Set(items.map((i) => `in/${i.key}`)));
    expect(w.manifestKeys()[0]).toHaveLength(1000);
    expect(w.timers).toEqual([{ job: "thumbs", at: sec(60) }]);
  });

  it("a redelivered upload is a duplicate: each delivered three times, in any order, changes nothing", async () => {
    const items = Array.from({ length: 250 }, (_, i) => upload(`k${i}`));
    const w = world(policy({ maxItems: 100 }));
    const outcomes = [];
    for (const item of shuffled([...items, ...items, ...items], 12)) outcomes.push((await w.deliver(item, T0)).kind);
    await w.tick(sec(60));
    expect(outcomes.filter((o) => o === "added")).toHaveLength(250);
    expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(500);
    expect(w.manifestKeys().map((m) => m.length)).toEqual([100, 100, 50]);
    expect(new Set(w.manifestKeys().flat()).size).toBe(250);
    expect(w.runs.size).toBe(3);
    // The manifests do not depend on arrival order: each lists its items sorted.
    for (const m of w.manifestKeys()) expect(m).toEqual([...m].sort());
  });

  it("maxBytes closes a batch when it is reached, and an upload that would pass it opens the next", async () => {
    const w = world(policy({ maxBytes: 1000 }));
    for (const [i, size] of [400, 400, 400, 600, 5000, 1].entries()) await w.deliver(upload(`k${i}`, size), T0 + i);
    await w.tick(sec(61));
    // 400+400 (the third would pass 1000) | 400+600 (reaches it) | 5000 alone | 1 (closed by its window)
    expect([...w.runs.values()].map((r) => r.context["batch.bytes"])).toEqual(["800", "1000", "5000", "1"]);
  });

  it("an upload after the window opens a new batch once the old one is handed off", async () => {
    const w = world(policy({ window: 10 }));
    await w.deliver(upload("a"), T0);
    await w.deliver(upload("b"), sec(10)); // the timer was lost: the item closes the due batch first
    expect(w.runs.size).toBe(1);
    expect(await w.stores[0]!.getHead("thumbs")).toMatchObject({ state: "open", count: 1, opened: sec(10) });
  });
});
