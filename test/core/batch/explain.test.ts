import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { explainEvent } from "../../../src/core/explain.ts";
import type { BatchHead } from "../../../src/core/batch/index.ts";
import { loadEvent } from "../context/samples.ts";

const RUN = "01JDQ8Z3X5M1V6K7R2T9ABCDEF";
const NOW = Date.UTC(2026, 11, 2, 5, 0, 0);
const SIZE = 482133; // events/s3-object-created.json

function router(batch: string) {
  const r = loadCatalog(
    `version: 1
service: acme
defaults: { network: { subnets: [subnet-1] } }
jobs:
  thumbs:
    on: { s3: { bucket: media-uploads, key: { prefix: incoming/ } } }
    run: { taskDefinition: t, container: c, command: [process, "\${batch.manifest}"] }
    batch: ${batch}
  single:
    on: { s3: { bucket: media-uploads } }
    run: { taskDefinition: t, container: c, command: [one, "\${s3.key}"] }
`,
    "berth.yml",
  );
  if (!r.ok) throw r.error;
  return buildRouter(r.catalog);
}

const open = (h: Partial<BatchHead> = {}): BatchHead => ({ job: "thumbs", batchId: "a".repeat(32), state: "open", opened: NOW - 10_000, closesAt: NOW + 50_000, count: 4, bytes: 400, ...h });

function batchOf(batch: string, head: BatchHead | undefined, withView = true) {
  const x = explainEvent(router(batch), loadEvent("s3-object-created.json"), RUN, withView ? { now: NOW, head: (job) => (job === "thumbs" ? head : undefined) } : undefined);
  const thumbs = x.fired.find((f) => f.job === "thumbs")!;
  const single = x.fired.find((f) => f.job === "single")!;
  expect(single.action?.kind).toBe("run"); // an unbatched job beside it still shows its request
  expect(thumbs.action).toBeUndefined();
  expect(thumbs.errors).toBeUndefined();
  expect(thumbs.context).toMatchObject({ "s3.key": "incoming/cat.png" });
  return thumbs.batch;
}

describe("berth explain for a batched job", () => {
  it("says the upload joins the open batch and when that closes", () => {
    expect(batchOf("{ window: 1m, maxItems: 500 }", open())).toEqual({
      decision: "join",
      batchId: "a".repeat(32),
      count: 5,
      bytes: 400 + SIZE,
      closesAt: NOW + 50_000,
      summary: `would join batch ${"a".repeat(32)} of thumbs (5 uploads, ${400 + SIZE} bytes with this one); it closes at 2026-12-02T05:00:50.000Z (1m after its first upload), or at once at 500 uploads`,
    });
  });

  it("says the upload fills the batch, which closes at once", () => {
    expect(batchOf("{ window: 1m, maxItems: 5 }", open())).toMatchObject({ decision: "join", count: 5, fills: "max-items", summary: expect.stringMatching(/it closes at once: this upload fills it \(5 uploads\)$/) });
  });

  it("says the upload opens a batch when the job has none, and when it would close", () => {
    expect(batchOf("{ window: 90s, maxItems: 500, maxBytes: 1GB }", undefined)).toEqual({
      decision: "open",
      count: 1,
      bytes: SIZE,
      closesAt: NOW + 90_000,
      summary: "would open a new batch of thumbs; it closes at 2026-12-02T05:01:30.000Z (90s from now), or at once at 500 uploads or 1GB",
    });
  });

  it.each([
    ["its window has passed", open({ closesAt: NOW }), "{ window: 1m }", "its window has passed"],
    ["it has no room for the upload's bytes", open(), "{ window: 1m, maxBytes: 400KB }", "it has no room for this upload's bytes"],
    ["it is closing", open({ state: "closing", closedAt: NOW - 1 }), "{ window: 1m }", "it is closing"],
  ])("says the upload opens the next batch when the current one takes no more: %s", (_what, head, batch, why) => {
    expect(batchOf(batch, head)).toMatchObject({ decision: "open", after: { batchId: "a".repeat(32), why }, summary: expect.stringContaining(`(batch ${"a".repeat(32)} takes no more: ${why})`) });
  });

  it("says what batching does in general when it cannot see the batches", () => {
    expect(batchOf("{ window: 1m, maxItems: 500 }", undefined, false)).toMatchObject({
      decision: "join-or-open",
      summary: "joins the open batch of thumbs, or opens one; a batch closes 1m after its first upload, or at once at 500 uploads, and then starts one run with its manifest",
    });
  });
});
