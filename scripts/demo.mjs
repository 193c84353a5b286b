// `npm start`: validate the example catalog, then ask it what sample events would do.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync("dist/cli.mjs")) spawnSync(process.execPath, ["scripts/build.mjs", "--quiet"], { stdio: "inherit" });

const steps = [
  ["validate"],
  ["explain", "events/s3-object-created.json"],
  ["explain", "events/git-push.json"],
  ["explain", "events/schedule-fired.json"],
  ["explain", "events/run-succeeded.json"],
  ["explain", "events/s3-object-created-other-bucket.json"],
];
for (const args of steps) {
  console.log(`\n\x1b[1m$ berth ${args.join(" ")}\x1b[0m`);
  const r = spawnSync(process.execPath, ["bin/berth.js", ...args], { stdio: "inherit", env: { ...process.env, FORCE_COLOR: "1" } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
