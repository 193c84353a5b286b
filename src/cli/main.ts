import { Command, CommanderError } from "commander";
import { ValidationError, type BerthError } from "../core/errors.ts";
import { AwsSetupError, asBerthError } from "../aws/errors.ts";
import { UsageError } from "./output.ts";
import { commandsFor, registerCommands } from "./commands/index.ts";
import { addAwsOptions } from "./stage.ts";

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
addAwsOptions(program);

/**
 * The CLI side of the error taxonomy, in one place: the exit code by class.
 *
 * | thrown                                                                  | exit | prints                               |
 * |-------------------------------------------------------------------------|------|--------------------------------------|
 * | a commander error (unknown option, missing argument)                    | 2    | commander's message, a usage hint    |
 * | UsageError                                                              | its exitCode, 2 unless it says 1 | its message |
 * | ValidationError                                                         | 2    | its message                          |
 * | AwsSetupError: no region, no credentials, credentials AWS refused       | 2    | its message, and what to set and how |
 * | ConfigurationError: an invalid catalog, access denied, a missing table, bus or cluster | 1 | its message         |
 * | NotFoundError, ConflictError, InvalidTransitionError, TransientError    | 1    | its message                          |
 * | anything else: a bug                                                    | 70   | "please report it" and the stack     |
 *
 * AWS errors a command passes on untranslated are classified first (src/aws/errors.ts). An
 * error without a message follows a report the command printed itself (validate's problems,
 * explain's decision), so only the exit code is left to give.
 */
const FIX: Record<AwsSetupError["setting"], string> = {
  region: "pass --region (e.g. --region eu-west-1), set AWS_REGION, give your AWS profile a region with `aws configure set region <region>`, or write region: in berth.yml",
  credentials: "configure credentials with `aws configure`, pick a profile with --profile or AWS_PROFILE (for an SSO profile, `aws sso login`), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
};

function exitCode(error: BerthError): number {
  if (error instanceof UsageError) return error.exitCode;
  if (error instanceof ValidationError || error instanceof AwsSetupError) return 2;
  return 1;
}

try {
  // Only the command the arguments name is loaded: start-up is commander and that one module (commands/index.ts).
  await registerCommands(program, commandsFor(program, process.argv.slice(2)));
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  const error = asBerthError(e);
  if (error === undefined) {
    process.stderr.write(`berth: unexpected error — please report it with the command you ran.\n${(e as Error).stack ?? String(e)}\n`);
    process.exit(70);
  }
  if (error.message) process.stderr.write(`berth: ${error.message}${error instanceof AwsSetupError ? `: ${FIX[error.setting]}` : ""}\n`);
  process.exit(exitCode(error));
}
