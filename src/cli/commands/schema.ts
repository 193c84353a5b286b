import type { Command } from "commander";
import { writeFileSync } from "node:fs";
import { catalogJsonSchema } from "../../core/catalog/schema.ts";
import { c } from "../output.ts";

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description("print the JSON Schema of berth.yml (for editor completion), or write it with --out")
    .option("-o, --out <file>", "write to this file instead of standard output")
    .action((opts: { out?: string }) => {
      const text = `${JSON.stringify(catalogJsonSchema(), null, 2)}\n`;
      if (!opts.out) {
        process.stdout.write(text);
        return;
      }
      writeFileSync(opts.out, text);
      console.error(`${c.green("✔")} wrote ${opts.out}; point your editor at it, e.g. first line of berth.yml:\n  # yaml-language-server: $schema=./${opts.out}`);
    });
}
