import type { Command } from "commander";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { configOption, configPath } from "../catalog-file.ts";
import { c, table, UsageError } from "../output.ts";
import { localZone } from "../times.ts";
import { isValidTimeZone } from "../../core/schedule/index.ts";

const PACKAGE = "berth-ecs";

/** The folder of the berth-ecs package this CLI runs from: the installed package, or this repository. */
function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === PACKAGE) return dir;
    if (dirname(dir) === dir) throw new Error(`berth runs from outside its ${PACKAGE} package (no package.json named ${PACKAGE} above ${fileURLToPath(import.meta.url)})`);
  }
}

/** The path relative to the current folder, when it lies inside it. */
function withinCwd(path: string): string | undefined {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : undefined;
}

/**
 * Where the catalog's editors find the schema: the one in the berth package, relative to the
 * catalog when both sit inside this project (node_modules/berth-ecs, or this repository), a file
 * URL otherwise (a global or linked install, a catalog written elsewhere).
 */
function schemaReference(catalogFile: string): string {
  const schema = join(packageRoot(), "berth.schema.json");
  if (withinCwd(schema) === undefined || withinCwd(catalogFile) === undefined) return pathToFileURL(schema).href;
  const rel = relative(dirname(catalogFile), schema).split(sep).join("/");
  return rel.startsWith("..") ? rel : `./${rel}`;
}

/** A `service:` from the folder's name, made to fit the catalog's rule (a letter, then up to 31 of a-z 0-9 -). */
export function serviceName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 32)
    .replace(/-+$/, "");
  return name || "my-jobs";
}

export interface StarterOptions {
  readonly schema: string;
  readonly service: string;
  readonly timezone: string;
}

/**
 * The starter catalog: a job of each everyday kind (an upload, a schedule and the job chained to
 * it, a manual run with a parameter, a push that deploys a service), with `local:` stand-ins that
 * need nothing but Node. The jobs hand their inputs to the tasks as environment variables, which
 * ECS and `berth dev` both apply, so the same jobs work unchanged with real task definitions.
 */
export function starterCatalog(o: StarterOptions): string {
  const bucket = `${o.service}-uploads`;
  return `# yaml-language-server: $schema=${o.schema}
#
# berth.yml: when something happens, what runs on Amazon ECS.
#   npx berth validate      check this file and list its jobs
#   npx berth dev           run it on this machine, no AWS account needed (Ctrl-C stops it)
# Before deploying, replace the cluster, subnets, security groups, roles and image below with yours.
version: 1
service: ${o.service}        # names what berth creates on AWS: the stack of stage S is ${o.service}-S
region: us-east-1       # used when neither --region, AWS_REGION nor your AWS profile names a region

defaults:               # every job gets these unless it says otherwise
  cluster: default
  launch: fargate       # fargate | fargate-spot | ec2 | { capacityProviders: [...] }
  network:
    subnets: [subnet-0123456789abcdef0]
    securityGroups: [sg-0123456789abcdef0]
  roles:                # the roles of your task definitions: berth may pass these to ECS, and no others
    execution: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  retry: { attempts: 2 }
  timeout: 30m

# On AWS, GitHub and GitLab sign their webhook deliveries with this secret (an SSM SecureString you create;
# npx berth doctor --stage S checks it and prints the webhook's URL).
webhook:
  secret: ssm:/${o.service}/webhook-secret

jobs:
  # A file lands in S3 → a task processes it.
  # In berth dev: npx berth put <file> s3://${bucket}/incoming/<file>
  process-upload:
    on:
      s3: { bucket: ${bucket}, key: { prefix: incoming/ } }
    run:
      taskDefinition: processor
      container: app
      environment: { INPUT_BUCKET: "\${s3.bucket}", INPUT_KEY: "\${s3.key}" }

  # Every night at 03:00 → a report. In berth dev: npx berth trigger nightly-report
  nightly-report:
    on:
      schedule: { cron: "0 3 * * ? *", timezone: ${o.timezone} }
    run:
      taskDefinition: reporter
      container: app
      environment: { REPORT_DATE: "\${schedule.date}" }
    concurrency: { max: 1, overlap: forbid }

  # When a report succeeds → publish it.
  publish-report:
    on:
      job: { name: nightly-report, status: succeeded }
    run:
      taskDefinition: publisher
      container: app
      environment: { REPORT_RUN: "\${upstream.runId}" }

  # By hand, with a parameter: npx berth run say-hello --param name=you
  say-hello:
    on:
      manual:
        params:
          name: { default: world, description: who to greet }
    run:
      taskDefinition: greeter
      container: app
      environment: { NAME: "\${params.name}" }

  # A push to main → a new deployment of an ECS service.
  # In berth dev: a push signed with BERTH_WEBHOOK_SECRET to the webhook berth dev prints.
  deploy-web:
    on:
      git: { repo: your-org/web, branch: main }
    deploy:
      service: web
      container: app
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:\${git.sha}

# How berth dev stands in for ECS: a process per task, with the job's environment applied as ECS
# would apply it; a service is a process behind a local proxy on its port.
local:
  taskDefinitions:
    processor:
      command: [node, -e, "console.log('processing s3://' + process.env.INPUT_BUCKET + '/' + process.env.INPUT_KEY)"]
    reporter:
      command: [node, -e, "console.log('report for ' + process.env.REPORT_DATE)"]
    publisher:
      command: [node, -e, "console.log('publishing the report of run ' + process.env.REPORT_RUN)"]
    greeter:
      command: [node, -e, "console.log('hello, ' + process.env.NAME)"]
  services:
    web:
      command: [node, -e, "require('http').createServer((req, res) => res.end('web ' + (process.env.BERTH_IMAGE || 'as first started') + '\\\\n')).listen(process.env.PORT, '127.0.0.1')"]
      port: 8080
`;
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a starter berth.yml here (a job of each everyday kind and how `berth dev` runs them); an existing file is left alone")
    .addOption(configOption())
    .option("-f, --force", "overwrite the file if it exists")
    .action((opts: { config?: string; force?: boolean }) => {
      const file = resolve(configPath(opts.config));
      const shown = withinCwd(file) ?? file;
      if (existsSync(file) && !opts.force) throw new UsageError(`${shown} already exists; berth init leaves it as it is (pass --force to overwrite it)`, 1);
      const zone = localZone();
      const service = serviceName(basename(process.cwd()));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, starterCatalog({ schema: schemaReference(file), service, timezone: isValidTimeZone(zone) ? zone : "UTC" }));
      const config = shown === "berth.yml" ? "" : ` -c ${shown}`;
      console.log(`${c.green("✔")} wrote ${shown}: service ${c.bold(service)}, 5 jobs, and a local: block for berth dev`);
      console.log(
        table(
          [
            [`npx berth validate${config}`, c.dim("check it")],
            [`npx berth dev${config}`, c.dim("run it here; then, from another terminal:")],
            ["npx berth trigger nightly-report", c.dim("fire the schedule now (publish-report follows)")],
            ["npx berth runs --local", c.dim("the runs so far")],
          ],
          "  ",
        ),
      );
    });
}
