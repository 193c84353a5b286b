/**
 * The compiled catalog a function reads at cold start (BERTH_CATALOG), for the engine's functions (compose.ts)
 * and the webhook's (webhook/compose.ts). A module of its own, so the webhook's bundle reaches nothing of
 * compose.ts, whose service deployer would otherwise come along as a chunk it never loads.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigurationError } from "../core/errors.ts";
import { readCompiledCatalog, type CompiledCatalog } from "../core/catalog/compiled.ts";

/**
 * BERTH_CATALOG is relative to the function's root: LAMBDA_TASK_ROOT on Lambda. `serverless invoke local`
 * sets LAMBDA_TASK_ROOT to /var/task, which does not exist on the machine it runs on, so the root is then
 * the package root the bundle sits in (dist/handlers/<fn>.mjs → two folders up: this code is in the handler's
 * entry file, never in one of its chunks, test/handlers/bundles.test.ts), else the working folder.
 */
function catalogFile(path: string): string {
  if (isAbsolute(path)) return path;
  const roots = [process.env.LAMBDA_TASK_ROOT, fileURLToPath(new URL("../..", import.meta.url)), process.cwd()];
  const candidates = roots.flatMap((root) => (root ? [join(root, path)] : []));
  return candidates.find((file) => existsSync(file)) ?? candidates[0]!;
}

export function loadCompiledCatalog(path: string): CompiledCatalog {
  const file = catalogFile(path);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigurationError(`BERTH_CATALOG: cannot read ${file} (${(e as Error).message}); package the output of \`berth compile\` with the function`);
  }
  const r = readCompiledCatalog(json, file);
  if (!r.ok) throw new ConfigurationError(`BERTH_CATALOG: ${r.error.message}`);
  return r.compiled;
}
