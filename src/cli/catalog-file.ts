import { readFileSync } from "node:fs";
import { resolve, relative } from "node:path";
import { Option } from "commander";
import { ConfigurationError } from "../core/errors.ts";
import { loadCatalog } from "../core/catalog/load.ts";
import { formatIssue, type CatalogIssue } from "../core/catalog/issues.ts";
import type { Catalog } from "../core/catalog/types.ts";
import { UsageError, c } from "./output.ts";

export const DEFAULT_CONFIG = "berth.yml";

/** `-c, --config <file>`, for every command that reads the catalog (a new Option each time: commander keeps state on it). */
export function configOption(): Option {
  return new Option("-c, --config <file>", `catalog file (default: ${DEFAULT_CONFIG}, or $BERTH_CONFIG)`);
}

/** The catalog file a command reads: --config, else $BERTH_CONFIG, else berth.yml here. */
export function configPath(option: string | undefined): string {
  return option ?? process.env.BERTH_CONFIG ?? DEFAULT_CONFIG;
}

export type ReadCatalog = { ok: true; catalog: Catalog; file: string } | { ok: false; issues: readonly CatalogIssue[]; file: string };

/** Reads and loads the catalog; a missing file is a usage error, a broken one a list of issues. */
export function readCatalog(path: string | undefined): ReadCatalog {
  const given = configPath(path);
  const file = relative(process.cwd(), resolve(given)) || given;
  let text: string;
  try {
    text = readFileSync(given, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === "ENOENT"
        ? `${file}: no such file. Run berth in the folder that holds berth.yml, or pass --config <file>.`
        : `${file}: cannot read it (${code ?? (e as Error).message}).`,
    );
  }
  const loaded = loadCatalog(text, file);
  return loaded.ok ? { ok: true, catalog: loaded.catalog, file } : { ok: false, issues: loaded.error.issues, file };
}

export function printIssues(issues: readonly CatalogIssue[]): void {
  for (const issue of issues) process.stderr.write(`${c.red("✖")} ${formatIssue(issue)}\n`);
  process.stderr.write(`${c.red(`${issues.length} problem${issues.length === 1 ? "" : "s"}`)} in ${issues[0]?.file ?? "the catalog"}\n`);
}

/** The error for a catalog whose problems were printed: it carries them, and no message, since they were the message. */
export function invalidCatalog(issues: readonly CatalogIssue[]): ConfigurationError {
  return new ConfigurationError("", { issues });
}

/** Loads the catalog or prints every problem and fails with a configuration error. */
export function requireCatalog(path: string | undefined): Catalog {
  const r = readCatalog(path);
  if (!r.ok) {
    printIssues(r.issues);
    throw invalidCatalog(r.issues);
  }
  return r.catalog;
}
