import type { Command } from "commander";
import { randomBytes, randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { configOption, requireCatalog } from "../catalog-file.ts";
import { c, printJson, UsageError } from "../output.ts";
import { manualRunEvent } from "../../core/events/berth-events.ts";
import { triggerContext } from "../../core/context/index.ts";
import { newRunId } from "../../core/ids.ts";
import type { Catalog } from "../../core/catalog/types.ts";
import { chooseActionTarget, type Where } from "../backend.ts";
import { devRequest } from "../dev-client.ts";
import { whereOptions } from "./runs.ts";
import type { BusOutcome } from "../../local/runtime.ts";

function parseParams(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i <= 0) throw new UsageError(`--param takes NAME=VALUE, got "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** The manual-run event for `job`, checked against the job's declared params before anything is sent. */
export function manualRequest(catalog: Catalog, jobName: string, params: Record<string, string>, key: string | undefined) {
  const job = catalog.jobs[jobName];
  if (!job) throw new UsageError(`no job named "${jobName}"; jobs: ${Object.keys(catalog.jobs).join(", ")}`);
  const trigger = job.triggers.find((t) => t.kind === "manual");
  if (!trigger) throw new UsageError(`job "${jobName}" has no manual trigger; add \`manual: true\` (or declared params) under its on:`);
  const now = Date.now();
  const event = manualRunEvent(
    { service: catalog.service, job: jobName, params, ...(key ? { idempotencyKey: key } : {}), requestedBy: userInfo().username },
    { id: randomUUID(), time: now },
  );
  const ctx = triggerContext(trigger, event);
  if (!ctx.ok) throw new UsageError(ctx.error.message);
  return event;
}

export function registerRun(program: Command): void {
  whereOptions(program
    .command("run")
    .description("start a manual run of a job: in the running `berth dev`, or on a deployed stage (--stage: a Berth Manual Run event on the stage's bus)"))
    .argument("<job>", "the job; it needs a manual trigger")
    .option("-p, --param <name=value>", "a declared param (repeatable)", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("-k, --key <key>", "idempotency key: requests with the same key start one run")
    .addOption(configOption())
    .option("--json", "machine-readable output")
    .action(async (jobName: string, opts: { param: string[]; key?: string; config?: string; json?: boolean }, command: Command) => {
      const where = command.optsWithGlobals<Where>();
      const catalog = requireCatalog(opts.config);
      const event = manualRequest(catalog, jobName, parseParams(opts.param), opts.key ?? newRunId(Date.now(), randomBytes(10)));
      if (chooseActionTarget(where) === "local") {
        const out = await devRequest<BusOutcome>("/events", event);
        const runs = "dispatched" in out ? out.dispatched : [];
        if (opts.json) printJson(runs);
        // A manual run never joins a batch (batches gather uploads), so every other outcome names its run.
        else for (const r of runs) console.log(r.kind === "rejected" ? `${c.red("✖")} ${r.reason}` : "runId" in r ? `${c.green("✔")} ${c.bold(r.job)} run ${r.runId} is ${r.status.toLowerCase()}${r.kind === "duplicate" ? " (same key as an earlier request)" : ""}` : `${c.green("✔")} ${c.bold(r.job)}: joined batch ${r.batchId}`);
        if (runs.some((r) => r.kind === "rejected")) throw new UsageError("", 1);
        return;
      }
      const { putOnBus } = await import("../aws-backend.ts");
      await putOnBus(event, catalog, where);
      if (opts.json) printJson({ requested: true, job: jobName, idempotencyKey: event.detail.idempotencyKey, params: event.detail.params });
      else console.log(`${c.green("✔")} requested a run of ${c.bold(jobName)} (key ${event.detail.idempotencyKey}); follow it with \`berth runs --job ${jobName}\``);
    });
}
