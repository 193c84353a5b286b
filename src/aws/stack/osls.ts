/**
 * Runs the osls that berth installs (the `serverless` command) over a user's
 * catalog, from any folder. A user's project has berth.yml and no
 * serverless.yml; osls reads its configuration from its working folder and
 * packages paths relative to it, so each run gets a folder of its own with
 * berth's serverless.yml, its variable source and the handler bundles and
 * their chunks copied from the installed package, and BERTH_CONFIG pointing
 * at the user's berth.yml. Nothing is written into the user's folder but the package
 * (`.serverless/`), and nothing into berth's installed package.
 */
import { spawn } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigurationError } from "../../core/errors.ts";
import { FUNCTIONS } from "./names.ts";
import { handlerBundle, handlerChunks } from "./functions.ts";

export const PACKAGE_NAME = "berth-ecs";
const VARIABLE_SOURCE = "dist/serverless-source.cjs";

/** The installed berth package (or this repository): the nearest folder above this module with berth's package.json. */
export function berthRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new ConfigurationError(`cannot find the ${PACKAGE_NAME} package above ${from}; reinstall berth (npm i -D ${PACKAGE_NAME})`);
  }
}

/** osls's command, resolved as Node resolves it from berth's own package (it is a dependency of berth). */
export function oslsBin(root: string): string {
  try {
    return join(dirname(createRequire(join(root, "package.json")).resolve("osls/package.json")), "bin", "serverless.js");
  } catch {
    throw new ConfigurationError(`osls (the serverless command) is not installed next to ${PACKAGE_NAME}; reinstall berth (npm i -D ${PACKAGE_NAME})`);
  }
}

/** The files a run needs from berth's package: serverless.yml, the variable source and the bundle of every function a stack may have. */
export function stackFiles(): string[] {
  return ["serverless.yml", VARIABLE_SOURCE, ...FUNCTIONS.map(handlerBundle)];
}

/** The chunks of every function's bundle in berth's package at `root`, which a run copies with the bundles. */
function chunkFiles(root: string): string[] {
  return FUNCTIONS.flatMap((fn) => {
    const dir = handlerChunks(fn);
    return existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => f.endsWith(".mjs")).map((f) => `${dir}/${f}`) : [];
  });
}

export interface ServerlessRun {
  readonly command: "package" | "deploy" | "remove";
  /** Absolute path of the user's berth.yml. */
  readonly catalogFile: string;
  readonly stage: string;
  readonly region: string;
  readonly profile?: string;
  /** `package`: where the template and zips go (absolute). */
  readonly packageDir?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where osls's output goes: the terminal, or captured for a test or a message. */
  readonly output?: "inherit" | "capture";
}

export interface ServerlessResult {
  readonly exitCode: number;
  readonly output: string;
}

export async function runServerless(run: ServerlessRun): Promise<ServerlessResult> {
  const root = berthRoot();
  const missing = stackFiles().filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) {
    throw new ConfigurationError(`berth's package is missing ${missing.join(", ")} (in ${root}); run \`npm run build\` there, or reinstall ${PACKAGE_NAME}`);
  }
  const bin = oslsBin(root);
  const work = mkdtempSync(join(tmpdir(), "berth-stack-"));
  try {
    for (const file of [...stackFiles(), ...chunkFiles(root)]) {
      mkdirSync(dirname(join(work, file)), { recursive: true });
      copyFileSync(join(root, file), join(work, file));
    }
    const args = [
      bin,
      run.command,
      "--stage",
      run.stage,
      "--region",
      run.region,
      ...(run.profile !== undefined ? ["--aws-profile", run.profile] : []),
    ];
    const result = await spawnNode(args, { cwd: work, env: { ...(run.env ?? process.env), BERTH_CONFIG: run.catalogFile }, capture: run.output === "capture" });
    // osls's own --package treats any path ending in .serverless as the service folder's, so the package is moved here.
    if (result.exitCode === 0 && run.packageDir !== undefined) {
      rmSync(run.packageDir, { recursive: true, force: true });
      cpSync(join(work, ".serverless"), run.packageDir, { recursive: true });
    }
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function spawnNode(args: readonly string[], o: { cwd: string; env: Record<string, string | undefined>; capture: boolean }): Promise<ServerlessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: o.cwd, env: o.env as NodeJS.ProcessEnv, stdio: o.capture ? ["ignore", "pipe", "pipe"] : "inherit" });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), output }));
  });
}
