/**
 * The Lambda handlers, side by side in one run: each bundle's size (its entry file, what a cold start loads: the
 * entry and the chunks it imports, and everything with the chunks loaded at first use) and cold module init — the
 * time to import the bundle in a fresh Node process with its configuration (SDK clients built, compiled catalog of
 * the example loaded) — for the builds of base commits (`--base <ref>`, as many as given, default HEAD: the bundles
 * as committed; `npm run bench -- handlers --base 6b1f83e --base HEAD`), each built by its own build script in a
 * temporary git worktree, beside the build of the working tree, an empty module and Powertools Logger alone. Every
 * measurement is a fresh process, and all of them take turns, so a busy moment slows them alike. "× base" compares
 * with the first base.
 *
 * Then what the first use of the ECS service deployer's chunk costs (its import, in a process whose cold start is
 * done), what the new import is made of: Node's built-ins, V8's compilation of the files, the evaluation of their
 * modules, the cold start proper (each measured on its own, in fresh processes), and, from CPU profiles of an
 * unminified build of the same bundles (whose esbuild comments name every module), which modules the evaluation
 * and the cold start spend their time in.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { loadCatalog } from "../src/core/catalog/load.ts";
import { compileCatalog } from "../src/core/catalog/compiled.ts";
import { handlerFiles, type HandlerFiles } from "../test/support/bundle-files.ts";
import { percentile, recordBenchmark, table } from "./report.ts";
import { baseRefs } from "./worktree.ts";

const RUNS = 21;
const PROFILE_RUNS = 5;
const HANDLERS = ["dispatch", "track", "sweep", "webhook"] as const;
/** The handlers whose bundles load the ECS service deployer at its first use. */
const DEPLOYING = ["dispatch", "track", "sweep"] as const;
const BASE_REFS = baseRefs();

const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), "berth-handlers-bench-"));
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const baseCommits = BASE_REFS.map((ref) => git("rev-parse", "--short", ref));

// The example catalog, compiled, as the functions get it.
const loaded = loadCatalog(readFileSync("berth.yml", "utf8"), "berth.yml");
if (!loaded.ok) throw new Error("berth.yml must load");
writeFileSync(join(dir, "catalog.json"), JSON.stringify(compileCatalog(loaded.catalog)));
writeFileSync(join(dir, "empty.mjs"), "export {};\n");
// What the Logger imports of Node, loaded by the handlers anyway (node:crypto by the SDK and berth).
writeFileSync(join(dir, "logger-builtins.mjs"), 'import "node:async_hooks"; import "node:console"; import "node:crypto";\n');
const env = {
  ...process.env,
  BERTH_TABLE: "berth-runs",
  BERTH_BUS: "berth",
  BERTH_CATALOG: join(dir, "catalog.json"),
  POWERTOOLS_SERVICE_NAME: "berth-acme-jobs",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "secret",
  AWS_SESSION_TOKEN: "token",
  // The webhook's secret, as the stack names it from berth.yml's webhook block (read at the first delivery).
  BERTH_WEBHOOK_SECRET_SOURCE: "ssm",
  BERTH_WEBHOOK_SECRET_NAME: "/acme-jobs/webhook-secret",
};

// The working tree's bundles, built into this run's own folder, and the same unminified for the profile.
const NEW = join(dir, "new");
execFileSync(process.execPath, ["scripts/build.mjs", "--quiet", "--handlers-into", NEW], { stdio: "inherit" });
execFileSync(process.execPath, ["scripts/build.mjs", "--quiet", "--handlers-into", join(dir, "unminified"), "--unminified"], { stdio: "inherit" });

// Each base commit's bundles (entries and chunks), built by its own build script in a worktree that shares node_modules.
for (const [i, ref] of BASE_REFS.entries()) {
  const worktree = join(dir, `base-${i}-tree`);
  git("worktree", "add", "--detach", worktree, ref);
  try {
    symlinkSync(join(root, "node_modules"), join(worktree, "node_modules"), "dir");
    execFileSync(process.execPath, ["scripts/build.mjs", "--quiet"], { cwd: worktree, stdio: "inherit" });
    cpSync(join(worktree, "dist/handlers"), join(dir, `base-${i}`), { recursive: true, filter: (f) => !f.endsWith(".map") });
  } finally {
    git("worktree", "remove", "--force", worktree);
  }
}

// Powertools Logger alone, bundled as the handlers bundle it.
await build({
  stdin: { contents: 'import { Logger } from "@aws-lambda-powertools/logger"; export const logger = new Logger({ serviceName: "berth" });', resolveDir: root, loader: "js" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  mainFields: ["module", "main"],
  outfile: join(dir, "logger.mjs"),
  logLevel: "error",
});

/** Runs `script` (an ES module printing a number of milliseconds last) in a fresh Node process. */
function timed(script: string, options: { readonly env?: NodeJS.ProcessEnv; readonly flags?: readonly string[] } = {}): number {
  const r = spawnSync(process.execPath, [...(options.flags ?? []), "--input-type=module", "-e", script], { env: options.env ?? env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`a measurement failed: ${r.stderr}`);
  return Number(r.stdout.trim().split("\n").at(-1));
}

/** ms to import `file`; with `failing`, until the import fails (its cold start throws). */
const importing = (file: string, failing = false) =>
  `const t = performance.now(); try { await import(${JSON.stringify(pathToFileURL(file).href)}); } catch (e) { if (!${failing}) throw e; } console.log(performance.now() - t);`;
/** ms to import `chunk` once `entry` is imported: what its first use costs. */
const importingAfter = (entry: string, chunk: string) =>
  `await import(${JSON.stringify(pathToFileURL(entry).href)}); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(chunk).href)}); console.log(performance.now() - t);`;
/** ms for V8 to compile `files` as modules, without linking or evaluating them. */
const compiling = (files: readonly string[]) =>
  `import { readFileSync } from "node:fs"; import { SourceTextModule } from "node:vm"; const sources = ${JSON.stringify(files)}.map((f) => readFileSync(f, "utf8")); const t = performance.now(); for (const source of sources) new SourceTextModule(source); console.log(performance.now() - t);`;

/** A module importing the Node built-ins `files` import, and nothing else. */
function builtinsOf(files: readonly string[], out: string): string {
  const names = [...new Set(files.flatMap((f) => [...readFileSync(f, "utf8").matchAll(/(?:from|import)\s*"(node:[a-z_/]+)"/g)].map((m) => m[1]!)))];
  writeFileSync(out, names.map((n) => `import "${n}";`).join("\n") + "\n");
  return out;
}

interface Probe {
  readonly key: string;
  readonly measure: () => number;
  readonly times: number[];
}
const probes = new Map<string, Probe>();
const probe = (key: string, measure: () => number) => probes.set(key, { key, measure, times: [] });
const newFiles = (name: string): HandlerFiles => handlerFiles(NEW, name);
/** A base's files of `name`; undefined where that commit has no such handler. */
const baseFiles = (i: number, name: string): HandlerFiles | undefined => (existsSync(join(dir, `base-${i}`, `${name}.mjs`)) ? handlerFiles(join(dir, `base-${i}`), name) : undefined);
const { BERTH_TABLE: _table, BERTH_BUS: _bus, ...unconfigured } = env;

probe("empty", () => timed(importing(join(dir, "empty.mjs"))));
probe("logger", () => timed(importing(join(dir, "logger.mjs"))));
probe("logger-builtins", () => timed(importing(join(dir, "logger-builtins.mjs"))));
for (const name of HANDLERS) {
  const files = newFiles(name);
  const builtins = builtinsOf(files.coldStart, join(dir, `${name}-builtins.mjs`));
  BASE_REFS.forEach((_, i) => {
    const base = baseFiles(i, name);
    if (base) probe(`${name} base ${i}`, () => timed(importing(base.entry)));
  });
  probe(`${name} new`, () => timed(importing(files.entry)));
  probe(`${name} builtins`, () => timed(importing(builtins)));
  probe(`${name} compile`, () => timed(compiling(files.coldStart), { flags: ["--experimental-vm-modules", "--no-warnings"] }));
  probe(`${name} unconfigured`, () => timed(importing(files.entry, true), { env: unconfigured }));
  if (files.onFirstUse.length === 1) probe(`${name} deployer`, () => timed(importingAfter(files.entry, files.onFirstUse[0]!)));
}
// Every probe once per round, so a busy moment slows them all alike.
for (let i = 0; i < RUNS; i++) for (const p of probes.values()) p.times.push(p.measure());

const sorted = (key: string) => [...probes.get(key)!.times].sort((a, b) => a - b);
const median = (key: string) => percentile(sorted(key), 50);
const spread = (key: string) => `${median(key).toFixed(0)} [${sorted(key)[0]!.toFixed(0)}, ${sorted(key).at(-1)!.toFixed(0)}]`;
const spread1 = (key: string) => `${median(key).toFixed(1)} [${sorted(key)[0]!.toFixed(1)}, ${sorted(key).at(-1)!.toFixed(1)}]`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const empty = median("empty");
const net = (key: string) => median(key) - empty;
const size = (files: readonly string[]) => files.reduce((n, f) => n + statSync(f).size, 0);
const gzip = (files: readonly string[]) => files.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
/** Entry file; what a cold start loads, and gzip of it; everything, with the chunks loaded at first use. */
const sizes = (f: HandlerFiles) => [kib(size([f.entry])), kib(size(f.coldStart)), kib(gzip(f.coldStart)), kib(size([...f.coldStart, ...f.onFirstUse]))];
const one = (file: string) => [kib(size([file])), kib(size([file])), kib(gzip([file])), kib(size([file]))];

const rows: (string | number)[][] = [
  ["(empty module)", "", ...one(join(dir, "empty.mjs")), spread("empty"), "", ""],
  ["(Powertools Logger alone)", "", ...one(join(dir, "logger.mjs")), spread("logger"), net("logger").toFixed(0), ""],
  ["(the Node built-ins it imports)", "", "", "", "", "", spread("logger-builtins"), net("logger-builtins").toFixed(0), ""],
  ...HANDLERS.flatMap((name) => {
    const first = probes.has(`${name} base 0`) ? `${name} base 0` : undefined;
    const ratio = (key: string) => (first ? `${(net(key) / net(first)).toFixed(2)}×` : "");
    return [
      ...BASE_REFS.flatMap((_, i) => {
        const base = baseFiles(i, name);
        return base ? [[name, `base ${baseCommits[i]}`, ...sizes(base), spread(`${name} base ${i}`), net(`${name} base ${i}`).toFixed(0), i === 0 ? "" : ratio(`${name} base ${i}`)]] : [];
      }),
      [name, "new", ...sizes(newFiles(name)), spread(`${name} new`), net(`${name} new`).toFixed(0), ratio(`${name} new`)],
    ];
  }),
];

// The deployer's chunk at its first use: the import that the first deploy, stop or deployment read pays.
const deployerRows = DEPLOYING.filter((name) => probes.has(`${name} deployer`)).map((name) => [name, kib(size(newFiles(name).onFirstUse)), kib(gzip(newFiles(name).onFirstUse)), spread1(`${name} deployer`)]);

// The new import, cut into what each step adds (medians of the probes above).
const budget = HANDLERS.map((name) => {
  const builtins = median(`${name} builtins`) - empty;
  const compile = median(`${name} compile`);
  const evaluation = Math.max(0, median(`${name} unconfigured`) - empty - builtins - compile);
  const init = median(`${name} new`) - median(`${name} unconfigured`);
  return { builtins, compile, evaluation, init };
});
const budgetRows = [
  ["Node's built-in modules the bundle imports (https, crypto, fs…)", ...budget.map((b) => b.builtins.toFixed(1))],
  ["V8 compiling what a cold start loads (entry and chunks)", ...budget.map((b) => b.compile.toFixed(1))],
  ["evaluating its modules, the logger", ...budget.map((b) => b.evaluation.toFixed(1))],
  ["cold start: configuration, compiled catalog, SDK clients, router", ...budget.map((b) => b.init.toFixed(1))],
  ["net init (the table above)", ...HANDLERS.map((name) => net(`${name} new`).toFixed(1))],
];

// Where the import spends its time, from V8's CPU profiles.
interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly hitCount?: number;
  readonly positionTicks?: readonly { readonly line: number; readonly ticks: number }[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Milliseconds of samples per bucket, over `PROFILE_RUNS` fresh processes importing `file` (mean per run). */
function profile(file: string, bucketOf: (node: ProfileNode, line: number | undefined) => string): Map<string, number> {
  const out = join(dir, "cpu", file.split("/").slice(-2).join("-"));
  mkdirSync(out, { recursive: true });
  for (let i = 0; i < PROFILE_RUNS; i++) {
    const r = spawnSync(process.execPath, ["--cpu-prof", "--cpu-prof-dir", out, "--cpu-prof-interval", "100", "--input-type=module", "-e", `await import(${JSON.stringify(file)});`], { env });
    if (r.status !== 0) throw new Error(`profiling ${file} failed: ${String(r.stderr)}`);
  }
  const ms = new Map<string, number>();
  for (const f of readdirSync(out)) {
    const p = JSON.parse(readFileSync(join(out, f), "utf8")) as Profile;
    const tick = (p.endTime - p.startTime) / p.samples.length / 1000 / PROFILE_RUNS;
    const add = (k: string, n: number) => ms.set(k, (ms.get(k) ?? 0) + n * tick);
    for (const n of p.nodes) {
      if (n.callFrame.url.startsWith("file:") && n.positionTicks) for (const t of n.positionTicks) add(bucketOf(n, t.line), t.ticks);
      else if (n.hitCount) add(bucketOf(n, undefined), n.hitCount);
    }
  }
  return ms;
}

function phaseOf(node: ProfileNode): string {
  if (node.callFrame.url.startsWith("file:")) return "bundle";
  return node.callFrame.url.startsWith("node:") ? "Node" : "V8";
}

/** The module each line of an unminified esbuild bundle came from (its `// path` comments), grouped by package or source folder. */
function moduleLines(file: string): string[] {
  const owner: string[] = [];
  let current = "esbuild runtime";
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((text, i) => {
      // Packages by their path from the innermost node_modules (a worktree's node_modules may be a link elsewhere).
      const m = /^\/\/ (?:\S*\/)?(node_modules\/\S+)$/.exec(text) ?? /^\/\/ ((?:src|handlers)\/\S+)$/.exec(text);
      if (m) {
        // The ECS schema module, cut into one module per declaration (scripts/schemas-by-declaration.mjs).
        const path = m[1]!.replace(/^node_modules\/\.cache\/berth-schemas\/(client-[a-z0-9-]+)-[0-9a-f]+\/\d+\.js$/, "node_modules/@aws-sdk/$1/dist-es/schemas/schemas_0.js");
        const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)(?:\/dist-es\/submodules\/([^/]+))?/.exec(path);
        current = pkg ? `${pkg[1]}${pkg[2] ? `/${pkg[2]}` : ""}` : path.split("/").slice(0, path.startsWith("src/") ? 3 : 1).join("/");
      }
      owner[i + 1] = current;
    });
  return owner;
}

const byModule = HANDLERS.map((name) => {
  const files = handlerFiles(join(dir, "unminified"), name);
  const owners = new Map(files.coldStart.map((f) => [pathToFileURL(f).href, moduleLines(f)]));
  return profile(files.entry, (node, line) => (line !== undefined ? owners.get(node.callFrame.url)?.[line] ?? "esbuild runtime" : phaseOf(node)));
});
const inBundle = (k: string) => k !== "V8" && k !== "Node";
const moduleNames = [...new Set(byModule.flatMap((p) => [...p.keys()].filter(inBundle)))].sort((a, b) => (byModule[0]!.get(b) ?? 0) - (byModule[0]!.get(a) ?? 0));
const moduleRows = moduleNames.slice(0, 15).map((k) => [k, ...byModule.map((p) => (p.get(k) ?? 0).toFixed(1))]);

const bases = baseCommits.map((c, i) => (i === 0 ? `${c} (the "× base" reference)` : c)).join(", ");
const md = `## Lambda handlers: bundle size and cold-start init

esbuild ESM bundles (minified, \`mainFields: module,main\`, AWS SDK v3 bundled, each handler built on its own with
code splitting), the working tree's beside those of commit ${bases}. Sizes: the entry file
(\`dist/handlers/<fn>.mjs\`); what a cold start loads, the entry and the chunks it imports, and its gzip; everything,
with the chunk of the ECS service deployer that only its first use loads. Import: ms to import the bundle in a fresh
Node process with its configuration (SDK clients built, the example's compiled catalog loaded), median [min, max] of
${RUNS} processes per row, all rows taking turns; "net" is the median less the empty module's; "× base" compares the
net medians.

${table(["handler", "build", "entry", "cold start", "gzip", "with chunks", "import ms", "net ms", "× base"], rows)}

The deployer's chunk at its first use (the first deploy, stop or deployment read of a container): ms to import it in a
process whose cold start is done, median [min, max] of ${RUNS} fresh processes; what it adds to that call:

${table(["handler", "chunk", "gzip", "import ms"], deployerRows)}

What the new net init is made of, ms (medians of as many fresh processes each: a module importing only the Node
built-ins the cold start's files import; V8 compiling those files as modules and nothing more; the bundle imported
without BERTH_TABLE and BERTH_BUS, so its cold start stops at the configuration; the whole import):

${table(["step", ...HANDLERS], budgetRows)}

Where evaluation and cold start spend their time, by module: ms per process in CPU profiles of an unminified build of
the same bundles (${PROFILE_RUNS} processes each, sampled every 100 µs, which slows them):

${table(["module", ...HANDLERS], moduleRows)}`;
console.log(md);
recordBenchmark("handlers", md);
rmSync(dir, { recursive: true, force: true });
