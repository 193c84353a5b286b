/**
 * What the command line says about AWS: the global `--stage`, `--region` and `--profile`, and the
 * region they, the standard AWS settings and berth.yml resolve to. No SDK client is made here, so
 * every command that deploys or reads a stage can share it.
 *
 * Region, first found wins (the AWS CLI's order, then the catalog's):
 *
 * | source                                   | as                                            |
 * |------------------------------------------|-----------------------------------------------|
 * | `--region`                               | given                                         |
 * | `AWS_REGION`, then `AWS_DEFAULT_REGION`  | the environment                               |
 * | the profile's `region`                   | `--profile`, else AWS_PROFILE, else `default`; ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE) |
 * | berth.yml `region:`                      | the catalog                                   |
 * | none of these                            | the SDK's own last resort (EC2 instance metadata), else "no AWS region is configured" |
 */
import type { Command } from "commander";
import { UsageError } from "./output.ts";

export interface AwsOptions {
  readonly stage?: string;
  readonly region?: string;
  readonly profile?: string;
}

/** The global options, on the program so that every subcommand reads them (`berth runs --stage prod`, `berth --stage prod runs`). */
export function addAwsOptions(program: Command): Command {
  return program
    .option("--stage <stage>", "the deployed stage to work on: CloudFormation stack <service>-<stage>, as `berth deploy --stage` creates it")
    .option("--region <region>", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, berth.yml's region:)")
    .option("--profile <profile>", "AWS profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE)");
}

/** The global options as a subcommand's action sees them. */
export function awsOptions(command: Command): AwsOptions {
  const o = command.optsWithGlobals<AwsOptions>();
  return { ...(o.stage !== undefined ? { stage: o.stage } : {}), ...(o.region !== undefined ? { region: o.region } : {}), ...(o.profile !== undefined ? { profile: o.profile } : {}) };
}

/**
 * The stack of a stage: the Serverless Framework's default name, `<service>-<stage>`. A stack
 * name holds letters, digits and hyphens, starts with a letter and has at most 128 characters
 * (CloudFormation API reference, CreateStack, StackName); the service already starts with a letter.
 */
export function stackName(service: string, stage: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(stage)) throw new UsageError(`--stage "${stage}": a stage name is letters, digits and hyphens (it becomes part of the stack name ${service}-<stage>)`);
  const name = `${service}-${stage}`;
  if (name.length > 128) throw new UsageError(`--stage "${stage}": the stack name ${name} would be longer than CloudFormation's 128 characters`);
  return name;
}

// The SDK's shared-config reader, loaded only by commands that ask AWS something: it pulls in node:crypto, http and fs.
const sharedConfig = () => import("@smithy/core/config");

/**
 * A profile that `--profile` or AWS_PROFILE names must exist in the shared files: the SDK's own
 * answer for a missing one ("Could not load credentials from any providers") does not say which.
 */
export async function requireProfile(options: AwsOptions, env: Readonly<Record<string, string | undefined>>): Promise<void> {
  const profile = options.profile ?? (env.AWS_PROFILE || undefined);
  if (profile === undefined) return;
  const { loadSharedConfigFiles } = await sharedConfig();
  const { configFile, credentialsFile } = await loadSharedConfigFiles();
  if (Object.hasOwn(configFile, profile) || Object.hasOwn(credentialsFile, profile)) return;
  throw new UsageError(
    `${options.profile !== undefined ? "--profile" : "AWS_PROFILE"} ${profile}: no such profile in ${env.AWS_CONFIG_FILE ?? "~/.aws/config"} or ${env.AWS_SHARED_CREDENTIALS_FILE ?? "~/.aws/credentials"} (\`aws configure list-profiles\` lists them)`,
  );
}

export interface ResolvedRegion {
  readonly region: string;
  /** Where it came from, for messages: `--region`, `AWS_REGION`, `profile prod`, `berth.yml`. */
  readonly source: string;
}

/** The region of a profile in the shared config files, read as the SDK reads it (the environment left out: it was asked first). */
async function profileRegion(profile: string | undefined): Promise<string | undefined> {
  const { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } = await sharedConfig();
  const fromFiles = loadConfig<string | undefined>(
    { environmentVariableSelector: () => undefined, configFileSelector: NODE_REGION_CONFIG_OPTIONS.configFileSelector, default: () => undefined },
    { ...NODE_REGION_CONFIG_FILE_OPTIONS, ...(profile !== undefined ? { profile } : {}) },
  );
  return (await fromFiles()) || undefined;
}

/**
 * The region by the table above; undefined when none of the sources says, which leaves it to the SDK.
 * `catalogRegion` is asked last, so a command that has no berth.yml at hand needs none when another source answers.
 */
export async function resolveRegion(
  options: AwsOptions,
  env: Readonly<Record<string, string | undefined>>,
  catalogRegion: () => { readonly region?: string; readonly file: string } | undefined,
): Promise<ResolvedRegion | undefined> {
  if (options.region) return { region: options.region, source: "--region" };
  if (env.AWS_REGION) return { region: env.AWS_REGION, source: "AWS_REGION" };
  if (env.AWS_DEFAULT_REGION) return { region: env.AWS_DEFAULT_REGION, source: "AWS_DEFAULT_REGION" };
  const profile = options.profile ?? (env.AWS_PROFILE || undefined);
  const fromProfile = await profileRegion(profile);
  if (fromProfile) return { region: fromProfile, source: `profile ${profile ?? "default"}` };
  const catalog = catalogRegion();
  if (catalog?.region) return { region: catalog.region, source: catalog.file };
  return undefined;
}
