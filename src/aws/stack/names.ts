/**
 * Every name the stack gives AWS, in one place. Physical names start with the
 * stack name (`<service>-<stage>`), so a stage's resources are recognisable in
 * the console and a policy can be scoped to them by prefix where listing
 * every ARN would exceed a quota. Logical ids are derived from the job and
 * trigger, never from positions in a list, so adding a job replaces nothing.
 */
import { createHash } from "node:crypto";
import { localArn, sub, type CfnString } from "./cfn.ts";

/** The region when neither --region nor berth.yml's `region:` names one. */
export const DEFAULT_REGION = "us-east-1";

/** The functions berth deploys; each packages dist/handlers/<name>.mjs. */
export const FUNCTIONS = ["dispatch", "track", "sweep", "webhook", "batch"] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/**
 * The functions every stack has: they run the engine, are invoked asynchronously (by rules and schedules)
 * and hold the catalog's ECS permissions. The webhook is there only for GitHub and GitLab (webhook.ts), the batch
 * function only when a job batches uploads (batch.ts).
 */
export const ENGINE_FUNCTIONS = ["dispatch", "track", "sweep"] as const satisfies readonly FunctionName[];
export type EngineFunction = (typeof ENGINE_FUNCTIONS)[number];

/**
 * Stage names end up in every physical name (functions ≤ 64 characters, rules ≤ 64, queues ≤ 80), so they
 * are short and plain; with a 32-character service the longest function name is 58 characters.
 */
const STAGE = /^[A-Za-z0-9][A-Za-z0-9-]{0,15}$/;

export function checkStage(stage: string): string | undefined {
  return STAGE.test(stage) ? undefined : `stage "${stage}" must be 1-16 letters, digits or -, starting with a letter or digit (it names AWS resources)`;
}

/** A short stable digest: the same key always gives the same suffix, different keys practically never collide. */
export function digest(key: string, length = 6): string {
  return createHash("sha256").update(key).digest("hex").slice(0, length);
}

/** `nightly-backup` → `NightlyBackup`; CloudFormation logical ids are letters and digits only. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join("");
}

export interface StackNames {
  readonly service: string;
  readonly stage: string;
  /** `<service>-<stage>`: the Serverless default stack name, and the prefix of every physical name. */
  readonly prefix: string;
  readonly table: string;
  readonly bus: string;
  readonly scheduleGroup: string;
  functionName(fn: FunctionName): string;
  logGroup(fn: FunctionName): string;
  queue(kind: string): string;
  /** A rule or schedule name (≤ 64 characters): the prefix, what it is for, and a digest of `key` that keeps it unique. */
  scoped(readable: string, key: string): string;
}

const MAX_RULE_NAME = 64;

export function stackNames(service: string, stage: string): StackNames {
  const prefix = `${service}-${stage}`;
  return {
    service,
    stage,
    prefix,
    table: `${prefix}-runs`,
    bus: prefix,
    scheduleGroup: prefix,
    // Serverless names functions <service>-<stage>-<function> and their log groups /aws/lambda/<that>.
    functionName: (fn) => `${prefix}-${fn}`,
    logGroup: (fn) => `/aws/lambda/${prefix}-${fn}`,
    queue: (kind) => `${prefix}-${kind}`,
    scoped(readable, key) {
      const suffix = `-${digest(key)}`;
      const room = MAX_RULE_NAME - prefix.length - 1 - suffix.length;
      return `${prefix}-${readable.slice(0, Math.max(room, 0)).replace(/-+$/, "")}${suffix}`.replace(/--+/g, "-");
    },
  };
}

/** A catalog cluster (a name or an ARN) as its name, and its ARN in this stack's account and region. */
export function clusterName(cluster: string): string {
  return cluster.startsWith("arn:") ? cluster.slice(cluster.indexOf(":cluster/") + ":cluster/".length) : cluster;
}

export function clusterArn(cluster: string): CfnString {
  return cluster.startsWith("arn:") ? cluster : localArn("ecs", `cluster/${cluster}`);
}

/** The ARN prefix (account, region) of a cluster given as an ARN, or this stack's. */
function ecsArn(cluster: string, resource: string): CfnString {
  if (!cluster.startsWith("arn:")) return localArn("ecs", resource);
  const [arn, partition, service, region, account] = cluster.split(":");
  return [arn, partition, service, region, account, resource].join(":");
}

/** Every task of a cluster: StopTask, DescribeTasks and tagging at RunTask are scoped to these. */
export function clusterTasksArn(cluster: string): CfnString {
  return ecsArn(cluster, `task/${clusterName(cluster)}/*`);
}

export function serviceArn(cluster: string, service: string): CfnString {
  return ecsArn(cluster, `service/${clusterName(cluster)}/${service}`);
}

/** Every deployment of one service (`service-deployment/<cluster>/<service>/<id>`). */
export function serviceDeploymentsArn(cluster: string, service: string): CfnString {
  return ecsArn(cluster, `service-deployment/${clusterName(cluster)}/${service}/*`);
}

/** Every revision of one service (`service-revision/<cluster>/<service>/<id>`). */
export function serviceRevisionsArn(cluster: string, service: string): CfnString {
  return ecsArn(cluster, `service-revision/${clusterName(cluster)}/${service}/*`);
}

/** Every task-definition revision in the account and region of a cluster (a deploy registers into the service's family). */
export function taskDefinitionsOfAccountArn(cluster: string): CfnString {
  return ecsArn(cluster, "task-definition/*");
}

/**
 * Every revision of a task definition's family: a catalog may name `family`, `family:3` or an ARN, and
 * berth runs whatever revision it names, so RunTask is granted on the family (`family:*`).
 */
export function taskDefinitionFamilyArn(taskDefinition: string): CfnString {
  if (taskDefinition.startsWith("arn:")) {
    const family = taskDefinition.slice(taskDefinition.indexOf(":task-definition/") + ":task-definition/".length).split(":")[0]!;
    const [arn, partition, service, region, account] = taskDefinition.split(":");
    return [arn, partition, service, region, account, `task-definition/${family}:*`].join(":");
  }
  return localArn("ecs", `task-definition/${taskDefinition.split(":")[0]!}:*`);
}

/** A rule's ARN on a bus: rules on the default bus have no bus segment. */
export function ruleArnPattern(busName: string | undefined, namePattern: string): CfnString {
  return localArn("events", busName === undefined ? `rule/${namePattern}` : `rule/${busName}/${namePattern}`);
}

export const eventBusArn = (name: string): CfnString => (name.startsWith("arn:") ? name : localArn("events", `event-bus/${name}`));

export const scheduleGroupArn = (group: string): CfnString => localArn("scheduler", `schedule-group/${group}`);

export const logGroupArn = (name: string): CfnString => sub(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:${name}:*`);
