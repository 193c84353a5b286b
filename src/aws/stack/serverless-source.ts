/**
 * The variable source serverless.yml reads its service, region, functions and
 * resources from (`${file(./dist/serverless-source.cjs):functions}`), built by
 * `npm run build` as CommonJS: osls loads `file()` sources of `.js`/`.cjs`
 * with `require` (lib/configuration/variables/sources/file.js), which in a
 * `"type": "module"` package only a `.cjs` file gets as CommonJS. Each export
 * is a function osls calls with `resolveConfigurationProperty`, which gives
 * the stage.
 *
 * It reads berth.yml ($BERTH_CONFIG, else berth.yml in the service folder)
 * at package time and writes the compiled catalog the functions package
 * (dist/catalog.json), so the template and the catalog inside the functions
 * always come from the same berth.yml, read once, with no build step to
 * forget and nothing written to serverless.yml.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { compileCatalog, type CompiledCatalog } from "../../core/catalog/compiled.ts";
import { formatIssue } from "../../core/catalog/issues.ts";
import { loadCatalog } from "../../core/catalog/load.ts";
import { CATALOG_IN_PACKAGE } from "./functions.ts";
import { DEFAULT_REGION } from "./names.ts";
import { compileStack, type Stack } from "./stack.ts";

interface ResolverArgs {
  readonly resolveConfigurationProperty: (path: readonly string[]) => Promise<unknown>;
}

const catalogs = new Map<string, CompiledCatalog>();
const stacks = new Map<string, Stack>();

function catalogFile(): string {
  return resolve(process.cwd(), process.env.BERTH_CONFIG ?? "berth.yml");
}

function compiled(): CompiledCatalog {
  const file = catalogFile();
  const cached = catalogs.get(file);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`berth: cannot read the catalog ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); set BERTH_CONFIG or run from the folder that holds berth.yml`);
  }
  const loaded = loadCatalog(text, relative(process.cwd(), file) || file);
  if (!loaded.ok) throw new Error(`berth: the catalog is invalid:\n${loaded.error.issues.map(formatIssue).join("\n")}`);
  const result = compileCatalog(loaded.catalog);
  catalogs.set(file, result);
  return result;
}

async function stack(args: ResolverArgs): Promise<Stack> {
  const stage = String(await args.resolveConfigurationProperty(["provider", "stage"]));
  const catalog = compiled();
  const key = `${catalogFile()}|${stage}`;
  const cached = stacks.get(key);
  if (cached) return cached;
  const built = compileStack(catalog, { stage });
  writeCompiledCatalog(catalog);
  stacks.set(key, built);
  return built;
}

/** Written whole, then renamed into place: a package running beside this one never reads half a file. */
function writeCompiledCatalog(catalog: CompiledCatalog): void {
  const target = resolve(process.cwd(), CATALOG_IN_PACKAGE);
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(catalog)}\n`);
  renameSync(temporary, target);
}

export async function service(): Promise<string> {
  return compiled().catalog.service;
}

export async function region(): Promise<string> {
  return compiled().catalog.region ?? DEFAULT_REGION;
}

export async function functions(args: ResolverArgs): Promise<unknown> {
  return (await stack(args)).functions;
}

export async function resources(args: ResolverArgs): Promise<unknown> {
  return (await stack(args)).resources;
}
