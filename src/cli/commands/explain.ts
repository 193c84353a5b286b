import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { configOption, requireCatalog } from "../catalog-file.ts";
import { c, indentLines, prettyJson, printJson, table, UsageError } from "../output.ts";
import { buildRouter } from "../../core/router.ts";
import { asBusEvent } from "../../core/events/envelope.ts";
import { explainEvent, type BatchView, type Explanation } from "../../core/explain.ts";
import type { Catalog } from "../../core/catalog/types.ts";
import type { BatchHead } from "../../core/batch/model.ts";
import { chooseHistory, LOCAL_DB, type Where } from "../backend.ts";
import { whereOptions } from "./runs.ts";
import { newRunId } from "../../core/ids.ts";
import { ConfigurationError } from "../../core/errors.ts";

function readEvent(source: string): unknown {
  let text: string;
  try {
    text = readFileSync(source === "-" ? 0 : source, "utf8");
  } catch (e) {
    throw new UsageError(`${source}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${source === "-" ? "standard input" : source} is not JSON: ${(e as Error).message}`);
  }
}

function render(x: Explanation): string {
  const out: string[] = [];
  out.push(`${c.dim("event")} ${x.event.source} · ${x.event.detailType}${x.event.id ? c.dim(` · ${x.event.id}`) : ""}`, "");
  if (x.fired.length === 0) out.push(`${c.yellow("○")} no job fires for this event`);
  for (const f of x.fired) {
    out.push(`${f.errors ? c.red("✖") : c.green("✔")} ${c.bold(f.job)} ${c.dim(`fires (${f.trigger} trigger)`)}`);
    if (f.context && Object.keys(f.context).length > 0) {
      out.push(`  ${c.dim("context")}`, table(Object.entries(f.context).map(([k, v]) => [`\${${k}}`, JSON.stringify(v)]), "    "));
    }
    if (f.errors) out.push(`  ${c.red("cannot launch:")}`, ...f.errors.map((e) => `    ${e}`));
    if (f.batch) out.push(`  ${c.dim("batch")} ${f.batch.summary}`);
    if (f.action?.kind === "run") out.push(`  ${c.dim("ECS RunTask input")}`, indentLines(prettyJson(f.action.request), "    "));
    if (f.action?.kind === "deploy") out.push(`  ${c.dim("deploy plan")}`, indentLines(prettyJson(f.action.plan), "    "));
    out.push("");
  }
  if (x.notFired.length > 0) {
    out.push(c.dim("not fired"));
    out.push(table(x.notFired.flatMap((n) => n.reasons.map((r, i) => [i === 0 ? n.job : "", c.dim(`${r.trigger}:`), r.reason])), "  "));
  }
  if (x.batchesFrom !== undefined) out.push("", c.dim(`batches as ${x.batchesFrom} holds them now`));
  if (x.fired.some((f) => f.action?.kind === "run")) {
    out.push("", c.dim("run id, startedBy and clientToken are examples: dispatch assigns them per run and attempt."));
  }
  return out.join("\n");
}

/**
 * The batches of the catalog's batched jobs, read now, where the run history is (backend.ts `chooseHistory`): a
 * deployed stage's runs table (--stage, or BERTH_TABLE), or the local runtime's .berth/berth.db. An upload's
 * explanation then names the batch it would join and when that closes. None without a history, and nothing is
 * read (the AWS SDK not even loaded) for a catalog that batches nothing.
 */
async function batches(catalog: Catalog, where: Where): Promise<BatchView | undefined> {
  const jobs = Object.values(catalog.jobs).flatMap((j) => (j.batch !== undefined ? [j.name] : []));
  if (jobs.length === 0) return undefined;
  const target = chooseHistory(where);
  if (target === "aws") {
    const { stageBatches } = await import("../aws-backend.ts");
    const { heads, from } = await stageBatches(catalog, where, jobs);
    return { now: Date.now(), head: (job) => heads.get(job), from };
  }
  return target === "local" ? localBatches(jobs) : undefined;
}

/** The heads of `jobs` in the local runtime's .berth/berth.db, when it exists. */
async function localBatches(jobs: readonly string[]): Promise<BatchView | undefined> {
  if (!existsSync(LOCAL_DB)) return undefined;
  const [{ SqliteRunStore }, { SqliteBatchStore }] = await Promise.all([import("../../local/sqlite-run-store.ts"), import("../../local/sqlite-batch-store.ts")]);
  const runs = new SqliteRunStore(LOCAL_DB);
  try {
    const store = new SqliteBatchStore(runs.database);
    const heads = new Map<string, BatchHead>();
    for (const job of jobs) {
      const head = await store.getHead(job);
      if (head !== undefined) heads.set(job, head);
    }
    return { now: Date.now(), head: (job) => heads.get(job), from: LOCAL_DB };
  } finally {
    runs.close();
  }
}

export function registerExplain(program: Command): void {
  whereOptions(
    program
      .command("explain")
      .description("show which jobs an event fires, why the others do not, and the exact ECS request; for an upload to a batched job, the batch it would join (the local runtime's, or a deployed stage's with --stage)")
      .argument("<event>", "an EventBridge event as JSON: a file, or - for standard input")
      .addOption(configOption())
      .option("--json", "machine-readable output"),
  ).action(async (source: string, opts: { config?: string; json?: boolean }, command: Command) => {
    const catalog = requireCatalog(opts.config);
    const parsed = asBusEvent(readEvent(source));
    if (!parsed.ok) throw new UsageError(`${source}: ${parsed.error.message}`);
    const when = Date.parse(parsed.event.time);
    const runId = newRunId(Number.isNaN(when) ? Date.now() : when, randomBytes(10));
    const x = explainEvent(buildRouter(catalog), parsed.event, runId, await batches(catalog, command.optsWithGlobals<Where>()));
    if (opts.json) printJson(x);
    else console.log(render(x));
    // A fired job whose request cannot be built: the report above says why.
    if (x.fired.some((f) => f.errors)) throw new ConfigurationError("");
  });
}
