/**
 * CLI start-up, side by side in one run: `berth --version`, `berth validate` and `berth explain <event>` on the example
 * catalog (berth.yml, events/s3-object-created.json) for the builds of base commits (`--base <ref>`, as many as given,
 * default HEAD; `npm run bench -- cli --base 195d6a6`), each built by its own build script in a temporary git worktree,
 * and for the working tree's build, each laid out as the package installs it (bin/, dist/, package.json), beside
 * `node -e ""`: the floor every Node command pays. A measurement is one fresh process, from spawn to exit, and all of
 * them take turns, so a busy moment slows them alike; a command's ratio to the floor is taken round by round, against
 * the floor's process of the same round.
 *
 * Then what `validate` is made of: processes that import the CLI's catalog reader alone (the YAML parser, zod and the
 * catalog's schema), and that import it and read berth.yml, measured in the same rounds; and what each command line
 * loads: the built files, as a module-load hook in the running CLI reports them.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { percentile, recordBenchmark, table } from "./report.ts";
import { baseRefs } from "./worktree.ts";

const RUNS = 31;
const EVENT = "events/s3-object-created.json";
const COMMANDS = [
  { key: "version", label: "`berth --version`", args: ["--version"], target: 1.5 },
  { key: "validate", label: "`berth validate`", args: ["validate"], target: 2 },
  { key: "explain", label: `\`berth explain ${EVENT}\``, args: ["explain", EVENT], target: 2 },
] as const;
const BASE_REFS = baseRefs();

const root = process.cwd();
const dir = mkdtempSync(join(tmpdir(), "berth-cli-bench-"));
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const baseCommits = BASE_REFS.map((ref) => git("rev-parse", "--short", ref));
// The builds' external packages (better-sqlite3) resolve from here, as from an install's node_modules.
symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");

/** A build laid out as the package: `from`'s bin/ and package.json, and with `withDist` its dist/ (the CLI's files). */
function layOut(name: string, from: string, withDist: boolean): string {
  const to = join(dir, name);
  cpSync(join(from, "bin"), join(to, "bin"), { recursive: true });
  copyFileSync(join(from, "package.json"), join(to, "package.json"));
  if (withDist) cpSync(join(from, "dist"), join(to, "dist"), { recursive: true, filter: (f) => !f.endsWith(".map") && !f.startsWith(join(from, "dist/handlers")) });
  return to;
}

const builds: { readonly name: string; readonly label: string; readonly path: string }[] = [];
for (const [i, ref] of BASE_REFS.entries()) {
  const worktree = join(dir, `base-${i}-tree`);
  git("worktree", "add", "--detach", worktree, ref);
  try {
    symlinkSync(join(root, "node_modules"), join(worktree, "node_modules"), "dir");
    execFileSync(process.execPath, ["scripts/build.mjs", "--quiet"], { cwd: worktree, stdio: "inherit" });
    builds.push({ name: `base-${i}`, label: `base ${baseCommits[i]}`, path: layOut(`base-${i}`, worktree, true) });
  } finally {
    git("worktree", "remove", "--force", worktree);
  }
}
const NEW = layOut("new", root, false);
execFileSync(process.execPath, ["scripts/build.mjs", "--quiet", "--cli-into", join(NEW, "dist")], { stdio: "inherit" });
builds.push({ name: "new", label: "new", path: NEW });

// What validate is made of, each bundled as the CLI bundles it: zod alone, the YAML parser alone, the working tree's
// catalog reader (both, the catalog's schema and the core it uses), and the reader with berth.yml read.
for (const [name, contents] of [
  ["zod", 'import { z } from "zod"; globalThis.zod = z;'],
  ["yaml", 'import { parseDocument } from "yaml"; globalThis.yaml = parseDocument;'],
  ["reader", 'import { readCatalog } from "./src/cli/catalog-file.ts"; globalThis.reader = readCatalog;'],
  ["read", 'import { readCatalog } from "./src/cli/catalog-file.ts"; if (!readCatalog("berth.yml").ok) throw new Error("berth.yml must load");'],
] as const) {
  await build({
    stdin: { contents, resolveDir: root, loader: "ts", sourcefile: `${name}.ts` },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    banner: { js: 'import { createRequire as __berthCreateRequire } from "node:module"; const require = __berthCreateRequire(import.meta.url);' },
    mainFields: ["module", "main"],
    outfile: join(dir, `${name}.mjs`),
    logLevel: "error",
  });
}

// Every built file a command line loads, one URL a line in the file LOADED_LOG names.
writeFileSync(join(dir, "hooks.mjs"), 'import { appendFileSync } from "node:fs";\nexport async function load(url, context, next) {\n  appendFileSync(process.env.LOADED_LOG, `${url}\\n`);\n  return next(url, context);\n}\n');
writeFileSync(join(dir, "register.mjs"), 'import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n');

/** The built files (and their bytes) that `berth args` of `build` loads. */
function loaded(build: string, args: readonly string[]): { files: number; bytes: number } {
  const log = join(dir, "loaded.txt");
  writeFileSync(log, "");
  const r = spawnSync(process.execPath, ["--import", pathToFileURL(join(dir, "register.mjs")).href, join(build, "bin/berth.js"), ...args], { cwd: root, env: { ...process.env, LOADED_LOG: log } });
  if (r.status !== 0) throw new Error(`berth ${args.join(" ")} (${build}) failed: ${String(r.stderr)}`);
  const files = readFileSync(log, "utf8").split("\n").filter((u) => u.startsWith("file:")).map((u) => fileURLToPath(u)).filter((f) => f.startsWith(join(build, "dist")));
  return { files: files.length, bytes: files.reduce((n, f) => n + statSync(f).size, 0) };
}

interface Probe {
  readonly key: string;
  readonly argv: readonly string[];
  readonly times: number[];
  readonly ratios: number[];
}
const probes = new Map<string, Probe>();
const probe = (key: string, argv: readonly string[]) => probes.set(key, { key, argv, times: [], ratios: [] });
probe("floor", ["-e", ""]);
for (const name of ["zod", "yaml", "reader", "read"]) probe(name, [join(dir, `${name}.mjs`)]);
for (const b of builds) for (const c of COMMANDS) probe(`${c.key} ${b.name}`, [join(b.path, "bin/berth.js"), ...c.args]);

/** ms from spawn to exit of a fresh Node process running `argv`, from the repository (berth.yml, events/). */
function timed(argv: readonly string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { cwd: root, stdio: "ignore", env: { ...process.env, NO_COLOR: "1" } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`node ${argv.join(" ")} exited ${r.status}`);
  return ms;
}

// One round unmeasured (files into the page cache), then every probe once per round.
for (const p of probes.values()) timed(p.argv);
for (let i = 0; i < RUNS; i++) {
  const round = new Map([...probes.values()].map((p) => [p.key, timed(p.argv)]));
  const floor = round.get("floor")!;
  for (const p of probes.values()) {
    p.times.push(round.get(p.key)!);
    p.ratios.push(round.get(p.key)! / floor);
  }
  appendFileSync(1, ".");
}
appendFileSync(1, "\n");

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]) => percentile(sorted(xs), 50);
const spread = (xs: readonly number[], digits: number) => `${median(xs).toFixed(digits)} [${sorted(xs)[0]!.toFixed(digits)}, ${sorted(xs).at(-1)!.toFixed(digits)}]`;
const get = (key: string) => probes.get(key)!;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

const rows = [
  ['`node -e ""`', "", spread(get("floor").times, 0), "1", "", "", ""],
  ...COMMANDS.flatMap((c) =>
    builds.map((b) => {
      const p = get(`${c.key} ${b.name}`);
      const load = loaded(b.path, c.args);
      const ratio = median(p.ratios);
      return [c.label, b.label, spread(p.times, 0), spread(p.ratios, 2), `${load.files} (${kib(load.bytes)})`, `≤ ${c.target}×`, b.name === "new" ? (ratio <= c.target ? "met" : "not met") : ""];
    }),
  ),
];

const at = (key: string) => median(get(key).times);
const floor = at("floor");
const part = (what: string, ms: number) => [what, ms.toFixed(0), `${(ms / floor).toFixed(2)}×`];
const budget = [
  part("importing zod", at("zod") - floor),
  part("importing the YAML parser", at("yaml") - floor),
  part("importing the rest of the catalog reader: the catalog's schema (built at import) and the core it uses", at("reader") - at("zod") - at("yaml") + floor),
  part("reading berth.yml: YAML parse, schema check, resolving the jobs", at("read") - at("reader")),
  part("the rest: bin/berth.js, commander, the command's module, the table printed", at("validate new") - at("read")),
  part("`berth validate` (new) over `node -e \"\"`", at("validate new") - floor),
];

const md = `## CLI start-up

Each command from spawn to exit in a fresh Node process, on the example catalog, for the build of commit
${baseCommits.join(", ")} and the working tree's (the CLI built with code splitting: the entry registers only the command the
command line names and loads that command's module with \`import()\`; \`bin/berth.js\` answers \`--version\` alone from
package.json), each laid out as the package installs it. ms and the ratio to \`node -e ""\` in the same round: median
[min, max] of ${RUNS} rounds, every process of a round taking its turn. Loaded: the built files the command line loads
(a module-load hook's count) and their size.

${table(["command", "build", "ms", "× node -e \"\"", "loaded", "target", ""], rows)}

What the new \`berth validate\` spends over \`node -e ""\`, ms and as a share of \`node -e ""\` (differences of medians of
fresh processes in the same rounds, each importing one bundle: zod alone, the YAML parser alone, the CLI's catalog
reader, the reader reading berth.yml):

${table(["part", "ms", "× node -e \"\""], budget)}

A 2× target leaves \`validate\` 1.00× of \`node -e ""\` for all of this; importing the catalog reader and reading
berth.yml with it take ${((at("read") - floor) / floor).toFixed(2)}× without any of the CLI.`;
console.log(md);
recordBenchmark("cli", md);
rmSync(dir, { recursive: true, force: true });
