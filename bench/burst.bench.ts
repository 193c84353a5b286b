/**
 * A burst of uploads against an ECS endpoint that enforces Fargate's launch rate (token bucket:
 * 20 RunTask/s sustained, burst 100). Real SDK stack over HTTP; in-memory run store. Dispatch runs
 * on WORKERS concurrent "Lambda" invocations (30 s each, as the stack's dispatch function), the
 * sweep every SWEEP_MS (60 s on AWS, 60 s invocations) whether or not the last one has ended, each
 * tree with its own defaults.
 *
 * `node --import tsx bench/burst.bench.ts --base <worktree>` drains the burst with the working
 * tree's code and with the base tree's (a git worktree of the commit to compare with), side by
 * side: every count of dispatch workers in BURST_WORKERS (more workers: a quicker dispatch) with
 * both trees, all at once, each in its own process against its own ECS endpoint, BURST_RUNS times.
 */
import { spawn } from "node:child_process";
import { Agent } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Load from "../src/core/catalog/load.ts";
import type * as RouterModule from "../src/core/router.ts";
import type * as EngineModule from "../src/core/engine/engine.ts";
import type * as StoreModule from "../test/support/memory-run-store.ts";
import type * as LauncherModule from "../src/aws/ecs-task-launcher.ts";
import type * as ClientsModule from "../src/aws/clients.ts";
import type * as ShellModule from "../test/support/memory-shell.ts";
import type * as FakeEcsModule from "../test/support/fake-ecs.ts";
import type * as InvocationModule from "../src/aws/invocation.ts";

const EVENTS = Number(process.env.BURST_EVENTS ?? 10_000);
const SWEEP_MS = Number(process.env.SWEEP_MS ?? 60_000);
const RATE = 20;
const BURST = 100;
/** A drain still going after this long is stopped and reported as not drained, with the tasks started by then. */
const LIMIT_MS = Number(process.env.BURST_LIMIT_S ?? 900) * 1000;
const DISPATCH_TIMEOUT_MS = 30_000;
const SWEEP_TIMEOUT_MS = 60_000;

interface Drained {
  readonly workers: number;
  /** null: not drained within LIMIT_MS. */
  readonly drainMs: number | null;
  /** Tasks started by the drain's end, or by LIMIT_MS. */
  readonly launchedInTime: number;
  readonly dispatchMs: number;
  readonly sweeps: number;
  readonly relaunched: number;
  readonly runTaskCalls: number;
  readonly throttled: number;
  readonly tasksLaunched: number;
  readonly duplicates: number;
  readonly lost: number;
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** One drain with the code of `tree`, in this process; prints its result as the last line. */
async function drain(tree: string, workers: number): Promise<Drained> {
  const from = <T>(path: string): Promise<T> => import(pathToFileURL(resolve(tree, path)).href) as Promise<T>;
  const { ECSClient } = await import("@aws-sdk/client-ecs");
  const { loadCatalog } = await from<typeof Load>("src/core/catalog/load.ts");
  const { buildRouter } = await from<typeof RouterModule>("src/core/router.ts");
  const { Engine } = await from<typeof EngineModule>("src/core/engine/engine.ts");
  const { MemoryRunStore } = await from<typeof StoreModule>("test/support/memory-run-store.ts");
  const { EcsTaskLauncher } = await from<typeof LauncherModule>("src/aws/ecs-task-launcher.ts");
  const { awsClientConfig } = await from<typeof ClientsModule>("src/aws/clients.ts");
  const { MemoryPublisher } = await from<typeof ShellModule>("test/support/memory-shell.ts");
  const { startFakeEcs } = await from<typeof FakeEcsModule>("test/support/fake-ecs.ts");
  // A tree whose launcher waits inside an invocation gets each call's deadline as Lambda would give it.
  const invocation = existsSync(resolve(tree, "src/aws/invocation.ts")) ? await from<typeof InvocationModule>("src/aws/invocation.ts") : undefined;
  const invoke = <T>(timeoutMs: number, work: () => Promise<T>): Promise<T> => {
    if (invocation === undefined) return work();
    const deadline = invocation.lambdaDeadline({ getRemainingTimeInMillis: () => timeoutMs }, Date.now())!;
    return invocation.withDeadline(deadline, work);
  };

  const loaded = loadCatalog(readFileSync(resolve(tree, "berth.yml"), "utf8"), "berth.yml");
  if (!loaded.ok) throw new Error("berth.yml must load");
  // The ECS launch rate is the limit under test, not the job's own concurrency cap.
  const catalog = { ...loaded.catalog, jobs: { thumbnails: { ...loaded.catalog.jobs.thumbnails!, concurrency: { overlap: "allow" as const } } } };
  const sample = JSON.parse(readFileSync(resolve(tree, "events/s3-object-created.json"), "utf8"));
  const event = (i: number) => ({ ...sample, id: `burst-${i}`, detail: { ...sample.detail, object: { ...sample.detail.object, key: `incoming/burst/${i}.png`, sequencer: i.toString(16).padStart(18, "0") } } });

  const ecs = await startFakeEcs({ runTaskRateLimit: { ratePerSecond: RATE, burst: BURST } });
  const store = new MemoryRunStore();
  // One client stands in for every invocation's own: no shared cap on open connections (the SDK's default is 50).
  const client = new ECSClient({
    ...awsClientConfig(process.env),
    endpoint: ecs.url,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: workers + 50 }) },
  });
  const engine = new Engine({
    router: buildRouter(catalog),
    store,
    launcher: new EcsTaskLauncher(client),
    publisher: new MemoryPublisher(),
    clock: { now: () => Date.now() },
    randomBytes,
    sha256: (data: Uint8Array) => createHash("sha256").update(data).digest(),
  });

  const t0 = Date.now();
  let next = 0;
  let rejected = 0;
  let dispatchMs: number | undefined;
  const worker = async () => {
    while (next < EVENTS) {
      const i = next++;
      const out = await invoke(DISPATCH_TIMEOUT_MS, () => engine.dispatch(event(i)));
      if (out.some((o) => o.kind === "rejected")) rejected++;
    }
  };
  void Promise.all(Array.from({ length: workers }, worker)).then(() => (dispatchMs = Date.now() - t0));

  let sweeps = 0;
  let relaunched = 0;
  const sweeping: Promise<void>[] = [];
  const schedule = setInterval(() => {
    sweeps++;
    sweeping.push(invoke(SWEEP_TIMEOUT_MS, () => engine.sweep()).then((r) => void (relaunched += r.relaunched)));
  }, SWEEP_MS);

  const progress = setInterval(() => {
    process.stderr.write(`  ${workers} workers ${tree}: ${((Date.now() - t0) / 1000).toFixed(0)} s, dispatched ${Math.min(next, EVENTS)}, tasks ${ecs.stats.tasksLaunched}, RunTask calls ${ecs.stats.runTaskCalls}\n`);
  }, Number(process.env.BURST_PROGRESS_MS ?? 30_000));
  // Drained: every event dispatched, and every accepted run has its task; or the time given is over.
  let drainMs: number | null;
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    if (Date.now() - t0 >= LIMIT_MS) {
      drainMs = null;
      break;
    }
    if (dispatchMs === undefined || ecs.stats.tasksLaunched < EVENTS - rejected) continue;
    const open = await store.listOpenRuns();
    if (open.every((r) => r.attempts.at(-1)?.taskArn !== undefined)) {
      drainMs = Date.now() - t0;
      break;
    }
  }
  clearInterval(schedule);
  clearInterval(progress);
  const launchedInTime = ecs.stats.tasksLaunched;
  // Drained, the sweeps still running finish; past the limit they are left, as Lambda would end them.
  if (drainMs !== null) await Promise.all(sweeping);
  const open = await store.listOpenRuns();
  const withTask = open.filter((r) => r.attempts.at(-1)?.taskArn !== undefined).length;
  const s = ecs.stats;
  await ecs.close();
  return {
    workers,
    drainMs,
    launchedInTime,
    dispatchMs: dispatchMs ?? NaN,
    sweeps,
    relaunched,
    runTaskCalls: s.runTaskCalls,
    throttled: s.throttled,
    tasksLaunched: s.tasksLaunched,
    duplicates: s.tasksLaunched - withTask,
    // Not drained: what has no task yet is late, not lost.
    lost: drainMs === null ? 0 : EVENTS - rejected - withTask,
  };
}

/** Runs one drain in a child process, its progress dropped, its result parsed. */
function child(tree: string, workers: number): Promise<Drained> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ["--import", "tsx", new URL(import.meta.url).pathname, "--drain", tree, "--workers", String(workers)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !line.startsWith("{")) fail(new Error(`drain with ${tree} exited ${code}: ${out.slice(-500)}`));
      else done(JSON.parse(line) as Drained);
    });
  });
}

const drainTree = arg("--drain");
if (drainTree !== undefined) {
  console.log(JSON.stringify(await drain(drainTree, Number(arg("--workers")))));
  process.exit(0);
}

const { recordBenchmark, table } = await import("./report.ts");
const { awsClientConfig } = await import("../src/aws/clients.ts");
const { execFileSync } = await import("node:child_process");
const base = arg("--base");
if (base === undefined) throw new Error("usage: bench/burst.bench.ts --base <git worktree of the commit to compare with>");
const commit = (dir: string) => execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
const here = resolve(new URL("..", import.meta.url).pathname);
const trees = [
  { name: `before (${commit(base)})`, dir: resolve(base) },
  { name: "after (working tree)", dir: here },
];
const WORKERS = (process.env.BURST_WORKERS ?? "100,1000").split(",").map(Number);
const RUNS = Number(process.env.BURST_RUNS ?? 1);

const results = new Map<string, Drained[]>();
// Every worker count and both trees at once: the same moments of a shared machine for all of them.
for (let run = 0; run < RUNS; run++) {
  console.log(`run ${run + 1}/${RUNS}: ${WORKERS.join(", ")} dispatch workers, both trees, all at once …`);
  const pairs = WORKERS.flatMap((workers) => trees.map((tree) => ({ workers, tree })));
  const drained = await Promise.all(pairs.map(({ workers, tree }) => child(tree.dir, workers)));
  drained.forEach((r, i) => {
    const key = `${pairs[i]!.tree.name}|${pairs[i]!.workers}`;
    results.set(key, [...(results.get(key) ?? []), r]);
    console.log(`  ${key}: ${JSON.stringify(r)}`);
  });
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const floorSeconds = (EVENTS - BURST) / RATE;
// Not drained in time: the share of the ceiling's launches it made by then.
const percent = (r: Drained) =>
  r.drainMs === null ? ((r.launchedInTime - BURST) / (RATE * (LIMIT_MS / 1000))) * 100 : ((EVENTS - BURST) / RATE / (r.drainMs / 1000)) * 100;
const spread = (xs: readonly number[], digits: number) =>
  xs.length === 1 ? xs[0]!.toFixed(digits) : `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}, ${Math.max(...xs).toFixed(digits)}]`;
const sum = (rs: readonly Drained[], f: (r: Drained) => number) => rs.map(f).reduce((a, b) => a + b, 0);
const rows = WORKERS.flatMap((workers) =>
  trees.map((t) => {
    const rs = results.get(`${t.name}|${workers}`)!;
    return [
      String(workers),
      t.name,
      rs.some((r) => r.drainMs === null)
        ? `not drained in ${LIMIT_MS / 1000} s (${rs.map((r) => r.launchedInTime.toLocaleString("en-US")).join(", ")} tasks)`
        : spread(rs.map((r) => r.drainMs! / 1000), 1),
      spread(rs.map(percent), 1),
      spread(rs.map((r) => r.dispatchMs / 1000), 1),
      spread(rs.map((r) => r.sweeps), 0),
      spread(rs.map((r) => r.relaunched), 0),
      spread(rs.map((r) => r.runTaskCalls), 0),
      spread(rs.map((r) => r.throttled), 0),
      String(sum(rs, (r) => r.duplicates)),
      String(sum(rs, (r) => r.lost)),
    ];
  }),
);
const after = WORKERS.flatMap((w) => results.get(`${trees[1]!.name}|${w}`)!);
const met = after.every((r) => r.drainMs !== null && percent(r) >= 95 && r.duplicates === 0 && r.lost === 0);

const md = `## Burst against ECS's launch rate

${EVENTS.toLocaleString("en-US")} S3 uploads dispatched by concurrent "Lambda" invocations (30 s each, as the stack's dispatch function) through
the real SDK (standard retries, ${awsClientConfig({}).maxAttempts} attempts) to a local ECS endpoint with a RunTask token bucket of ${RATE}/s, burst ${BURST}
(Fargate's published launch rate); the sweep every ${SWEEP_MS / 1000} s as a 60 s invocation, each tree with its own defaults. More
dispatch workers accept the burst sooner. The drain ends when every run has its task; the ceiling is the bucket's: ${floorSeconds.toFixed(0)} s
for ${EVENTS.toLocaleString("en-US")} launches (a drain not done in ${LIMIT_MS / 1000} s is stopped there: its share is the tasks it started by then
against the ${RATE}/s the bucket allowed). Before (${commit(base)}) and after, at every worker count, ran at the same time, each against its own endpoint; ${RUNS === 1 ? "one run each" : `median [min, max] of ${RUNS} runs`}.

${table(["workers", "code", "drain s", "% of ceiling", "dispatch done s", "sweeps", "relaunched by sweeps", "RunTask calls", "throttled", "duplicates", "lost"], rows)}

"relaunched by sweeps" counts the launches of the sweeps that ended before the drain did.

Target ≥ 95 % of the ceiling with 0 duplicates and 0 lost: ${met ? "met" : "not met"} by the working tree at every worker count.`;
console.log(`\n${md}`);
recordBenchmark("burst", md);
if (after.some((r) => r.duplicates !== 0 || r.lost !== 0)) process.exit(1);
