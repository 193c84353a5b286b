import type { Command } from "commander";
import { chooseTarget, openStore } from "../backend.ts";
import { printJson, UsageError } from "../output.ts";
import { runDetail, runsTable } from "../runs-format.ts";
import { configOption, readCatalog } from "../catalog-file.ts";
import type { RunStatus } from "../../core/runs/status.ts";
import { TRANSITIONS } from "../../core/runs/status.ts";
import { NotFoundError } from "../../core/errors.ts";

interface Where {
  aws?: boolean;
  local?: boolean;
}

export function whereOptions(cmd: Command): Command {
  return cmd.option("--aws", "the deployed stage (BERTH_TABLE, BERTH_BUS, AWS credentials)").option("--local", "the local runtime's history (.berth/berth.db)");
}

const STATUSES = Object.keys(TRANSITIONS) as RunStatus[];

export function registerRuns(program: Command): void {
  const runs = whereOptions(
    program
      .command("runs")
      .description("list runs, newest first")
      .option("-j, --job <job>", "only this job")
      .option("-s, --status <status>", `only this status (${STATUSES.join(", ")})`)
      .option("-n, --limit <n>", "at most this many (default 20)", "20")
      .option("--json", "machine-readable output"),
  ).action(async (opts: Where & { job?: string; status?: string; limit: string; json?: boolean }) => {
    const status = opts.status?.toUpperCase().replace(/-/g, "_");
    if (status && !STATUSES.includes(status as RunStatus)) throw new UsageError(`unknown status "${opts.status}"; use one of ${STATUSES.join(", ")}`);
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError("--limit takes a whole number from 1 to 1000");
    const store = await openStore(chooseTarget(opts));
    const list = await store.listRuns({ ...(opts.job ? { job: opts.job } : {}), ...(status ? { status: status as RunStatus } : {}), limit });
    if (opts.json) printJson(list);
    else console.log(list.length ? runsTable(list, Date.now()) : "no runs yet");
  });

  whereOptions(
    runs
      .command("show")
      .description("one run: attempts, exit codes, reasons, and CloudWatch log streams (awslogs)")
      .argument("<run-id>", "the run id (see berth runs)")
      .option("--json", "machine-readable output")
      .addOption(configOption()),
  ).action(async (id: string, opts: Where & { json?: boolean; config?: string }) => {
    const target = chooseTarget({ ...runs.opts(), ...opts });
    const store = await openStore(target);
    const run = await store.getRun(id.toUpperCase());
    if (!run) throw new NotFoundError(`no run ${id}; list runs with \`berth runs\``);
    const logs = new Map<number, string[]>();
    if (target === "aws") {
      const cat = readCatalog(opts.config);
      const action = cat.ok ? cat.catalog.jobs[run.job]?.action : undefined;
      if (action?.kind === "run") {
        const { logStreams } = await import("../aws-backend.ts");
        for (const a of run.attempts) {
          if (!a.taskArn) continue;
          const streams = await logStreams(action.taskDefinition, a.taskArn).catch(() => []);
          logs.set(a.number, streams.map((s) => `${s.group} ${s.stream}`));
        }
      }
    }
    if (opts.json) printJson({ ...run, logStreams: Object.fromEntries(logs) });
    else console.log(runDetail(run, Date.now(), logs));
  });
}
