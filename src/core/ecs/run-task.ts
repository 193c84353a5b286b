/**
 * Turns a `run` job plus one run's context into the exact RunTask request.
 * Pure: the AWS adapter sends the result as is, the local executor reads
 * the rendered command and environment from it, and tests compare it field
 * by field.
 */
import type { Job, Launch, RunAction } from "../catalog/types.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";
import { clientTokenFor, startedByFor } from "../ids.ts";
import { checkRunTaskLimits } from "./limits.ts";
import { checkIdentity, renderField, runLookup, type RunIdentity } from "./render.ts";
import type { CapacityProviderStrategyItem, KeyValuePair, RunTaskRequest, Tag, TaskOverride } from "./types.ts";

export type { RunIdentity } from "./render.ts";

/** A failure lists every problem found in `error.problems`. */
export type BuildRunTaskResult = { readonly ok: true; readonly request: RunTaskRequest } | Failure<ValidationError>;

export const BERTH_TAG_PREFIX = "berth:";
export const JOB_TAG = "berth:job";
export const RUN_TAG = "berth:run";

const FARGATE_PROVIDERS = new Set(["FARGATE", "FARGATE_SPOT"]);

export function buildRunTaskRequest(
  job: Job,
  lookup: (name: string) => string | undefined,
  id: RunIdentity,
): BuildRunTaskResult {
  const action = job.action;
  if (action.kind !== "run") {
    return failure(new ValidationError(`job ${job.name} deploys a service; build a deploy plan for it, not a RunTask request`));
  }
  const identityErrors = checkIdentity(job, id);
  if (identityErrors.length > 0) return failure(new ValidationError(identityErrors));

  const errors: string[] = [];
  const vars = runLookup(lookup, id);

  const command: string[] = [];
  action.command?.forEach((source, i) => {
    const r = renderField(source, vars, `jobs.${job.name}.run.command[${i}]`);
    if (r.ok) command.push(r.value);
    else errors.push(r.error.message);
  });

  // Sorted by name (UTF-16 code unit order) so the request does not depend on
  // the key order of the YAML mapping.
  const environment: KeyValuePair[] = [];
  for (const name of Object.keys(action.environment).sort(compareCodeUnits)) {
    const r = renderField(action.environment[name] as string, vars, `jobs.${job.name}.run.environment.${name}`);
    if (r.ok) environment.push({ name, value: r.value });
    else errors.push(r.error.message);
  }

  const overrides = buildOverrides(job.name, action, command, environment, errors);
  const tags = buildTags(job, id, errors);
  const launch = launchFields(job.name, action, errors);
  if (errors.length > 0) return failure(new ValidationError(errors));

  const request: RunTaskRequest = {
    cluster: action.cluster,
    taskDefinition: action.taskDefinition,
    ...launch,
    ...(action.network && {
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: [...action.network.subnets],
          securityGroups: [...action.network.securityGroups],
          assignPublicIp: action.network.assignPublicIp ? "ENABLED" : "DISABLED",
        },
      },
    }),
    ...(overrides && { overrides }),
    tags,
    startedBy: startedByFor(id.runId),
    clientToken: clientTokenFor(id.runId, id.attempt),
    count: 1,
    propagateTags: "TASK_DEFINITION",
    enableECSManagedTags: true,
  };

  const limitErrors = checkRunTaskLimits(request).map((e) => `jobs.${job.name}: ${e}`);
  return limitErrors.length > 0 ? failure(new ValidationError(limitErrors)) : { ok: true, request };
}

/**
 * The same request on on-demand Fargate: dispatch uses it for a later attempt
 * of a `fargate-spot` job whose catalog sets `fallback: fargate`. The client
 * token must still be the one for that attempt; only the launch fields change.
 */
export function withFallbackLaunch(request: RunTaskRequest, fallback: "fargate"): RunTaskRequest {
  const { capacityProviderStrategy: _spot, launchType: _launch, ...rest } = request;
  switch (fallback) {
    case "fargate":
      return { ...rest, launchType: "FARGATE" };
  }
}

function buildOverrides(
  jobName: string,
  action: RunAction,
  command: string[],
  environment: KeyValuePair[],
  errors: string[],
): TaskOverride | undefined {
  const hasCommand = action.command !== undefined;
  const hasEnvironment = Object.keys(action.environment).length > 0;
  const overrides: TaskOverride = {};

  if (hasCommand || hasEnvironment) {
    if (action.container === undefined) {
      errors.push(
        `jobs.${jobName}.run: command/environment need "container" (the task definition container that receives them); add run.container`,
      );
    } else {
      overrides.containerOverrides = [
        {
          name: action.container,
          ...(hasCommand && { command }),
          ...(hasEnvironment && { environment }),
        },
      ];
    }
  }
  if (action.cpu !== undefined) overrides.cpu = String(action.cpu);
  if (action.memory !== undefined) overrides.memory = String(action.memory);
  return Object.keys(overrides).length > 0 ? overrides : undefined;
}

/** Job tags sorted by key, then berth's own tags, which name the job and run on the task. */
function buildTags(job: Job, id: RunIdentity, errors: string[]): Tag[] {
  const tags: Tag[] = [];
  for (const key of Object.keys(job.tags).sort(compareCodeUnits)) {
    if (key.startsWith(BERTH_TAG_PREFIX)) {
      errors.push(`jobs.${job.name}.tags.${key}: keys starting with "${BERTH_TAG_PREFIX}" are reserved for berth's own tags; rename the tag`);
      continue;
    }
    tags.push({ key, value: job.tags[key] as string });
  }
  tags.push({ key: JOB_TAG, value: job.name }, { key: RUN_TAG, value: id.runId });
  return tags;
}

type LaunchFields = Pick<RunTaskRequest, "launchType" | "capacityProviderStrategy" | "platformVersion">;

function launchFields(jobName: string, action: RunAction, errors: string[]): LaunchFields {
  const launch: Launch = action.launch;
  const needsNetwork =
    launch.type === "fargate" ||
    launch.type === "fargate-spot" ||
    (launch.type === "capacity-providers" && launch.providers.some((p) => FARGATE_PROVIDERS.has(p.provider)));
  if (needsNetwork && action.network === undefined) {
    errors.push(
      `jobs.${jobName}.run: Fargate tasks use awsvpc networking and need "network" (subnets, securityGroups); add network to the job or to defaults`,
    );
  }

  switch (launch.type) {
    case "fargate":
      return { launchType: "FARGATE", ...(launch.platformVersion !== undefined && { platformVersion: launch.platformVersion }) };
    case "fargate-spot":
      return {
        capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT", weight: 1 }],
        ...(launch.platformVersion !== undefined && { platformVersion: launch.platformVersion }),
      };
    case "ec2":
      return { launchType: "EC2" };
    case "capacity-providers":
      return {
        capacityProviderStrategy: launch.providers.map(
          (p): CapacityProviderStrategyItem => ({
            capacityProvider: p.provider,
            ...(p.weight !== undefined && { weight: p.weight }),
            ...(p.base !== undefined && { base: p.base }),
          }),
        ),
      };
  }
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
