/**
 * A burst of uploads against an ECS endpoint that enforces Fargate's launch
 * rate (token bucket: 20 RunTask/s sustained, burst 100). Real SDK stack over
 * HTTP; in-memory run store. Dispatch runs on WORKERS concurrent "Lambda"
 * invocations; the sweep runs every SWEEP_MS (60 s on AWS) and re-sends the
 * launches ECS throttled, with the same clientTokens.
 */
import { readFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { ECSClient } from "@aws-sdk/client-ecs";
import { loadCatalog } from "../src/core/catalog/load.ts";
import { buildRouter } from "../src/core/router.ts";
import { Engine } from "../src/core/engine/engine.ts";
import { MemoryRunStore } from "../test/support/memory-run-store.ts";
import { EcsTaskLauncher } from "../src/aws/ecs-task-launcher.ts";
import { awsClientConfig } from "../src/aws/clients.ts";
import { MemoryPublisher } from "../test/support/memory-shell.ts";
import { startFakeEcs } from "../test/support/fake-ecs.ts";
import { recordBenchmark, table } from "./report.ts";

const EVENTS = Number(process.env.BURST_EVENTS ?? 10_000);
const WORKERS = Number(process.env.WORKERS ?? 100);
const SWEEP_MS = Number(process.env.SWEEP_MS ?? 60_000);
const RATE = 20;
const BURST = 100;

const loaded = loadCatalog(readFileSync("berth.yml", "utf8"), "berth.yml");
if (!loaded.ok) throw new Error("berth.yml must load");
// The ECS launch rate is the limit under test, not the job's own concurrency cap.
const catalog = { ...loaded.catalog, jobs: { thumbnails: { ...loaded.catalog.jobs.thumbnails!, concurrency: { overlap: "allow" as const } } } };
const sample = JSON.parse(readFileSync("events/s3-object-created.json", "utf8"));
const event = (i: number) => ({ ...sample, id: `burst-${i}`, detail: { ...sample.detail, object: { ...sample.detail.object, key: `incoming/burst/${i}.png`, sequencer: i.toString(16).padStart(18, "0") } } });

const ecs = await startFakeEcs({ runTaskRateLimit: { ratePerSecond: RATE, burst: BURST } });
const store = new MemoryRunStore();
const client = new ECSClient({ ...awsClientConfig(process.env), endpoint: ecs.url, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const engine = new Engine({
  router: buildRouter(catalog),
  store,
  launcher: new EcsTaskLauncher(client),
  publisher: new MemoryPublisher(),
  clock: { now: () => Date.now() },
  randomBytes,
  sha256: (data: Uint8Array) => createHash("sha256").update(data).digest(),
  sweep: { relaunchAfterMs: SWEEP_MS },
});

const t0 = Date.now();
let next = 0;
let rejected = 0;
const launchedAt: number[] = [];
async function worker() {
  while (next < EVENTS) {
    const i = next++;
    const out = await engine.dispatch(event(i));
    if (out.some((o) => o.kind === "rejected")) rejected++;
  }
}
const progress = setInterval(() => {
  const s = ecs.stats;
  process.stdout.write(`\r  ${((Date.now() - t0) / 1000).toFixed(0)}s  dispatched ${Math.min(next, EVENTS)}/${EVENTS}  tasks ${s.tasksLaunched}  RunTask calls ${s.runTaskCalls}  throttled ${s.throttled}   `);
}, 1000);

const dispatching = Promise.all(Array.from({ length: WORKERS }, worker)).then(() => (launchedAt[0] = Date.now() - t0));
let sweeps = 0;
for (;;) {
  const started = Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, SWEEP_MS - (Date.now() - started))));
  await dispatching;
  await engine.sweep();
  sweeps++;
  const open = await store.listOpenRuns();
  if (open.every((r) => r.attempts.at(-1)?.taskArn !== undefined)) break;
}
clearInterval(progress);
const drainMs = Date.now() - t0;
const runs = await store.listRuns({ limit: 1000 });
void runs;
const open = await store.listOpenRuns();
const withTask = open.filter((r) => r.attempts.at(-1)?.taskArn !== undefined).length;
const s = ecs.stats;
const duplicates = s.tasksLaunched - withTask;
const lost = EVENTS - rejected - withTask;
const drainRate = EVENTS / (drainMs / 1000);
const floorSeconds = (EVENTS - BURST) / RATE;
await ecs.close();

const md = `## Burst against ECS's launch rate

${EVENTS.toLocaleString("en-US")} S3 uploads dispatched by ${WORKERS} concurrent invocations through the real SDK (standard retries,
${awsClientConfig({}).maxAttempts} attempts) to a local ECS endpoint with a RunTask token bucket of ${RATE}/s, burst ${BURST} (Fargate's
published launch rate). Launches throttled past the SDK's retries stay STARTING and are re-sent by the sweep every
${SWEEP_MS / 1000} s with the same clientToken.

${table(
  ["metric", "value"],
  [
    ["time to drain (every run has a task)", `${(drainMs / 1000).toFixed(1)} s (floor at the ceiling: ${floorSeconds.toFixed(0)} s)`],
    ["dispatch finished (all events accepted)", `${((launchedAt[0] ?? 0) / 1000).toFixed(1)} s`],
    ["sweeps", String(sweeps)],
    ["RunTask calls", s.runTaskCalls.toLocaleString("en-US")],
    ["throttles returned by ECS", s.throttled.toLocaleString("en-US")],
    ["tasks launched", s.tasksLaunched.toLocaleString("en-US")],
    ["duplicates (tasks beyond one per run)", String(duplicates)],
    ["lost (accepted events without a task)", String(lost)],
    ["drain rate", `${drainRate.toFixed(1)} launches/s = ${((drainRate / RATE) * 100).toFixed(0)} % of the ${RATE}/s ceiling`],
  ],
)}`;
console.log(`\n${md}`);
recordBenchmark("burst", md);
if (duplicates !== 0 || lost !== 0) process.exit(1);
