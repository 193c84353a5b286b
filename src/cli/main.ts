import { Command, CommanderError } from "commander";
import { UsageError } from "./output.ts";
import { registerValidate } from "./commands/validate.ts";
import { registerExplain } from "./commands/explain.ts";
import { registerSchema } from "./commands/schema.ts";
import { registerCompile } from "./commands/compile.ts";
import { registerRuns } from "./commands/runs.ts";
import { registerRun } from "./commands/run.ts";
import { registerCancel } from "./commands/cancel.ts";
import { registerDev } from "./commands/dev.ts";
import { registerTrigger } from "./commands/trigger.ts";
import { registerPut } from "./commands/put.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerSchedule } from "./commands/schedule.ts";

// Output piped into a reader that went away (`berth runs | head`): stop like any CLI would. SIGTERM lets
// `berth dev` stop its tasks first; other commands simply end.
let outputGone = false;
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  if (!outputGone) process.kill(process.pid, "SIGTERM");
  outputGone = true;
});

const program = new Command("berth")
  .description("turn events into container jobs on Amazon ECS")
  .version("0.1.0")
  .showHelpAfterError("(run berth --help for usage)")
  .exitOverride();

registerValidate(program);
registerExplain(program);
registerSchema(program);
registerCompile(program);
registerRuns(program);
registerRun(program);
registerCancel(program);
registerDev(program);
registerTrigger(program);
registerPut(program);
registerLogs(program);
registerSchedule(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  if (e instanceof UsageError) {
    if (e.message) process.stderr.write(`berth: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  const err = e as Error & { $metadata?: unknown };
  if (err.$metadata !== undefined || err.name === "CredentialsProviderError") {
    // An AWS answer (no credentials, access denied, a missing table): the user can act on it.
    process.stderr.write(`berth: AWS said ${err.name}: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`berth: unexpected error — please report it with the command you ran.\n${(e as Error).stack ?? String(e)}\n`);
  process.exit(70);
}
