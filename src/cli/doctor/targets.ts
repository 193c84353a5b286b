/**
 * What `berth doctor` looks at in AWS, read from the catalog alone: the buckets of S3 triggers, the
 * clusters and the capacity providers their jobs launch on, the task definitions with the containers
 * jobs name, the services of deploy jobs, the roles berth may pass, and the webhook's secret. Pure, so
 * the checks' inputs are tested without AWS.
 */
import type { Catalog, Job, RunAction, WebhookConfig } from "../../core/catalog/types.ts";
import { hasWebhook, webhookProviders, type WebhookProvider } from "../../aws/stack/webhook.ts";
import { buildRunTaskRequest } from "../../core/ecs/run-task.ts";
import { newRunId } from "../../core/ids.ts";

export interface BucketTarget {
  readonly bucket: string;
  readonly jobs: readonly string[];
}

export interface ProviderUse {
  readonly provider: string;
  /** The jobs whose RunTask names it in a capacity provider strategy. */
  readonly jobs: readonly string[];
}

export interface ClusterTarget {
  /** As the catalog names it: a name or an ARN. */
  readonly cluster: string;
  readonly jobs: readonly string[];
  /** The capacity providers berth's RunTask requests name, which ECS requires to be associated with the cluster. */
  readonly providers: readonly ProviderUse[];
}

export interface ContainerUse {
  readonly job: string;
  /** The container the job's overrides go to; absent when the job overrides none. */
  readonly container?: string;
}

export interface TaskDefinitionTarget {
  /** `family`, `family:revision` or an ARN, as the catalog names it. */
  readonly taskDefinition: string;
  readonly uses: readonly ContainerUse[];
}

export interface ServiceTarget {
  readonly cluster: string;
  readonly service: string;
  readonly uses: readonly { readonly job: string; readonly container: string }[];
}

/** The webhook the stack has (src/aws/stack/webhook.ts): who delivers to it, and the secret it verifies with. */
export interface WebhookTarget {
  /** The providers the catalog's push triggers name, with the repositories each watches. */
  readonly repos: Readonly<Partial<Record<WebhookProvider, readonly string[]>>>;
  /** The jobs GitHub and GitLab pushes trigger. */
  readonly jobs: readonly string[];
  /** berth.yml's `webhook:`; absent, the function refuses every delivery. */
  readonly config?: WebhookConfig;
}

export interface DoctorTargets {
  readonly buckets: readonly BucketTarget[];
  readonly clusters: readonly ClusterTarget[];
  readonly taskDefinitions: readonly TaskDefinitionTarget[];
  readonly services: readonly ServiceTarget[];
  /** Every role a job names: the stack grants iam:PassRole on exactly these (src/aws/stack/iam.ts). */
  readonly passableRoles: readonly string[];
  /** Absent when the stack has no webhook. */
  readonly webhook?: WebhookTarget;
}

/** A run identity only to build a request from: what the launch fields are does not depend on the run. */
const PROBE_IDENTITY = { runId: newRunId(0, new Uint8Array(10)), attempt: 1 };

/**
 * The capacity providers of the first attempt's RunTask request, built by the same code dispatch uses:
 * `fargate-spot` asks for FARGATE_SPOT, a capacity provider strategy for its providers, `fargate` and
 * `ec2` for a launch type, which needs none. A `fallback: fargate` attempt uses the FARGATE launch type,
 * so it adds none either. The command and environment are left out: their templates need a run's context.
 */
export function strategyProviders(job: Job & { readonly action: RunAction }): string[] {
  const { command: _command, ...action } = job.action;
  const built = buildRunTaskRequest({ ...job, tags: {}, action: { ...action, environment: {} } }, () => undefined, { ...PROBE_IDENTITY, jobName: job.name });
  return built.ok ? (built.request.capacityProviderStrategy ?? []).map((item) => item.capacityProvider) : [];
}

function group<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

export function doctorTargets(catalog: Catalog): DoctorTargets {
  const jobs = Object.values(catalog.jobs);
  const runJobs = jobs.filter((j): j is Job & { readonly action: RunAction } => j.action.kind === "run");

  const bucketUses = jobs.flatMap((j) => j.triggers.flatMap((t) => (t.kind === "s3" ? t.buckets.map((bucket) => ({ bucket, job: j.name })) : [])));
  const buckets = [...group(bucketUses, (u) => u.bucket)].map(([bucket, uses]) => ({ bucket, jobs: [...new Set(uses.map((u) => u.job))] }));

  const clusterUses = jobs.map((j) => ({ cluster: j.action.cluster, job: j }));
  const clusters = [...group(clusterUses, (u) => u.cluster)].map(([cluster, uses]): ClusterTarget => {
    const providerUses = uses.flatMap(({ job }) => (job.action.kind === "run" ? strategyProviders(job as Job & { readonly action: RunAction }).map((provider) => ({ provider, job: job.name })) : []));
    return {
      cluster,
      jobs: uses.map((u) => u.job.name),
      providers: [...group(providerUses, (u) => u.provider)].map(([provider, us]) => ({ provider, jobs: [...new Set(us.map((u) => u.job))] })),
    };
  });

  const taskDefinitions = [...group(runJobs, (j) => j.action.taskDefinition)].map(([taskDefinition, js]) => ({
    taskDefinition,
    uses: js.map((j) => ({ job: j.name, ...(j.action.container !== undefined ? { container: j.action.container } : {}) })),
  }));

  const deployJobs = jobs.flatMap((j) => (j.action.kind === "deploy" ? [{ job: j.name, action: j.action }] : []));
  const services = [...group(deployJobs, (d) => JSON.stringify([d.action.cluster, d.action.service]))].map(([, ds]) => ({
    cluster: ds[0]!.action.cluster,
    service: ds[0]!.action.service,
    uses: ds.map((d) => ({ job: d.job, container: d.action.container })),
  }));

  const passableRoles = [...new Set(jobs.flatMap((j) => [j.roles.task, j.roles.execution].filter((r): r is string => r !== undefined)))].sort();
  return { buckets, clusters, taskDefinitions, services, passableRoles, ...(hasWebhook(catalog) ? { webhook: webhookTarget(catalog) } : {}) };
}

function webhookTarget(catalog: Catalog): WebhookTarget {
  const pushes = Object.values(catalog.jobs).flatMap((j) => j.triggers.flatMap((t) => (t.kind === "git" && t.provider !== "codecommit" ? [{ provider: t.provider, repo: t.repo, job: j.name }] : [])));
  const repos = Object.fromEntries(webhookProviders(catalog).map((p) => [p, [...new Set(pushes.filter((u) => u.provider === p).map((u) => u.repo))]]));
  return { repos, jobs: [...new Set(pushes.map((u) => u.job))], ...(catalog.webhook !== undefined ? { config: catalog.webhook } : {}) };
}

/**
 * Whether a role a task definition names is one berth may pass. A task definition may name a role by its
 * ARN or by its name alone (RegisterTaskDefinition, taskRoleArn: "the short name or full ARN"); a name
 * matches the catalog ARN whose last path segment it is.
 */
export function mayPass(role: string, passable: readonly string[]): boolean {
  if (role.startsWith("arn:")) return passable.includes(role);
  return passable.some((arn) => arn.slice(arn.lastIndexOf("/") + 1) === role);
}
