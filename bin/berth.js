#!/usr/bin/env node
// The CLI is bundled by `npm run build` (run by `npm ci` / `npm install` through `prepare`).
import { existsSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // The version alone needs none of the CLI: the package says it.
  console.log(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version);
} else {
  const cli = new URL("../dist/cli.mjs", import.meta.url);
  if (!existsSync(cli)) {
    console.error("berth: the CLI is not built yet: run `npm run build` (npm ci and npm install do it for you).");
    process.exit(70);
  }
  await import(cli.href);
}
