/**
 * The `ServiceDeployer` port on Amazon ECS: a deploy registers a new revision of the service's task
 * definition with the plan's image and points the service at it (UpdateService). The attempt's pseudo
 * task ARN is that revision's ARN (`…:task-definition/<family>:<revision>`); its state is read back from
 * the service's deployments (core/ecs/deployment-state.ts).
 *
 * Idempotent without a client token (RegisterTaskDefinition has none): each attempt's revision carries
 * its clientToken in the `berth:token` tag, set at creation, so a redelivery, a retry after a crash or a
 * concurrent duplicate finds it before registering another — first among the service's deployments,
 * then among the family's newest revisions (ListTaskDefinitions, newest first, back to the run's
 * creation). Duplicates that registered at the same moment converge on the lowest revision carrying the
 * token; the others deregister their own. A found revision is deployed only if no deployment of it was
 * ever started (neither listed nor in the service deployment history): a crash between register and
 * UpdateService gets its UpdateService, and a deployment that ended is never started again.
 *
 * Every ECS call goes through one client (the task launcher's); errors are sorted by errors.ts: a deploy
 * answers throttling and 5xx as a retryable failure (nothing was started that a redelivery would not
 * find), configuration problems as invalid; describe, stop and deploymentTask throw them translated.
 */
import {
  DeregisterTaskDefinitionCommand,
  DescribeServiceDeploymentsCommand,
  DescribeServiceRevisionsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListServiceDeploymentsCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
  type DeploymentConfiguration,
  type ECSClient,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type ServiceDeploymentBrief,
  type Tag as EcsTag,
  type TaskDefinition,
} from "@aws-sdk/client-ecs";
import { classifyAwsError, translateAwsError } from "./errors.ts";
import {
  buildUpdateServiceRequest,
  clusterNameOf,
  parseServiceTag,
  REGISTER_TASK_DEFINITION_FIELDS,
  revisionTags,
  SERVICE_TAG,
  tagValue,
  TOKEN_TAG,
  withContainerImage,
  type DeployPlan,
  type DeploymentConfigurationLike,
} from "../core/ecs/deploy-plan.ts";
import {
  deploymentTaskState,
  readListedDeployments,
  revisionOf,
  STOPPABLE_STATUSES,
  type DeploymentOwner,
  type HistoricDeployment,
  type ListedDeployment,
} from "../core/ecs/deployment-state.ts";
import { checkTags } from "../core/ecs/limits.ts";
import { JOB_TAG, RUN_TAG } from "../core/ecs/run-task.ts";
import type { DeploymentChange } from "../core/events/ecs-deployment.ts";
import type { EcsTaskState } from "../core/events/ecs-task.ts";
import { isRunId, runIdTime, startedByFor } from "../core/ids.ts";
import type { LaunchFailure, LaunchOutcome, ServiceDeployer } from "../core/ports.ts";

/** How far ECS's clock (registeredAt, createdAt) may be behind the one that stamped the run id. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** Revisions of a family looked at for an attempt's token, newest first, at most. */
const MAX_REVISIONS_SCANNED = 100;
/** ListTaskDefinitions page (the API allows 1 to 100). */
const REVISIONS_PAGE = 25;
/** ListServiceDeployments page (the API allows 1 to 100), and pages read at most. */
const SERVICE_DEPLOYMENTS_PAGE = 100;
const MAX_SERVICE_DEPLOYMENT_PAGES = 5;
/** DescribeServiceRevisions and DescribeServiceDeployments take at most 20 ARNs. */
const DESCRIBE_HISTORY_BATCH = 20;

export interface EcsServiceDeployerOptions {
  /**
   * The container each deploy job changes, by job name (the `berth:job` tag of its revisions): the
   * container a pseudo task reports. A revision of a job not named here reports its first essential container.
   */
  readonly containers?: Readonly<Record<string, string>>;
}

interface Revision {
  readonly arn: string;
  readonly definition: TaskDefinition;
  readonly tags: readonly EcsTag[];
  /** Epoch milliseconds. */
  readonly registeredAt?: number;
}

/** A berth revision: its owner (taskArn, startedBy, container) and the service it was registered for. */
interface BerthRevision {
  readonly revision: Revision;
  readonly owner: DeploymentOwner;
  readonly cluster: string;
  readonly service: string;
}

/** A service deployment of the history, as far as berth reads it. */
interface HistoryEntry extends HistoricDeployment {
  readonly arn: string;
}

const invalid = (message: string): LaunchOutcome => ({ ok: false, failure: { kind: "invalid", retryable: false, message } });

/** A deploy's failure for an error ECS answered; undefined for what is not an answer (a bug, no region): thrown. */
export function classifyDeployError(error: unknown, action: string): LaunchFailure | undefined {
  const verdict = classifyAwsError(error);
  if (verdict === undefined || verdict.kind === "region") return undefined;
  const e = error as Error;
  const message = `failed to ${action}: ${e.name && e.name !== "Error" ? `${e.name}: ` : ""}${e.message || e.name}`;
  switch (verdict.kind) {
    case "throttled":
    case "unavailable":
      return { kind: "throttled", retryable: true, message, ...(verdict.retryAfterMs !== undefined ? { retryAfterMs: verdict.retryAfterMs } : {}) };
    case "credentials":
    case "access-denied":
      return { kind: "access-denied", retryable: false, message };
    default:
      return { kind: "invalid", retryable: false, message };
  }
}

const named = (error: unknown, ...names: string[]): boolean => error instanceof Error && names.includes(error.name);

function ms(date: Date | undefined): number | undefined {
  const t = date?.getTime();
  return t === undefined || Number.isNaN(t) ? undefined : t;
}

/** `arn:aws:ecs:<region>:<account>:service/<cluster>/<service>` → its cluster and service. */
function serviceOfArn(serviceArn: string): { cluster: string; service: string } | undefined {
  const m = /^arn:[^:]+:ecs:[^:]*:\d*:service\/([^/]+)\/([^/]+)$/.exec(serviceArn);
  return m ? { cluster: m[1] as string, service: m[2] as string } : undefined;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * What one call of the deployer reads from ECS, each thing once: revisions (with their tags, which are
 * set at creation and never change) and services (read again on request, after an UpdateService).
 */
class Reads {
  readonly #client: ECSClient;
  readonly #revisions = new Map<string, Promise<Revision | undefined>>();
  readonly #services = new Map<string, Promise<Service | undefined>>();
  readonly #histories = new Map<string, Promise<readonly { brief: ServiceDeploymentBrief; taskDefinition: string }[]>>();

  constructor(client: ECSClient) {
    this.#client = client;
  }

  get client(): ECSClient {
    return this.#client;
  }

  /** DescribeTaskDefinition with its tags; undefined when ECS has no such revision. */
  revision(arn: string): Promise<Revision | undefined> {
    let read = this.#revisions.get(arn);
    if (read === undefined) {
      read = this.#client.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ["TAGS"] })).then(
        (out): Revision | undefined => {
          const definition = out.taskDefinition;
          const found = definition?.taskDefinitionArn;
          if (definition === undefined || found === undefined) return undefined;
          return { arn: found, definition, tags: out.tags ?? [], ...(ms(definition.registeredAt) !== undefined ? { registeredAt: ms(definition.registeredAt) } : {}) };
        },
        (error: unknown) => {
          // What ECS answers for a revision it does not have ("Unable to describe task definition.").
          if (named(error, "ClientException", "InvalidParameterException")) return undefined;
          throw error;
        },
      );
      this.#revisions.set(arn, read);
    }
    return read;
  }

  /** A revision just registered: its tags came back with it. */
  remember(revision: Revision): void {
    this.#revisions.set(revision.arn, Promise.resolve(revision));
  }

  /** DescribeServices of one service; undefined when the cluster or the service does not exist. */
  service(cluster: string, service: string, fresh = false): Promise<Service | undefined> {
    const key = `${cluster}/${service}`;
    let read = fresh ? undefined : this.#services.get(key);
    if (read === undefined) {
      read = this.#client.send(new DescribeServicesCommand({ cluster, services: [service] })).then(
        (out) => out.services?.find((s) => s.serviceName === service || s.serviceArn === service || s.serviceArn?.endsWith(`/${service}`)),
        (error: unknown) => {
          if (named(error, "ClusterNotFoundException")) return undefined;
          throw error;
        },
      );
      this.#services.set(key, read);
    }
    return read;
  }

  /**
   * The service's deployments since `after` (ListServiceDeployments) with the task definition each
   * targets (DescribeServiceRevisions). Empty when the service is gone.
   */
  history(cluster: string, service: string, after: number | undefined): Promise<readonly { brief: ServiceDeploymentBrief; taskDefinition: string }[]> {
    const key = `${cluster}/${service}@${after ?? ""}`;
    let read = this.#histories.get(key);
    if (read === undefined) {
      read = this.#readHistory(cluster, service, after);
      this.#histories.set(key, read);
    }
    return read;
  }

  async #readHistory(cluster: string, service: string, after: number | undefined): Promise<{ brief: ServiceDeploymentBrief; taskDefinition: string }[]> {
    const briefs: ServiceDeploymentBrief[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    try {
      do {
        const page = await this.#client.send(
          new ListServiceDeploymentsCommand({
            cluster,
            service,
            ...(after !== undefined ? { createdAt: { after: new Date(after) } } : {}),
            maxResults: SERVICE_DEPLOYMENTS_PAGE,
            ...(nextToken !== undefined ? { nextToken } : {}),
          }),
        );
        briefs.push(...(page.serviceDeployments ?? []));
        nextToken = page.nextToken;
        pages++;
      } while (nextToken !== undefined && pages < MAX_SERVICE_DEPLOYMENT_PAGES);
    } catch (error) {
      if (named(error, "ServiceNotFoundException", "ClusterNotFoundException")) return [];
      throw error;
    }
    const revisionArns = [...new Set(briefs.flatMap((b) => (b.targetServiceRevisionArn !== undefined ? [b.targetServiceRevisionArn] : [])))];
    const taskDefinitionOf = new Map<string, string>();
    for (const batch of chunks(revisionArns, DESCRIBE_HISTORY_BATCH)) {
      const out = await this.#client.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: batch }));
      for (const r of out.serviceRevisions ?? []) {
        if (r.serviceRevisionArn !== undefined && r.taskDefinition !== undefined) taskDefinitionOf.set(r.serviceRevisionArn, r.taskDefinition);
      }
    }
    return briefs.flatMap((brief) => {
      const taskDefinition = brief.targetServiceRevisionArn === undefined ? undefined : taskDefinitionOf.get(brief.targetServiceRevisionArn);
      return taskDefinition === undefined ? [] : [{ brief, taskDefinition }];
    });
  }
}

function listed(service: Service | undefined): ListedDeployment[] {
  return (service?.deployments ?? []).flatMap((d) =>
    d.id === undefined
      ? []
      : [
          {
            id: d.id,
            ...(d.status !== undefined ? { status: d.status } : {}),
            ...(d.taskDefinition !== undefined ? { taskDefinition: d.taskDefinition } : {}),
            ...(d.rolloutState !== undefined ? { rolloutState: d.rolloutState } : {}),
            ...(d.rolloutStateReason !== undefined ? { rolloutStateReason: d.rolloutStateReason } : {}),
            ...(ms(d.createdAt) !== undefined ? { createdAt: ms(d.createdAt) } : {}),
          },
        ],
  );
}

/** The task definition the service runs now: its PRIMARY deployment's, else the service's own. */
function currentTaskDefinition(service: Service): string | undefined {
  return service.deployments?.find((d) => d.status === "PRIMARY")?.taskDefinition ?? service.taskDefinition;
}

/** The earliest an attempt of run `runId` can have registered a revision (its id holds its creation time). */
function earliestRegistration(runId: string): number | undefined {
  return isRunId(runId) ? runIdTime(runId) - CLOCK_SKEW_MS : undefined;
}

export class EcsServiceDeployer implements ServiceDeployer {
  readonly #client: ECSClient;
  readonly #containers: Readonly<Record<string, string>>;

  constructor(client: ECSClient, options: EcsServiceDeployerOptions = {}) {
    this.#client = client;
    this.#containers = options.containers ?? {};
  }

  async deploy(plan: DeployPlan, id: { readonly runId: string; readonly attempt: number; readonly clientToken: string; readonly startedBy: string }): Promise<LaunchOutcome> {
    try {
      return await this.#deploy(new Reads(this.#client), plan, id);
    } catch (error) {
      const failure = classifyDeployError(error, `deploy ${plan.image} to service ${plan.service} of cluster ${plan.cluster}`);
      if (failure === undefined) throw translateAwsError(error, `deploy service ${plan.service} of cluster ${plan.cluster}`) ?? error;
      return { ok: false, failure };
    }
  }

  /**
   * StopServiceDeployment (ROLLBACK) of the deployment berth started for the revision, while it is pending
   * or in progress: the previous revision keeps serving. ECS keeps no reason for it, so `reason` stays
   * berth's. A revision berth never registered, or one whose deployment ended, is left alone.
   */
  async stop(taskArn: string, _reason: string): Promise<void> {
    try {
      const reads = new Reads(this.#client);
      const berth = await this.#berthRevision(reads, taskArn);
      if (berth === undefined) return;
      const entry = await this.#historyOf(reads, berth);
      if (entry === undefined || entry.status === undefined || !STOPPABLE_STATUSES.includes(entry.status)) return;
      await this.#client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: entry.arn, stopType: "ROLLBACK" }));
    } catch (error) {
      // It ended (or was stopped) between the read and the stop: as stopped as it gets.
      if (named(error, "ServiceDeploymentNotFoundException", "ConflictException")) return;
      throw translateAwsError(error, `stop the deployment of ${taskArn}`) ?? error;
    }
  }

  async describe(taskArns: readonly string[]): Promise<{ readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] }> {
    const reads = new Reads(this.#client);
    const tasks: EcsTaskState[] = [];
    const missing: string[] = [];
    for (const arn of new Set(taskArns)) {
      let state: EcsTaskState | undefined;
      try {
        const berth = await this.#berthRevision(reads, arn);
        state = berth === undefined ? undefined : await this.#stateOf(reads, berth);
      } catch (error) {
        throw translateAwsError(error, `describe the deployment of ${arn}`) ?? error;
      }
      if (state !== undefined) tasks.push(state);
      else missing.push(arn);
    }
    return { tasks, missing };
  }

  /**
   * The deployment the event names, while the service still lists it: its task definition, when berth
   * registered it, is the run's pseudo task, reported as ECS has it now. A deployment no longer listed
   * (replaced before the event was read) cannot be told from the event alone: undefined, and the sweep's
   * describe reads that revision's deployment from the history.
   */
  async deploymentTask(change: DeploymentChange): Promise<EcsTaskState | undefined> {
    const where = serviceOfArn(change.serviceArn);
    if (where === undefined) return undefined;
    const reads = new Reads(this.#client);
    try {
      const service = await reads.service(where.cluster, where.service);
      const deployment = service?.deployments?.find((d) => d.id === change.deploymentId);
      if (deployment?.taskDefinition === undefined) return undefined;
      const berth = await this.#berthRevision(reads, deployment.taskDefinition);
      // The same revision deployed to another service is someone else's deployment of it.
      if (berth === undefined || berth.cluster !== where.cluster || berth.service !== where.service) return undefined;
      return await this.#stateOf(reads, berth);
    } catch (error) {
      throw translateAwsError(error, `read deployment ${change.deploymentId} of ${change.serviceArn}`) ?? error;
    }
  }

  async #deploy(reads: Reads, plan: DeployPlan, id: { readonly runId: string; readonly clientToken: string }): Promise<LaunchOutcome> {
    const service = await reads.service(plan.cluster, plan.service);
    if (service === undefined || service.status !== "ACTIVE") {
      const state = service === undefined ? "does not exist" : `is ${service.status ?? "not active"}`;
      return invalid(
        `service ${plan.service} ${state} in cluster ${clusterNameOf(plan.cluster)}: create it (or fix deploy.cluster and deploy.service of the job in berth.yml)`,
      );
    }
    const current = currentTaskDefinition(service);
    const source = current === undefined ? undefined : await reads.revision(current);
    if (source === undefined) return invalid(`service ${plan.service} runs task definition ${current ?? "(none)"}, which ECS cannot describe: fix the service`);
    const family = source.definition.family ?? revisionOf(source.arn)?.family;
    if (family === undefined) return invalid(`the task definition ${source.arn} of service ${plan.service} has no family`);
    const since = earliestRegistration(id.runId);

    const earlier = await this.#attemptRevision(reads, service, family, id.clientToken, since);
    if (earlier !== undefined) return this.#deployOnce(reads, plan, earlier);

    const input = registerInput(source, plan, id);
    if (!input.ok) return invalid(input.message);
    const out = await this.#client.send(new RegisterTaskDefinitionCommand(input.input));
    const registered = out.taskDefinition?.taskDefinitionArn;
    if (registered === undefined) return invalid(`RegisterTaskDefinition answered no revision for family ${family}`);
    reads.remember({ arn: registered, definition: out.taskDefinition!, tags: out.tags ?? input.input.tags ?? [], ...(ms(out.taskDefinition!.registeredAt) !== undefined ? { registeredAt: ms(out.taskDefinition!.registeredAt) } : {}) });

    // A concurrent duplicate may have registered one too: the lowest revision carrying the token is the attempt's.
    const carrying = await this.#tokenRevisions(reads, family, id.clientToken, since);
    const winner = lowest([registered, ...carrying.map((r) => r.arn)]);
    if (winner !== registered) {
      await this.#deregister(registered);
      return this.#deployOnce(reads, plan, winner);
    }
    if (carrying.some((r) => r.arn !== registered)) return this.#deployOnce(reads, plan, registered);
    await this.#updateService(plan, registered, service);
    return { ok: true, taskArn: registered };
  }

  /** This attempt's revision, if an earlier delivery registered it: among the service's deployments, then the family's newest revisions. */
  async #attemptRevision(reads: Reads, service: Service, family: string, token: string, since: number | undefined): Promise<string | undefined> {
    for (const d of service.deployments ?? []) {
      if (d.taskDefinition === undefined) continue;
      const revision = await reads.revision(d.taskDefinition);
      if (revision !== undefined && tagValue(revision.tags, TOKEN_TAG) === token) return revision.arn;
    }
    const carrying = await this.#tokenRevisions(reads, family, token, since);
    return carrying.length > 0 ? lowest(carrying.map((r) => r.arn)) : undefined;
  }

  /**
   * The family's ACTIVE revisions that carry `token`, read newest first back to the first one registered
   * before `since` (revisions of a family are numbered in the order they were registered).
   */
  async #tokenRevisions(reads: Reads, family: string, token: string, since: number | undefined): Promise<Revision[]> {
    const found: Revision[] = [];
    let nextToken: string | undefined;
    let scanned = 0;
    do {
      const page = await this.#client.send(
        new ListTaskDefinitionsCommand({ familyPrefix: family, status: "ACTIVE", sort: "DESC", maxResults: REVISIONS_PAGE, ...(nextToken !== undefined ? { nextToken } : {}) }),
      );
      for (const arn of page.taskDefinitionArns ?? []) {
        if (scanned++ >= MAX_REVISIONS_SCANNED) return found;
        const revision = await reads.revision(arn);
        if (revision === undefined) continue;
        if (tagValue(revision.tags, TOKEN_TAG) === token) found.push(revision);
        if (since !== undefined && revision.registeredAt !== undefined && revision.registeredAt < since) return found;
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    return found;
  }

  /** Starts the revision's deployment unless one was ever started: listed now, or in the service's history. */
  async #deployOnce(reads: Reads, plan: DeployPlan, revisionArn: string): Promise<LaunchOutcome> {
    const service = await reads.service(plan.cluster, plan.service, true);
    if (service === undefined || service.status !== "ACTIVE") return invalid(`service ${plan.service} of cluster ${clusterNameOf(plan.cluster)} is gone; create it again`);
    if ((service.deployments ?? []).some((d) => d.taskDefinition === revisionArn)) return { ok: true, taskArn: revisionArn };
    const revision = await reads.revision(revisionArn);
    const after = revision?.registeredAt === undefined ? undefined : revision.registeredAt - CLOCK_SKEW_MS;
    const history = await reads.history(clusterNameOf(plan.cluster), plan.service, after);
    if (history.some((h) => h.taskDefinition === revisionArn)) return { ok: true, taskArn: revisionArn };
    await this.#updateService(plan, revisionArn, service);
    return { ok: true, taskArn: revisionArn };
  }

  async #updateService(plan: DeployPlan, revisionArn: string, service: Service): Promise<void> {
    const request = buildUpdateServiceRequest(plan, revisionArn, service.deploymentConfiguration as DeploymentConfigurationLike | undefined);
    await this.#client.send(new UpdateServiceCommand({ ...request, deploymentConfiguration: request.deploymentConfiguration as DeploymentConfiguration | undefined }));
  }

  /** Best effort: a duplicate left registered changes nothing, since the lowest revision carrying the token always wins. */
  async #deregister(revisionArn: string): Promise<void> {
    try {
      await this.#client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: revisionArn }));
    } catch (error) {
      if (classifyAwsError(error) === undefined) throw error;
    }
  }

  /** The revision and whose it is, when berth registered it (it carries berth's token and service); undefined otherwise. */
  async #berthRevision(reads: Reads, taskArn: string): Promise<BerthRevision | undefined> {
    if (revisionOf(taskArn) === undefined) return undefined;
    const revision = await reads.revision(taskArn);
    if (revision === undefined || tagValue(revision.tags, TOKEN_TAG) === undefined) return undefined;
    const where = parseServiceTag(tagValue(revision.tags, SERVICE_TAG) ?? "");
    if (where === undefined) return undefined;
    const runId = tagValue(revision.tags, RUN_TAG);
    const owner: DeploymentOwner = {
      taskArn: revision.arn,
      ...(runId !== undefined && isRunId(runId) ? { startedBy: startedByFor(runId) } : {}),
      container: this.#containerOf(revision),
    };
    return { revision, owner, ...where };
  }

  #containerOf(revision: Revision): string {
    const job = tagValue(revision.tags, JOB_TAG);
    const configured = job !== undefined && Object.hasOwn(this.#containers, job) ? this.#containers[job] : undefined;
    const containers = revision.definition.containerDefinitions ?? [];
    return configured ?? containers.find((c) => c.essential !== false)?.name ?? containers[0]?.name ?? "main";
  }

  /** The pseudo task state of berth's deployment of the revision: the listed deployment, and the history where that does not settle it. */
  async #stateOf(reads: Reads, berth: BerthRevision): Promise<EcsTaskState | undefined> {
    const service = await reads.service(berth.cluster, berth.service);
    const reading = readListedDeployments(berth.revision.arn, listed(service));
    if (reading.kind === "conclusive") return deploymentTaskState(berth.owner, { listed: reading.deployment });
    const history = await this.#historyOf(reads, berth);
    return deploymentTaskState(berth.owner, { ...(reading.deployment !== undefined ? { listed: reading.deployment } : {}), ...(history !== undefined ? { history } : {}) });
  }

  /** berth's deployment of the revision in the service's history: the first one that targets it. */
  async #historyOf(reads: Reads, berth: BerthRevision): Promise<HistoryEntry | undefined> {
    const registeredAt = berth.revision.registeredAt;
    const history = await reads.history(berth.cluster, berth.service, registeredAt === undefined ? undefined : registeredAt - CLOCK_SKEW_MS);
    const first = history
      .filter((h) => h.taskDefinition === berth.revision.arn && h.brief.serviceDeploymentArn !== undefined)
      .sort((a, b) => (ms(a.brief.createdAt) ?? 0) - (ms(b.brief.createdAt) ?? 0))[0];
    if (first === undefined) return undefined;
    const arn = first.brief.serviceDeploymentArn!;
    const out = await reads.client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
    const sd = out.serviceDeployments?.find((d) => d.serviceDeploymentArn === arn);
    const status = sd?.status ?? first.brief.status;
    const statusReason = sd?.statusReason ?? first.brief.statusReason;
    const createdAt = ms(sd?.createdAt ?? first.brief.createdAt);
    return {
      arn,
      ...(status !== undefined ? { status } : {}),
      ...(statusReason !== undefined ? { statusReason } : {}),
      ...(sd?.deploymentCircuitBreaker?.status !== undefined ? { circuitBreakerStatus: sd.deploymentCircuitBreaker.status } : {}),
      ...(sd?.alarms?.status !== undefined ? { alarmsStatus: sd.alarms.status } : {}),
      ...(sd?.rollback?.reason !== undefined ? { rollbackReason: sd.rollback.reason } : {}),
      ...(createdAt !== undefined ? { createdAt } : {}),
    };
  }
}

/** The lowest revision of ARNs of one family. */
function lowest(arns: readonly string[]): string {
  return arns.reduce((a, b) => ((revisionOf(b)?.revision ?? Infinity) < (revisionOf(a)?.revision ?? Infinity) ? b : a));
}

/** RegisterTaskDefinition input: the source revision without its read-only fields, the plan's image in the plan's container, the attempt's tags. */
function registerInput(
  source: Revision,
  plan: DeployPlan,
  id: { readonly runId: string; readonly clientToken: string },
): { ok: true; input: RegisterTaskDefinitionCommandInput } | { ok: false; message: string } {
  const definition = source.definition as Record<string, unknown>;
  const copied = Object.fromEntries(REGISTER_TASK_DEFINITION_FIELDS.flatMap((field) => (definition[field] !== undefined ? [[field, definition[field]]] : [])));
  const swapped = withContainerImage(source.definition.containerDefinitions ?? [], plan);
  if (!swapped.ok) return { ok: false, message: swapped.error.message };
  const tags = revisionTags(
    source.tags.flatMap((t) => (t.key !== undefined ? [{ key: t.key, value: t.value ?? "" }] : [])),
    plan,
    id,
  );
  const tagProblems = checkTags(tags);
  if (tagProblems.length > 0) return { ok: false, message: `the new revision of ${source.arn} cannot carry its tags: ${tagProblems.join("; ")}` };
  return {
    ok: true,
    input: { ...(copied as Omit<RegisterTaskDefinitionCommandInput, "family" | "containerDefinitions">), family: source.definition.family!, containerDefinitions: swapped.containerDefinitions, tags },
  };
}
