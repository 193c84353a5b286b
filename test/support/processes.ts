import { existsSync, readFileSync } from "node:fs";

/**
 * Whether a process still runs. A killed orphan stays a zombie when the init
 * process of a container does not reap, and kill(pid, 0) succeeds on
 * zombies, so a zombie counts as gone.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw e;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return !existsSync("/proc/self");
  }
}
