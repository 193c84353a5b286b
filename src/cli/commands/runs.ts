import type { Command } from "commander";
import { existsSync } from "node:fs";
import { chooseTarget, openStore, type Where } from "../backend.ts";
import { printJson, UsageError } from "../output.ts";
import { runDetail, runJson, runsTable } from "../runs-format.ts";
import { configOption, configPath, readCatalog } from "../catalog-file.ts";
import type { RunStatus } from "../../core/runs/status.ts";
import { TRANSITIONS } from "../../core/runs/status.ts";
import { NotFoundError } from "../../core/errors.ts";

export function whereOptions(cmd: Command): Command {
  return cmd
    .option("--aws", "the deployed stage: --stage <stage>, or BERTH_TABLE and BERTH_BUS (the default when they are set)")
    .option("--local", "the local runtime (.berth/ in this folder)");
}

const STATUSES = Object.keys(TRANSITIONS) as RunStatus[];

export function registerRuns(program: Command): void {
  const runs = whereOptions(
    program
      .command("runs")
      .description("list runs, newest first (the local runtime's, or a deployed stage's with --stage)")
      .option("-j, --job <job>", "only this job")
      .option("-s, --status <status>", `only this status (${STATUSES.join(", ")})`)
      .option("-n, --limit <n>", "at most this many (default 20)", "20")
      .addOption(configOption())
      .option("--json", "machine-readable output"),
  ).action(async (opts: { job?: string; status?: string; limit: string; json?: boolean }, command: Command) => {
    const status = opts.status?.toUpperCase().replace(/-/g, "_");
    if (status && !STATUSES.includes(status as RunStatus)) throw new UsageError(`unknown status "${opts.status}"; use one of ${STATUSES.join(", ")}`);
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit takes a whole number from 1 to 1000");
    const where = command.optsWithGlobals<Where>();
    const store = await openStore(chooseTarget(where), where);
    const list = await store.listRuns({ ...(opts.job ? { job: opts.job } : {}), ...(status ? { status: status as RunStatus } : {}), limit });
    if (opts.json) printJson(list.map(runJson));
    else console.log(list.length ? runsTable(list, Date.now()) : "no runs yet");
  });

  whereOptions(
    runs
      .command("show")
      .description("one run: attempts, exit codes, reasons, and CloudWatch log streams (awslogs)")
      .argument("<run-id>", "the run id (see berth runs)")
      .option("--json", "machine-readable output")
      .addOption(configOption()),
  ).action(async (id: string, _opts: unknown, command: Command) => {
    // `runs` takes the same options as `show` and, as the parent, parses them wherever they stand: read both.
    const where = command.optsWithGlobals<Where & { json?: boolean }>();
    const target = chooseTarget(where);
    const store = await openStore(target, where);
    const run = await store.getRun(id.toUpperCase());
    if (!run) throw new NotFoundError(`no run ${id}; list runs with \`berth runs\``);
    const logs = new Map<number, string[]>();
    if (target === "aws") {
      // The catalog only says which task definition to read the log configuration from: without one, no log streams.
      const cat = where.config !== undefined || existsSync(configPath(undefined)) ? readCatalog(where.config) : undefined;
      const action = cat?.ok ? cat.catalog.jobs[run.job]?.action : undefined;
      if (action?.kind === "run") {
        const { logStreams } = await import("../aws-backend.ts");
        for (const a of run.attempts) {
          if (!a.taskArn) continue;
          const streams = await logStreams(where, action.taskDefinition, a.taskArn).catch(() => []);
          logs.set(a.number, streams.map((s) => `${s.group} ${s.stream}`));
        }
      }
    }
    if (where.json) printJson({ ...runJson(run), logStreams: Object.fromEntries(logs) });
    else console.log(runDetail(run, Date.now(), logs));
  });
}
