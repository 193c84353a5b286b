import type { Command } from "commander";
import { writeFileSync } from "node:fs";
import { configOption, requireCatalog } from "../catalog-file.ts";
import { c } from "../output.ts";
import { compileCatalog } from "../../core/catalog/compiled.ts";

export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("write the compiled catalog (resolved jobs, one EventBridge rule per trigger and the track rule) that the Lambda handlers and berth dev route with")
    .addOption(configOption())
    .option("-o, --out <file>", "write here instead of standard output")
    .action((opts: { config?: string; out?: string }) => {
      const compiled = compileCatalog(requireCatalog(opts.config));
      const text = `${JSON.stringify(compiled, null, 2)}\n`;
      if (!opts.out) {
        process.stdout.write(text);
        return;
      }
      writeFileSync(opts.out, text);
      console.error(`${c.green("✔")} wrote ${opts.out}: ${Object.keys(compiled.catalog.jobs).length} jobs, ${compiled.rules.length} rules`);
    });
}
