/**
 * Where run history lives for the CLI: the local runtime's SQLite file
 * (`.berth/berth.db`, written by `berth dev`), or a deployed stage on AWS
 * (BERTH_TABLE and BERTH_BUS, the standard AWS credential chain and region).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RunStore } from "../core/ports.ts";
import { UsageError } from "./output.ts";

export const LOCAL_DB = join(".berth", "berth.db");

export type Target = "local" | "aws";

export function chooseTarget(opts: { aws?: boolean; local?: boolean }): Target {
  if (opts.aws && opts.local) throw new UsageError("choose one of --aws and --local");
  if (opts.aws) return "aws";
  if (opts.local) return "local";
  if (process.env.BERTH_TABLE) return "aws";
  if (existsSync(LOCAL_DB)) return "local";
  throw new UsageError(
    `no run history here: ${LOCAL_DB} does not exist (start the local runtime with \`berth dev\`), and BERTH_TABLE is not set (set it and BERTH_BUS to use a deployed stage, or pass --aws)`,
  );
}

/** For commands that act (run, cancel): a running `berth dev`, or the deployed stage. */
export function chooseActionTarget(opts: { aws?: boolean; local?: boolean }): Target {
  if (opts.aws && opts.local) throw new UsageError("choose one of --aws and --local");
  if (opts.aws) return "aws";
  if (opts.local) return "local";
  if (process.env.BERTH_BUS || process.env.BERTH_TABLE) return "aws";
  if (existsSync(join(".berth", "dev.json"))) return "local";
  throw new UsageError("nothing to act on: start `berth dev` here for the local runtime, or set BERTH_TABLE and BERTH_BUS (or pass --aws) for a deployed stage");
}

export async function openStore(target: Target): Promise<RunStore> {
  if (target === "local") {
    if (!existsSync(LOCAL_DB)) throw new UsageError(`${LOCAL_DB} does not exist: start the local runtime with \`berth dev\` first`);
    const { SqliteRunStore } = await import("../local/sqlite-run-store.ts");
    return new SqliteRunStore(LOCAL_DB);
  }
  const aws = await import("./aws-backend.ts");
  return aws.awsStore();
}
