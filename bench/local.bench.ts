/**
 * The local runtime: how long from a file landing in the S3 folder to its
 * task's process running, and how many events per second the local bus routes
 * for catalogs of 1, 100 and 1,000 jobs.
 */
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCatalog } from "../src/core/catalog/load.ts";
import { LocalRuntime } from "../src/local/runtime.ts";
import { percentile, recordBenchmark, table } from "./report.ts";

function catalogText(jobs: number): string {
  const lines = ["version: 1", "service: bench", "defaults: { network: { subnets: [s] }, retry: { attempts: 1 } }", "jobs:"];
  for (let i = 0; i < jobs; i++) {
    lines.push(`  job-${i}:`, `    on: { s3: { bucket: bucket-${i}, key: { prefix: in/ } } }`, `    run: { taskDefinition: noop, container: app, environment: { KEY: "\${s3.key}" } }`);
  }
  lines.push("local:", "  taskDefinitions:", `    noop: { command: [${JSON.stringify(process.execPath)}, -e, ""] }`);
  return lines.join("\n");
}

function runtimeFor(jobs: number) {
  const loaded = loadCatalog(catalogText(jobs), "bench.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const dir = mkdtempSync(join(tmpdir(), "berth-bench-"));
  const started = new Map<string, number>();
  const runtime = new LocalRuntime({
    catalog: loaded.catalog,
    rootDir: dir,
    stateDir: join(dir, ".berth"),
    onActivity: (a) => {
      if (a.type === "run" && a.detail.status === "RUNNING") started.set(a.detail.trigger.summary, performance.now());
    },
  });
  return { runtime, dir, started };
}

// 1. File drop → task process running.
const DROPS = 40;
const { runtime, dir, started } = runtimeFor(1);
await runtime.start();
const latencies: number[] = [];
mkdirSync(join(runtime.s3Root, "bucket-0", "in"), { recursive: true });
for (let i = 0; i < DROPS; i++) {
  const key = `in/file-${i}.txt`;
  const t0 = performance.now();
  writeFileSync(join(runtime.s3Root, "bucket-0", key), `payload ${i}`);
  const summary = `s3://bucket-0/${key}`;
  while (!started.has(summary)) await new Promise((r) => setTimeout(r, 2));
  latencies.push(started.get(summary)! - t0);
  await new Promise((r) => setTimeout(r, 50 + Math.random() * 200)); // drops land at random points of the scan cycle
}
await runtime.stop();
rmSync(dir, { recursive: true, force: true });
latencies.sort((a, b) => a - b);

// 2. Bus throughput: S3 events routed by the bus with the compiled rules, none of which match a job.
const s3Event = (i: number) => ({
  version: "0", id: `e-${i}`, "detail-type": "Object Created", source: "aws.s3", account: "000000000000", time: "2026-11-26T00:00:00Z", region: "local",
  resources: [], detail: { version: "0", bucket: { name: `unwatched-${i % 50}` }, object: { key: `in/${i}.png`, size: 10, etag: "e", sequencer: "01" }, reason: "PutObject" },
});
const busRows: (string | number)[][] = [];
for (const jobs of [1, 100, 1000]) {
  const r = runtimeFor(jobs);
  const n = 20_000;
  for (let i = 0; i < 1000; i++) r.runtime.put(s3Event(i) as never);
  await r.runtime.settled();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) r.runtime.put(s3Event(i) as never);
  await r.runtime.settled();
  const ms = performance.now() - t0;
  busRows.push([jobs.toLocaleString("en-US"), n.toLocaleString("en-US"), Math.round((n / ms) * 1000).toLocaleString("en-US")]);
  await r.runtime.stop();
  rmSync(r.dir, { recursive: true, force: true });
}

const md = `## Local runtime

**File drop → task process running**: ${DROPS} files written into \`.berth/s3/<bucket>/\`, one at a time at random points of
the folder scan (every 250 ms; a file is announced once two scans agree it is complete), until the task's RUNNING event.

${table(["p50 ms", "p99 ms", "max ms"], [[percentile(latencies, 50).toFixed(0), percentile(latencies, 99).toFixed(0), latencies.at(-1)!.toFixed(0)]])}

**Local bus throughput**: S3 events put on the bus and routed with the compiled catalog's rules (pattern index; no
rule matches, so no event reaches the engine) for catalogs of 1, 100 and 1,000 S3 jobs.

${table(["jobs", "events", "events/s"], busRows)}`;
console.log(md);
recordBenchmark("local", md);
