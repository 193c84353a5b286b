/**
 * What `berth` loads to start: the CLI as scripts/build.mjs builds it (into a folder of this test's own, laid out as
 * the package is: bin/, dist/ and package.json), read two ways. esbuild's metafile says which source modules each
 * built file holds and which files it imports; a module-load hook in the running CLI says which files a command line
 * actually loads. Commands that talk to no AWS service load none of the SDK; `--version` loads none of the CLI.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command } from "commander";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS, commandsFor, registerCommands } from "../../src/cli/commands/index.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "berth-startup-"));
const dist = join(dir, "dist");
let meta: Metafile;

beforeAll(() => {
  mkdirSync(join(dir, "bin"));
  copyFileSync(join(root, "bin/berth.js"), join(dir, "bin/berth.js"));
  copyFileSync(join(root, "package.json"), join(dir, "package.json"));
  execFileSync(process.execPath, ["scripts/build.mjs", "--quiet", "--cli-into", dist], { cwd: root, stdio: "inherit" });
  meta = JSON.parse(readFileSync(join(dist, "cli.meta.json"), "utf8")) as Metafile;
  // Every file that a command line loads, as Node loads it, one URL a line.
  writeFileSync(join(dir, "hooks.mjs"), 'import { appendFileSync } from "node:fs";\nexport async function load(url, context, next) {\n  appendFileSync(process.env.LOADED_LOG, `${url}\\n`);\n  return next(url, context);\n}\n');
  writeFileSync(join(dir, "register.mjs"), 'import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n');
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The metafile's name of a built file (paths relative to the folder the build ran in). */
const output = (file: string) => relative(root, file).split("\\").join("/");
const entryOf = (source: string) => {
  const found = Object.keys(meta.outputs).find((o) => meta.outputs[o]!.entryPoint === source);
  if (found === undefined) throw new Error(`no built file has ${source} as its entry`);
  return found;
};

/** `from` and the built files it imports, all the way down: what an import of it loads. */
function staticClosure(from: readonly string[]): Set<string> {
  const loaded = new Set<string>();
  const visit = (o: string) => {
    if (loaded.has(o)) return;
    loaded.add(o);
    for (const i of meta.outputs[o]!.imports) if (i.kind === "import-statement" && meta.outputs[i.path] !== undefined) visit(i.path);
  };
  from.forEach(visit);
  return loaded;
}

/** The source modules of `files` that come from the AWS SDK (its packages are @aws-sdk/*). */
const sdkModules = (files: Iterable<string>) => [...files].flatMap((o) => Object.keys(meta.outputs[o]!.inputs)).filter((i) => /node_modules\/@aws-sdk\//.test(i));

/** What the entry and command `name`'s module load when that command runs. */
const commandClosure = (name: string) => staticClosure([entryOf("src/cli/main.ts"), entryOf(`src/cli/commands/${name}.ts`)]);

/** Runs `berth args` (`script`: bin/berth.js, or dist/cli.mjs itself) from the repository (berth.yml, events/) with the hook; returns the built files it loaded. */
function loadedBy(args: readonly string[], script = "bin/berth.js"): { code: number | null; stdout: string; files: string[] } {
  const log = join(dir, `loaded-${[script, ...args].join("-").replace(/[^a-z0-9-]/gi, "_")}.txt`);
  writeFileSync(log, "");
  const r = spawnSync(process.execPath, ["--import", pathToFileURL(join(dir, "register.mjs")).href, join(dir, script), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, LOADED_LOG: log, NO_COLOR: "1" },
  });
  const urls = readFileSync(log, "utf8").split("\n").filter((u) => u.startsWith("file:"));
  const files = urls.map((u) => fileURLToPath(u)).filter((f) => f.startsWith(dist) && f.endsWith(".mjs"));
  return { code: r.status, stdout: r.stdout, files: files.map(output) };
}

describe("the CLI's build", () => {
  it("puts every command's module in a file of its own, which only that command loads", () => {
    for (const name of Object.keys(COMMANDS)) expect(meta.outputs[entryOf(`src/cli/commands/${name}.ts`)]!.entryPoint).toBe(`src/cli/commands/${name}.ts`);
    expect(sdkModules(staticClosure([entryOf("src/cli/main.ts")]))).toEqual([]);
  });

  it.each(["validate", "explain", "schema", "compile", "schedule", "init", "put"])("%s reaches no module of the AWS SDK", (name) => {
    expect(sdkModules(commandClosure(name))).toEqual([]);
  });

  it("doctor reaches the SDK's clients, which is what the check above would find", () => {
    expect(sdkModules(commandClosure("doctor"))).toEqual(expect.arrayContaining([expect.stringMatching(/@aws-sdk\/client-sts\//)]));
  });
});

describe("the running CLI", () => {
  it.each([
    ["validate", ["validate"]],
    ["explain", ["explain", "events/s3-object-created.json"]],
  ])("%s loads the entry, its command's module and their imports, and nothing of the SDK", (name, args) => {
    const run = loadedBy(args);
    expect(run.code).toBe(0);
    expect(new Set(run.files)).toEqual(commandClosure(name));
    expect(sdkModules(run.files)).toEqual([]);
  });

  it("--version and -V load no file of the CLI at all", () => {
    const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
    for (const flag of ["--version", "-V"]) {
      const run = loadedBy([flag]);
      expect(run.stdout).toBe(`${version}\n`);
      expect(run.files).toEqual([]);
    }
  });

  it("the CLI's own answer to --version is the package's version, and loads the entry and its imports alone", () => {
    const run = loadedBy(["--version"], "dist/cli.mjs");
    expect(run.stdout).toBe(`${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}\n`);
    expect(new Set(run.files)).toEqual(staticClosure([entryOf("src/cli/main.ts")]));
  });
});

describe("which commands a command line registers", () => {
  const program = () =>
    new Command("berth").version("0").option("--stage <stage>").option("--region <region>").option("--profile <profile>");
  const all = Object.keys(COMMANDS);

  it.each([
    [["validate"], ["validate"]],
    [["explain", "-", "--json"], ["explain"]],
    [["--stage", "prod", "runs", "show", "01ABC"], ["runs"]],
    [["--region=eu-west-1", "doctor"], ["doctor"]],
    [["--profile", "validate", "deploy"], ["deploy"]],
    [["runs", "--stage", "prod"], ["runs"]],
    [["--version"], []],
    [["-V"], []],
    [["--stage", "prod", "--version"], all],
    [[], all],
    [["--help"], all],
    [["help", "validate"], all],
    [["valdate"], all],
    [["--", "validate"], all],
  ])("%j registers %j", (args, expected) => {
    expect(commandsFor(program(), args)).toEqual(expected);
  });

  it("each entry of the table registers the command of its name, in the table's order", async () => {
    const p = program();
    await registerCommands(p, all);
    expect(p.commands.map((c) => c.name())).toEqual(all);
  });
});
