/**
 * A `deploy` job plus one run's context becomes a plan: which service gets
 * which image in which container. Dispatch carries it out in three calls
 * (DescribeServices/DescribeTaskDefinition → RegisterTaskDefinition →
 * UpdateService); the pure steps of those calls live here so both shells
 * and the tests share them.
 */
import type { Job } from "../catalog/types.ts";
import { ConfigurationError, failure, ValidationError, type Failure } from "../errors.ts";
import { checkTags } from "./limits.ts";
import { checkIdentity, renderField, runLookup, type RunIdentity } from "./render.ts";
import { BERTH_TAG_PREFIX, JOB_TAG, RUN_TAG } from "./run-task.ts";
import type { Tag } from "./types.ts";

export interface DeployPlan {
  readonly cluster: string;
  readonly service: string;
  /** Container in the service's task definition whose image changes. */
  readonly container: string;
  /** Rendered image reference. */
  readonly image: string;
  /** Rendered `deploy.environment`: set in the container's environment (absent or empty: the environment is kept as it is). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Turn on the deployment circuit breaker with rollback. */
  readonly rollback: boolean;
  /** Tags for the new task-definition revision, so it can be traced to its run. */
  readonly tags: readonly Tag[];
}

/** A failure lists every problem found in `error.problems`. */
export type BuildDeployPlanResult = { readonly ok: true; readonly plan: DeployPlan } | Failure<ValidationError>;

export function buildDeployPlan(
  job: Job,
  lookup: (name: string) => string | undefined,
  id: RunIdentity,
): BuildDeployPlanResult {
  const action = job.action;
  if (action.kind !== "deploy") {
    return failure(new ValidationError(`job ${job.name} runs a task; build a RunTask request for it, not a deploy plan`));
  }
  const identityErrors = checkIdentity(job, id);
  if (identityErrors.length > 0) return failure(new ValidationError(identityErrors));

  const where = `jobs.${job.name}.deploy.image`;
  const rendered = renderField(action.image, runLookup(lookup, id), where);
  if (!rendered.ok) return rendered;
  const imageError = checkImage(rendered.value);
  if (imageError) return failure(new ValidationError(`${where}: ${imageError}`, { field: where }));

  const environment: Record<string, string> = {};
  const envErrors: string[] = [];
  for (const [name, source] of Object.entries(action.environment)) {
    const r = renderField(source, runLookup(lookup, id), `jobs.${job.name}.deploy.environment.${name}`);
    if (r.ok) environment[name] = r.value;
    else envErrors.push(r.error.message);
  }
  if (envErrors.length > 0) return failure(new ValidationError(envErrors));

  const tags: Tag[] = [
    { key: JOB_TAG, value: job.name },
    { key: RUN_TAG, value: id.runId },
  ];
  const tagErrors = checkTags(tags);
  if (tagErrors.length > 0) return failure(new ValidationError(tagErrors.map((e) => `jobs.${job.name}: ${e}`)));

  return {
    ok: true,
    plan: {
      cluster: action.cluster,
      service: action.service,
      container: action.container,
      image: rendered.value,
      ...(Object.keys(environment).length > 0 ? { environment } : {}),
      rollback: action.rollback,
      tags,
    },
  };
}

const IMAGE_NAME_CHARS = /^[A-Za-z0-9_:./#-]+$/;
const DIGEST = /^sha256:[0-9A-Fa-f]{64}$/;
const MAX_IMAGE_NAME = 255;

/**
 * ECS's image rule: up to 255 letters, digits, `- _ : . / #` for `repo:tag`;
 * for `repo@sha256:<64 hex>` the 255 applies to the part before `@`. Catching
 * it here matters most for rendered tags: an empty `${git.tag}` leaves `web:`.
 */
export function checkImage(image: string): string | undefined {
  const at = image.indexOf("@");
  const name = at === -1 ? image : image.slice(0, at);
  if (name === "") return `the image is empty; check the variables in the template`;
  if (name.length > MAX_IMAGE_NAME) {
    return `the image name is ${name.length} characters; ECS allows ${MAX_IMAGE_NAME}`;
  }
  if (!IMAGE_NAME_CHARS.test(name)) {
    return `the image ${JSON.stringify(image)} has characters ECS does not allow; use letters, digits and - _ : . / #`;
  }
  if (name.endsWith(":") || name.endsWith("/")) {
    return `the image ${JSON.stringify(image)} ends in "${name.slice(-1)}"; a variable in the tag was probably empty`;
  }
  if (at !== -1 && !DIGEST.test(image.slice(at + 1))) {
    return `the image digest in ${JSON.stringify(image)} must be sha256: followed by 64 hex characters`;
  }
  return undefined;
}

/**
 * Fields of a DescribeTaskDefinition result that RegisterTaskDefinition
 * accepts back; the rest (ARN, revision, status, registeredAt, …) are
 * read-only and must be dropped when registering the next revision.
 */
export const REGISTER_TASK_DEFINITION_FIELDS = [
  "family",
  "taskRoleArn",
  "executionRoleArn",
  "networkMode",
  "containerDefinitions",
  "volumes",
  "placementConstraints",
  "requiresCompatibilities",
  "cpu",
  "memory",
  "pidMode",
  "ipcMode",
  "proxyConfiguration",
  "inferenceAccelerators",
  "ephemeralStorage",
  "runtimePlatform",
  "enableFaultInjection",
] as const;

/**
 * The current container definitions with the plan's image (and its
 * environment variables, replacing any of the same name) in the plan's
 * container, everything else untouched (generic so the SDK's own type
 * passes through).
 */
export function withContainerImage<C extends { readonly name?: string; readonly image?: string; readonly environment?: readonly { readonly name?: string; readonly value?: string }[] }>(
  containerDefinitions: readonly C[],
  plan: Pick<DeployPlan, "container" | "image" | "service" | "environment">,
): { ok: true; containerDefinitions: C[] } | Failure<ConfigurationError> {
  if (!containerDefinitions.some((c) => c.name === plan.container)) {
    const names = containerDefinitions.map((c) => c.name ?? "(unnamed)").join(", ");
    return failure(
      new ConfigurationError(`service ${plan.service} has no container named ${plan.container} (its task definition has: ${names}); fix deploy.container`),
    );
  }
  const overrides = Object.entries(plan.environment ?? {});
  const withEnvironment = (c: C): C => {
    if (overrides.length === 0) return c;
    const kept = (c.environment ?? []).filter((e) => e.name === undefined || !Object.hasOwn(plan.environment!, e.name));
    return { ...c, environment: [...kept, ...overrides.map(([name, value]) => ({ name, value }))] };
  };
  return {
    ok: true,
    containerDefinitions: containerDefinitions.map((c) => (c.name === plan.container ? withEnvironment({ ...c, image: plan.image }) : c)),
  };
}

export interface DeploymentConfigurationLike {
  deploymentCircuitBreaker?: { enable: boolean; rollback: boolean };
  [key: string]: unknown;
}

/**
 * UpdateService input for the new revision. With `rollback` the circuit
 * breaker is switched on over the service's current deployment
 * configuration (passed in from DescribeServices) so other settings such as
 * maximumPercent are kept; without it the service's own setting stands.
 */
export function buildUpdateServiceRequest(
  plan: DeployPlan,
  taskDefinitionArn: string,
  currentDeploymentConfiguration?: DeploymentConfigurationLike,
): { cluster: string; service: string; taskDefinition: string; deploymentConfiguration?: DeploymentConfigurationLike } {
  return {
    cluster: plan.cluster,
    service: plan.service,
    taskDefinition: taskDefinitionArn,
    ...(plan.rollback && {
      deploymentConfiguration: {
        ...currentDeploymentConfiguration,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
    }),
  };
}

/** The clientToken of the attempt a revision was registered for: how a redelivery finds it again (RegisterTaskDefinition has no client token). */
export const TOKEN_TAG = "berth:token";
/** `<cluster>/<service>` the revision was registered for: where its deployment is read back. */
export const SERVICE_TAG = "berth:service";

/** `arn:aws:ecs:…:cluster/web` or `web` → `web`. */
export function clusterNameOf(cluster: string): string {
  const at = cluster.indexOf(":cluster/");
  return at >= 0 ? cluster.slice(at + ":cluster/".length) : cluster;
}

/** The `berth:service` value of a plan's revisions. */
export function serviceTagValue(plan: Pick<DeployPlan, "cluster" | "service">): string {
  return `${clusterNameOf(plan.cluster)}/${plan.service}`;
}

/** `web/api` → cluster `web`, service `api`; undefined for anything else. */
export function parseServiceTag(value: string): { readonly cluster: string; readonly service: string } | undefined {
  const m = /^([A-Za-z0-9_-]{1,255})\/([A-Za-z0-9_-]{1,255})$/.exec(value);
  return m ? { cluster: m[1] as string, service: m[2] as string } : undefined;
}

/**
 * The tags of the revision an attempt registers: the copied revision's own tags (less berth's, which
 * belong to the attempt that registered it, and `aws:` ones, which only AWS may set), the plan's, and
 * the attempt's identity: its run (the same value core puts in the plan), its clientToken and the service.
 */
export function revisionTags(
  original: readonly Tag[],
  plan: Pick<DeployPlan, "cluster" | "service" | "tags">,
  id: { readonly runId: string; readonly clientToken: string },
): Tag[] {
  const own = [RUN_TAG, TOKEN_TAG, SERVICE_TAG];
  const kept = original.filter((t) => !t.key.startsWith(BERTH_TAG_PREFIX) && !/^aws:/i.test(t.key));
  const planned = plan.tags.filter((t) => !own.includes(t.key) && !kept.some((k) => k.key === t.key));
  return [
    ...kept.map((t) => ({ key: t.key, value: t.value })),
    ...planned.map((t) => ({ key: t.key, value: t.value })),
    { key: RUN_TAG, value: id.runId },
    { key: TOKEN_TAG, value: id.clientToken },
    { key: SERVICE_TAG, value: serviceTagValue(plan) },
  ];
}

/** The value of tag `key`, if present. */
export function tagValue(tags: readonly { readonly key?: string; readonly value?: string }[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.key === key)?.value;
}
