import type { Command } from "commander";
import { userInfo } from "node:os";
import { configOption, requireCatalog } from "../catalog-file.ts";
import { c, printJson } from "../output.ts";
import { runJson, statusText } from "../runs-format.ts";
import { chooseActionTarget, type Where } from "../backend.ts";
import { devRequest } from "../dev-client.ts";
import { whereOptions } from "./runs.ts";
import type { Run } from "../../core/runs/model.ts";
import { NotFoundError } from "../../core/errors.ts";

export function registerCancel(program: Command): void {
  whereOptions(program
    .command("cancel")
    .description("cancel a run (in the running `berth dev`, or on a deployed stage with --stage): its task is stopped and the run ends CANCELLED"))
    .argument("<run-id>", "the run id (see berth runs)")
    .addOption(configOption())
    .option("--json", "machine-readable output")
    .action(async (id: string, opts: { config?: string; json?: boolean }, command: Command) => {
      const where = command.optsWithGlobals<Where>();
      const reason = `cancelled by ${userInfo().username}`;
      let run: Run | undefined;
      if (chooseActionTarget(where) === "local") {
        run = (await devRequest<{ run: Run }>(`/runs/${encodeURIComponent(id.toUpperCase())}/cancel`, { reason })).run;
      } else {
        const { awsEngine } = await import("../aws-backend.ts");
        run = await (await awsEngine(requireCatalog(opts.config), where)).cancel(id.toUpperCase(), reason);
      }
      if (!run) throw new NotFoundError(`no run ${id}; list runs with \`berth runs\``);
      if (opts.json) printJson(runJson(run));
      else console.log(`${run.status === "CANCELLED" ? c.green("✔") : c.yellow("○")} run ${run.id} of ${run.job} is ${statusText(run.status)}`);
    });
}
