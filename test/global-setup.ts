import { execFileSync } from "node:child_process";

/** End-to-end tests drive the real `berth` binary, so build it once first. */
export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs", "--quiet"], { stdio: "inherit" });
}
