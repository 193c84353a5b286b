/**
 * Task and service processes run in their own process groups, so a `berth
 * dev` that is killed outright (SIGKILL, a crash) leaves them running. Each
 * group is recorded in a folder while it lives; the next `berth dev` stops
 * whatever is still recorded there before it reconciles its runs.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Field 22 of /proc/<pid>/stat: start time since boot, in clock ticks. Tells a reused pid apart. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export function recordGroup(dir: string, name: string, pid: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ pid, start: startTime(pid) ?? null }));
}

export function forgetGroup(dir: string, name: string): void {
  rmSync(join(dir, `${name}.json`), { force: true });
}

/** SIGKILLs every recorded group whose leader is still the same process; returns what was stopped. */
export function killLeftoverGroups(dir: string): { name: string; pid: number }[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const killed: { name: string; pid: number }[] = [];
  for (const file of files) {
    const name = file.slice(0, -".json".length);
    try {
      const { pid, start } = JSON.parse(readFileSync(join(dir, file), "utf8")) as { pid: number; start: string | null };
      // Without /proc (not Linux) a reused pid cannot be told apart: leave it alone rather than kill a stranger.
      if (start !== null && startTime(pid) === start) {
        process.kill(-pid, "SIGKILL");
        killed.push({ name, pid });
      }
    } catch {
      // Already gone, or not ours to signal.
    }
    rmSync(join(dir, file), { force: true });
  }
  return killed;
}
