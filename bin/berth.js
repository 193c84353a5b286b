#!/usr/bin/env node
// The CLI is bundled by `npm run build` (run by `npm ci` / `npm install` through `prepare`).
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.mjs", import.meta.url);
if (!existsSync(cli)) {
  console.error("berth: the CLI is not built yet: run `npm run build` (npm ci and npm install do it for you).");
  process.exit(70);
}
await import(cli.href);
