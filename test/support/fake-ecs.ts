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
 * definition exists and a task stays PROVISIONING until `finishTask` or
 * StopTask, which stops it at once. With it, the account has exactly the
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
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113.";
export const CAPACITY_UNAVAILABLE = "Capacity is unavailable at this time. Please try again later or in a different availability zone";

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
}

/** What the essential container of a task definition's tasks does, and what DescribeTaskDefinition shows of it. */
export interface FakeTaskDefinition {
  /** The container exits with this code a moment after it starts; without it, it runs until StopTask. */
  readonly exitCode?: number;
  /** The names of its container definitions; default: one named after the family. */
  readonly containers?: readonly string[];
  readonly taskRoleArn?: string;
  readonly executionRoleArn?: string;
  /** Default ACTIVE; INACTIVE is a deregistered revision. */
  readonly status?: "ACTIVE" | "INACTIVE";
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
  /** RegisterTaskDefinition: adds the next revision of `family` (the first is 1); returns `family:revision`. */
  registerTaskDefinition(family: string, definition: FakeTaskDefinition): string;
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
  };
  const faults = { throttles: 0, serverErrors: 0, lostResponses: 0, launchFailures: 0, launchFailureReason: CAPACITY_UNAVAILABLE };
  const inject = (more: FakeEcsFaults): void => {
    faults.throttles += more.throttles ?? 0;
    faults.serverErrors += more.serverErrors ?? 0;
    faults.lostResponses += more.lostResponses ?? 0;
    faults.launchFailures += more.launchFailures ?? 0;
    if (more.launchFailureReason !== undefined) faults.launchFailureReason = more.launchFailureReason;
  };
  inject(options.faults ?? {});

  const tasks = new Map<string, FakeTask>();
  const byId = new Map<string, FakeTask>();
  /** family → its revisions' definitions (revision n at index n - 1). */
  const families = new Map<string, FakeTaskDefinition[]>(Object.entries(options.taskDefinitions ?? {}).map(([family, d]) => [family, [d]]));
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
      containers: (names.length > 0 ? names : [family]).map((name) => ({ name, lastStatus: "PENDING" })),
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

  /** The essential container exited with `exitCode`. */
  const exited = (task: FakeTask, exitCode: number): void => {
    task.startedAt ??= Date.now();
    stop(task, {
      stopCode: "EssentialContainerExited",
      stoppedReason: "Essential container in task exited",
      containers: task.containers.map((c) => ({ ...c, lastStatus: "STOPPED", exitCode })),
    });
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

  /** DescribeTaskDefinition's view: a family alone is its latest ACTIVE revision. */
  const describedRevision = (ref: string): { family: string; revision: number; definition: FakeTaskDefinition } | undefined => {
    const { family, revision } = parseTaskDefinition(ref);
    const revisions = families.get(family);
    if (revisions === undefined) return anyTaskDefinitionExists ? { family, revision: revision ?? 1, definition: {} } : undefined;
    if (revision !== undefined) {
      const definition = revisions[revision - 1];
      return revision >= 1 && definition !== undefined ? { family, revision, definition } : undefined;
    }
    for (let n = revisions.length; n >= 1; n--) if ((revisions[n - 1]?.status ?? "ACTIVE") === "ACTIVE") return { family, revision: n, definition: revisions[n - 1]! };
    return undefined;
  };

  const describeTaskDefinition = (body: { taskDefinition?: string }): unknown => {
    if (!body.taskDefinition) throw new AwsError("InvalidParameterException", "taskDefinition cannot be empty.");
    const found = describedRevision(body.taskDefinition);
    if (found === undefined) throw new AwsError("ClientException", "Unable to describe task definition.");
    const { family, revision, definition } = found;
    return {
      taskDefinition: {
        taskDefinitionArn: arn(`task-definition/${family}:${revision}`),
        family,
        revision,
        status: definition.status ?? "ACTIVE",
        containerDefinitions: (definition.containers ?? [family]).map((name, i) => ({ name, image: `${family}:${revision}`, essential: i === 0 })),
        ...(definition.taskRoleArn !== undefined ? { taskRoleArn: definition.taskRoleArn } : {}),
        ...(definition.executionRoleArn !== undefined ? { executionRoleArn: definition.executionRoleArn } : {}),
        networkMode: "awsvpc",
        requiresCompatibilities: ["FARGATE"],
        cpu: "256",
        memory: "512",
        registeredAt: Date.now() / 1000,
      },
      tags: [],
    };
  };

  const describeServices = (body: { cluster?: string; services?: string[] }): unknown => {
    const refs = body.services ?? [];
    if (refs.length === 0) throw new AwsError("InvalidParameterException", "Services cannot be empty.");
    if (refs.length > 10) throw new AwsError("InvalidParameterException", "Services cannot have more than 10 elements.");
    const cluster = clusterName(body.cluster);
    if (knownCluster(cluster) === undefined) throw new AwsError("ClusterNotFoundException", "Cluster not found.");
    const found: unknown[] = [];
    const failures: unknown[] = [];
    for (const ref of refs) {
      const name = ref.startsWith("arn:") ? ref.slice(ref.lastIndexOf("/") + 1) : ref;
      const service = (options.services ?? []).find((sv) => clusterName(sv.cluster) === cluster && sv.name === name);
      if (service === undefined) {
        failures.push({ arn: arn(`service/${cluster}/${name}`), reason: "MISSING" });
        continue;
      }
      const { family, revision } = parseTaskDefinition(service.taskDefinition);
      found.push({
        serviceArn: arn(`service/${cluster}/${name}`),
        serviceName: name,
        clusterArn: arn(`cluster/${cluster}`),
        status: service.status ?? "ACTIVE",
        taskDefinition: arn(`task-definition/${family}:${revision ?? 1}`),
        desiredCount: 1,
        runningCount: 1,
        pendingCount: 0,
        launchType: "FARGATE",
        deployments: [],
        events: [],
      });
    }
    return { services: found, failures };
  };

  const operations: Record<string, (body: never, raw: string) => unknown> = {
    RunTask: runTask,
    StopTask: stopTask,
    DescribeTasks: describeTasks,
    DescribeClusters: describeClusters,
    DescribeTaskDefinition: describeTaskDefinition,
    DescribeServices: describeServices,
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
    registerTaskDefinition(family, definition) {
      const revisions = families.get(family) ?? [];
      revisions.push(definition);
      families.set(family, revisions);
      return `${family}:${revisions.length}`;
    },
    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
