import type { Command } from "commander";
import { userInfo } from "node:os";
import { requireCatalog } from "../catalog-file.ts";
import { c, printJson, UsageError } from "../output.ts";
import { statusText } from "../runs-format.ts";

export function registerCancel(program: Command): void {
  program
    .command("cancel")
    .description("cancel a run on the deployed stage: its task is stopped and the run ends CANCELLED")
    .argument("<run-id>", "the run id (see berth runs)")
    .option("-c, --config <file>", "catalog file (default: berth.yml, or $BERTH_CONFIG)")
    .option("--json", "machine-readable output")
    .action(async (id: string, opts: { config?: string; json?: boolean }) => {
      const catalog = requireCatalog(opts.config);
      const { awsEngine } = await import("../aws-backend.ts");
      const run = await awsEngine(catalog).cancel(id.toUpperCase(), `cancelled by ${userInfo().username}`);
      if (!run) throw new UsageError(`no run ${id}; list runs with \`berth runs\``, 1);
      if (opts.json) printJson(run);
      else console.log(`${run.status === "CANCELLED" ? c.green("✔") : c.yellow("○")} run ${run.id} of ${run.job} is ${statusText(run.status)}`);
    });
}
