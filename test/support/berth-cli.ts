/** The built `berth` CLI as end-to-end tests drive it: a copy of a fixture folder to work in, and runs of the binary there. */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = new URL("../..", import.meta.url).pathname;
export const bin = join(root, "bin/berth.js");

/** A fresh temporary copy of test/fixtures/<fixture>. */
export function workdirOf(fixture: string): string {
  const dir = mkdtempSync(join(tmpdir(), `berth-${fixture}-`));
  cpSync(join(root, "test/fixtures", fixture), dir, { recursive: true });
  return dir;
}

/** Runs `berth <args>` in `dir` to its end. */
export function berthIn(dir: string, args: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: "utf8", env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
