// Runs every benchmark in bench/ (or those named: `npm run bench -- match`), one process each.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";

const only = process.argv.slice(2);
const files = readdirSync("bench").filter((f) => f.endsWith(".bench.ts") && (only.length === 0 || only.some((o) => f.startsWith(o))));
for (const f of files) {
  console.log(`\n▶ bench/${f}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", `bench/${f}`], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
