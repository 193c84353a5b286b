/**
 * Dispatch on bad input: every malformed, oversized, deep or unknown event ends in a deliberate rejection
 * naming its reason, and nothing reaches the store. The limits cited: EventBridge's 256 KB event size
 * ("Amazon EventBridge quotas"), S3's 1,024-byte object keys and version IDs, RunTask's 8,192-character
 * overrides; nesting, which EventBridge does not bound, stops at MAX_EVENT_DEPTH.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { Engine } from "../../../src/core/engine/engine.ts";
import { MAX_EVENT_DEPTH } from "../../../src/core/events/envelope.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import { countingWrites } from "../../support/counting-store.ts";
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
  reindex:
    on: { manual: { params: { index: products } } }
    run: { taskDefinition: t, container: c, command: ["\${params.index}"] }
  on-anything:
    on: { event: { pattern: { source: [my.app] } } }
    run: { taskDefinition: t, container: c, command: ["\${event.id}"] }
`;

function setup() {
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const counted = countingWrites(new MemoryRunStore());
  const launcher = new MemoryLauncher();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store: counted.store, launcher, publisher: new MemoryPublisher(), clock: new ManualClock(), randomBytes: countingBytes, sha256 });
  return { engine, writes: counted.writes, launcher };
}

const sample = (name: string) => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), "utf8"));
const s3 = sample("s3-object-created.json");
const upload = (object: Record<string, unknown>, detail: Record<string, unknown> = {}) => ({ ...s3, detail: { ...s3.detail, bucket: { name: "media" }, ...detail, object: { ...s3.detail.object, key: "in/a.png", ...object } } });
const manual = sample("manual-run.json");
const big = "x".repeat(2 * 1024 * 1024);

function deepArray(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe("dispatch refuses bad input deliberately and writes nothing", () => {
  it.each([
    ["a deeply nested array in detail", upload({}, { tags: deepArray(100_000) }), /nests objects and arrays more than 32 levels deep/],
    ["a nested array one level past the limit", upload({}, { tags: deepArray(MAX_EVENT_DEPTH) }), /more than 32 levels/],
    ["an event past EventBridge's 256 KB", upload({}, { padding: "x".repeat(300 * 1024) }), /EventBridge events are at most 256 KB/],
    ["a 2 MB etag", upload({ etag: big }), /EventBridge events are at most 256 KB/],
    ["a long etag within the event size", upload({ etag: "e".repeat(5000) }), /detail\.object\.etag is 5000 characters, more than the 1024 berth accepts/],
    ["a long version-id", upload({ "version-id": "v".repeat(5000) }), /detail\.object\.version-id is 5000 characters/],
    ["a long sequencer", upload({ sequencer: "0".repeat(5000) }), /detail\.object\.sequencer is 5000 characters/],
    ["an S3 key past 1,024 bytes, URL-encoded", upload({ key: `in/${"%E2%82%AC".repeat(400)}` }), /detail\.object\.key is 3603 characters, more than the 3072/],
    ["a long manual param", { ...manual, detail: { ...manual.detail, service: "acme", params: { index: "p".repeat(9000) } } }, /detail\.params\.index is 9000 characters, more than the 8192/],
    ["a manual run whose run record grows past the limit", { ...manual, detail: { ...manual.detail, service: "acme", requestedBy: "j".repeat(100_000) } }, /more than the 65536 berth stores for a new run/],
    ["an S3 event without detail", { ...s3, detail: undefined }, /does not match any trigger of job "upload"/],
    ["a bare array", [s3], /an event is a JSON object/],
    ["null", null, /an event is a JSON object/],
  ])("%s", async (_, event, reason) => {
    const { engine, writes, launcher } = setup();
    const job = Array.isArray(event) || event === null ? undefined : (event as { source?: string }).source === "berth" ? "reindex" : "upload";
    const outcomes = await engine.dispatch(event, job);
    expect(outcomes).toEqual([{ kind: "rejected", ...(job !== undefined ? { job } : {}), reason: expect.stringMatching(reason) }]);
    expect(writes()).toBe(0);
    expect(launcher.runTaskCalls).toBe(0);
  });

  it("cuts an unknown job's name short in the reason", async () => {
    const { engine, writes } = setup();
    const [outcome] = await engine.dispatch(upload({}), "n".repeat(100_000));
    expect(outcome).toEqual({ kind: "rejected", job: `${"n".repeat(60)}…`, reason: `no job named "${"n".repeat(60)}…" in the catalog` });
    expect(writes()).toBe(0);
  });

  it("refuses a manual run without detail: the manual trigger's pattern needs detail.job", async () => {
    const { engine, writes } = setup();
    const event = { ...manual, detail: undefined };
    expect(await engine.dispatch(event, "reindex")).toEqual([{ kind: "rejected", job: "reindex", reason: 'the event does not match any trigger of job "reindex"' }]);
    expect(writes()).toBe(0);
  });
});

describe("events without detail are matched as EventBridge matches them", () => {
  it("an event trigger on the envelope runs for an event that has no detail", async () => {
    const { engine, launcher } = setup();
    const event = { version: "0", id: "e-1", "detail-type": "Ping", source: "my.app", account: "123456789012", time: "2026-03-01T12:00:00Z", region: "us-east-1", resources: [] };
    const outcomes = await engine.dispatch(event);
    expect(outcomes).toEqual([expect.objectContaining({ kind: "accepted", job: "on-anything" })]);
    expect([...launcher.tasks.values()][0]!.request.overrides?.containerOverrides?.[0]?.command).toEqual(["e-1"]);
  });
});
