import { Command, CommanderError } from "commander";
import { UsageError } from "./output.ts";
import { registerValidate } from "./commands/validate.ts";
import { registerExplain } from "./commands/explain.ts";
import { registerSchema } from "./commands/schema.ts";

const program = new Command("berth")
  .description("turn events into container jobs on Amazon ECS")
  .version("0.1.0")
  .showHelpAfterError("(run berth --help for usage)")
  .exitOverride();

registerValidate(program);
registerExplain(program);
registerSchema(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  if (e instanceof UsageError) {
    if (e.message) process.stderr.write(`berth: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  process.stderr.write(`berth: unexpected error — please report it with the command you ran.\n${(e as Error).stack ?? String(e)}\n`);
  process.exit(70);
}
