import type { Command } from "commander";
import { configOption } from "../catalog-file.ts";
import { c } from "../output.ts";
import { describeSummary, runStack } from "./package.ts";

export function registerDeploy(program: Command): void {
  program
    .command("deploy")
    .description("deploy a stage: package berth.yml (as berth package does) and create or update the stack <service>-<stage> with osls")
    .addOption(configOption())
    .action(async (opts: { config?: string }, command: Command) => {
      const { names, region, summary } = await runStack(command, "deploy", opts);
      process.stderr.write(`${c.green("✔")} deployed ${names.prefix} (${region})\n${describeSummary(summary)}\n`);
      process.stderr.write(`  next: berth doctor --stage ${names.stage}${summary.webhook ? " (it shows the webhook's URL, and where to paste it in GitHub or GitLab)" : ""}\n`);
    });
}
