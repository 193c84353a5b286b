/**
 * Per Lambda handler: bundle size and cold-start init — the time to import
 * the bundle in a fresh Node process (SDK clients built, compiled catalog
 * loaded), less the time to import an empty module.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCatalog } from "../src/core/catalog/load.ts";
import { compileCatalog } from "../src/core/catalog/compiled.ts";
import { percentile, recordBenchmark, table } from "./report.ts";

const RUNS = 15;
execFileSync(process.execPath, ["scripts/build.mjs", "--quiet"]);
const loaded = loadCatalog(readFileSync("berth.yml", "utf8"), "berth.yml");
if (!loaded.ok) throw new Error("berth.yml must load");
const dir = mkdtempSync(join(tmpdir(), "berth-cold-"));
writeFileSync(join(dir, "catalog.json"), JSON.stringify(compileCatalog(loaded.catalog)));
writeFileSync(join(dir, "empty.mjs"), "export {};\n");
const env = { ...process.env, BERTH_TABLE: "berth-runs", BERTH_BUS: "berth", BERTH_CATALOG: join(dir, "catalog.json"), AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x" };

/** Milliseconds to import `file`, measured inside a fresh process. */
function importMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return Number(r.stdout.trim());
}

function median(file: string): number {
  const xs = Array.from({ length: RUNS }, () => importMs(file)).sort((a, b) => a - b);
  return percentile(xs, 50);
}

const base = median(join(dir, "empty.mjs"));
const rows: (string | number)[][] = [];
for (const name of ["dispatch", "track", "sweep"]) {
  const file = join(process.cwd(), "dist/handlers", `${name}.mjs`);
  const bytes = readFileSync(file);
  rows.push([name, `${(statSync(file).size / 1024).toFixed(0)} KiB`, `${(gzipSync(bytes).length / 1024).toFixed(0)} KiB`, (median(file) - base).toFixed(0)]);
}

const md = `## Lambda handlers: bundle size and cold-start init

esbuild ESM bundles (minified, \`mainFields: module,main\`, AWS SDK v3 bundled: ECS, EventBridge, DynamoDB document client).
Init is the median of ${RUNS} fresh processes importing the bundle with its configuration (clients built, compiled
catalog of the example loaded), less the import of an empty module (${base.toFixed(0)} ms).

${table(["handler", "bundle", "gzip", "init ms"], rows)}`;
console.log(md);
recordBenchmark("handlers", md);
