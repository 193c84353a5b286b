/**
 * Runs a built handler bundle as Lambda runs it: the function's package (the bundle, its chunks and the
 * compiled catalog, nothing else: no node_modules beside it) in a directory of its own, imported by a
 * fresh Node process — one execution environment, cold — that invokes `handler` once per event, in
 * order, with a Lambda context. What the process writes to stdout and stderr are the function's logs;
 * a module loader hook notes each file of the package the process loads, and when.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export type Invocation = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly error: { readonly name: string; readonly message: string; readonly retryable?: boolean } };

export interface Container {
  /** The cold start's failure, when the bundle could not even be imported. */
  readonly initError?: { readonly name: string; readonly message: string };
  readonly invocations: readonly Invocation[];
  /**
   * The package's files the process loaded, relative to the package (`dispatch.mjs`,
   * `chunks/dispatch/<chunk>.mjs`): `init`, by the import of the bundle; then, for each invocation,
   * those it loaded first.
   */
  readonly loaded: { readonly init: readonly string[]; readonly invocations: readonly (readonly string[])[] };
  /** The JSON log lines, stdout and stderr in the order each stream wrote them. */
  readonly lines: readonly Record<string, unknown>[];
}

export interface FunctionPackage {
  readonly dir: string;
  /** Starts one execution environment of function `name` with `env` and invokes it with each event. */
  run(name: "dispatch" | "track" | "sweep", events: readonly unknown[], env: Readonly<Record<string, string | undefined>>): Promise<Container>;
}

// Notes every file: URL that Node loads on LOADED_FILE, one a line (module loader hooks run on a thread of their own).
const LOAD_HOOK = `
import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  if (url.startsWith("file:")) appendFileSync(process.env.LOADED_FILE, url + "\\n");
  return next(url, context);
}
`;

// Imports the bundle and invokes it; writes what happened to RESULT_FILE, leaving stdout and stderr to the function.
const RUNNER = `
import { readFileSync, writeFileSync } from "node:fs";
import { register } from "node:module";
const { BUNDLE, EVENTS, RESULT_FILE, LOADED_FILE, AWS_LAMBDA_FUNCTION_NAME: fn } = process.env;
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(LOAD_HOOK)}));
writeFileSync(LOADED_FILE, "");
let seen = 0;
const newlyLoaded = () => {
  const all = readFileSync(LOADED_FILE, "utf8").split("\\n").filter(Boolean);
  const fresh = all.slice(seen);
  seen = all.length;
  return fresh;
};
const loaded = { init: [], invocations: [] };
const describe = (e) => ({ name: e?.name ?? typeof e, message: e?.message ?? String(e), ...(typeof e?.retryable === "boolean" ? { retryable: e.retryable } : {}) });
let handler;
try {
  ({ handler } = await import(BUNDLE));
  loaded.init = newlyLoaded();
} catch (e) {
  loaded.init = newlyLoaded();
  writeFileSync(RESULT_FILE, JSON.stringify({ initError: describe(e), invocations: [], loaded }));
  process.exit(0);
}
const invocations = [];
let n = 0;
for (const event of JSON.parse(EVENTS)) {
  n++;
  const context = { awsRequestId: "request-" + n, functionName: fn, functionVersion: "$LATEST", memoryLimitInMB: "1024", invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:" + fn };
  try {
    invocations.push({ ok: true, value: await handler(event, context) });
  } catch (e) {
    invocations.push({ ok: false, error: describe(e) });
  }
  loaded.invocations.push(newlyLoaded());
}
writeFileSync(RESULT_FILE, JSON.stringify({ invocations, loaded }));
`;

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

const BUILT = fileURLToPath(new URL("../../dist/handlers/", import.meta.url));

/** A package directory holding the built bundles and their chunks (dist/handlers, built by the test setup) and `catalog`, compiled. */
export function functionPackage(compiledCatalog: unknown): FunctionPackage {
  const dir = mkdtempSync(join(tmpdir(), "berth-lambda-"));
  for (const name of ["dispatch", "track", "sweep"]) {
    copyFileSync(join(BUILT, `${name}.mjs`), join(dir, `${name}.mjs`));
    const chunks = join(BUILT, "chunks", name);
    mkdirSync(join(dir, "chunks", name), { recursive: true });
    for (const chunk of readdirSync(chunks).filter((f) => f.endsWith(".mjs"))) copyFileSync(join(chunks, chunk), join(dir, "chunks", name, chunk));
  }
  writeFileSync(join(dir, "catalog.json"), JSON.stringify(compiledCatalog));
  let runs = 0;
  return {
    dir,
    run: (name, events, env) =>
      new Promise((resolve, reject) => {
        const resultFile = join(dir, `result-${++runs}.json`);
        const childEnv: Record<string, string> = {};
        const merged = {
          PATH: process.env.PATH,
          LAMBDA_TASK_ROOT: dir,
          BERTH_CATALOG: "catalog.json",
          AWS_LAMBDA_FUNCTION_NAME: `berth-test-${name}`,
          AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
          ...env,
          BUNDLE: pathToFileURL(join(dir, `${name}.mjs`)).href,
          EVENTS: JSON.stringify(events),
          RESULT_FILE: resultFile,
          LOADED_FILE: join(dir, `loaded-${runs}.txt`),
        };
        for (const [k, v] of Object.entries(merged)) if (v !== undefined) childEnv[k] = v;
        // cwd is the package: nothing outside it (this checkout's node_modules) can be resolved from there.
        execFile(process.execPath, ["--input-type=module", "-e", RUNNER], { cwd: dir, env: childEnv, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
          if (error) return reject(new Error(`${name} crashed: ${error.message}\n${stderr}`));
          const result = JSON.parse(readFileSync(resultFile, "utf8")) as Omit<Container, "lines">;
          const inPackage = (urls: readonly string[]) => urls.map((u) => fileURLToPath(u)).filter((f) => f.startsWith(dir + sep)).map((f) => f.slice(dir.length + 1).split(sep).join("/"));
          const loaded = { init: inPackage(result.loaded.init), invocations: result.loaded.invocations.map(inPackage) };
          resolve({ ...result, loaded, lines: [...jsonLines(stdout), ...jsonLines(stderr)] });
        });
      }),
  };
}
