/**
 * A local ECS endpoint speaking the real wire protocol (awsJson1_1: `POST /`,
 * `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`, JSON
 * bodies, errors as `{"__type", "message"}`), so the real SDK v3 ECSClient —
 * serialisation, error parsing, retries — runs against it unchanged with
 * `endpoint: fake.url`.
 *
 * It models what berth relies on: RunTask idempotent by clientToken (the
 * same token answers the same task and starts nothing; a different request
 * under a used token is a ConflictException), StopTask, DescribeTasks with
 * MISSING failures, an optional token-bucket rate limit on RunTask (Fargate
 * publishes 100 burst / 20 per second), and injectable faults. Everything is
 * in memory and O(1) per call so a benchmark can push thousands of calls.
 *
 * Task definitions are optional. Without `taskDefinitions` every task
 * definition exists (DescribeTaskDefinition makes one up whose containers
 * are those its tasks ran) and a task stays PROVISIONING until `finishTask`
 * or StopTask, which stops it at once. With it, the account has exactly the
 * families given (plus those of `registerTaskDefinition`), RunTask of any
 * other answers ClientException "Unable to describe task definition.", and
 * their tasks live on their own as on ECS: PROVISIONING → PENDING → RUNNING,
 * then STOPPED when the essential container exits (EssentialContainerExited
 * with its exit code), or after StopTask, which first only sets
 * desiredStatus STOPPED (stop code UserInitiated, the reason as
 * stoppedReason) and stops the task a moment later, the containers exiting
 * on the SIGTERM of `docker stop`. Every change bumps `version`.
 *
 * It also answers the reads `berth doctor` makes, shaped as the API reference shows them:
 * - DescribeClusters (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html):
 *   `clusters` (up to 100 names or ARNs; none means `default`) → `clusters` with `status` and
 *   `capacityProviders`, and a `failures` entry `{ arn, reason: "MISSING" }` for each one the account
 *   does not have (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html).
 *   With `clusters` given the account has exactly those; without, every cluster exists, ACTIVE and, as
 *   `aws ecs create-cluster` leaves it, with no capacity providers.
 * - DescribeTaskDefinition (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html):
 *   a family answers its latest ACTIVE revision, `family:revision` or an ARN that revision; one the account
 *   does not have is ClientException "Unable to describe task definition.", as RunTask answers it.
 * - DescribeServices (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html):
 *   1 to 10 `services` of one `cluster` → `services` with `status` and `taskDefinition` (an ARN), and a
 *   MISSING failure for each one the cluster does not have; a cluster the account does not have is
 *   ClusterNotFoundException.
 * An operation named in `accessDenied` answers AccessDeniedException, as ECS does for a caller whose
 * policies do not allow it.
 *
 * Task definitions (API reference RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
 * DeregisterTaskDefinition): RegisterTaskDefinition stores the request as sent and adds the next revision
 * of its family with the request's `tags`; DescribeTaskDefinition answers it with the read-only fields ECS
 * adds (taskDefinitionArn, revision, status, registeredAt, registeredBy, compatibilities,
 * requiresAttributes), and the tags only with `include: ["TAGS"]`; ListTaskDefinitions lists ARNs by family
 * and revision (ASC, or DESC), ACTIVE ones unless asked for INACTIVE, in pages of `maxResults` (1 to 100);
 * DeregisterTaskDefinition needs a revision and makes it INACTIVE (still described).
 *
 * Services and their deployments, as the rolling update (ECS) deployment controller runs them:
 * - a service given in `services` starts with one PRIMARY deployment of its task definition, COMPLETED,
 *   and that deployment in its history (SUCCESSFUL);
 * - UpdateService starts a new deployment when the task definition changes or with `forceNewDeployment`
 *   ("Amazon ECS creates a new service deployment automatically when … a user updates the service and uses
 *   the force new deployment option [or] updates one or more service properties that require a deployment";
 *   desiredCount and deploymentConfiguration "don't trigger a new service deployment"); its
 *   `deploymentConfiguration` replaces the service's;
 * - a deployment rolls out in steps, as `rollouts` says for the images of its task definition:
 *   "healthy" reaches a steady state (rolloutState COMPLETED, its history SUCCESSFUL, the older
 *   deployments drained and no longer listed, and it serves); "unhealthy" fails a task each step, and at the
 *   circuit breaker's threshold (3, its documented minimum, for this fake's desired count of 1) turns FAILED
 *   when the breaker is on: with rollback the service rolls back to the revision that served (a new PRIMARY
 *   deployment of it; the history's deployment ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL, breaker
 *   TRIGGERED), without rollback the history's deployment is STOPPED; with the breaker off it stays
 *   IN_PROGRESS; "stuck" stays IN_PROGRESS until it is stopped or replaced;
 * - StopServiceDeployment ROLLBACK of a PENDING or IN_PROGRESS deployment: ROLLBACK_REQUESTED, then the
 *   rollback as above (breaker not triggered); of one already stopping or rolling back: nothing changes;
 *   of one that ended: ConflictException; unknown ARN: ServiceDeploymentNotFoundException;
 * - a deployment still going when a newer one starts is replaced: no longer PRIMARY, and its history
 *   entry STOPPED (a rollback under way: ROLLBACK_SUCCESSFUL, since the failed revision is gone too);
 * - the history APIs (ListServiceDeployments newest first, with status and createdAt filters and pages of
 *   `maxResults` 1 to 100, default 20; DescribeServiceDeployments and DescribeServiceRevisions, 1 to 20
 *   ARNs, unknown ones as MISSING failures) answer what happened. Service deployment ARNs end in an id of
 *   their own, not the `ecs-svc/…` id DescribeServices shows, as on ECS.
 * Every `ECS Deployment State Change` is shaped as the developer guide's examples ("Amazon ECS service
 * deployment state change events"): SERVICE_DEPLOYMENT_IN_PROGRESS (INFO) when a deployment or a rollback
 * starts, SERVICE_DEPLOYMENT_COMPLETED (INFO) at steady state, SERVICE_DEPLOYMENT_FAILED (ERROR) when the
 * circuit breaker fails it. They are kept in `deploymentEvents` and handed to `onDeploymentEvent`; a
 * deployment takes its next step only once that listener has settled, so whoever reads ECS on an event
 * reads it as the event says.
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113.";
export const CAPACITY_UNAVAILABLE = "Capacity is unavailable at this time. Please try again later or in a different availability zone";
/** ECS's message at the "Tasks in the PROVISIONING state per cluster" quota (aws/aws-sdk-ruby#3047). */
export const PROVISIONING_QUOTA = "Tasks provisioning capacity limit exceeded.";

export interface FakeEcsFaults {
  /** The next n RunTask calls answer ThrottlingException (HTTP 400), as ECS does. */
  readonly throttles?: number;
  /** The next n RunTask calls answer ServerException (HTTP 500) before starting anything. */
  readonly serverErrors?: number;
  /** The next n RunTask calls start their task and then answer HTTP 500: a response lost on the way back. */
  readonly lostResponses?: number;
  /** The next n RunTask calls start nothing and answer `failures: [{ reason: launchFailureReason }]`. */
  readonly launchFailures?: number;
  /** Default: Fargate's "Capacity is unavailable at this time…". */
  readonly launchFailureReason?: string;
  /**
   * The next n RunTask calls start nothing and answer the ClientException ECS raises at the per-cluster quota of tasks
   * in the PROVISIONING state (capacity providers with managed scaling), instead of a failures[] entry.
   */
  readonly provisioningQuota?: number;
  /** Any operation by name: its next `throttles` calls answer ThrottlingException, then `serverErrors` answer ServerException (HTTP 500). */
  readonly operations?: Readonly<Record<string, { readonly throttles?: number; readonly serverErrors?: number }>>;
}

export interface FakeTag {
  readonly key: string;
  readonly value: string;
}

/** How a deployment of some images rolls out (see the header). */
export type FakeRollout = "healthy" | "unhealthy" | "stuck";

/** What the essential container of a task definition's tasks does, and what DescribeTaskDefinition shows of it. */
export interface FakeTaskDefinition {
  /** The container exits with this code a moment after it starts; without it, it runs until StopTask. */
  readonly exitCode?: number;
  /** The names of its container definitions, the first one essential (its tasks report all of them); default: one named after the family. */
  readonly containers?: readonly string[];
  /**
   * What the other containers report when the essential one exits: an exit code (a sidecar that ECS stops
   * with SIGTERM reports 143), or null for none. Default: the essential container's exit code.
   */
  readonly otherExitCodes?: Readonly<Record<string, number | null>>;
  /** Its tasks never start: they stop from PENDING with stop code TaskFailedToStart and this stoppedReason. */
  readonly failsToStart?: string;
  readonly taskRoleArn?: string;
  readonly executionRoleArn?: string;
  /** Default ACTIVE; INACTIVE is a deregistered revision. */
  readonly status?: "ACTIVE" | "INACTIVE";
  /**
   * The revision as RegisterTaskDefinition takes it (containerDefinitions, cpu, volumes, …), which
   * DescribeTaskDefinition then answers instead of the one made up from `containers` and the roles.
   */
  readonly body?: Readonly<Record<string, unknown>>;
  readonly tags?: readonly FakeTag[];
}

/** A cluster as DescribeClusters shows it. */
export interface FakeCluster {
  /** Default ACTIVE; INACTIVE is a deleted cluster that DescribeClusters still lists for a while. */
  readonly status?: string;
  readonly capacityProviders?: readonly string[];
  readonly defaultCapacityProviderStrategy?: readonly { readonly capacityProvider: string; readonly weight?: number; readonly base?: number }[];
}

/** A service as DescribeServices shows it. */
export interface FakeService {
  readonly cluster: string;
  readonly name: string;
  /** `family:revision` (or an ARN) of the service's task definition. */
  readonly taskDefinition: string;
  /** Default ACTIVE; DRAINING and INACTIVE are a deleted service. */
  readonly status?: string;
  /** As DescribeServices shows it; UpdateService replaces it. */
  readonly deploymentConfiguration?: Readonly<Record<string, unknown>>;
}

export interface FakeEcsOptions {
  /** Token bucket in front of RunTask; empty bucket → ThrottlingException. Off by default. */
  readonly runTaskRateLimit?: { readonly ratePerSecond: number; readonly burst: number };
  /**
   * The task definition families the account has (each at revision 1), and
   * what their tasks do. Default: every task definition exists, and tasks stay
   * PROVISIONING until `finishTask` (see the header).
   */
  readonly taskDefinitions?: Readonly<Record<string, FakeTaskDefinition>>;
  readonly faults?: FakeEcsFaults;
  readonly region?: string;
  readonly accountId?: string;
  /** The clusters the account has, by name. Default: every cluster exists (see the header). */
  readonly clusters?: Readonly<Record<string, FakeCluster>>;
  readonly services?: readonly FakeService[];
  /** Operations (`DescribeServices`, …) the caller may not call: they answer AccessDeniedException. */
  readonly accessDenied?: readonly string[];
  /** How a deployment rolls out, from the images of its task definition's containers. Default: healthy. */
  readonly rollouts?: (images: readonly string[]) => FakeRollout;
  /** Gets every `ECS Deployment State Change`; the deployment waits for what it returns before its next step. */
  readonly onDeploymentEvent?: (event: FakeDeploymentEvent) => void | Promise<void>;
}

/** An `ECS Deployment State Change` as EventBridge delivers it. */
export interface FakeDeploymentEvent {
  readonly version: "0";
  readonly id: string;
  readonly "detail-type": "ECS Deployment State Change";
  readonly source: "aws.ecs";
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly eventType: "INFO" | "ERROR";
    readonly eventName: string;
    readonly deploymentId: string;
    readonly updatedAt: string;
    readonly reason: string;
  };
}

/** A service deployment of the history, as DescribeServiceDeployments shows it (times in epoch milliseconds). */
export interface FakeServiceDeployment {
  readonly serviceDeploymentArn: string;
  /** The `ecs-svc/…` id of the deployment DescribeServices listed for it (not part of the API). */
  readonly deploymentId: string;
  readonly taskDefinition: string;
  readonly status: string;
  readonly statusReason?: string;
  readonly createdAt: number;
  readonly circuitBreaker: string;
  readonly rollback?: { readonly reason: string; readonly serviceRevisionArn: string };
}

export interface FakeEcsStats {
  runTaskCalls: number;
  throttled: number;
  serverErrors: number;
  launchFailures: number;
  tasksLaunched: number;
  /** RunTask calls answered with an already started task because their clientToken was known. */
  idempotentReplays: number;
  distinctClientTokens: number;
  stopTaskCalls: number;
  describeTasksCalls: number;
  /** Calls of every operation by name, answered or not. */
  calls: Record<string, number>;
}

export interface FakeContainer {
  name: string;
  lastStatus: string;
  exitCode?: number;
  reason?: string;
}

/** A task as the fake keeps it; timestamps in epoch milliseconds. */
export interface FakeTask {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  lastStatus: string;
  desiredStatus: string;
  version: number;
  clientToken?: string;
  startedBy?: string;
  group: string;
  launchType?: string;
  capacityProviderName?: string;
  createdAt: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  containers: FakeContainer[];
  tags: { key: string; value: string }[];
  /** The RunTask request's overrides, which ECS reports back on the task (DescribeTasks, task state change events). */
  overrides?: unknown;
}

export interface FakeEcs {
  /** `http://127.0.0.1:<port>`: pass as the client's `endpoint`. */
  readonly url: string;
  /** Live counters. */
  readonly stats: Readonly<FakeEcsStats>;
  /** Every task started, by ARN. */
  readonly tasks: ReadonlyMap<string, FakeTask>;
  /** Adds faults to the ones still pending. */
  inject(faults: FakeEcsFaults): void;
  /** Ends a task as its essential container exiting with `exitCode`, as ECS would report it. */
  finishTask(taskArn: string, exitCode: number): FakeTask;
  /** ECS itself stops a task (SpotInterruption, InfrastructureHealth, …): its running containers exit on SIGTERM (143). */
  stopTaskAs(taskArn: string, stopCode: string, stoppedReason: string): FakeTask;
  /** RegisterTaskDefinition: adds the next revision of `family` (the first is 1); returns `family:revision`. */
  registerTaskDefinition(family: string, definition: FakeTaskDefinition): string;
  /** Every `ECS Deployment State Change` so far, in order. */
  readonly deploymentEvents: readonly FakeDeploymentEvent[];
  /** The revision ARNs of `family`, oldest first, with their status and tags. */
  revisions(family: string): readonly { readonly arn: string; readonly status: string; readonly tags: readonly FakeTag[] }[];
  /** The service's history (every service deployment), oldest first. */
  serviceDeployments(cluster: string, service: string): readonly FakeServiceDeployment[];
  /** What the service serves now: the task definition of its last deployment that reached a steady state, and that revision's images by container. */
  serving(cluster: string, service: string): { readonly taskDefinition: string; readonly images: Readonly<Record<string, string>> } | undefined;
  close(): Promise<void>;
}

interface RunTaskBody {
  cluster?: string;
  taskDefinition?: string;
  launchType?: string;
  capacityProviderStrategy?: { capacityProvider: string }[];
  overrides?: { containerOverrides?: { name: string }[]; [field: string]: unknown };
  tags?: { key: string; value: string }[];
  startedBy?: string;
  clientToken?: string;
  group?: string;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

function clusterName(cluster: string | undefined): string {
  if (cluster === undefined || cluster === "") return "default";
  const slash = cluster.indexOf("cluster/");
  return slash >= 0 ? cluster.slice(slash + "cluster/".length) : cluster;
}

/** How long each step of a task's own life (see the header) takes. */
const LIFECYCLE_STEP_MS = 10;
/** What a container killed by `docker stop`'s SIGTERM reports: 128 + 15. */
const SIGTERM_EXIT_CODE = 143;

/** `arn:…:task-definition/etl:7`, `etl:7`, `etl` → family `etl`, revision 7 (or undefined: the latest). */
function parseTaskDefinition(ref: string): { family: string; revision: number | undefined } {
  const name = ref.startsWith("arn:") ? ref.slice(ref.lastIndexOf("/") + 1) : ref;
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? { family: m[1] as string, revision: Number(m[2]) } : { family: name, revision: undefined };
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

function wireTask(task: FakeTask): Record<string, unknown> {
  return {
    ...task,
    clientToken: undefined,
    createdAt: seconds(task.createdAt),
    startedAt: seconds(task.startedAt),
    stoppingAt: seconds(task.stoppingAt),
    stoppedAt: seconds(task.stoppedAt),
  };
}

export async function startFakeEcs(options: FakeEcsOptions = {}): Promise<FakeEcs> {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? "123456789012";
  const stats: FakeEcsStats = {
    runTaskCalls: 0,
    throttled: 0,
    serverErrors: 0,
    launchFailures: 0,
    tasksLaunched: 0,
    idempotentReplays: 0,
    distinctClientTokens: 0,
    stopTaskCalls: 0,
    describeTasksCalls: 0,
    calls: {},
  };
  const faults = { throttles: 0, serverErrors: 0, lostResponses: 0, launchFailures: 0, launchFailureReason: CAPACITY_UNAVAILABLE, provisioningQuota: 0 };
  const inject = (more: FakeEcsFaults): void => {
    faults.throttles += more.throttles ?? 0;
    faults.serverErrors += more.serverErrors ?? 0;
    faults.lostResponses += more.lostResponses ?? 0;
    faults.launchFailures += more.launchFailures ?? 0;
    faults.provisioningQuota += more.provisioningQuota ?? 0;
    if (more.launchFailureReason !== undefined) faults.launchFailureReason = more.launchFailureReason;
    for (const [operation, f] of Object.entries(more.operations ?? {})) {
      const pending = operationFaults.get(operation) ?? { throttles: 0, serverErrors: 0 };
      operationFaults.set(operation, { throttles: pending.throttles + (f.throttles ?? 0), serverErrors: pending.serverErrors + (f.serverErrors ?? 0) });
    }
  };
  const operationFaults = new Map<string, { throttles: number; serverErrors: number }>();
  inject(options.faults ?? {});

  const tasks = new Map<string, FakeTask>();
  const byId = new Map<string, FakeTask>();
  /** family → its revisions' definitions (revision n at index n - 1). */
  const families = new Map<string, FakeTaskDefinition[]>(Object.entries(options.taskDefinitions ?? {}).map(([family, d]) => [family, [d]]));
  const startedAt = Date.now();
  /** `family:revision` → when it was registered and deregistered (epoch ms); the options' revisions at the start. */
  const registeredAt = new Map<string, number>();
  const deregisteredAt = new Map<string, number>();
  const anyTaskDefinitionExists = options.taskDefinitions === undefined;
  /** Tasks that live on their own (their family is known), by ARN: what their container does. */
  const behaviours = new Map<string, FakeTaskDefinition>();
  const timers = new Map<string, NodeJS.Timeout>();
  /** clientToken → the request it first came with and the task it started. */
  const byToken = new Map<string, { fingerprint: string; task: FakeTask }>();

  const limit = options.runTaskRateLimit;
  let tokens = limit?.burst ?? 0;
  let refilledAt = performance.now();
  const takeToken = (): boolean => {
    if (limit === undefined) return true;
    const now = performance.now();
    tokens = Math.min(limit.burst, tokens + ((now - refilledAt) / 1000) * limit.ratePerSecond);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  /** The family's definition the request names, null when the account has no such task definition, undefined when any exists. */
  const resolveTaskDefinition = (ref: string): { revision: number; definition: FakeTaskDefinition } | null | undefined => {
    const { family, revision } = parseTaskDefinition(ref);
    const revisions = families.get(family);
    if (revisions === undefined) return anyTaskDefinitionExists ? undefined : null;
    const n = revision ?? revisions.length;
    const definition = revisions[n - 1];
    return n >= 1 && definition !== undefined ? { revision: n, definition } : null;
  };

  const schedule = (task: FakeTask): void => {
    clearTimeout(timers.get(task.taskArn));
    const timer = setTimeout(() => {
      timers.delete(task.taskArn);
      live(task);
    }, LIFECYCLE_STEP_MS);
    timer.unref();
    timers.set(task.taskArn, timer);
  };

  const change = (task: FakeTask, fields: Partial<FakeTask>): void => {
    Object.assign(task, { version: task.version + 1, ...fields });
  };

  /** One step of the life of a task whose family is known (see the header). */
  const live = (task: FakeTask): void => {
    const behaviour = behaviours.get(task.taskArn);
    if (behaviour === undefined || task.lastStatus === "STOPPED") return;
    if (task.desiredStatus === "STOPPED") {
      // StopTask: containers that run get SIGTERM and exit on it; ones that never started report no exit code.
      const ran = task.lastStatus === "RUNNING";
      stop(task, { containers: task.containers.map((c) => ({ ...c, lastStatus: "STOPPED", ...(ran ? { exitCode: SIGTERM_EXIT_CODE } : {}) })) });
      return;
    }
    if (task.lastStatus === "PROVISIONING") {
      change(task, { lastStatus: "PENDING" });
      schedule(task);
    } else if (task.lastStatus === "PENDING" && behaviour.failsToStart !== undefined) {
      stop(task, { stopCode: "TaskFailedToStart", stoppedReason: behaviour.failsToStart, containers: task.containers.map((c) => ({ ...c, lastStatus: "STOPPED" })) });
    } else if (task.lastStatus === "PENDING") {
      change(task, { lastStatus: "RUNNING", startedAt: Date.now(), containers: task.containers.map((c) => ({ ...c, lastStatus: "RUNNING" })) });
      if (behaviour.exitCode !== undefined) schedule(task);
    } else if (task.lastStatus === "RUNNING" && behaviour.exitCode !== undefined) {
      exited(task, behaviour.exitCode);
    }
  };

  const launch = (body: RunTaskBody, known: { revision: number; definition: FakeTaskDefinition } | undefined): FakeTask => {
    const cluster = clusterName(body.cluster);
    const definition = body.taskDefinition ?? "";
    const family = parseTaskDefinition(definition).family.split(":")[0] ?? "task";
    const id = randomUUID().replaceAll("-", "");
    const provider = body.capacityProviderStrategy?.[0]?.capacityProvider;
    const names = body.overrides?.containerOverrides?.map((c) => c.name) ?? [];
    const task: FakeTask = {
      taskArn: `arn:aws:ecs:${region}:${accountId}:task/${cluster}/${id}`,
      clusterArn: `arn:aws:ecs:${region}:${accountId}:cluster/${cluster}`,
      taskDefinitionArn:
        known !== undefined
          ? `arn:aws:ecs:${region}:${accountId}:task-definition/${family}:${known.revision}`
          : definition.startsWith("arn:")
            ? definition
            : `arn:aws:ecs:${region}:${accountId}:task-definition/${definition.includes(":") ? definition : `${definition}:1`}`,
      lastStatus: "PROVISIONING",
      desiredStatus: "RUNNING",
      version: 1,
      group: body.group ?? `family:${family}`,
      createdAt: Date.now(),
      // A task of a known definition reports every container of it (as DescribeTaskDefinition lists them), whichever ones the overrides name.
      containers: (known !== undefined ? (known.definition.containers ?? [family]) : names.length > 0 ? names : [family]).map((name) => ({ name, lastStatus: "PENDING" })),
      tags: body.tags ?? [],
      ...(body.overrides !== undefined ? { overrides: body.overrides } : {}),
      ...(body.clientToken !== undefined ? { clientToken: body.clientToken } : {}),
      ...(body.startedBy !== undefined ? { startedBy: body.startedBy } : {}),
      ...(provider !== undefined ? { capacityProviderName: provider } : { launchType: body.launchType ?? "EC2" }),
    };
    tasks.set(task.taskArn, task);
    byId.set(id, task);
    stats.tasksLaunched++;
    if (known !== undefined) {
      behaviours.set(task.taskArn, known.definition);
      schedule(task);
    }
    return task;
  };

  const runTask = (body: RunTaskBody, raw: string): unknown => {
    stats.runTaskCalls++;
    if (faults.throttles > 0) {
      faults.throttles--;
      stats.throttled++;
      throw new AwsError("ThrottlingException", "Rate exceeded");
    }
    if (faults.serverErrors > 0) {
      faults.serverErrors--;
      stats.serverErrors++;
      throw new AwsError("ServerException", "Service unavailable. Try again later.", 500);
    }
    if (!takeToken()) {
      stats.throttled++;
      throw new AwsError("ThrottlingException", "Rate exceeded");
    }
    if (body.cluster === undefined || body.taskDefinition === undefined) {
      throw new AwsError("InvalidParameterException", "cluster and taskDefinition are required by this fake.");
    }
    const token = body.clientToken;
    const known = token === undefined ? undefined : byToken.get(token);
    if (known !== undefined) {
      if (known.fingerprint !== raw) {
        throw new AwsError("ConflictException", "The clientToken is already in use with a different RunTask request.", 400, {
          resourceIds: [known.task.taskArn],
        });
      }
      stats.idempotentReplays++;
      return { tasks: [wireTask(known.task)], failures: [] };
    }
    const definition = resolveTaskDefinition(body.taskDefinition);
    // What ECS answers for a family or revision the account does not have.
    if (definition === null) throw new AwsError("ClientException", "Unable to describe task definition.");
    if (faults.provisioningQuota > 0) {
      faults.provisioningQuota--;
      stats.launchFailures++;
      throw new AwsError("ClientException", PROVISIONING_QUOTA);
    }
    if (faults.launchFailures > 0) {
      faults.launchFailures--;
      stats.launchFailures++;
      return { tasks: [], failures: [{ reason: faults.launchFailureReason }] };
    }
    const task = launch(body, definition);
    if (token !== undefined) {
      byToken.set(token, { fingerprint: raw, task });
      stats.distinctClientTokens++;
    }
    if (faults.lostResponses > 0) {
      faults.lostResponses--;
      stats.serverErrors++;
      throw new AwsError("ServerException", "The task started, but this answer was lost.", 500);
    }
    return { tasks: [wireTask(task)], failures: [] };
  };

  const find = (cluster: string | undefined, ref: string): FakeTask | undefined => {
    const task = tasks.get(ref) ?? byId.get(ref);
    return task !== undefined && task.clusterArn.endsWith(`cluster/${clusterName(cluster)}`) ? task : undefined;
  };

  const stop = (task: FakeTask, fields: Partial<FakeTask>): void => {
    if (task.lastStatus === "STOPPED") return;
    clearTimeout(timers.get(task.taskArn));
    timers.delete(task.taskArn);
    const now = Date.now();
    Object.assign(task, { desiredStatus: "STOPPED", lastStatus: "STOPPED", stoppingAt: task.stoppingAt ?? now, stoppedAt: now, version: task.version + 1, ...fields });
  };

  /** The essential container exited with `exitCode`; the others report what their definition says. */
  const exited = (task: FakeTask, exitCode: number): void => {
    task.startedAt ??= Date.now();
    const others = behaviours.get(task.taskArn)?.otherExitCodes ?? {};
    const codeOf = (name: string, i: number): number | null => (i > 0 && Object.hasOwn(others, name) ? (others[name] ?? null) : exitCode);
    stop(task, {
      stopCode: "EssentialContainerExited",
      stoppedReason: "Essential container in task exited",
      containers: task.containers.map((c, i) => {
        const code = codeOf(c.name, i);
        const { exitCode: _drop, ...rest } = c;
        return { ...rest, lastStatus: "STOPPED", ...(code !== null ? { exitCode: code } : {}) };
      }),
    });
  };

  const stopTaskAs = (taskArn: string, stopCode: string, stoppedReason: string): FakeTask => {
    const task = tasks.get(taskArn);
    if (task === undefined) throw new Error(`fake ECS: no task ${taskArn}`);
    const ran = task.lastStatus === "RUNNING";
    stop(task, { stopCode, stoppedReason, containers: task.containers.map((c) => ({ ...c, lastStatus: "STOPPED", ...(ran ? { exitCode: SIGTERM_EXIT_CODE } : {}) })) });
    return task;
  };

  const stopTask = (body: { cluster?: string; task?: string; reason?: string }): unknown => {
    stats.stopTaskCalls++;
    if (body.reason !== undefined && body.reason.length > 255) {
      throw new AwsError("InvalidParameterException", "Reason cannot be longer than 255 characters.");
    }
    const task = body.task === undefined ? undefined : find(body.cluster, body.task);
    if (task === undefined) throw new AwsError("InvalidParameterException", "The referenced task was not found.");
    if (behaviours.has(task.taskArn)) {
      // A stop in progress, or a task already stopped, is left as it is.
      if (task.desiredStatus !== "STOPPED") {
        change(task, { desiredStatus: "STOPPED", stopCode: "UserInitiated", stoppedReason: body.reason ?? "Task stopped by user", stoppingAt: Date.now() });
        schedule(task);
      }
      return { task: wireTask(task) };
    }
    stop(task, {
      stopCode: "UserInitiated",
      stoppedReason: body.reason ?? "Task stopped by user",
      containers: task.containers.map((c) => ({ ...c, lastStatus: "STOPPED" })),
    });
    return { task: wireTask(task) };
  };

  const describeTasks = (body: { cluster?: string; tasks?: string[] }): unknown => {
    stats.describeTasksCalls++;
    const refs = body.tasks ?? [];
    if (refs.length === 0) throw new AwsError("InvalidParameterException", "Tasks cannot be empty.");
    if (refs.length > 100) throw new AwsError("InvalidParameterException", "Tasks cannot have more than 100 elements.");
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const task = find(body.cluster, ref);
      if (task !== undefined) found.push(wireTask(task));
      else failures.push({ arn: ref, reason: "MISSING" });
    }
    return { tasks: found, failures };
  };

  const arn = (resource: string): string => `arn:aws:ecs:${region}:${accountId}:${resource}`;
  const knownCluster = (name: string): FakeCluster | undefined =>
    options.clusters === undefined ? {} : Object.hasOwn(options.clusters, name) ? options.clusters[name] : undefined;

  const describeClusters = (body: { clusters?: string[] }): unknown => {
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of body.clusters?.length ? body.clusters : ["default"]) {
      const name = clusterName(ref);
      const cluster = knownCluster(name);
      if (cluster === undefined) {
        failures.push({ arn: arn(`cluster/${name}`), reason: "MISSING" });
        continue;
      }
      found.push({
        clusterArn: arn(`cluster/${name}`),
        clusterName: name,
        status: cluster.status ?? "ACTIVE",
        registeredContainerInstancesCount: 0,
        runningTasksCount: [...tasks.values()].filter((t) => t.clusterArn === arn(`cluster/${name}`) && t.lastStatus === "RUNNING").length,
        pendingTasksCount: 0,
        activeServicesCount: (options.services ?? []).filter((sv) => clusterName(sv.cluster) === name).length,
        statistics: [],
        tags: [],
        settings: [],
        capacityProviders: [...(cluster.capacityProviders ?? [])],
        defaultCapacityProviderStrategy: [...(cluster.defaultCapacityProviderStrategy ?? [])],
      });
    }
    return { clusters: found, failures };
  };

  /** A definition of a family the fake makes up (every task definition exists): its containers are those its tasks ran, else one named after it. */
  const madeUp = (family: string): FakeTaskDefinition => {
    const names = new Set<string>();
    for (const t of tasks.values()) if (parseTaskDefinition(t.taskDefinitionArn).family === family) for (const c of t.containers) names.add(c.name);
    return names.size > 0 ? { containers: [...names] } : {};
  };

  /** DescribeTaskDefinition's view: a family alone is its latest ACTIVE revision. */
  const describedRevision = (ref: string): { family: string; revision: number; definition: FakeTaskDefinition } | undefined => {
    const { family, revision } = parseTaskDefinition(ref);
    const revisions = families.get(family);
    if (revisions === undefined) return anyTaskDefinitionExists ? { family, revision: revision ?? 1, definition: madeUp(family) } : undefined;
    if (revision !== undefined) {
      const definition = revisions[revision - 1];
      return revision >= 1 && definition !== undefined ? { family, revision, definition } : undefined;
    }
    for (let n = revisions.length; n >= 1; n--) if ((revisions[n - 1]?.status ?? "ACTIVE") === "ACTIVE") return { family, revision: n, definition: revisions[n - 1]! };
    return undefined;
  };

  /** The revision as DescribeTaskDefinition answers it, read-only fields included. */
  const wireTaskDefinition = (family: string, revision: number, definition: FakeTaskDefinition): Record<string, unknown> => {
    const body = definition.body ?? {
      containerDefinitions: (definition.containers ?? [family]).map((name, i) => ({ name, image: `${family}:${revision}`, essential: i === 0 })),
      ...(definition.taskRoleArn !== undefined ? { taskRoleArn: definition.taskRoleArn } : {}),
      ...(definition.executionRoleArn !== undefined ? { executionRoleArn: definition.executionRoleArn } : {}),
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      cpu: "256",
      memory: "512",
    };
    const deregistered = deregisteredAt.get(`${family}:${revision}`);
    return {
      ...body,
      taskDefinitionArn: arn(`task-definition/${family}:${revision}`),
      family,
      revision,
      status: definition.status ?? "ACTIVE",
      compatibilities: ["EC2", ...((body.requiresCompatibilities as string[] | undefined)?.includes("FARGATE") ? ["FARGATE"] : [])],
      requiresAttributes: [{ name: "com.amazonaws.ecs.capability.docker-remote-api.1.18" }],
      registeredAt: (registeredAt.get(`${family}:${revision}`) ?? startedAt) / 1000,
      registeredBy: `arn:aws:iam::${accountId}:role/deployer`,
      ...(deregistered !== undefined ? { deregisteredAt: deregistered / 1000 } : {}),
    };
  };

  const describeTaskDefinition = (body: { taskDefinition?: string; include?: string[] }): unknown => {
    if (!body.taskDefinition) throw new AwsError("InvalidParameterException", "taskDefinition cannot be empty.");
    for (const field of body.include ?? []) if (field !== "TAGS") throw new AwsError("InvalidParameterException", `include: ${field} is not a TaskDefinitionField (TAGS).`);
    const found = describedRevision(body.taskDefinition);
    if (found === undefined) throw new AwsError("ClientException", "Unable to describe task definition.");
    const { family, revision, definition } = found;
    return {
      taskDefinition: wireTaskDefinition(family, revision, definition),
      ...(body.include?.includes("TAGS") ? { tags: [...(definition.tags ?? [])] } : {}),
    };
  };

  /** Tag rules of the API reference (Tag): at most 50, keys of 1 to 128 and values of at most 256 characters, unique keys, no `aws:` prefix. */
  const checkTags = (tags: readonly FakeTag[]): void => {
    if (tags.length > 50) throw new AwsError("InvalidParameterException", "Too many tags: a resource can have at most 50.");
    const keys = new Set<string>();
    for (const t of tags) {
      if (typeof t.key !== "string" || t.key.length < 1 || t.key.length > 128) throw new AwsError("InvalidParameterException", "Tag keys must be 1 to 128 characters.");
      if (typeof t.value !== "string" || t.value.length > 256) throw new AwsError("InvalidParameterException", "Tag values must be at most 256 characters.");
      if (/^aws:/i.test(t.key)) throw new AwsError("InvalidParameterException", "Tag keys starting with aws: are reserved.");
      if (keys.has(t.key)) throw new AwsError("InvalidParameterException", `Duplicate tag key ${t.key}.`);
      keys.add(t.key);
    }
  };

  const addRevision = (family: string, definition: FakeTaskDefinition): number => {
    const revisions = families.get(family) ?? [];
    revisions.push(definition);
    families.set(family, revisions);
    registeredAt.set(`${family}:${revisions.length}`, Date.now());
    return revisions.length;
  };

  const registerTaskDefinitionOp = (body: Record<string, unknown> & { family?: string; containerDefinitions?: { name?: string; image?: string }[]; tags?: FakeTag[] }): unknown => {
    if (typeof body.family !== "string" || !/^[A-Za-z0-9_-]{1,255}$/.test(body.family)) {
      throw new AwsError("ClientException", "Family contains invalid characters: up to 255 letters, numbers, hyphens and underscores are allowed.");
    }
    const containers = body.containerDefinitions ?? [];
    if (containers.length === 0) throw new AwsError("ClientException", "Container list cannot be empty.");
    for (const c of containers) {
      if (!c.name) throw new AwsError("ClientException", "Container.name should not be null or empty.");
      if (!c.image) throw new AwsError("ClientException", "Container.image should not be null or empty.");
    }
    const tags = body.tags ?? [];
    checkTags(tags);
    const { tags: _tags, ...definitionBody } = body;
    const revision = addRevision(body.family, { body: definitionBody, tags, containers: containers.map((c) => c.name as string) });
    return { taskDefinition: wireTaskDefinition(body.family, revision, families.get(body.family)![revision - 1]!), tags };
  };

  const listTaskDefinitions = (body: { familyPrefix?: string; status?: string; sort?: string; maxResults?: number; nextToken?: string }): unknown => {
    const status = body.status ?? "ACTIVE";
    if (!["ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"].includes(status)) throw new AwsError("InvalidParameterException", `status: ${status} is not a TaskDefinitionStatus.`);
    if (body.sort !== undefined && body.sort !== "ASC" && body.sort !== "DESC") throw new AwsError("InvalidParameterException", `sort: ${body.sort} is not ASC or DESC.`);
    const max = body.maxResults ?? 100;
    if (!Number.isInteger(max) || max < 1 || max > 100) throw new AwsError("InvalidParameterException", "maxResults must be between 1 and 100.");
    const all: string[] = [];
    const names = body.familyPrefix !== undefined ? [body.familyPrefix] : [...families.keys()].sort();
    for (const family of names) {
      (families.get(family) ?? []).forEach((d, i) => {
        if ((d.status ?? "ACTIVE") === status) all.push(arn(`task-definition/${family}:${i + 1}`));
      });
    }
    if (body.sort === "DESC") all.reverse();
    return page(all, max, body.nextToken, (items, nextToken) => ({ taskDefinitionArns: items, ...(nextToken ? { nextToken } : {}) }));
  };

  const deregisterTaskDefinition = (body: { taskDefinition?: string }): unknown => {
    const ref = parseTaskDefinition(body.taskDefinition ?? "");
    if (ref.revision === undefined) throw new AwsError("ClientException", "Invalid revision number. You must specify a revision.");
    const definition = families.get(ref.family)?.[ref.revision - 1];
    if (definition === undefined) throw new AwsError("ClientException", "The specified task definition does not exist.");
    if ((definition.status ?? "ACTIVE") === "ACTIVE") {
      families.get(ref.family)![ref.revision - 1] = { ...definition, status: "INACTIVE" };
      deregisteredAt.set(`${ref.family}:${ref.revision}`, Date.now());
    }
    return { taskDefinition: wireTaskDefinition(ref.family, ref.revision, families.get(ref.family)![ref.revision - 1]!) };
  };

  /** One page of `items` from the offset `nextToken` carries (opaque to the caller, as ECS's tokens are). */
  function page<T>(items: readonly T[], max: number, nextToken: string | undefined, shape: (items: T[], nextToken: string | undefined) => unknown): unknown {
    const offset = nextToken === undefined ? 0 : Number(Buffer.from(nextToken, "base64url").toString("utf8"));
    if (!Number.isInteger(offset) || offset < 0) throw new AwsError("InvalidParameterException", "Invalid nextToken.");
    const end = offset + max;
    return shape(items.slice(offset, end), end < items.length ? Buffer.from(String(end)).toString("base64url") : undefined);
  }

  // ---- services and deployments ----

  interface Listed {
    id: string;
    status: "PRIMARY" | "ACTIVE";
    taskDefinition: string;
    rolloutState: "IN_PROGRESS" | "COMPLETED" | "FAILED";
    rolloutStateReason: string;
    createdAt: number;
    updatedAt: number;
    failedTasks: number;
    steps: number;
    /** The history entry it carries out: its own, or the one it rolls back. */
    history: History;
    /** It rolls `history` back. */
    rollback: boolean;
    /** Settles once its last event's listener did: its next step waits for it. */
    gate: Promise<void>;
  }
  interface History {
    arn: string;
    deploymentId: string;
    createdAt: number;
    startedAt: number;
    finishedAt?: number;
    stoppedAt?: number;
    updatedAt: number;
    status: string;
    statusReason?: string;
    source: string[];
    target: string;
    rollback?: { reason: string; startedAt: number; serviceRevisionArn: string };
    circuitBreaker: { status: string; failureCount: number; threshold: number };
    deploymentConfiguration: Record<string, unknown>;
  }
  interface ServiceState {
    readonly cluster: string;
    readonly name: string;
    readonly arn: string;
    status: string;
    taskDefinition: string;
    deploymentConfiguration: Record<string, unknown>;
    /** Newest first. */
    deployments: Listed[];
    history: History[];
    /** The task definition of the last deployment that reached a steady state, and that deployment's id. */
    serving: string;
    servingDeploymentId: string;
    /** The service revision of what serves. */
    servingRevision: string;
    readonly createdAt: number;
  }
  const serviceRevisions = new Map<string, { serviceRevisionArn: string; serviceArn: string; clusterArn: string; taskDefinition: string; createdAt: number }>();
  const services = new Map<string, ServiceState>();
  const deploymentEvents: FakeDeploymentEvent[] = [];
  const deploymentTimers = new Set<NodeJS.Timeout>();
  let closed = false;
  /** The documented minimum of the circuit breaker's threshold; 0.5 × the desired count (1 here) is less. */
  const CIRCUIT_BREAKER_THRESHOLD = 3;
  const DEPLOYMENT_STEP_MS = 15;
  /** Steps a healthy deployment takes to reach a steady state. */
  const HEALTHY_STEPS = 2;

  const digits = (n: number): string => Array.from({ length: n }, (_, i) => String(randomInt(i === 0 ? 1 : 0, 10))).join("");
  const revisionArnOf = (ref: string): string => {
    const { family, revision } = parseTaskDefinition(ref);
    const n = revision ?? describedRevision(family)?.revision ?? 1;
    return arn(`task-definition/${family}:${n}`);
  };
  const newServiceRevision = (svc: ServiceState, taskDefinition: string, at: number): string => {
    const serviceRevisionArn = arn(`service-revision/${svc.cluster}/${svc.name}/${digits(19)}`);
    serviceRevisions.set(serviceRevisionArn, { serviceRevisionArn, serviceArn: svc.arn, clusterArn: arn(`cluster/${svc.cluster}`), taskDefinition, createdAt: at });
    return serviceRevisionArn;
  };
  const imagesOf = (taskDefinitionArn: string): Record<string, string> => {
    const { family, revision } = parseTaskDefinition(taskDefinitionArn);
    const found = describedRevision(`${family}:${revision ?? 1}`);
    if (found === undefined) return {};
    const containers = (wireTaskDefinition(found.family, found.revision, found.definition).containerDefinitions ?? []) as { name: string; image: string }[];
    return Object.fromEntries(containers.map((c) => [c.name, c.image]));
  };
  const breaker = (svc: ServiceState): { enable: boolean; rollback: boolean } => {
    const b = svc.deploymentConfiguration.deploymentCircuitBreaker as { enable?: boolean; rollback?: boolean } | undefined;
    return { enable: b?.enable === true, rollback: b?.rollback === true };
  };

  for (const sv of options.services ?? []) {
    const name = sv.name;
    const cluster = clusterName(sv.cluster);
    const taskDefinition = revisionArnOf(sv.taskDefinition);
    const svc: ServiceState = {
      cluster,
      name,
      arn: arn(`service/${cluster}/${name}`),
      status: sv.status ?? "ACTIVE",
      taskDefinition,
      deploymentConfiguration: structuredClone({ maximumPercent: 200, minimumHealthyPercent: 100, ...(sv.deploymentConfiguration ?? {}) }),
      deployments: [],
      history: [],
      serving: taskDefinition,
      servingDeploymentId: `ecs-svc/${digits(19)}`,
      servingRevision: "",
      createdAt: startedAt,
    };
    svc.servingRevision = newServiceRevision(svc, taskDefinition, startedAt);
    const history: History = {
      arn: arn(`service-deployment/${cluster}/${name}/${randomBytes(15).toString("base64url")}`),
      deploymentId: svc.servingDeploymentId,
      createdAt: startedAt,
      startedAt,
      finishedAt: startedAt,
      updatedAt: startedAt,
      status: "SUCCESSFUL",
      source: [],
      target: svc.servingRevision,
      circuitBreaker: { status: breaker(svc).enable ? "MONITORING_COMPLETE" : "DISABLED", failureCount: 0, threshold: CIRCUIT_BREAKER_THRESHOLD },
      deploymentConfiguration: structuredClone(svc.deploymentConfiguration),
    };
    svc.history.push(history);
    svc.deployments.push({
      id: svc.servingDeploymentId,
      status: "PRIMARY",
      taskDefinition,
      rolloutState: "COMPLETED",
      rolloutStateReason: `ECS deployment ${svc.servingDeploymentId} completed.`,
      createdAt: startedAt,
      updatedAt: startedAt,
      failedTasks: 0,
      steps: 0,
      history,
      rollback: false,
      gate: Promise.resolve(),
    });
    services.set(`${cluster}/${name}`, svc);
  }

  const serviceNamed = (cluster: string | undefined, ref: string | undefined): ServiceState | undefined => {
    if (ref === undefined) return undefined;
    const c = clusterName(cluster);
    const name = ref.startsWith("arn:") ? ref.slice(ref.lastIndexOf("/") + 1) : ref;
    return services.get(`${c}/${name}`);
  };
  const requireCluster = (cluster: string | undefined): string => {
    const name = clusterName(cluster);
    if (knownCluster(name) === undefined) throw new AwsError("ClusterNotFoundException", "Cluster not found.");
    return name;
  };

  const emit = (svc: ServiceState, d: Listed, eventName: string, eventType: "INFO" | "ERROR", reason: string): Promise<void> => {
    const now = new Date();
    const event: FakeDeploymentEvent = {
      version: "0",
      id: randomUUID(),
      "detail-type": "ECS Deployment State Change",
      source: "aws.ecs",
      account: accountId,
      time: `${now.toISOString().slice(0, 19)}Z`,
      region,
      resources: [svc.arn],
      detail: { eventType, eventName, deploymentId: d.id, updatedAt: now.toISOString(), reason },
    };
    deploymentEvents.push(event);
    const listener = options.onDeploymentEvent;
    if (listener === undefined) return Promise.resolve();
    return Promise.resolve()
      .then(() => listener(event))
      .catch(() => {});
  };

  const scheduleStep = (svc: ServiceState, d: Listed): void => {
    if (closed) return;
    const timer = setTimeout(() => {
      deploymentTimers.delete(timer);
      void d.gate.then(() => step(svc, d));
    }, DEPLOYMENT_STEP_MS);
    timer.unref();
    deploymentTimers.add(timer);
  };

  /** A new PRIMARY deployment of `taskDefinition`; the one it replaces stays listed (ACTIVE) until a deployment reaches a steady state. */
  const startDeployment = (svc: ServiceState, taskDefinition: string, history: History, rollback: boolean, reasonFor: (id: string) => string): Listed => {
    const now = Date.now();
    const id = `ecs-svc/${digits(19)}`;
    const reason = reasonFor(id);
    for (const other of svc.deployments) {
      if (other.status !== "PRIMARY") continue;
      other.status = "ACTIVE";
      other.updatedAt = now;
      const h = other.history;
      if (h !== history && h.finishedAt === undefined && h.stoppedAt === undefined) {
        // Replaced before it ended (see the header).
        h.status = h.status.startsWith("ROLLBACK") ? "ROLLBACK_SUCCESSFUL" : "STOPPED";
        h.statusReason = "A newer service deployment replaced it.";
        if (h.status === "STOPPED") h.stoppedAt = now;
        else h.finishedAt = now;
        h.updatedAt = now;
      }
    }
    const d: Listed = {
      id,
      status: "PRIMARY",
      taskDefinition,
      rolloutState: "IN_PROGRESS",
      rolloutStateReason: reason,
      // A deployment of its own history entry was created with it.
      createdAt: rollback ? now : history.createdAt,
      updatedAt: now,
      failedTasks: 0,
      steps: 0,
      history,
      rollback,
      gate: Promise.resolve(),
    };
    if (!rollback) history.deploymentId = d.id;
    svc.deployments.unshift(d);
    svc.taskDefinition = taskDefinition;
    d.gate = emit(svc, d, "SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO", reason);
    scheduleStep(svc, d);
    return d;
  };

  const complete = (svc: ServiceState, d: Listed): void => {
    const now = Date.now();
    d.rolloutState = "COMPLETED";
    d.rolloutStateReason = `ECS deployment ${d.id} completed.`;
    d.updatedAt = now;
    svc.deployments = svc.deployments.filter((x) => x === d);
    const h = d.history;
    if (d.rollback) {
      h.status = "ROLLBACK_SUCCESSFUL";
    } else {
      h.status = "SUCCESSFUL";
      if (h.circuitBreaker.status === "MONITORING") h.circuitBreaker.status = "MONITORING_COMPLETE";
      svc.servingRevision = h.target;
    }
    h.finishedAt = now;
    h.updatedAt = now;
    svc.serving = d.taskDefinition;
    svc.servingDeploymentId = d.id;
    d.gate = emit(svc, d, "SERVICE_DEPLOYMENT_COMPLETED", "INFO", d.rolloutStateReason);
  };

  /** Back to what served: a new PRIMARY deployment of it, carrying out the history entry's rollback. */
  const rollBack = (svc: ServiceState, h: History, reason: string, byBreaker: boolean): void => {
    const now = Date.now();
    h.status = "ROLLBACK_IN_PROGRESS";
    h.rollback = { reason, startedAt: now, serviceRevisionArn: h.source[0] ?? svc.servingRevision };
    h.updatedAt = now;
    const to = svc.servingDeploymentId;
    startDeployment(svc, svc.serving, h, true, (id) => (byBreaker ? `ECS deployment circuit breaker: rolling back to deploymentId ${to}.` : `ECS deployment ${id} in progress.`));
  };

  const step = (svc: ServiceState, d: Listed): void => {
    if (closed || d.status !== "PRIMARY" || d.rolloutState !== "IN_PROGRESS") return;
    const h = d.history;
    if (!d.rollback && h.status !== "IN_PROGRESS") return;
    const rollout = options.rollouts?.(Object.values(imagesOf(d.taskDefinition))) ?? "healthy";
    d.steps++;
    d.updatedAt = Date.now();
    if (rollout === "healthy") {
      if (d.steps >= HEALTHY_STEPS) return complete(svc, d);
      return scheduleStep(svc, d);
    }
    if (rollout === "stuck") return;
    d.failedTasks++;
    if (!d.rollback) h.circuitBreaker.failureCount = d.failedTasks;
    const { enable, rollback } = breaker(svc);
    if (d.failedTasks < CIRCUIT_BREAKER_THRESHOLD) return scheduleStep(svc, d);
    if (d.rollback) {
      // The revision rolled back to fails too.
      h.status = "ROLLBACK_FAILED";
      h.finishedAt = Date.now();
      h.updatedAt = h.finishedAt;
      return;
    }
    if (!enable) return;
    d.rolloutState = "FAILED";
    d.rolloutStateReason = "ECS deployment circuit breaker: tasks failed to start.";
    h.circuitBreaker.status = "TRIGGERED";
    h.statusReason = d.rolloutStateReason;
    h.updatedAt = d.updatedAt;
    d.gate = emit(svc, d, "SERVICE_DEPLOYMENT_FAILED", "ERROR", d.rolloutStateReason);
    if (rollback) {
      void d.gate.then(() => rollBack(svc, h, "The deployment circuit breaker detected a failure and started a rollback.", true));
    } else {
      h.status = "STOPPED";
      h.stoppedAt = d.updatedAt;
    }
  };

  const wireListed = (d: Listed): Record<string, unknown> => ({
    id: d.id,
    status: d.status,
    taskDefinition: d.taskDefinition,
    desiredCount: 1,
    pendingCount: d.rolloutState === "IN_PROGRESS" ? 1 : 0,
    runningCount: d.rolloutState === "COMPLETED" ? 1 : 0,
    failedTasks: d.failedTasks,
    createdAt: d.createdAt / 1000,
    updatedAt: d.updatedAt / 1000,
    launchType: "FARGATE",
    platformVersion: "1.4.0",
    platformFamily: "Linux",
    networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-0a1b2c3d"], securityGroups: ["sg-0a1b2c3d"], assignPublicIp: "DISABLED" } },
    rolloutState: d.rolloutState,
    rolloutStateReason: d.rolloutStateReason,
  });

  const wireService = (svc: ServiceState): Record<string, unknown> => ({
    serviceArn: svc.arn,
    serviceName: svc.name,
    clusterArn: arn(`cluster/${svc.cluster}`),
    status: svc.status,
    taskDefinition: svc.taskDefinition,
    desiredCount: 1,
    runningCount: 1,
    pendingCount: 0,
    launchType: "FARGATE",
    platformVersion: "LATEST",
    deploymentConfiguration: structuredClone(svc.deploymentConfiguration),
    deploymentController: { type: "ECS" },
    deployments: svc.deployments.map(wireListed),
    currentServiceDeployment: svc.history.at(-1)?.arn,
    events: [],
    createdAt: svc.createdAt / 1000,
    schedulingStrategy: "REPLICA",
  });

  const describeServices = (body: { cluster?: string; services?: string[] }): unknown => {
    const refs = body.services ?? [];
    if (refs.length === 0) throw new AwsError("InvalidParameterException", "Services cannot be empty.");
    if (refs.length > 10) throw new AwsError("InvalidParameterException", "Services cannot have more than 10 elements.");
    const cluster = requireCluster(body.cluster);
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const svc = serviceNamed(cluster, ref);
      if (svc === undefined) failures.push({ arn: arn(`service/${cluster}/${ref.startsWith("arn:") ? ref.slice(ref.lastIndexOf("/") + 1) : ref}`), reason: "MISSING" });
      else found.push(wireService(svc));
    }
    return { services: found, failures };
  };

  const updateService = (body: { cluster?: string; service?: string; taskDefinition?: string; deploymentConfiguration?: Record<string, unknown>; forceNewDeployment?: boolean }): unknown => {
    if (!body.service) throw new AwsError("InvalidParameterException", "service cannot be empty.");
    const cluster = requireCluster(body.cluster);
    const svc = serviceNamed(cluster, body.service);
    if (svc === undefined) throw new AwsError("ServiceNotFoundException", "Service not found.");
    if (svc.status !== "ACTIVE") throw new AwsError("ServiceNotActiveException", "Service was not ACTIVE.");
    let taskDefinition = svc.taskDefinition;
    if (body.taskDefinition !== undefined) {
      const found = describedRevision(body.taskDefinition);
      if (found === undefined) throw new AwsError("ClientException", "TaskDefinition not found.");
      if ((found.definition.status ?? "ACTIVE") !== "ACTIVE") throw new AwsError("ClientException", "TaskDefinition is inactive");
      taskDefinition = arn(`task-definition/${found.family}:${found.revision}`);
    }
    if (body.deploymentConfiguration !== undefined) {
      const b = body.deploymentConfiguration.deploymentCircuitBreaker as { enable?: unknown; rollback?: unknown } | undefined;
      if (b !== undefined && (typeof b.enable !== "boolean" || typeof b.rollback !== "boolean")) {
        throw new AwsError("InvalidParameterException", "deploymentCircuitBreaker needs enable and rollback.");
      }
      svc.deploymentConfiguration = structuredClone(body.deploymentConfiguration);
    }
    if (taskDefinition !== svc.taskDefinition || body.forceNewDeployment === true) {
      const now = Date.now();
      const history: History = {
        arn: arn(`service-deployment/${svc.cluster}/${svc.name}/${randomBytes(15).toString("base64url")}`),
        deploymentId: "",
        createdAt: now,
        startedAt: now,
        updatedAt: now,
        status: "IN_PROGRESS",
        source: [svc.servingRevision],
        target: newServiceRevision(svc, taskDefinition, now),
        circuitBreaker: { status: breaker(svc).enable ? "MONITORING" : "DISABLED", failureCount: 0, threshold: CIRCUIT_BREAKER_THRESHOLD },
        deploymentConfiguration: structuredClone(svc.deploymentConfiguration),
      };
      svc.history.push(history);
      startDeployment(svc, taskDefinition, history, false, (id) => `ECS deployment ${id} in progress.`);
    }
    return { service: wireService(svc) };
  };

  const wireHistory = (h: History, svc: ServiceState): Record<string, unknown> => ({
    serviceDeploymentArn: h.arn,
    serviceArn: svc.arn,
    clusterArn: arn(`cluster/${svc.cluster}`),
    createdAt: h.createdAt / 1000,
    startedAt: h.startedAt / 1000,
    ...(h.finishedAt !== undefined ? { finishedAt: h.finishedAt / 1000 } : {}),
    ...(h.stoppedAt !== undefined ? { stoppedAt: h.stoppedAt / 1000 } : {}),
    updatedAt: h.updatedAt / 1000,
    sourceServiceRevisions: h.source.map((a) => ({ arn: a, requestedTaskCount: 1, runningTaskCount: 1, pendingTaskCount: 0 })),
    targetServiceRevision: { arn: h.target, requestedTaskCount: 1, runningTaskCount: 0, pendingTaskCount: 0 },
    status: h.status,
    ...(h.statusReason !== undefined ? { statusReason: h.statusReason } : {}),
    deploymentConfiguration: structuredClone(h.deploymentConfiguration),
    ...(h.rollback !== undefined ? { rollback: { reason: h.rollback.reason, startedAt: h.rollback.startedAt / 1000, serviceRevisionArn: h.rollback.serviceRevisionArn } } : {}),
    deploymentCircuitBreaker: { ...h.circuitBreaker },
    alarms: { status: "DISABLED" },
  });

  const SERVICE_DEPLOYMENT_STATUSES = ["PENDING", "SUCCESSFUL", "STOPPED", "STOP_REQUESTED", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"];
  const listServiceDeployments = (body: { cluster?: string; service?: string; status?: string[]; createdAt?: { before?: number; after?: number }; maxResults?: number; nextToken?: string }): unknown => {
    if (!body.service) throw new AwsError("InvalidParameterException", "service cannot be empty.");
    const cluster = requireCluster(body.cluster);
    const svc = serviceNamed(cluster, body.service);
    if (svc === undefined) throw new AwsError("ServiceNotFoundException", "Service not found.");
    for (const st of body.status ?? []) if (!SERVICE_DEPLOYMENT_STATUSES.includes(st)) throw new AwsError("InvalidParameterException", `status: ${st} is not a ServiceDeploymentStatus.`);
    const max = body.maxResults ?? 20;
    if (!Number.isInteger(max) || max < 1 || max > 100) throw new AwsError("InvalidParameterException", "maxResults must be between 1 and 100.");
    const after = body.createdAt?.after !== undefined ? body.createdAt.after * 1000 : undefined;
    const before = body.createdAt?.before !== undefined ? body.createdAt.before * 1000 : undefined;
    const matching = [...svc.history]
      .reverse()
      .filter((h) => (body.status?.length ? body.status.includes(h.status) : true) && (after === undefined || h.createdAt > after) && (before === undefined || h.createdAt < before));
    // ServiceDeploymentBrief: these fields of the full service deployment, and its target revision's ARN.
    const brief = (h: History) => {
      const full = wireHistory(h, svc);
      const fields = ["serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt", "status", "statusReason"];
      return { ...Object.fromEntries(fields.filter((f) => full[f] !== undefined).map((f) => [f, full[f]])), targetServiceRevisionArn: h.target };
    };
    return page(matching, max, body.nextToken, (items, nextToken) => ({ serviceDeployments: items.map(brief), ...(nextToken ? { nextToken } : {}) }));
  };

  const historyByArn = (ref: string): { svc: ServiceState; h: History } | undefined => {
    for (const svc of services.values()) {
      const h = svc.history.find((x) => x.arn === ref);
      if (h !== undefined) return { svc, h };
    }
    return undefined;
  };

  const checkArnList = (arns: string[] | undefined, field: string): string[] => {
    if (arns === undefined || arns.length === 0) throw new AwsError("InvalidParameterException", `${field} cannot be empty.`);
    if (arns.length > 20) throw new AwsError("InvalidParameterException", `${field} cannot have more than 20 elements.`);
    return arns;
  };

  const describeServiceDeployments = (body: { serviceDeploymentArns?: string[] }): unknown => {
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of checkArnList(body.serviceDeploymentArns, "serviceDeploymentArns")) {
      const hit = historyByArn(ref);
      if (hit === undefined) failures.push({ arn: ref, reason: "MISSING" });
      else found.push(wireHistory(hit.h, hit.svc));
    }
    return { serviceDeployments: found, failures };
  };

  const describeServiceRevisions = (body: { serviceRevisionArns?: string[] }): unknown => {
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of checkArnList(body.serviceRevisionArns, "serviceRevisionArns")) {
      const r = serviceRevisions.get(ref);
      if (r === undefined) failures.push({ arn: ref, reason: "MISSING" });
      else found.push({ ...r, createdAt: r.createdAt / 1000, launchType: "FARGATE", platformVersion: "1.4.0", platformFamily: "Linux", containerImages: [] });
    }
    return { serviceRevisions: found, failures };
  };

  const stopServiceDeployment = (body: { serviceDeploymentArn?: string; stopType?: string }): unknown => {
    if (!body.serviceDeploymentArn) throw new AwsError("InvalidParameterException", "serviceDeploymentArn cannot be empty.");
    const stopType = body.stopType ?? "ROLLBACK";
    if (stopType !== "ROLLBACK" && stopType !== "ABORT") throw new AwsError("InvalidParameterException", `stopType: ${stopType} is not ABORT or ROLLBACK.`);
    const hit = historyByArn(body.serviceDeploymentArn);
    if (hit === undefined) throw new AwsError("ServiceDeploymentNotFoundException", "The service deployment does not exist.");
    const { svc, h } = hit;
    if (["STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"].includes(h.status)) return { serviceDeploymentArn: h.arn };
    if (h.status !== "PENDING" && h.status !== "IN_PROGRESS") {
      throw new AwsError("ConflictException", `The service deployment is ${h.status}: only a pending or ongoing service deployment can be stopped.`);
    }
    const now = Date.now();
    h.updatedAt = now;
    if (stopType === "ABORT") {
      h.status = "STOP_REQUESTED";
      const timer = setTimeout(() => {
        deploymentTimers.delete(timer);
        h.status = "STOPPED";
        h.stoppedAt = Date.now();
        h.updatedAt = h.stoppedAt;
      }, DEPLOYMENT_STEP_MS);
      timer.unref();
      deploymentTimers.add(timer);
      return { serviceDeploymentArn: h.arn };
    }
    h.status = "ROLLBACK_REQUESTED";
    const timer = setTimeout(() => {
      deploymentTimers.delete(timer);
      if (!closed && h.status === "ROLLBACK_REQUESTED") rollBack(svc, h, "A user requested a rollback of the service deployment.", false);
    }, DEPLOYMENT_STEP_MS);
    timer.unref();
    deploymentTimers.add(timer);
    return { serviceDeploymentArn: h.arn };
  };

  const operations: Record<string, (body: never, raw: string) => unknown> = {
    RunTask: runTask,
    StopTask: stopTask,
    DescribeTasks: describeTasks,
    DescribeClusters: describeClusters,
    DescribeTaskDefinition: describeTaskDefinition,
    RegisterTaskDefinition: registerTaskDefinitionOp,
    ListTaskDefinitions: listTaskDefinitions,
    DeregisterTaskDefinition: deregisterTaskDefinition,
    DescribeServices: describeServices,
    UpdateService: updateService,
    ListServiceDeployments: listServiceDeployments,
    DescribeServiceDeployments: describeServiceDeployments,
    DescribeServiceRevisions: describeServiceRevisions,
    StopServiceDeployment: stopServiceDeployment,
  };

  const send = (res: ServerResponse, status: number, payload: unknown): void => {
    const body = JSON.stringify(payload);
    res.writeHead(status, {
      "content-type": "application/x-amz-json-1.1",
      "content-length": Buffer.byteLength(body),
      "x-amzn-requestid": randomUUID(),
    });
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const target = String(req.headers["x-amz-target"] ?? "");
    const name = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : "";
    const operation = operations[name];
    if (req.method !== "POST" || operation === undefined) {
      send(res, 400, { __type: "UnknownOperationException", message: `fake ECS does not implement ${target || "this request"}` });
      return;
    }
    stats.calls[name] = (stats.calls[name] ?? 0) + 1;
    const fault = operationFaults.get(name);
    if (fault !== undefined && fault.throttles > 0) {
      fault.throttles--;
      send(res, 400, { __type: "ThrottlingException", message: "Rate exceeded" });
      return;
    }
    if (fault !== undefined && fault.serverErrors > 0) {
      fault.serverErrors--;
      send(res, 500, { __type: "ServerException", message: "Service unavailable. Try again later." });
      return;
    }
    if (options.accessDenied?.includes(name)) {
      const key = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1] ?? "unknown";
      send(res, 400, {
        __type: "AccessDeniedException",
        message: `User: arn:aws:iam::${accountId}:user/${key} is not authorized to perform: ecs:${name} because no identity-based policy allows the ecs:${name} action`,
      });
      return;
    }
    try {
      send(res, 200, operation(JSON.parse(raw || "{}") as never, raw));
    } catch (error) {
      if (error instanceof AwsError) send(res, error.status, { __type: error.type, message: error.message, ...error.extra });
      else send(res, 500, { __type: "ServerException", message: String(error) });
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    tasks,
    inject,
    finishTask(taskArn, exitCode) {
      const task = tasks.get(taskArn);
      if (task === undefined) throw new Error(`fake ECS has no task ${taskArn}`);
      exited(task, exitCode);
      return task;
    },
    stopTaskAs,
    registerTaskDefinition(family, definition) {
      return `${family}:${addRevision(family, definition)}`;
    },
    deploymentEvents,
    revisions(family) {
      return (families.get(family) ?? []).map((d, i) => ({ arn: arn(`task-definition/${family}:${i + 1}`), status: d.status ?? "ACTIVE", tags: [...(d.tags ?? [])] }));
    },
    serviceDeployments(cluster, service) {
      const svc = serviceNamed(cluster, service);
      return (svc?.history ?? []).map((h) => ({
        serviceDeploymentArn: h.arn,
        deploymentId: h.deploymentId,
        taskDefinition: serviceRevisions.get(h.target)?.taskDefinition ?? "",
        status: h.status,
        ...(h.statusReason !== undefined ? { statusReason: h.statusReason } : {}),
        createdAt: h.createdAt,
        circuitBreaker: h.circuitBreaker.status,
        ...(h.rollback !== undefined ? { rollback: { reason: h.rollback.reason, serviceRevisionArn: h.rollback.serviceRevisionArn } } : {}),
      }));
    },
    serving(cluster, service) {
      const svc = serviceNamed(cluster, service);
      return svc === undefined ? undefined : { taskDefinition: svc.serving, images: imagesOf(svc.serving) };
    },
    close() {
      closed = true;
      for (const timer of deploymentTimers) clearTimeout(timer);
      deploymentTimers.clear();
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
