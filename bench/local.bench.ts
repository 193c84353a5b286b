/**
 * The local runtime, a base commit's (`--base <ref>`, default HEAD, built in a temporary git worktree) beside the
 * working tree's, in one run (`node --import tsx bench/local.bench.ts --base 195d6a6`):
 *
 * 1. file drop → task process running, through the whole `berth dev` runtime, drops taking turns between the two;
 * 2. file drop → `Object Created`, with 10,000 objects already in the folder, and the state bytes each drop writes;
 * 3. 1,000 and 10,000 files dropped at once by another process: time until all are announced, the watcher's CPU,
 *    the state bytes written, and how many announcements each file got;
 * 4. how many events per second the local bus routes for catalogs of 1, 100 and 1,000 jobs (working tree only).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { percentile, recordBenchmark, table } from "./report.ts";
import { baseRef, checkOut } from "./worktree.ts";

const DROPS = 40;
const HELD = 10_000;
const HELD_DROPS = 20;
const BURSTS = [1_000, 10_000];

const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), "berth-local-bench-"));

interface Watcher {
  start(): Promise<void>;
  stop(): Promise<void>;
}
interface Runtime {
  readonly s3Root: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  put(event: never): void;
  settled(): Promise<void>;
}
interface Tree {
  readonly label: string;
  readonly loadCatalog: (text: string, file: string) => { ok: true; catalog: unknown } | { ok: false; error: unknown };
  readonly LocalRuntime: new (options: object) => Runtime;
  readonly S3FolderWatcher: new (options: object) => Watcher;
}

async function treeAt(at: string, label: string): Promise<Tree> {
  const load = (file: string) => import(pathToFileURL(join(at, file)).href);
  const [{ loadCatalog }, { LocalRuntime }, { S3FolderWatcher }] = await Promise.all([load("src/core/catalog/load.ts"), load("src/local/runtime.ts"), load("src/local/s3-folder.ts")]);
  return { label, loadCatalog, LocalRuntime, S3FolderWatcher };
}

const base = checkOut(baseRef(), root);
const baseCommit = base.commit;
const before = await treeAt(base.root, `before (${baseCommit})`);
const after = await treeAt(root, "after (working tree)");
const trees = [before, after];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}
/** Bytes this process has written so far (every write(2), whatever the file). */
const written = () => Number(/wchar: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? NaN);
const ms = (n: number) => n.toFixed(0);
const kib = (n: number) => `${(n / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 })} KiB`;

function catalogText(jobs: number): string {
  const lines = ["version: 1", "service: bench", "defaults: { network: { subnets: [s] }, retry: { attempts: 1 } }", "jobs:"];
  for (let i = 0; i < jobs; i++) {
    lines.push(`  job-${i}:`, `    on: { s3: { bucket: bucket-${i}, key: { prefix: in/ } } }`, `    run: { taskDefinition: noop, container: app, environment: { KEY: "\${s3.key}" } }`);
  }
  lines.push("local:", "  taskDefinitions:", `    noop: { command: [${JSON.stringify(process.execPath)}, -e, ""] }`);
  return lines.join("\n");
}

function runtimeFor(tree: Tree, jobs: number) {
  const loaded = tree.loadCatalog(catalogText(jobs), "bench.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
  const at = mkdtempSync(join(dir, "runtime-"));
  const started = new Map<string, number>();
  const runtime = new tree.LocalRuntime({
    catalog: loaded.catalog,
    rootDir: at,
    stateDir: join(at, ".berth"),
    onActivity: (a: { type: string; detail?: { status: string; trigger: { summary: string } } }) => {
      if (a.type === "run" && a.detail?.status === "RUNNING") started.set(a.detail.trigger.summary, performance.now());
    },
  });
  return { runtime, started };
}

/** A watcher alone on a fresh folder, counting what it announces per key. */
function watcherFor(tree: Tree) {
  const at = mkdtempSync(join(dir, "watcher-"));
  const s3 = join(at, "s3");
  const announced = new Map<string, number>();
  let events = 0;
  const watcher = new tree.S3FolderWatcher({
    root: s3,
    stateFile: join(at, "s3-state.json"),
    warn: () => undefined,
    emit: (event: { detail: { bucket: { name: string }; object: { key: string } } }) => {
      events += 1;
      const id = `${event.detail.bucket.name}/${event.detail.object.key}`;
      announced.set(id, (announced.get(id) ?? 0) + 1);
    },
  });
  return { watcher, s3, announced, events: () => events };
}

// 1. File drop → task process running, the two runtimes taking turns.
const drops = trees.map((tree) => ({ tree, ...runtimeFor(tree, 1), latencies: [] as number[] }));
for (const d of drops) {
  await d.runtime.start();
  mkdirSync(join(d.runtime.s3Root, "bucket-0", "in"), { recursive: true });
}
for (let i = 0; i < DROPS; i++) {
  for (const d of drops) {
    const key = `in/file-${i}.txt`;
    const t0 = performance.now();
    writeFileSync(join(d.runtime.s3Root, "bucket-0", key), `payload ${i}`);
    const summary = `s3://bucket-0/${key}`;
    await until(() => d.started.has(summary), summary);
    d.latencies.push(d.started.get(summary)! - t0);
    await sleep(50 + Math.random() * 200); // drops land at random points of the base's scan cycle
  }
}
for (const d of drops) {
  await d.runtime.stop();
  d.latencies.sort((a, b) => a - b);
}
const dropRows = drops.map((d) => [d.tree.label, ms(percentile(d.latencies, 50)), ms(percentile(d.latencies, 99)), ms(d.latencies[0]!), ms(d.latencies.at(-1)!)]);

// 2. Drops into a folder already holding 10,000 objects: one tree at a time, so one's scans do not slow the other.
const heldRows: (string | number)[][] = [];
for (const tree of trees) {
  const w = watcherFor(tree);
  for (let i = 0; i < HELD; i++) {
    const folder = join(w.s3, "held", `f${i % 100}`);
    if (i < 100) mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `object-${i}.txt`), `held ${i}`);
  }
  await w.watcher.start();
  const latencies: number[] = [];
  const bytes: number[] = [];
  mkdirSync(join(w.s3, "drops"));
  for (let i = 0; i < HELD_DROPS; i++) {
    const content = `payload ${i}`;
    const before = written();
    const t0 = performance.now();
    writeFileSync(join(w.s3, "drops", `file-${i}.txt`), content);
    await until(() => w.announced.has(`drops/file-${i}.txt`), `drop ${i}`);
    latencies.push(performance.now() - t0);
    await sleep(50 + Math.random() * 200);
    bytes.push(written() - before - content.length);
  }
  await w.watcher.stop();
  latencies.sort((a, b) => a - b);
  bytes.sort((a, b) => a - b);
  heldRows.push([tree.label, ms(percentile(latencies, 50)), ms(percentile(latencies, 99)), kib(percentile(bytes, 50))]);
}

// 3. Many files dropped at once by another process.
const writer = `const { mkdirSync, writeFileSync } = require("node:fs"); const [root, n] = [process.argv[1], Number(process.argv[2])];
for (let f = 0; f < 100; f++) mkdirSync(root + "/burst/in/f" + f, { recursive: true });
for (let i = 0; i < n; i++) writeFileSync(root + "/burst/in/f" + (i % 100) + "/file-" + i + ".txt", "payload " + i);`;
const burstRows: (string | number)[][] = [];
for (const n of BURSTS) {
  for (const tree of trees) {
    const w = watcherFor(tree);
    await w.watcher.start();
    const before = written();
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const child = spawn(process.execPath, ["-e", writer, w.s3, String(n)], { stdio: "inherit" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    await until(() => w.announced.size >= n, `${n} files announced`, 600_000);
    const wall = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    const bytes = written() - before;
    await exited;
    // Long enough for the base's two scans and the working tree's settle: late duplicates would show.
    await sleep(1_000);
    await w.watcher.stop();
    const once = [...w.announced.values()].filter((count) => count === 1).length;
    const cpuMs = (used.user + used.system) / 1000;
    burstRows.push([n.toLocaleString("en-US"), tree.label, ms(wall), ms(cpuMs), (cpuMs / (n / 1000)).toFixed(0), kib(bytes), once.toLocaleString("en-US"), w.events() - n, n - w.announced.size]);
  }
}

// 4. Bus throughput (working tree): S3 events routed by the bus with the compiled rules, none of which match a job.
const s3Event = (i: number) => ({
  version: "0", id: `e-${i}`, "detail-type": "Object Created", source: "aws.s3", account: "000000000000", time: "2026-11-26T00:00:00Z", region: "local",
  resources: [], detail: { version: "0", bucket: { name: `unwatched-${i % 50}` }, object: { key: `in/${i}.png`, size: 10, etag: "e", sequencer: "01" }, reason: "PutObject" },
});
const busRows: (string | number)[][] = [];
for (const jobs of [1, 100, 1000]) {
  const r = runtimeFor(after, jobs);
  const n = 20_000;
  for (let i = 0; i < 1000; i++) r.runtime.put(s3Event(i) as never);
  await r.runtime.settled();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) r.runtime.put(s3Event(i) as never);
  await r.runtime.settled();
  const took = performance.now() - t0;
  busRows.push([jobs.toLocaleString("en-US"), n.toLocaleString("en-US"), Math.round((n / took) * 1000).toLocaleString("en-US")]);
  await r.runtime.stop();
}

base.remove();
rmSync(dir, { recursive: true, force: true });

const p50 = (label: string) => Number(dropRows.find((r) => r[0] === label)![1]);
const md = `## Local runtime

Commit ${baseCommit} ("before": the folder polled every 250 ms, a file announced once two scans agree it is complete,
the state file rewritten whole after every scan that announced anything) beside the working tree ("after": file-system
notifications, a file announced once no notification came for it for 10 ms (up to 1 s for a file written to for long)
and its size and mtime held while it was read, an append-only journal), in one run.

**File drop → task process running**: ${DROPS} small files written one at a time into \`.berth/s3/<bucket>/in/\` of a
running \`berth dev\` runtime (one S3 job), at random points of the base's scan cycle, the two runtimes taking turns, until
the task's RUNNING event. Target ≤ 50 ms p50: ${p50(after.label) <= 50 ? "met" : "not met"} (${p50(after.label)} ms).

${table(["", "p50 ms", "p99 ms", "min ms", "max ms"], dropRows)}

**Drop → \`Object Created\` with ${HELD.toLocaleString("en-US")} objects already in the folder**: the watcher alone, ${HELD_DROPS} drops
one at a time, one tree after the other; state bytes written per drop (the process's write(2) bytes less the file's).

${table(["", "p50 ms", "p99 ms", "state written per drop (p50)"], heldRows)}

**Files dropped at once**: another process writes N small files into 100 folders of a watched, empty bucket folder;
ms from its start until every file was announced, the watcher process's CPU, the state bytes written, how many files
were announced exactly once, extra announcements (duplicates) and files never announced, counted until 1 s after.

${table(["files", "", "ms to all announced", "CPU ms", "CPU ms per 1,000 files", "state written", "announced once", "duplicates", "missing"], burstRows)}

**Local bus throughput** (working tree): S3 events put on the bus and routed with the compiled catalog's rules
(pattern index; no rule matches, so no event reaches the engine) for catalogs of 1, 100 and 1,000 S3 jobs.

${table(["jobs", "events", "events/s"], busRows)}`;
console.log(md);
recordBenchmark("local", md);
