/**
 * Every command of `berth`, in the order help lists them, each a module loaded only when needed: a command's
 * module imports what it runs with (the catalog loader, the local runtime, the AWS SDK), so start-up loads the
 * one module the command line names and nothing of the others. `validate` never loads the SDK that `doctor` needs.
 */
import type { Command } from "commander";

type Register = (program: Command) => void;

export const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  init: async () => (await import("./init.ts")).registerInit,
  validate: async () => (await import("./validate.ts")).registerValidate,
  explain: async () => (await import("./explain.ts")).registerExplain,
  schema: async () => (await import("./schema.ts")).registerSchema,
  compile: async () => (await import("./compile.ts")).registerCompile,
  runs: async () => (await import("./runs.ts")).registerRuns,
  run: async () => (await import("./run.ts")).registerRun,
  cancel: async () => (await import("./cancel.ts")).registerCancel,
  dev: async () => (await import("./dev.ts")).registerDev,
  trigger: async () => (await import("./trigger.ts")).registerTrigger,
  put: async () => (await import("./put.ts")).registerPut,
  logs: async () => (await import("./logs.ts")).registerLogs,
  schedule: async () => (await import("./schedule.ts")).registerSchedule,
  package: async () => (await import("./package.ts")).registerPackage,
  deploy: async () => (await import("./deploy.ts")).registerDeploy,
  remove: async () => (await import("./remove.ts")).registerRemove,
  doctor: async () => (await import("./doctor.ts")).registerDoctor,
};

const VERSION_FLAGS = new Set(["-V", "--version"]);

/**
 * The commands to register for `args` (the words after `berth`) on `program`, which holds the program's own
 * options: the command the first word names that is neither an option nor the value of a program option
 * (`berth --stage prod runs`); none for `--version` alone; every one for help, no command or a mistyped one,
 * so that commander lists them or suggests the nearest.
 */
export function commandsFor(program: Command, args: readonly string[]): string[] {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f) => f !== undefined)));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") break;
    if (takesValue.has(arg)) i++;
    else if (!arg.startsWith("-")) return Object.hasOwn(COMMANDS, arg) ? [arg] : Object.keys(COMMANDS);
  }
  if (args.length > 0 && args.every((a) => VERSION_FLAGS.has(a))) return [];
  return Object.keys(COMMANDS);
}

/** Registers `names` on `program`, in the order given, once their modules are loaded. */
export async function registerCommands(program: Command, names: readonly string[]): Promise<void> {
  const registers = await Promise.all(names.map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program);
}
