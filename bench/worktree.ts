/**
 * A commit's sources beside the working tree's, for benchmarks that measure before and after in one
 * run: `--base <ref>` (default HEAD) is checked out into a temporary git worktree that shares
 * node_modules, and its TypeScript modules are imported from there.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface BaseTree {
  /** The commit, abbreviated. */
  readonly commit: string;
  /** The worktree's root: import `${root}/src/…` from it. */
  readonly root: string;
  remove(): void;
}

/** Every ref given after a `--base` among the arguments, in order; HEAD when none is. */
export function baseRefs(argv: readonly string[] = process.argv): string[] {
  const refs = argv.flatMap((a, i) => (a === "--base" && argv[i + 1] ? [argv[i + 1]!] : []));
  return refs.length > 0 ? refs : ["HEAD"];
}

/** The ref after the first `--base` among the arguments, else HEAD. */
export function baseRef(argv: readonly string[] = process.argv): string {
  return baseRefs(argv)[0]!;
}

export function checkOut(ref: string, repo = process.cwd()): BaseTree {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
  const commit = git("rev-parse", "--short", ref);
  const dir = mkdtempSync(join(tmpdir(), "berth-base-"));
  const root = join(dir, "tree");
  git("worktree", "add", "--detach", root, commit);
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"), "dir");
  return {
    commit,
    root,
    remove: () => {
      git("worktree", "remove", "--force", root);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
