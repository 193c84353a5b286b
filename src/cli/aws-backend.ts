/**
 * The CLI's view of a deployed stage: its run table, its bus, and ECS for cancels and log streams.
 *
 * The table and the bus are BERTH_TABLE and BERTH_BUS when set; otherwise the outputs
 * `BerthRunsTable` and `BerthBus` of the stage's stack `<service>-<stage>` (CloudFormation
 * DescribeStacks, asked at most once, and only for what the environment does not say). The
 * region is stage.ts's; credentials are the SDK's chain, for `--profile` when given.
 */
import { existsSync } from "node:fs";
import { DescribeStacksCommand, type CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { DescribeTaskDefinitionCommand } from "@aws-sdk/client-ecs";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { buildEngine, runStore, type AwsClients } from "../aws/compose.ts";
import { DynamoBatchStore } from "../aws/dynamo-batch-store.ts";
import { cloudFormationClient, dynamoClient, ecsClient, eventBridgeClient } from "../aws/clients.ts";
import { translateAwsError } from "../aws/errors.ts";
import type { DynamoRunStore } from "../aws/dynamo-run-store.ts";
import type { Engine } from "../core/engine/engine.ts";
import type { BatchHead } from "../core/batch/model.ts";
import type { BatchStore } from "../core/batch/port.ts";
import type { Catalog } from "../core/catalog/types.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import { ConfigurationError, NotFoundError, TransientError } from "../core/errors.ts";
import { configPath, requireCatalog } from "./catalog-file.ts";
import { UsageError } from "./output.ts";
import { requireProfile, resolveRegion, stackName, type AwsOptions, type ResolvedRegion } from "./stage.ts";

/** What a command knows about the stage it works on: the global options and its --config. */
export interface StageRequest extends AwsOptions {
  readonly config?: string;
}

interface StageClients extends AwsClients {
  readonly cloudFormation: CloudFormationClient;
}

/** The stage's clients: the one factory module's (src/aws/clients.ts), in the stage's region and for the profile. */
function stageClients(region: string | undefined, profile: string | undefined): StageClients {
  // On Node 20 the SDK warns, once per process, that its releases after January 2027 need Node 22.
  // The CLI ships with its SDK built in, so that advice is for berth's maintainers; it would only
  // bury berth's own message. This process starts no children, so the setting stays here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const place = { ...(region !== undefined ? { region } : {}), ...(profile !== undefined ? { profile } : {}) };
  return {
    ecs: ecsClient(process.env, place),
    eventBridge: eventBridgeClient(process.env, place),
    dynamo: dynamoClient(process.env, place),
    cloudFormation: cloudFormationClient(process.env, place),
  };
}

/** The stack outputs the wing's template declares for the CLI, by what they name. */
const OUTPUTS = { table: "BerthRunsTable", bus: "BerthBus", batchQueue: "BerthBatchQueue", manifestBucket: "BerthManifestBucket" } as const;
const VARIABLES = { table: "BERTH_TABLE", bus: "BERTH_BUS", batchQueue: "BERTH_BATCH_QUEUE", manifestBucket: "BERTH_MANIFEST_BUCKET" } as const;
const WHAT = { table: "the DynamoDB run table", bus: "the event bus", batchQueue: "the URL of the batch queue", manifestBucket: "the manifest bucket" } as const;
type Resource = keyof typeof OUTPUTS;

interface Stack {
  readonly name: string;
  readonly status: string;
  readonly outputs: ReadonlyMap<string, string>;
}

function unnamed(what: Resource): UsageError {
  return new UsageError(
    `${VARIABLES[what]} is not set and no stage is named: pass --stage <stage> (a stage deployed with \`berth deploy --stage <stage>\`), or set ${VARIABLES[what]} to ${WHAT[what]} of the deployed stage`,
  );
}

/** Fails before anything is resolved when neither the environment nor a stage can say where `what` is. */
function requireNamed(request: StageRequest, ...what: Resource[]): void {
  for (const w of what) if (!process.env[VARIABLES[w]] && request.stage === undefined) throw unnamed(w);
}

class DeployedStage {
  readonly #stack: { readonly stage: string; readonly name: string } | undefined;
  readonly #region: ResolvedRegion;
  #described: Promise<Stack> | undefined;

  constructor(
    readonly clients: StageClients,
    region: ResolvedRegion,
    stack: { readonly stage: string; readonly name: string } | undefined,
  ) {
    this.#region = region;
    this.#stack = stack;
  }

  /** The region the stage's clients work in. */
  get region(): string {
    return this.#region.region;
  }

  /** The table or bus: the environment's when set, else the stack's output. */
  async resolve(what: Resource): Promise<{ name: string; from: string }> {
    const fromEnv = process.env[VARIABLES[what]];
    if (fromEnv) return { name: fromEnv, from: VARIABLES[what] };
    if (this.#stack === undefined) throw unnamed(what);
    const { stage } = this.#stack;
    const stack = await (this.#described ??= this.#describe(this.#stack.name, stage));
    const value = stack.outputs.get(OUTPUTS[what]);
    if (!value) {
      throw new ConfigurationError(
        `stack ${stack.name} in ${this.#region.region} (${stack.status}) has no output ${OUTPUTS[what]}: it was not deployed by berth, or its deployment has not finished; \`berth deploy --stage ${stage}\` deploys it`,
      );
    }
    return { name: value, from: `stack ${stack.name}` };
  }

  async #describe(name: string, stage: string): Promise<Stack> {
    const where = `${this.#region.region} (region from ${this.#region.source})`;
    const missing = () =>
      new NotFoundError(`no stack ${name} in ${where}: \`berth deploy --stage ${stage}\` creates it; for a stage deployed elsewhere, pass its --region (or --profile)`);
    let stacks;
    try {
      stacks = (await this.clients.cloudFormation.send(new DescribeStacksCommand({ StackName: name }))).Stacks;
    } catch (e) {
      // DescribeStacks answers a name no live stack has (never created, or deleted) with
      // ValidationError "Stack with id <name> does not exist" (API reference, DescribeStacks).
      if ((e as Error).name === "ValidationError" && /does not exist/.test((e as Error).message)) throw missing();
      throw translateAwsError(e, `describe stack ${name} in ${where}`, { hint: "the credentials in use need cloudformation:DescribeStacks on the stage's stack" }) ?? e;
    }
    const stack = stacks?.[0];
    if (stack === undefined) throw missing();
    const outputs = new Map((stack.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue] as const] : [])));
    return { name, status: stack.StackStatus ?? "status unknown", outputs };
  }
}

let opened: Promise<DeployedStage> | undefined;

/**
 * The stage the command line names, opened once per process. The catalog is read only when it is
 * needed: for the stack's name when a stage is named, or for its `region:` when nothing else says.
 */
function stage(request: StageRequest, loaded?: Catalog): Promise<DeployedStage> {
  return (opened ??= (async () => {
    let catalog = loaded;
    const readCatalog = (): Catalog | undefined => {
      // Without a stage the catalog can only supply a region: no berth.yml here is no reason to fail.
      if (catalog === undefined && (request.stage !== undefined || request.config !== undefined || existsSync(configPath(undefined)))) catalog = requireCatalog(request.config);
      return catalog;
    };
    const stack = request.stage === undefined ? undefined : { stage: request.stage, name: stackName((catalog ??= requireCatalog(request.config)).service, request.stage) };
    await requireProfile(request, process.env);
    const found = await resolveRegion(request, process.env, () => {
      const c = readCatalog();
      return c === undefined ? undefined : { ...(c.region !== undefined ? { region: c.region } : {}), file: c.file };
    });
    const clients = stageClients(found?.region, request.profile);
    let region = found;
    if (region === undefined) {
      // Nothing berth reads says: the SDK's last resort (an EC2 instance's metadata), or its "Region is missing".
      try {
        region = { region: await clients.cloudFormation.config.region(), source: "the instance metadata" };
      } catch (e) {
        throw translateAwsError(e) ?? e;
      }
    }
    return new DeployedStage(clients, region, stack);
  })());
}

export async function awsStore(request: StageRequest): Promise<DynamoRunStore> {
  requireNamed(request, "table");
  const s = await stage(request);
  return runStore(s.clients, (await s.resolve("table")).name);
}

export async function awsEngine(catalog: Catalog, request: StageRequest): Promise<Engine> {
  requireNamed(request, "table", "bus");
  const s = await stage(request, catalog);
  const [table, bus] = await Promise.all([s.resolve("table"), s.resolve("bus")]);
  // A catalog that batches uploads settles batches too (a manual run can fill none, but the engine is one): the
  // stage's batch queue, and its manifest bucket when some batched job names no manifest location of its own.
  const batched = Object.values(catalog.jobs).filter((j) => j.batch !== undefined);
  const batchQueue = batched.length > 0 ? (await s.resolve("batchQueue")).name : undefined;
  const manifestBucket = batched.some((j) => j.batch?.manifest === undefined) ? (await s.resolve("manifestBucket")).name : undefined;
  const place = { region: s.region, ...(request.profile !== undefined ? { profile: request.profile } : {}) };
  return buildEngine(
    catalog,
    s.clients,
    { table: table.name, bus: bus.name, ...(batchQueue !== undefined ? { batchQueue } : {}), ...(manifestBucket !== undefined ? { manifestBucket } : {}) },
    { env: process.env, place },
  );
}

/** The batch heads of a stage's batched jobs, and where they were read. */
export interface StageBatches {
  readonly heads: ReadonlyMap<string, BatchHead>;
  /** For people: `table <name> (from <stack or BERTH_TABLE>, <region>)`. */
  readonly from: string;
}

/**
 * The current batch of each of `jobs` as the stage's runs table holds it, read through the stage's batch
 * store (DynamoBatchStore, as the functions write it): one strongly consistent GetItem per job.
 */
export async function stageBatches(catalog: Catalog, request: StageRequest, jobs: readonly string[]): Promise<StageBatches> {
  requireNamed(request, "table");
  const s = await stage(request, catalog);
  const table = await s.resolve("table");
  const store: BatchStore = new DynamoBatchStore({ client: s.clients.dynamo, tableName: table.name });
  const heads = new Map<string, BatchHead>();
  await Promise.all(
    jobs.map(async (job) => {
      let head: BatchHead | undefined;
      try {
        head = await store.getHead(job);
      } catch (e) {
        throw batchReadError(e, job, table, s.region, request.stage);
      }
      if (head !== undefined) heads.set(job, head);
    }),
  );
  return { heads, from: `table ${table.name} (from ${table.from}, ${s.region})` };
}

function batchReadError(e: unknown, job: string, table: { name: string; from: string }, region: string, stageName: string | undefined): unknown {
  // GetItem on a table this account and region do not have: ResourceNotFoundException (DynamoDB API reference, GetItem, Errors).
  if ((e as Error).name === "ResourceNotFoundException") {
    const fix =
      table.from === VARIABLES.table
        ? `set ${VARIABLES.table} to the ${OUTPUTS.table} output of a deployed stage, or unset it and pass --stage <stage>`
        : `the stack names it as ${OUTPUTS.table} but it is gone: \`berth deploy --stage ${stageName ?? "<stage>"}\` deploys it again; for a stage deployed elsewhere, pass its --region (or --profile)`;
    return new ConfigurationError(`no DynamoDB table ${table.name} (from ${table.from}) in ${region}: ${fix}`, { cause: e });
  }
  return (
    translateAwsError(e, `read the batch of ${job} in DynamoDB table ${table.name} (from ${table.from}) in ${region}`, {
      hint: `the credentials in use need dynamodb:GetItem on the table ${table.name}`,
    }) ?? e
  );
}

/** Puts a berth event (a manual run request) on the stage's bus, where the dispatch rule picks it up. */
export async function putOnBus(event: BusEvent, catalog: Catalog, request: StageRequest): Promise<void> {
  requireNamed(request, "bus");
  const s = await stage(request, catalog);
  const bus = await s.resolve("bus");
  const out = await s.clients.eventBridge.send(
    new PutEventsCommand({ Entries: [{ EventBusName: bus.name, Source: event.source, DetailType: event["detail-type"], Detail: JSON.stringify(event.detail) }] }),
  );
  const failed = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0) {
    const refused = `EventBridge refused the request: ${failed?.ErrorCode} ${failed?.ErrorMessage}`;
    // The two entry error codes EventBridge documents as retryable.
    if (failed?.ErrorCode === "InternalFailure" || failed?.ErrorCode === "ThrottlingException") throw new TransientError(`${refused}; try again`);
    throw new ConfigurationError(`${refused} (check the bus ${bus.name}, from ${bus.from}, and the permissions of the credentials in use)`);
  }
}

/**
 * The CloudWatch Logs stream of a task's container, when its task definition
 * uses the awslogs driver with a stream prefix: `<prefix>/<container>/<task id>`.
 */
export async function logStreams(request: StageRequest, taskDefinition: string, taskArn: string): Promise<{ group: string; stream: string }[]> {
  const s = await stage(request);
  const out = await s.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }));
  const taskId = taskArn.split("/").pop() ?? taskArn;
  return (out.taskDefinition?.containerDefinitions ?? []).flatMap((c) => {
    const o = c.logConfiguration?.logDriver === "awslogs" ? c.logConfiguration.options : undefined;
    const prefix = o?.["awslogs-stream-prefix"];
    const group = o?.["awslogs-group"];
    return prefix && group && c.name ? [{ group, stream: `${prefix}/${c.name}/${taskId}` }] : [];
  });
}
