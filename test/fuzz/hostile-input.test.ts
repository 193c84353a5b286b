/**
 * Seeded property tests over hostile input, bounded by counts (never by time): mutated real events
 * (events/*.json) at dispatch through the engine over the in-memory shell, and hostile YAML at the loader and
 * through the built `berth validate`. What must hold for every input:
 * - nothing throws but berth's own errors (BerthError), and dispatch answers rather than throws;
 * - a dispatch whose every outcome is a rejection writes nothing to the store and launches nothing;
 * - the loader answers ok or a ConfigurationError whose issues each carry a message;
 * - every run of the CLI ends with exit 0, 1 or 2, without a stack trace.
 * A failure prints its seed and case number; FUZZ_SEED reproduces a run.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { buildRouter } from "../../src/core/router.ts";
import { Engine } from "../../src/core/engine/engine.ts";
import { MAX_NEW_RUN_CHARS } from "../../src/core/engine/dispatch.ts";
import { MAX_PARAM_VALUE } from "../../src/core/context/trigger-context.ts";
import { isBerthError } from "../../src/core/errors.ts";
import { MemoryRunStore } from "../support/memory-run-store.ts";
import { countingWrites } from "../support/counting-store.ts";
import { ManualClock, MemoryDeployer, MemoryLauncher, MemoryPublisher, countingBytes, sha256 } from "../support/memory-shell.ts";
import { random, type Rng } from "../support/random.ts";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite } from "../contract/dynalite.ts";
import { startFakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge } from "../support/fake-eventbridge.ts";
import { functionPackage, type Invocation } from "../handlers/lambda.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const root = new URL("../../", import.meta.url);
const exampleCatalog = readFileSync(new URL("berth.yml", root), "utf8");
const samples = readdirSync(new URL("events/", root))
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => ({ name: f, event: JSON.parse(readFileSync(new URL(`events/${f}`, root), "utf8")) as unknown }));

// ---------------------------------------------------------------- event mutations

/** Nested arrays (what the matcher's collection once recursed into without bound), or arrays and objects mixed. */
function deep(depth: number, leaf: unknown, rng: Rng): unknown {
  const arraysOnly = rng.int(2) === 0;
  let value = leaf;
  for (let i = 0; i < depth; i++) value = arraysOnly || rng.int(2) === 0 ? [value] : { [rng.pick(["a", "detail", "object", "key", "__proto__"])]: value };
  return value;
}

function hostileValue(rng: Rng): unknown {
  switch (rng.int(14)) {
    case 0:
      return null;
    case 1:
      return rng.pick([0, -1, 1e308, -0, 5e9 + 1, 0.1234567, Number.MAX_SAFE_INTEGER + 2]);
    case 2:
      return rng.pick([true, false]);
    case 3:
      return "";
    case 4:
      return "x".repeat(rng.pick([1025, 5000, 70_000, 2 * 1024 * 1024]));
    case 5:
      return rng.pick(["%", "%zz", "%E2%82", "a+b%2F..%2F..", "\u0000", "\uD800", "\uFFFF", "../../etc/passwd", "${s3.key}", "$${x}"]);
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return deep(rng.pick([5, 31, 33, 1000, 50_000]), "v", rng);
    case 9:
      return Array.from({ length: rng.pick([2, 100, 20_000]) }, (_, i) => (i % 2 ? "a" : { k: i }));
    case 10:
      return JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}');
    case 11:
      return { "a.b": "c", "detail.bucket.name": "media-uploads", ".": 1, "": "" };
    case 12:
      return "0".repeat(40);
    default:
      return rng.pick(["refs/heads/main", "refs/tags/v1", "media-uploads", "incoming/a.png", "2024-11-26T18:00:00Z", "acme/web"]);
  }
}

type Json = Record<string, unknown>;

/** Every [holder, key] in the event, so a mutation can aim anywhere. */
function places(value: unknown, out: [Json | unknown[], string | number][] = [], depth = 0): [Json | unknown[], string | number][] {
  if (depth > 12 || value === null || typeof value !== "object") return out;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([value, i]);
      places(item, out, depth + 1);
    });
  } else {
    for (const key of Object.keys(value)) {
      out.push([value as Json, key]);
      places((value as Json)[key], out, depth + 1);
    }
  }
  return out;
}

function mutate(event: unknown, rng: Rng): unknown {
  if (rng.int(40) === 0) return hostileValue(rng);
  const copy = structuredClone(event) as Json;
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const spots = places(copy);
    const [holder, key] = rng.pick(spots);
    const h = holder as Record<string | number, unknown>;
    switch (rng.int(6)) {
      case 0:
        if (Array.isArray(holder)) holder.splice(Number(key), 1);
        else delete h[key];
        break;
      case 1:
        if (!Array.isArray(holder) && typeof key === "string") {
          // A key spelled with dots, or cut to an empty or prototype name.
          const value = h[key];
          delete h[key];
          h[rng.pick([`${key}.x`, key.replace(/-/g, "."), "", "__proto__", "constructor", `x.${key}`])] = value;
        }
        break;
      default:
        h[key] = hostileValue(rng);
    }
  }
  return copy;
}

// ---------------------------------------------------------------- dispatch

describe("dispatch on mutated real events", () => {
  const loaded = loadCatalog(exampleCatalog, "berth.yml");
  if (!loaded.ok) throw new Error("the example catalog must load");
  const router = buildRouter(loaded.catalog);
  const jobs = Object.keys(loaded.catalog.jobs);

  it("answers every one of 1,500 mutated events, and writes nothing when it rejects", async () => {
    const rng = random(SEED);
    const counted = countingWrites(new MemoryRunStore());
    const launcher = new MemoryLauncher();
    const deployer = new MemoryDeployer();
    const engine = new Engine({ router, store: counted.store, launcher, deployer, publisher: new MemoryPublisher(), clock: new ManualClock(), randomBytes: countingBytes, sha256 });
    const kinds = { accepted: 0, duplicate: 0, rejected: 0, batched: 0 };
    for (let i = 0; i < 1500; i++) {
      const sample = rng.pick(samples);
      const event = mutate(sample.event, rng);
      const job = rng.int(3) === 0 ? rng.pick([...jobs, "no-such-job", "x".repeat(5000)]) : undefined;
      const wrapped = rng.int(10) === 0 ? { job, event } : event;
      const before = counted.writes();
      const tasks = launcher.runTaskCalls;
      let outcomes;
      try {
        outcomes = await engine.dispatch(wrapped, job);
      } catch (error) {
        // Only berth's own errors may leave dispatch (the handler classifies them); nothing here fails for a store or ECS.
        expect.soft(isBerthError(error), `seed ${SEED} case ${i} (${sample.name}): ${String(error)}`).toBe(true);
        continue;
      }
      expect(Array.isArray(outcomes), `seed ${SEED} case ${i}`).toBe(true);
      for (const o of outcomes) {
        kinds[o.kind] += 1;
        if (o.kind === "rejected") {
          expect(typeof o.reason === "string" && o.reason.length > 0 && o.reason.length < 10_000, `seed ${SEED} case ${i}: reason ${o.reason.slice(0, 200)}`).toBe(true);
        }
      }
      if (outcomes.every((o) => o.kind === "rejected")) {
        expect(counted.writes() - before, `seed ${SEED} case ${i} (${sample.name}) wrote on rejection`).toBe(0);
        expect(launcher.runTaskCalls - tasks, `seed ${SEED} case ${i} launched on rejection`).toBe(0);
      }
    }
    // What was accepted was stored within bounds: no forged value made it into a run record whole.
    for (const run of await counted.store.listRuns({ limit: 1000 })) {
      expect(JSON.stringify(run).length, `seed ${SEED}: run ${run.id} of ${run.job}`).toBeLessThanOrEqual(MAX_NEW_RUN_CHARS);
      for (const [name, value] of Object.entries(run.context)) expect(value.length, `seed ${SEED}: ${run.job} ${name}`).toBeLessThanOrEqual(MAX_PARAM_VALUE);
    }
    // The mutations reach past the envelope check: some events still run, most are refused for a reason.
    expect(kinds.rejected).toBeGreaterThan(500);
    expect(kinds.accepted + kinds.duplicate).toBeGreaterThan(20);
  });
});

// ---------------------------------------------------------------- YAML

const YAML_PIECES = ["[", "]", "{", "}", ": ", "- ", "&a ", "*a", "? ", "!!str ", "!!binary ", "\t", "'", '"', "#", "|\n", ">\n", "---\n", "...\n", "<<: *a\n", "%YAML 1.2\n", "\u0000", "\uFEFF", "${", "1e999", "0x", "~"];

function hostileYaml(rng: Rng): string {
  switch (rng.int(8)) {
    case 0: {
      const levels = 3 + rng.int(8);
      const width = 2 + rng.int(9);
      let text = `a0: &a0 [${Array.from({ length: width }, () => "x").join(", ")}]\n`;
      for (let i = 1; i < levels; i++) text += `a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(", ")}]\n`;
      return text;
    }
    case 1: {
      let text = "k0: &k0 { a: 1 }\n";
      const levels = 2 + rng.int(40);
      for (let i = 1; i < levels; i++) text += `k${i}: &k${i} { ? *k${i - 1} : *k${i - 1}, ? { x: *k${i - 1} } : ${i} }\n`;
      return text;
    }
    case 2: {
      const n = rng.pick([10, 100, 1000, 10_000]);
      return `jobs: ${rng.pick(["[", "{", "- ", "? "]).repeat(n)}x\n`;
    }
    case 3: {
      let key = "x";
      for (let i = 0; i < 1 + rng.int(60); i++) key = `{ ? ${key} : ${i} }`;
      return `version: 1\njobs:\n  ${key}: 1\n`;
    }
    default: {
      // The example catalog with pieces of YAML syntax spliced in at random places.
      let text = exampleCatalog;
      for (let r = 0; r < 1 + rng.int(6); r++) {
        const at = rng.int(text.length);
        text = rng.int(4) === 0 ? text.slice(0, at) + text.slice(at + 1 + rng.int(40)) : text.slice(0, at) + rng.pick(YAML_PIECES) + text.slice(at);
      }
      return text;
    }
  }
}

describe("the loader on hostile YAML", () => {
  it("answers each of 400 hostile catalogs with a catalog or located problems", () => {
    const rng = random(SEED + 1);
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      const text = hostileYaml(rng);
      let result;
      try {
        result = loadCatalog(text, "berth.yml");
      } catch (error) {
        expect.fail(`seed ${SEED + 1} case ${i}: loadCatalog threw ${String(error)} on ${JSON.stringify(text.slice(0, 300))}`);
      }
      if (result.ok) continue;
      rejected++;
      expect(result.error.issues.length, `seed ${SEED + 1} case ${i}`).toBeGreaterThan(0);
      expect(result.error.issues.length, `seed ${SEED + 1} case ${i}: too many issues`).toBeLessThan(100);
      for (const issue of result.error.issues) expect(issue.message.length, `seed ${SEED + 1} case ${i}`).toBeGreaterThan(0);
    }
    expect(rejected).toBeGreaterThan(300);
  });
});

describe("berth validate on hostile YAML", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-fuzz-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = new URL("bin/berth.js", root).pathname;
  const run = promisify(execFile);

  it("exits 0, 1 or 2 without a stack trace for each of 24 hostile catalogs", async () => {
    const rng = random(SEED + 2);
    const texts = Array.from({ length: 24 }, () => hostileYaml(rng));
    for (const [i, text] of texts.entries()) {
      const file = join(dir, `case-${i}.yml`);
      writeFileSync(file, text);
      let code = 0;
      let stderr = "";
      try {
        ({ stderr } = await run(process.execPath, [bin, "validate", "--config", file], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } }));
      } catch (error) {
        const e = error as { code?: number; stderr?: string };
        code = typeof e.code === "number" ? e.code : -1;
        stderr = e.stderr ?? "";
      }
      expect([0, 1, 2], `seed ${SEED + 2} case ${i}: exit ${code}: ${stderr.slice(0, 500)}`).toContain(code);
      expect(stderr, `seed ${SEED + 2} case ${i}`).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    }
  });
});

// ---------------------------------------------------------------- the built dispatch bundle

describe("the built dispatch function on mutated real events", () => {
  // Events reach the function's process through one environment variable, which Linux caps at 128 KiB.
  const BATCH_CHARS = 100_000;
  const BUNDLE_SAMPLES = ["manual-run.json", "run-succeeded.json", "s3-object-created.json", "s3-object-created-hostile-key.json", "s3-object-created-other-bucket.json", "schedule-fired.json"];

  it("answers 240 mutated events, rethrows only retryable errors, and stores runs only for what it accepted", async () => {
    const [dynamo, ecs, bus] = await Promise.all([startDynalite(), startFakeEcs(), startFakeEventBridge()]);
    const loaded = loadCatalog(exampleCatalog, "berth.yml");
    if (!loaded.ok) throw new Error("the example catalog must load");
    const pkg = functionPackage(compileCatalog(loaded.catalog));
    try {
      await createTable(dynamo.client(), runTableDefinition("fuzz-runs"));
      const env = {
        BERTH_TABLE: "fuzz-runs",
        BERTH_BUS: "berth",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_ECS: ecs.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
      };
      const rng = random(SEED + 3);
      const pool = samples.filter((s) => BUNDLE_SAMPLES.includes(s.name));
      const jobs = Object.keys(loaded.catalog.jobs);
      const batches: unknown[][] = [[]];
      let chars = 0;
      let made = 0;
      while (made < 240) {
        const input = { job: rng.pick(jobs), event: mutate(rng.pick(pool).event, rng) };
        let text: string;
        try {
          text = JSON.stringify(input);
        } catch {
          continue; // nested past what JSON.stringify reaches: no Lambda payload can be that
        }
        if (text.length > BATCH_CHARS) continue;
        if (chars + text.length > BATCH_CHARS) {
          batches.push([]);
          chars = 0;
        }
        batches[batches.length - 1]!.push(input);
        chars += text.length;
        made++;
      }
      const invocations: Invocation[] = [];
      for (const batch of batches) {
        const container = await pkg.run("dispatch", batch, env);
        expect(container.initError).toBeUndefined();
        invocations.push(...container.invocations);
      }
      expect(invocations).toHaveLength(240);
      const accepted = new Set<string>();
      for (const [i, invocation] of invocations.entries()) {
        if (!invocation.ok) {
          expect(invocation.error.retryable, `seed ${SEED + 3} invocation ${i}: ${invocation.error.name}: ${invocation.error.message}`).toBe(true);
          continue;
        }
        for (const o of invocation.value.outcomes as { kind: string; runId?: string }[]) if (o.runId !== undefined) accepted.add(o.runId);
      }
      const { Items = [] } = await dynamo.client().send(new ScanCommand({ TableName: "fuzz-runs" }));
      const stored = Items.flatMap((item) => (item.PK?.S?.startsWith("RUN#") ? [item.PK.S.slice(4)] : []));
      expect(new Set(stored)).toEqual(accepted);
      expect(accepted.size, "some mutated events still run").toBeGreaterThan(0);
      expect(ecs.stats.tasksLaunched).toBeLessThanOrEqual(accepted.size);
    } finally {
      await Promise.all([dynamo.close(), ecs.close(), bus.close()]);
      rmSync(pkg.dir, { recursive: true, force: true });
    }
  }, 120_000);
});
