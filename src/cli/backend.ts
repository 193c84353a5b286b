/**
 * Where run history lives for the CLI: the local runtime's SQLite file
 * (`.berth/berth.db`, written by `berth dev`), or a deployed stage on AWS
 * (`--stage`, or BERTH_TABLE and BERTH_BUS; see aws-backend.ts).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RunStore } from "../core/ports.ts";
import { UsageError } from "./output.ts";
import type { StageRequest } from "./aws-backend.ts";

export const LOCAL_DB = join(".berth", "berth.db");

export type Target = "local" | "aws";

/** A command's say on where to look: --aws / --local, and the stage it names. */
export interface Where extends StageRequest {
  readonly aws?: boolean;
  readonly local?: boolean;
}

function explicit(opts: Where): Target | undefined {
  const aws = opts.aws ? "--aws" : opts.stage !== undefined ? "--stage" : undefined;
  if (aws && opts.local) throw new UsageError(`choose one of ${aws} and --local`);
  if (aws) return "aws";
  if (opts.local) return "local";
  return undefined;
}

/** Where the history is: the one named, else the stage when BERTH_TABLE is set, else the local runtime's when it has one here. */
export function chooseHistory(opts: Where): Target | undefined {
  const chosen = explicit(opts);
  if (chosen) return chosen;
  if (process.env.BERTH_TABLE) return "aws";
  if (existsSync(LOCAL_DB)) return "local";
  return undefined;
}

export function chooseTarget(opts: Where): Target {
  const chosen = chooseHistory(opts);
  if (chosen) return chosen;
  throw new UsageError(
    `no run history here: ${LOCAL_DB} does not exist (start the local runtime with \`berth dev\`); for a deployed stage pass --stage <stage> (or set BERTH_TABLE and BERTH_BUS)`,
  );
}

/** For commands that act (run, cancel): a running `berth dev`, or the deployed stage. */
export function chooseActionTarget(opts: Where): Target {
  const chosen = explicit(opts);
  if (chosen) return chosen;
  if (process.env.BERTH_BUS || process.env.BERTH_TABLE) return "aws";
  if (existsSync(join(".berth", "dev.json"))) return "local";
  throw new UsageError("nothing to act on: start `berth dev` here for the local runtime, or pass --stage <stage> (or set BERTH_TABLE and BERTH_BUS) for a deployed stage");
}

export async function openStore(target: Target, where: Where): Promise<RunStore> {
  if (target === "local") {
    if (!existsSync(LOCAL_DB)) throw new UsageError(`${LOCAL_DB} does not exist: start the local runtime with \`berth dev\` first`);
    const { SqliteRunStore } = await import("../local/sqlite-run-store.ts");
    return new SqliteRunStore(LOCAL_DB);
  }
  const aws = await import("./aws-backend.ts");
  return aws.awsStore(where);
}
