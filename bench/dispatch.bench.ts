/**
 * Dispatch overhead per event, without network: the engine with the
 * in-memory store and an in-memory launcher, one S3 upload event at a time
 * (context, idempotency, admission, request rendering, store writes).
 */
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { loadCatalog } from "../src/core/catalog/load.ts";
import { buildRouter } from "../src/core/router.ts";
import { Engine } from "../src/core/engine/engine.ts";
import { MemoryRunStore } from "../test/support/memory-run-store.ts";
import { SqliteRunStore } from "../src/local/sqlite-run-store.ts";
import type { RunStore } from "../src/core/ports.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryLauncher, MemoryPublisher } from "../test/support/memory-shell.ts";
import { percentile, recordBenchmark, table } from "./report.ts";

const loaded = loadCatalog(readFileSync("berth.yml", "utf8"), "berth.yml");
if (!loaded.ok) throw new Error("berth.yml must load");
const base = loaded.catalog;
const sample = JSON.parse(readFileSync("events/s3-object-created.json", "utf8"));
const event = (i: number) => ({ ...sample, id: `e-${i}`, detail: { ...sample.detail, object: { ...sample.detail.object, key: `incoming/img-${i}.png`, sequencer: i.toString(16).padStart(18, "0") } } });

async function measure(label: string, n: number, concurrencyMax: boolean, store: RunStore = new MemoryRunStore()) {
  const catalog = concurrencyMax ? base : { ...base, jobs: { ...base.jobs, thumbnails: { ...base.jobs.thumbnails!, concurrency: { overlap: "allow" as const } } } };
  const launcher = new MemoryLauncher();
  const engine = new Engine({ router: buildRouter(catalog), store, launcher, publisher: new MemoryPublisher(), clock: { now: () => Date.now() }, randomBytes, sha256: (data) => createHash("sha256").update(data).digest() });
  for (let i = 0; i < 500; i++) await engine.dispatch(event(-1 - i)); // warm-up
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await engine.dispatch(event(i));
    samples.push((performance.now() - s) * 1000);
  }
  const total = performance.now() - t0;
  samples.sort((a, b) => a - b);
  return [label, n.toLocaleString("en-US"), percentile(samples, 50).toFixed(0), percentile(samples, 99).toFixed(0), Math.round((n / total) * 1000).toLocaleString("en-US")];
}

const dir = mkdtempSync(join(tmpdir(), "berth-dispatch-"));
const rows = [
  await measure("no concurrency limit", 5000, false),
  await measure("max 20, queue", 5000, true),
  await measure("max 20, queue, SQLite file store", 5000, true, new SqliteRunStore(join(dir, "runs.db"))),
];
rmSync(dir, { recursive: true, force: true });
const md = `## Dispatch overhead (no network)

\`Engine.dispatch\` of one S3 upload at a time with the in-memory launcher (and the in-memory store unless said):
trigger context, idempotency key, run write, admission, request rendering, launch, ARN write, publish. Excludes every
network round trip. With \`max 20\` all but 20 runs queue, so admission reads the head of a growing queue: the
in-memory store scans its runs for it, the SQLite (and DynamoDB) stores read an index.

${table(["job concurrency", "events", "p50 µs", "p99 µs", "events/s"], rows)}`;
console.log(md);
recordBenchmark("dispatch", md);
