// Builds one ESM bundle per Lambda handler (dist/handlers/<name>.mjs) and one for the CLI (dist/cli.mjs).
import { build } from "esbuild";
import { readdirSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";

const quiet = process.argv.includes("--quiet");
// The AWS SDK's dynamic `require("node:https")` needs a real `require` inside an ESM bundle.
const banner = { js: 'import { createRequire as __berthCreateRequire } from "node:module"; const require = __berthCreateRequire(import.meta.url);' };
const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  banner,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: quiet ? "error" : "info",
  // Smaller, faster-loading SDK builds (measured in ../BENCHMARKS.md).
  mainFields: ["module", "main"],
};

const handlers = existsSync("handlers")
  ? readdirSync("handlers").filter((f) => f.endsWith(".ts")).map((f) => join("handlers", f))
  : [];

const results = await Promise.all([
  build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.mjs", external: ["better-sqlite3"] }),
  ...(handlers.length
    ? [build({ ...common, entryPoints: handlers, outdir: "dist/handlers", outExtension: { ".js": ".mjs" }, minify: true, metafile: true })]
    : []),
]);
if (!quiet) {
  for (const h of handlers) {
    const name = h.replace(/^handlers\//, "").replace(/\.ts$/, "");
    const size = statSync(`dist/handlers/${name}.mjs`).size;
    console.log(`  ${name.padEnd(12)} ${(size / 1024).toFixed(1)} KiB`);
  }
}
void results;
