/**
 * The files of a built handler bundle (scripts/build.mjs): its entry, `dist/handlers/<name>.mjs`, the chunks it
 * imports, which a cold start loads with it, and those it loads only when first used (`import()`), read from the
 * relative imports of the built files themselves, as Node follows them.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export interface HandlerFiles {
  /** Absolute paths. */
  readonly entry: string;
  /** The entry and every chunk it imports, all the way down: what an import of the entry loads. */
  readonly coldStart: readonly string[];
  /** Chunks only `import()` reaches, and what they import that a cold start has not loaded: what first use loads. */
  readonly onFirstUse: readonly string[];
  /** Every `.mjs` file of the handler's chunk folder, reached or not. */
  readonly chunkFolder: readonly string[];
}

/** `import … from "./x.mjs"` and `import "./x.mjs"`; `import("./x.mjs")`: minified or not. */
const STATIC_IMPORT = /(?:\bfrom|\bimport)\s*"(\.\.?\/[^"]+\.mjs)"/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*"(\.\.?\/[^"]+\.mjs)"\s*\)/g;

function importsOf(file: string): { readonly static: string[]; readonly dynamic: string[] } {
  const text = readFileSync(file, "utf8");
  const at = (m: RegExpMatchArray) => resolve(dirname(file), m[1]!);
  return { static: [...text.matchAll(STATIC_IMPORT)].map(at), dynamic: [...text.matchAll(DYNAMIC_IMPORT)].map(at) };
}

/** `from`, and every file it imports statically, all the way down, less those in `loaded`. */
function closure(from: readonly string[], loaded: ReadonlySet<string> = new Set()): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || loaded.has(file)) return;
    seen.add(file);
    importsOf(file).static.forEach(visit);
  };
  from.forEach(visit);
  return [...seen];
}

/** The files of handler `name` built into `dir` (dist/handlers, or a copy of it). */
export function handlerFiles(dir: string, name: string): HandlerFiles {
  const entry = join(dir, `${name}.mjs`);
  const coldStart = closure([entry]);
  const cold = new Set(coldStart);
  const onFirstUse: string[] = [];
  for (let i = 0, reached = [...coldStart]; i < reached.length; i++) {
    for (const lazy of importsOf(reached[i]!).dynamic) {
      for (const file of closure([lazy], new Set([...cold, ...onFirstUse]))) {
        onFirstUse.push(file);
        reached.push(file);
      }
    }
  }
  const chunks = join(dir, "chunks", name);
  const chunkFolder = existsSync(chunks) ? readdirSync(chunks).filter((f) => f.endsWith(".mjs")).map((f) => join(chunks, f)) : [];
  return { entry, coldStart, onFirstUse, chunkFolder };
}

/** `file` relative to `dir`, with forward slashes: a path inside a function's package. */
export const packagePath = (dir: string, file: string): string => relative(dir, file).split("\\").join("/");
