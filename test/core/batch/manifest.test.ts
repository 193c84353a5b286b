import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import type { Job, S3Trigger } from "../../../src/core/catalog/types.ts";
import { triggerContext } from "../../../src/core/context/index.ts";
import { isRunId, runIdTime } from "../../../src/core/ids.ts";
import { newRunFor } from "../../../src/core/runs/occurrence.ts";
import { batchContext, batchItemOf, batchRunId, handOff, manifestBody, manifestLocationFor, manifestObject, type BatchHead, type BatchItemRecord, type BatchSlot, type HandOff, type Tombstone } from "../../../src/core/batch/index.ts";
import { loadEvent, setField } from "../context/samples.ts";
import { sha256 } from "./harness.ts";

const OPENED = Date.UTC(2026, 11, 2, 5, 0, 0, 250);

function catalogJob(batch: string): Job {
  const r = loadCatalog(
    `version: 1\nservice: acme\ndefaults: { network: { subnets: [subnet-1] } }\njobs:\n  thumbs:\n    on: { s3: { bucket: media-uploads, key: { prefix: incoming/ } } }\n    run: { taskDefinition: t, container: c, command: ["\${batch.manifest}"] }\n    batch: ${batch}\n`,
    "berth.yml",
  );
  if (!r.ok) throw r.error;
  return r.catalog.jobs.thumbs!;
}

function record(key: string, over: Partial<BatchItemRecord> = {}): BatchItemRecord {
  return { itemKey: `thumbs#s3:media-uploads:${key}:01`, job: "thumbs", batchId: "b".repeat(32), slot: 0, bucket: "media-uploads", key, size: 10, etag: "e1", versionId: "", sequencer: "01", eventTime: "2026-12-02T05:00:01Z", joinedAt: OPENED, ...over };
}

const closing: BatchHead = { job: "thumbs", batchId: "b".repeat(32), state: "closing", opened: OPENED, closesAt: OPENED + 60_000, count: 3, bytes: 30, closedAt: OPENED + 60_000, closeReason: "window" };

describe("the item an S3 event brings", () => {
  const job = catalogJob("{ window: 1m }");
  const trigger = job.triggers[0] as S3Trigger;

  it("carries the object's facts and the very idempotency key its unbatched run would have", () => {
    const event = loadEvent("s3-object-created.json");
    const ctx = triggerContext(trigger, event);
    if (!ctx.ok) throw ctx.error;
    const item = batchItemOf("thumbs", trigger, ctx.context, event, sha256);
    const run = newRunFor({ job: "thumbs", service: "acme", trigger, context: ctx.context, event }, "01JDQ8Z3X5M1V6K7R2T9ABCDEF", sha256);
    if (!item.ok || !run.ok) throw new Error("expected both");
    expect(item.item).toEqual({
      itemKey: run.run.trigger.idempotencyKey,
      bucket: "media-uploads",
      key: "incoming/cat.png",
      size: 482133,
      etag: "9b2cf535f27731c974343645a3985328",
      versionId: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
      sequencer: "006745919F2A7C3B51",
      eventTime: "2024-11-26T09:14:07Z",
    });
    expect(item.item.itemKey).toBe("thumbs#s3:media-uploads:incoming/cat.png:3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
  });

  it("is refused when the event has neither version id nor sequencer, as an unbatched run is", () => {
    let event = setField(loadEvent("s3-object-created.json"), "detail.object.version-id", undefined);
    event = setField(event, "detail.object.sequencer", undefined);
    const ctx = triggerContext(trigger, event);
    if (!ctx.ok) throw ctx.error;
    const item = batchItemOf("thumbs", trigger, ctx.context, event, sha256);
    expect(item.ok).toBe(false);
    expect(!item.ok && item.error.message).toMatch(/neither version-id nor sequencer/);
  });
});

describe("the manifest", () => {
  it("is one JSON line per object, sorted by bucket, key and event time, absent fields null", () => {
    const body = manifestBody([
      record("incoming/b.png", { size: 2, versionId: "v2" }),
      record("incoming/a\nb.png", { etag: "", sequencer: "" }),
      record("incoming/b.png", { itemKey: "thumbs#s3:media-uploads:incoming/b.png:00", size: 1, eventTime: "2026-12-02T05:00:00Z" }),
      record("é.png", { bucket: "a-bucket" }),
    ]);
    expect(body).toBe(
      [
        '{"bucket":"a-bucket","key":"é.png","size":10,"etag":"e1","versionId":null,"sequencer":"01","eventTime":"2026-12-02T05:00:01Z"}',
        '{"bucket":"media-uploads","key":"incoming/a\\nb.png","size":10,"etag":null,"versionId":null,"sequencer":null,"eventTime":"2026-12-02T05:00:01Z"}',
        '{"bucket":"media-uploads","key":"incoming/b.png","size":1,"etag":"e1","versionId":null,"sequencer":"01","eventTime":"2026-12-02T05:00:00Z"}',
        '{"bucket":"media-uploads","key":"incoming/b.png","size":2,"etag":"e1","versionId":"v2","sequencer":"01","eventTime":"2026-12-02T05:00:01Z"}',
        "",
      ].join("\n"),
    );
  });

  it("is the same bytes whatever order the items were listed in", () => {
    const items = Array.from({ length: 50 }, (_, i) => record(`k${(i * 37) % 50}`, { itemKey: `thumbs#s3:media-uploads:k${i}:01` }));
    expect(manifestBody([...items].reverse())).toBe(manifestBody(items));
  });

  it.each([
    ["in the catalog's folder", "{ window: 1m, manifest: s3://media-manifests/thumbs/ }", undefined, "s3://media-manifests/thumbs/" + "b".repeat(32) + ".jsonl"],
    ["at the top of the catalog's bucket", "{ window: 1m, manifest: s3://media-manifests }", undefined, "s3://media-manifests/" + "b".repeat(32) + ".jsonl"],
    ["in the stage's bucket, under the job's name", "{ window: 1m }", "acme-prod-manifests", "s3://acme-prod-manifests/thumbs/" + "b".repeat(32) + ".jsonl"],
  ])("goes %s", (_what, batch, stageBucket, url) => {
    const loc = manifestLocationFor(catalogJob(batch), stageBucket);
    if (!loc.ok) throw loc.error;
    expect(manifestObject(loc.location, "b".repeat(32)).url).toBe(url);
  });

  it("has nowhere to go without a folder in the catalog or a stage bucket", () => {
    const loc = manifestLocationFor(catalogJob("{ window: 1m }"), undefined);
    expect(!loc.ok && loc.error.message).toMatch(/names no batch\.manifest, and this stage has no manifest bucket/);
  });
});

describe("the hand-off of a closed batch", () => {
  const location = { bucket: "media-manifests", prefix: "thumbs/" };
  const items = [record("a", { itemKey: "ka", slot: 0 }), record("b", { itemKey: "kb", slot: 1 }), record("c", { itemKey: "kc", slot: 2 })];
  const stone = (slot: number): Tombstone => ({ job: "thumbs", batchId: "b".repeat(32), slot, tombstone: true, at: OPENED + 90_000 });

  function made(head: BatchHead, slots: readonly BatchSlot[]): Extract<HandOff, { empty: false }> {
    const h = handOff(head, slots, location, "acme", sha256);
    if (!h.ok) throw h.error;
    if (h.handOff.empty) throw new Error("empty");
    return h.handOff;
  }

  it("makes the manifest, the run with the batch's context, and the change to closed", () => {
    const h = made(closing, items);
    const url = `s3://media-manifests/thumbs/${"b".repeat(32)}.jsonl`;
    expect(h.manifest).toEqual({ bucket: "media-manifests", key: `thumbs/${"b".repeat(32)}.jsonl`, url, body: manifestBody(items) });
    expect(h.run).toEqual({
      id: batchRunId(closing, sha256),
      job: "thumbs",
      service: "acme",
      trigger: { kind: "s3", summary: `batch of 3 uploads (30 bytes): ${url}`, idempotencyKey: `thumbs#batch:${"b".repeat(32)}` },
      context: { "batch.manifest": url, "batch.count": "3", "batch.bytes": "30", "batch.opened": "2026-12-02T05:00:00.250Z" },
    });
    expect(h.change).toEqual({ kind: "hand-off", batchId: "b".repeat(32), runId: h.run.id });
    expect(batchContext(closing, items, h.manifest)).toEqual(h.run.context);
  });

  it("counts the items, not the slots reserved: a tombstone is left out of the manifest and the count", () => {
    const h = made({ ...closing, count: 4, bytes: 40 }, [items[0]!, stone(1), { ...items[1]!, slot: 2 }, { ...items[2]!, slot: 3 }]);
    expect(h.manifest.body).toBe(manifestBody(items));
    expect(h.run.context).toMatchObject({ "batch.count": "3", "batch.bytes": "30" });
  });

  it("closes a batch of tombstones without a manifest or a run", () => {
    const h = handOff({ ...closing, count: 2 }, [stone(0), stone(1)], location, "acme", sha256);
    expect(h).toEqual({ ok: true, handOff: { empty: true, change: { kind: "hand-off", batchId: "b".repeat(32) } } });
  });

  it("names the same run every time: a ULID of the batch's opening, from the batch id", () => {
    const id = batchRunId(closing, sha256);
    expect(isRunId(id)).toBe(true);
    expect(runIdTime(id)).toBe(OPENED);
    expect(batchRunId({ ...closing, closedAt: OPENED + 99_000 }, sha256)).toBe(id);
    expect(batchRunId({ ...closing, batchId: "c".repeat(32) }, sha256)).not.toBe(id);
  });

  it.each([
    ["a listing missing a reserved slot", items.slice(0, 2), /reserved 3 slots but 1 of them \(2\) are not written yet/],
    ["a listing with another batch's item in a slot's place", [...items.slice(0, 2), record("d", { itemKey: "kd", slot: 2, batchId: "c".repeat(32) })], /but 1 of them \(2\)/],
  ])("refuses %s as transient, never writing a short manifest", (_what, listed, message) => {
    const h = handOff(closing, listed, location, "acme", sha256);
    expect(h.ok).toBe(false);
    if (!h.ok) {
      expect(h.error.retryable).toBe(true);
      expect(h.error.message).toMatch(message);
    }
  });

  it("refuses a batch that is not closing", () => {
    const h = handOff({ ...closing, state: "open" }, items, location, "acme", sha256);
    expect(!h.ok && h.error.message).toMatch(/is open, not closing/);
  });
});
