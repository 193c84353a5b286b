import type { Command } from "commander";
import { configOption } from "../catalog-file.ts";
import { c } from "../output.ts";
import { runStack } from "./package.ts";

export function registerRemove(program: Command): void {
  program
    .command("remove")
    .description("delete a stage's stack <service>-<stage>: its functions, rules, schedules, queues and the runs table with its history")
    .addOption(configOption())
    .action(async (opts: { config?: string }, command: Command) => {
      const { names, region } = await runStack(command, "remove", opts);
      process.stderr.write(`${c.green("✔")} removed ${names.prefix} (${region})\n`);
    });
}
