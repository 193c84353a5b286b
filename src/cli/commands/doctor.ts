import type { Command } from "commander";
import { cloudFormationClient, dynamoClient, ecsClient, eventBridgeClient, secretsManagerClient, ssmClient, stsClient } from "../../aws/clients.ts";
import { s3Client, sqsClient } from "../../aws/lazy-clients.ts";
import { DEFAULT_REGION, stackNames } from "../../aws/stack/names.ts";
import { ConfigurationError } from "../../core/errors.ts";
import type { Catalog } from "../../core/catalog/types.ts";
import { configOption, requireCatalog } from "../catalog-file.ts";
import { bucketCheck, clusterCheck, credentialsCheck, serviceCheck, stackCheck, taskDefinitionCheck, type Caller, type DoctorClients, type Place } from "../doctor/checks.ts";
import { formatResults, runChecks, type CheckResult } from "../doctor/report.ts";
import { doctorTargets } from "../doctor/targets.ts";
import { webhookSecretCheck } from "../doctor/webhook-checks.ts";
import { c, printJson, UsageError } from "../output.ts";
import { awsOptions, requireProfile, resolveRegion, stackName, type AwsOptions } from "../stage.ts";

/** Each check's own limit: far above the SDK's own retries (4 attempts, backoffs of a few seconds at most). */
const CHECK_TIME_LIMIT_MS = 15_000;

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("check that the AWS side of berth.yml and of a stage (--stage) is ready: one line per check, and the fix for each that fails")
    .addOption(configOption())
    .option("--json", "machine-readable output: a list of { check, ok, detail, fix }")
    .action(async (opts: { config?: string; json?: boolean }, command: Command) => {
      const aws = awsOptions(command);
      const catalog = requireCatalog(opts.config);
      const stack = aws.stage !== undefined ? stackName(catalog.service, aws.stage) : undefined;
      const { results, stopped } = await diagnose(catalog, aws, stack);
      if (opts.json) printJson(results);
      else {
        process.stdout.write(`${formatResults(results, c)}\n`);
        if (stopped) process.stderr.write("the other checks need credentials that AWS accepts: fix this one, then run berth doctor again\n");
        else if (stack === undefined) process.stderr.write(`the stage's stack, table, bus and queues${doctorTargets(catalog).webhook ? ", and the webhook's URL," : ""} are checked with --stage <stage>\n`);
      }
      // The report is the message: only the exit code is left to give.
      if (results.some((r) => !r.ok)) throw new ConfigurationError("");
    });
}

/** The results in the order they print; `stopped` when the credentials failed and nothing else was checked. */
async function diagnose(catalog: Catalog, aws: AwsOptions, stack: string | undefined): Promise<{ results: CheckResult[]; stopped: boolean }> {
  const { stage, profile: profileOption } = aws;
  const profile = profileOption ?? (process.env.AWS_PROFILE || undefined);
  try {
    await requireProfile(aws, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const fix = `create it with \`aws configure --profile ${profile}\` (or \`aws configure sso --profile ${profile}\`), or name one that exists`;
    return { results: [{ check: "credentials", ok: false, detail: e.message, fix }], stopped: true };
  }
  // The stage is where `berth deploy` put it: the same sources in the same order, then berth's default region.
  const found = await resolveRegion(aws, process.env, () => ({ ...(catalog.region ? { region: catalog.region } : {}), file: catalog.file }));
  const place: Place = {
    region: found?.region ?? DEFAULT_REGION,
    regionSource: found?.source ?? "berth's default, as berth deploy uses it",
    ...(profile !== undefined ? { profile } : {}),
    ...(stage !== undefined ? { stage } : {}),
  };

  // On Node 20 the SDK warns, once per process, that its releases after January 2027 need Node 22: advice
  // for berth's maintainers, which would only bury the report.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const where = { region: place.region, ...(profileOption !== undefined ? { profile: profileOption } : {}) };
  const clients: DoctorClients = {
    sts: stsClient(process.env, where),
    cloudFormation: cloudFormationClient(process.env, where),
    dynamo: dynamoClient(process.env, where),
    eventBridge: eventBridgeClient(process.env, where),
    sqs: sqsClient(process.env, where),
    s3: s3Client(process.env, where),
    ecs: ecsClient(process.env, where),
    ssm: ssmClient(process.env, where),
    secretsManager: secretsManagerClient(process.env, where),
  };

  // Without credentials AWS accepts, every other check would fail the same way: they wait for this one.
  const caller: Caller = {};
  const context = { region: place.region, timeLimitMs: CHECK_TIME_LIMIT_MS };
  const credentials = await runChecks([credentialsCheck(clients.sts, place, caller)], context);
  if (caller.refused) return { results: credentials, stopped: true };

  const targets = doctorTargets(catalog);
  const checks = [
    ...(stack !== undefined && stage !== undefined ? [stackCheck(clients, stack, stackNames(catalog.service, stage), place, targets.webhook)] : []),
    ...targets.buckets.map((t) => bucketCheck(clients, t, place)),
    ...targets.clusters.map((t) => clusterCheck(clients, t, place)),
    ...targets.taskDefinitions.map((t) => taskDefinitionCheck(clients, t, targets.passableRoles, place)),
    ...targets.services.map((t) => serviceCheck(clients, t, targets.passableRoles, place)),
    ...(targets.webhook !== undefined ? [webhookSecretCheck(clients, targets.webhook, place, catalog.service)] : []),
  ];
  const rest = await runChecks(checks, { ...context, ...(caller.principal !== undefined ? { principal: caller.principal } : {}) });
  return { results: [...credentials, ...rest], stopped: false };
}
