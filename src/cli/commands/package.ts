import type { Command } from "commander";
import { relative, resolve } from "node:path";
import { configOption, configPath, requireCatalog } from "../catalog-file.ts";
import { c, UsageError } from "../output.ts";
import { awsOptions, resolveRegion } from "../stage.ts";
import { compileCatalog } from "../../core/catalog/compiled.ts";
import { ConfigurationError } from "../../core/errors.ts";
import { checkStage, DEFAULT_REGION, type StackNames } from "../../aws/stack/names.ts";
import { compileStack, type StackSummary } from "../../aws/stack/stack.ts";
import { runServerless } from "../../aws/stack/osls.ts";
import { BUDGETS } from "../../aws/stack/quotas.ts";

export const PACKAGE_DIR = ".serverless";

/**
 * What package, deploy and remove share: the catalog and stage checked here first (every problem of
 * berth.yml printed as `berth validate` prints it, a quota the stack would exceed named before osls
 * starts), then the installed osls run over the catalog.
 */
export async function runStack(
  command: Command,
  verb: "package" | "deploy" | "remove",
  opts: { readonly config?: string },
): Promise<{ readonly names: StackNames; readonly region: string; readonly summary: StackSummary }> {
  const aws = awsOptions(command);
  if (verb !== "package" && aws.stage === undefined) throw new UsageError(`berth ${verb} needs --stage <stage>: the stage names the stack (<service>-<stage>)`);
  const stage = aws.stage ?? "dev";
  const stageProblem = checkStage(stage);
  if (stageProblem) throw new UsageError(`--stage: ${stageProblem}`);
  const catalog = requireCatalog(opts.config);
  const catalogFile = resolve(configPath(opts.config));
  const stack = compileStack(compileCatalog(catalog), { stage });
  const region = (await resolveRegion(aws, process.env, () => ({ ...(catalog.region ? { region: catalog.region } : {}), file: relative(process.cwd(), catalogFile) })))?.region ?? DEFAULT_REGION;
  const result = await runServerless({
    command: verb,
    catalogFile,
    stage,
    region,
    ...(aws.profile !== undefined ? { profile: aws.profile } : {}),
    ...(verb === "package" ? { packageDir: resolve(PACKAGE_DIR) } : {}),
  });
  if (result.exitCode !== 0) throw new ConfigurationError(`serverless ${verb} failed (exit code ${result.exitCode}); its output above says why`);
  return { names: stack.names, region, summary: stack.summary };
}

const BUS_LABEL: Record<string, string> = { default: "the default bus", berth: "berth's bus" };
const busLabel = (key: string) => BUS_LABEL[key] ?? `bus ${key.replace(/^named:/, "")}`;

/** One line per fact a reviewer of the stack wants: what it holds, and where berth grouped rules to fit the quotas. */
export function describeSummary(summary: StackSummary): string {
  const rules = Object.entries(summary.rulesByBus)
    .map(([bus, n]) => `${n} on ${busLabel(bus)}${summary.grouped[bus] ? ` (grouped by ${summary.grouped[bus]})` : ""}`)
    .join(", ");
  return [
    `  ${summary.resources} resources (berth keeps under ${BUDGETS.resourcesPerStack} of CloudFormation's 500)`,
    `  rules: ${rules || "none"}`,
    `  ${summary.jobSchedules} job schedule${summary.jobSchedules === 1 ? "" : "s"} and the one-minute sweep`,
    ...(summary.webhook ? ["  a webhook for GitHub and GitLab pushes, behind a function URL (the stack output BerthWebhookUrl)"] : []),
  ].join("\n");
}

export function registerPackage(program: Command): void {
  program
    .command("package")
    .description("build the CloudFormation template and the function packages of a stage from berth.yml, offline, into .serverless/")
    .addOption(configOption())
    .action(async (opts: { config?: string }, command: Command) => {
      const { names, region, summary } = await runStack(command, "package", opts);
      process.stderr.write(`${c.green("✔")} packaged ${names.prefix} (${region}) into ${PACKAGE_DIR}/\n${describeSummary(summary)}\n`);
      process.stderr.write(`  template: ${PACKAGE_DIR}/cloudformation-template-update-stack.json\n`);
    });
}
