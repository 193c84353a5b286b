/**
 * EcsServiceDeployer through the real SDK over HTTP against the fake ECS endpoint (test/support/fake-ecs.ts),
 * with every request it sends checked against the ECS API model (test/support/ecs-model.ts).
 */
import { randomBytes } from "node:crypto";
import { ECSClient, type TaskDefinition } from "@aws-sdk/client-ecs";
import { afterEach, describe, expect, it } from "vitest";
import { EcsServiceDeployer } from "../../src/aws/ecs-service-deployer.ts";
import type { DeployPlan } from "../../src/core/ecs/deploy-plan.ts";
import { parseDeploymentStateEvent } from "../../src/core/events/ecs-deployment.ts";
import type { EcsTaskState } from "../../src/core/events/ecs-task.ts";
import { clientTokenFor, newRunId, startedByFor } from "../../src/core/ids.ts";
import type { LaunchOutcome } from "../../src/core/ports.ts";
import { classifyStop, decidingExitCode } from "../../src/core/runs/task-state.ts";
import { ecsModelProblems, recordEcsRequests, type RecordedEcsRequest } from "../support/ecs-model.ts";
import { until } from "../support/until.ts";
import { startFakeEcs, type FakeDeploymentEvent, type FakeEcs, type FakeEcsOptions } from "../support/fake-ecs.ts";

const IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";
const ACCOUNT_ARN = "arn:aws:ecs:us-east-1:123456789012";

/** A Fargate task definition as a team writes it: sidecars, secrets, volumes, health checks, FireLens, App Mesh. */
const RICH = {
  family: "web",
  taskRoleArn: "arn:aws:iam::123456789012:role/web-task",
  executionRoleArn: "arn:aws:iam::123456789012:role/web-execution",
  networkMode: "awsvpc",
  requiresCompatibilities: ["FARGATE"],
  cpu: "1024",
  memory: "2048",
  runtimePlatform: { cpuArchitecture: "ARM64", operatingSystemFamily: "LINUX" },
  ephemeralStorage: { sizeInGiB: 30 },
  pidMode: "task",
  enableFaultInjection: false,
  proxyConfiguration: {
    type: "APPMESH",
    containerName: "envoy",
    properties: [
      { name: "IgnoredUID", value: "1337" },
      { name: "ProxyIngressPort", value: "15000" },
      { name: "ProxyEgressPort", value: "15001" },
      { name: "AppPorts", value: "8080" },
      { name: "EgressIgnoredIPs", value: "169.254.170.2,169.254.169.254" },
    ],
  },
  volumes: [
    {
      name: "shared",
      efsVolumeConfiguration: {
        fileSystemId: "fs-0123456789abcdef0",
        rootDirectory: "/",
        transitEncryption: "ENABLED",
        authorizationConfig: { accessPointId: "fsap-0123456789abcdef0", iam: "ENABLED" },
      },
    },
    { name: "scratch" },
  ],
  containerDefinitions: [
    {
      name: "app",
      image: `${IMAGE}:1.4.2`,
      essential: true,
      cpu: 768,
      memory: 1536,
      memoryReservation: 1024,
      portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: "tcp", name: "http", appProtocol: "http" }],
      environment: [
        { name: "NODE_ENV", value: "production" },
        { name: "PORT", value: "8080" },
      ],
      secrets: [{ name: "DATABASE_URL", valueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/web/database-url" }],
      mountPoints: [
        { sourceVolume: "shared", containerPath: "/data", readOnly: false },
        { sourceVolume: "scratch", containerPath: "/tmp/scratch" },
      ],
      dependsOn: [{ containerName: "envoy", condition: "HEALTHY" }],
      healthCheck: { command: ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"], interval: 30, timeout: 5, retries: 3, startPeriod: 10 },
      logConfiguration: { logDriver: "awsfirelens", options: { Name: "cloudwatch_logs", region: "us-east-1", log_group_name: "/ecs/web", log_stream_prefix: "app" } },
      ulimits: [{ name: "nofile", softLimit: 65536, hardLimit: 65536 }],
      linuxParameters: { initProcessEnabled: true },
      readonlyRootFilesystem: true,
      stopTimeout: 30,
      dockerLabels: { team: "web" },
    },
    {
      name: "envoy",
      image: "840364872350.dkr.ecr.us-east-1.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod",
      essential: true,
      user: "1337",
      memory: 256,
      environment: [{ name: "APPMESH_RESOURCE_ARN", value: "arn:aws:appmesh:us-east-1:123456789012:mesh/web/virtualNode/web" }],
      healthCheck: { command: ["CMD-SHELL", "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE"], interval: 5, timeout: 2, retries: 3, startPeriod: 10 },
    },
    {
      name: "log-router",
      image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
      essential: false,
      memoryReservation: 50,
      firelensConfiguration: { type: "fluentbit", options: { "enable-ecs-log-metadata": "true" } },
    },
  ],
};
const USER_TAGS = [
  { key: "team", value: "web" },
  { key: "cost-center", value: "cc-1234" },
];
const DEPLOYMENT_CONFIGURATION = {
  maximumPercent: 150,
  minimumHealthyPercent: 50,
  deploymentCircuitBreaker: { enable: false, rollback: false },
  alarms: { alarmNames: ["web-5xx"], enable: false, rollback: false },
};

interface World {
  readonly fake: FakeEcs;
  readonly client: ECSClient;
  readonly deployer: EcsServiceDeployer;
  readonly requests: RecordedEcsRequest[];
}

const worlds: World[] = [];

async function world(options: FakeEcsOptions = {}, clientOptions: { maxAttempts?: number } = {}): Promise<World> {
  const fake = await startFakeEcs({
    clusters: { web: {} },
    taskDefinitions: { web: { body: RICH, tags: USER_TAGS } },
    services: [
      { cluster: "web", name: "web", taskDefinition: "web:1", deploymentConfiguration: DEPLOYMENT_CONFIGURATION },
      { cluster: "web", name: "retired", taskDefinition: "web:1", status: "INACTIVE" },
    ],
    rollouts: (images) => (images.some((i) => i.endsWith("-broken")) ? "unhealthy" : images.some((i) => i.endsWith("-stuck")) ? "stuck" : "healthy"),
    ...options,
  });
  const client = new ECSClient({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, ...clientOptions });
  const requests = recordEcsRequests(client);
  const w = { fake, client, deployer: new EcsServiceDeployer(client, { containers: { "deploy-web": "app" } }), requests };
  worlds.push(w);
  return w;
}

afterEach(async () => {
  for (const w of worlds.splice(0)) {
    // Every request berth sent fits the ECS API model: no member it does not have, none missing, the right types and enum values.
    for (const r of w.requests) expect(ecsModelProblems(r.operation, r.input), `${r.operation} ${JSON.stringify(r.input)}`).toEqual([]);
    await w.fake.close();
    w.client.destroy();
  }
});

function identity(runId = newRunId(Date.now(), randomBytes(10)), attempt = 1) {
  return { runId, attempt, clientToken: clientTokenFor(runId, attempt), startedBy: startedByFor(runId) };
}

function plan(tag: string, fields: Partial<DeployPlan> = {}): DeployPlan {
  return { cluster: "web", service: "web", container: "app", image: `${IMAGE}:${tag}`, rollback: true, tags: [{ key: "berth:job", value: "deploy-web" }], ...fields };
}

function arnOf(outcome: LaunchOutcome): string {
  if (!outcome.ok) throw new Error(`the deploy failed: ${outcome.failure.kind}: ${outcome.failure.message}`);
  return outcome.taskArn;
}

/** The deployment's state once describe reports it ended. */
function ended(w: World, taskArn: string): Promise<EcsTaskState> {
  return until(`${taskArn} to end`, async () => {
    const [task] = (await w.deployer.describe([taskArn])).tasks;
    return task?.lastStatus === "STOPPED" ? task : undefined;
  });
}

const sent = (w: World, operation: string) => w.requests.filter((r) => r.operation === operation).map((r) => r.input as Record<string, unknown>);
const berthRevisions = (w: World, token: string) => w.fake.revisions("web").filter((r) => r.tags.some((t) => t.key === "berth:token" && t.value === token));
const historyOf = (w: World, taskArn: string) => w.fake.serviceDeployments("web", "web").filter((d) => d.taskDefinition === taskArn);

async function describeRevision(w: World, arn: string): Promise<{ taskDefinition: TaskDefinition; tags: { key?: string; value?: string }[] }> {
  const { DescribeTaskDefinitionCommand } = await import("@aws-sdk/client-ecs");
  const out = await w.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ["TAGS"] }));
  return { taskDefinition: out.taskDefinition!, tags: out.tags ?? [] };
}

describe("deploy: the new revision", () => {
  it("is the service's task definition with the plan's image in the plan's container, every other field kept", async () => {
    const w = await world();
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), identity()));
    expect(arn).toBe(`${ACCOUNT_ARN}:task-definition/web:2`);

    const [registered] = sent(w, "RegisterTaskDefinition");
    const { tags, ...input } = registered!;
    const expected = { ...RICH, containerDefinitions: RICH.containerDefinitions.map((c) => (c.name === "app" ? { ...c, image: `${IMAGE}:1.5.0` } : c)) };
    expect(input).toEqual(expected);
    expect(tags).toBeDefined();

    // What ECS stores reads back the same, read-only fields (revision, status, registeredAt, …) its own.
    const { taskDefinition } = await describeRevision(w, arn);
    const { taskDefinitionArn, revision, status, compatibilities, requiresAttributes, registeredAt, registeredBy, ...body } = taskDefinition;
    expect({ taskDefinitionArn, revision, status }).toEqual({ taskDefinitionArn: arn, revision: 2, status: "ACTIVE" });
    expect([compatibilities, requiresAttributes, registeredAt, registeredBy].every((f) => f !== undefined)).toBe(true);
    expect(body).toEqual(expected);
  });

  it("carries the copied revision's tags and berth's: job, run, token and service, set when it is registered", async () => {
    const w = await world();
    const id = identity();
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    const expected = [
      ...USER_TAGS,
      { key: "berth:job", value: "deploy-web" },
      { key: "berth:run", value: id.runId },
      { key: "berth:token", value: id.clientToken },
      { key: "berth:service", value: "web/web" },
    ];
    expect(sent(w, "RegisterTaskDefinition")[0]?.tags).toEqual(expected);
    expect((await describeRevision(w, arn)).tags).toEqual(expected);
    // Tags come only with the registration (ecs:CreateAction = RegisterTaskDefinition): no TagResource.
    expect(w.fake.stats.calls.TagResource).toBeUndefined();

    // The next deploy copies berth's revision: the user's tags stay, the earlier attempt's berth tags do not.
    await ended(w, arn);
    const next = identity();
    const second = arnOf(await w.deployer.deploy(plan("1.6.0"), next));
    expect((await describeRevision(w, second)).tags).toEqual([
      ...USER_TAGS,
      { key: "berth:job", value: "deploy-web" },
      { key: "berth:run", value: next.runId },
      { key: "berth:token", value: next.clientToken },
      { key: "berth:service", value: "web/web" },
    ]);
  });

  it("with rollback, turns the circuit breaker on with rollback and keeps every other deployment setting", async () => {
    const w = await world();
    arnOf(await w.deployer.deploy(plan("1.5.0", { rollback: true }), identity()));
    const [update] = sent(w, "UpdateService");
    expect(update).toEqual({
      cluster: "web",
      service: "web",
      taskDefinition: `${ACCOUNT_ARN}:task-definition/web:2`,
      deploymentConfiguration: { ...DEPLOYMENT_CONFIGURATION, deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
  });

  it("without rollback, leaves the service's deployment configuration as it is", async () => {
    const w = await world();
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0", { rollback: false }), identity()));
    expect(sent(w, "UpdateService")).toEqual([{ cluster: "web", service: "web", taskDefinition: arn }]);
    const { DescribeServicesCommand } = await import("@aws-sdk/client-ecs");
    const out = await w.client.send(new DescribeServicesCommand({ cluster: "web", services: ["web"] }));
    expect(out.services?.[0]?.deploymentConfiguration).toEqual(DEPLOYMENT_CONFIGURATION);
  });
});

describe("deploy: outcomes", () => {
  it("a healthy version completes: the events ECS documents, then STOPPED with exit code 0 from describe and deploymentTask alike", async () => {
    const w = await world();
    const id = identity();
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    const end = await ended(w, arn);
    expect(end).toMatchObject({ taskArn: arn, startedBy: id.startedBy, version: 2, stopCode: "EssentialContainerExited", containers: [{ name: "app", exitCode: 0 }] });
    expect(classifyStop(end)).toEqual({ status: "SUCCEEDED", exitCode: 0 });
    expect(w.fake.serving("web", "web")?.images.app).toBe(`${IMAGE}:1.5.0`);

    const events = await until("the COMPLETED event", () => {
      const e = w.fake.deploymentEvents;
      return e.some((x) => x.detail.eventName === "SERVICE_DEPLOYMENT_COMPLETED") ? e : undefined;
    });
    expect(events.map((e) => [e.detail.eventType, e.detail.eventName])).toEqual([
      ["INFO", "SERVICE_DEPLOYMENT_IN_PROGRESS"],
      ["INFO", "SERVICE_DEPLOYMENT_COMPLETED"],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ version: "0", "detail-type": "ECS Deployment State Change", source: "aws.ecs", resources: [`${ACCOUNT_ARN}:service/web/web`] });
      expect(event.detail.deploymentId).toMatch(/^ecs-svc\/\d{19}$/);
    }
    const change = parseDeploymentStateEvent(events[1]);
    if (!change.ok) throw change.error;
    expect(await w.deployer.deploymentTask(change.change)).toEqual(end);
  });

  it("an unhealthy version fails with ECS's reason, the circuit breaker rolls back, and the previous version keeps serving", async () => {
    // Each event read through deploymentTask as it is delivered, as track reads it (the fake waits for it).
    const read: { event: FakeDeploymentEvent; state: EcsTaskState | undefined }[] = [];
    const late: { deployer?: EcsServiceDeployer } = {};
    const w = await world({
      async onDeploymentEvent(event) {
        const change = parseDeploymentStateEvent(event);
        if (change.ok && late.deployer !== undefined) read.push({ event, state: await late.deployer.deploymentTask(change.change) });
      },
    });
    late.deployer = w.deployer;
    const good = arnOf(await w.deployer.deploy(plan("1.5.0"), identity()));
    const goodEnd = await ended(w, good);
    const id = identity();
    const bad = arnOf(await w.deployer.deploy(plan("1.6.0-broken"), id));
    // Read once the service deployment says it rolls back: between the rollout's FAILED and the rollback's
    // start, describe can only say that the rollback is not known yet.
    await until("the rollback to begin", () => (historyOf(w, bad)[0]?.status.startsWith("ROLLBACK") ? true : undefined));
    const end = await ended(w, bad);

    expect(decidingExitCode(end)).toBe(1);
    expect(classifyStop(end)).toEqual({ status: "FAILED", failureClass: "exit:1", exitCode: 1 });
    expect(end.startedBy).toBe(id.startedBy);
    expect(end.stoppedReason).toBe("ECS deployment circuit breaker: tasks failed to start; the circuit breaker rolled back to the previous revision, which keeps serving");
    await until("the rollback to complete", () => (historyOf(w, bad)[0]?.status === "ROLLBACK_SUCCESSFUL" ? true : undefined));
    await until("the rollback's COMPLETED event to be read", () => (read.filter((r) => r.event.detail.eventName === "SERVICE_DEPLOYMENT_COMPLETED").length === 2 ? true : undefined));
    expect(w.fake.serving("web", "web")?.taskDefinition).toBe(good);
    expect((await w.deployer.describe([bad])).tasks).toEqual([end]);

    const names = read.map((r) => [r.event.detail.eventName, r.state?.taskArn, r.state?.lastStatus]);
    expect(names).toEqual([
      ["SERVICE_DEPLOYMENT_IN_PROGRESS", good, "RUNNING"],
      ["SERVICE_DEPLOYMENT_COMPLETED", good, "STOPPED"],
      ["SERVICE_DEPLOYMENT_IN_PROGRESS", bad, "RUNNING"],
      ["SERVICE_DEPLOYMENT_FAILED", bad, "STOPPED"],
      // The rollback is a new deployment of the good revision: it reads as that revision's deployment, which
      // ended long ago (the history says so), never as progress of the good run or of the failed one.
      ["SERVICE_DEPLOYMENT_IN_PROGRESS", good, "STOPPED"],
      ["SERVICE_DEPLOYMENT_COMPLETED", good, "STOPPED"],
    ]);
    expect(read[4]?.event.detail.reason).toMatch(/^ECS deployment circuit breaker: rolling back to deploymentId ecs-svc\/\d+\.$/);
    expect(read[4]?.state).toEqual(goodEnd);
    expect(read[3]?.state).toMatchObject({ stopCode: "EssentialContainerExited", containers: [{ name: "app", exitCode: 1 }] });
    for (const r of read.filter((x) => x.state?.taskArn === good && x.state.lastStatus === "STOPPED")) expect(classifyStop(r.state!).status).toBe("SUCCEEDED");
  });

  it("with the circuit breaker on but its rollback off, a failure says it was not rolled back", async () => {
    const w = await world({
      services: [{ cluster: "web", name: "web", taskDefinition: "web:1", deploymentConfiguration: { ...DEPLOYMENT_CONFIGURATION, deploymentCircuitBreaker: { enable: true, rollback: false } } }],
    });
    const bad = arnOf(await w.deployer.deploy(plan("1.6.0-broken", { rollback: false }), identity()));
    const end = await ended(w, bad);
    expect(decidingExitCode(end)).toBe(1);
    expect(end.stoppedReason).toMatch(/^ECS deployment circuit breaker: tasks failed to start; not rolled back/);
  });

  it("a deployment describe no longer finds listed (replaced after it ended) is read from the service deployment history", async () => {
    const w = await world();
    const first = arnOf(await w.deployer.deploy(plan("1.5.0"), identity()));
    const firstEnd = await ended(w, first);
    const failed = arnOf(await w.deployer.deploy(plan("1.6.0-broken"), identity()));
    const failedEnd = await ended(w, failed);
    await until("the rollback to complete", () => (historyOf(w, failed)[0]?.status === "ROLLBACK_SUCCESSFUL" ? true : undefined));
    const last = arnOf(await w.deployer.deploy(plan("1.7.0"), identity()));
    await ended(w, last);

    const { DescribeServicesCommand } = await import("@aws-sdk/client-ecs");
    const listed = (await w.client.send(new DescribeServicesCommand({ cluster: "web", services: ["web"] }))).services?.[0]?.deployments?.map((d) => d.taskDefinition);
    expect(listed).toEqual([last]);
    const before = w.fake.stats.calls.ListServiceDeployments ?? 0;
    expect((await w.deployer.describe([first, failed])).tasks).toEqual([firstEnd, failedEnd]);
    expect(w.fake.stats.calls.ListServiceDeployments ?? 0).toBeGreaterThan(before);
  });
});

describe("deploy: one attempt, one revision, one deployment", () => {
  it("the same clientToken again, while it rolls out and after it ended and was replaced, answers the same revision and starts nothing", async () => {
    const w = await world();
    const id = identity();
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    expect(arnOf(await w.deployer.deploy(plan("1.5.0"), id))).toBe(arn);
    await ended(w, arn);
    expect(arnOf(await w.deployer.deploy(plan("1.5.0"), id))).toBe(arn);
    // Replaced: no longer listed, only the history knows it was deployed.
    const next = arnOf(await w.deployer.deploy(plan("1.6.0"), identity()));
    await ended(w, next);
    expect(arnOf(await w.deployer.deploy(plan("1.5.0"), id))).toBe(arn);

    expect(berthRevisions(w, id.clientToken).map((r) => r.arn)).toEqual([arn]);
    expect(historyOf(w, arn)).toHaveLength(1);
    expect(w.fake.stats.calls.RegisterTaskDefinition).toBe(2);
    expect(w.fake.serving("web", "web")?.taskDefinition).toBe(next);
  });

  it("concurrent duplicates that both register converge on the lowest revision: the other is deregistered, one deployment starts", async () => {
    const w = await world();
    // Hold every RegisterTaskDefinition until all three calls have sent theirs: each registers a revision.
    let arrived = 0;
    let release!: () => void;
    const all = new Promise<void>((r) => (release = r));
    w.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "RegisterTaskDefinitionCommand" && ++arrived === 3) release();
        if (context.commandName === "RegisterTaskDefinitionCommand") await all;
        return next(args);
      },
      { step: "initialize", name: "holdRegistrations" },
    );
    const id = identity();
    const arns = (await Promise.all([1, 2, 3].map(() => w.deployer.deploy(plan("1.5.0"), id)))).map(arnOf);

    expect(new Set(arns)).toEqual(new Set([`${ACCOUNT_ARN}:task-definition/web:2`]));
    expect(w.fake.stats.calls.RegisterTaskDefinition).toBe(3);
    expect(berthRevisions(w, id.clientToken).map((r) => [r.arn, r.status])).toEqual([
      [`${ACCOUNT_ARN}:task-definition/web:2`, "ACTIVE"],
      [`${ACCOUNT_ARN}:task-definition/web:3`, "INACTIVE"],
      [`${ACCOUNT_ARN}:task-definition/web:4`, "INACTIVE"],
    ]);
    expect(historyOf(w, arns[0]!)).toHaveLength(1);
    expect(w.fake.serviceDeployments("web", "web")).toHaveLength(2);
    expect(classifyStop(await ended(w, arns[0]!)).status).toBe("SUCCEEDED");
  });

  it("a crash between register and UpdateService: the redelivery registers nothing new and starts the deployment once", async () => {
    const w = await world();
    let crash = true;
    w.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "UpdateServiceCommand" && crash) {
          crash = false;
          throw new Error("the function was stopped before it sent UpdateService");
        }
        return next(args);
      },
      { step: "initialize", name: "crashBeforeUpdate" },
    );
    const id = identity();
    await expect(w.deployer.deploy(plan("1.5.0"), id)).rejects.toThrow(/stopped before it sent UpdateService/);
    expect(berthRevisions(w, id.clientToken)).toHaveLength(1);
    expect(w.fake.serviceDeployments("web", "web")).toHaveLength(1);

    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    expect(arn).toBe(berthRevisions(w, id.clientToken)[0]?.arn);
    expect(w.fake.stats.calls.RegisterTaskDefinition).toBe(1);
    expect(w.fake.stats.calls.UpdateService).toBe(1);
    expect(historyOf(w, arn)).toHaveLength(1);
    expect(classifyStop(await ended(w, arn)).status).toBe("SUCCEEDED");
    // And again once it ended: nothing.
    expect(arnOf(await w.deployer.deploy(plan("1.5.0"), id))).toBe(arn);
    expect(w.fake.stats.calls.UpdateService).toBe(1);
  });

  it("a crash after UpdateService (its answer lost): the redelivery finds the deployment and sends no second UpdateService", async () => {
    const w = await world();
    let crash = true;
    w.client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === "UpdateServiceCommand" && crash) {
          crash = false;
          throw new Error("the function was stopped before UpdateService answered");
        }
        return out;
      },
      { step: "initialize", name: "crashAfterUpdate" },
    );
    const id = identity();
    await expect(w.deployer.deploy(plan("1.5.0"), id)).rejects.toThrow(/before UpdateService answered/);
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    expect(w.fake.stats.calls.UpdateService).toBe(1);
    expect(w.fake.stats.calls.RegisterTaskDefinition).toBe(1);
    expect(historyOf(w, arn)).toHaveLength(1);
  });

  it("throttling past the SDK's retries is a retryable failure, and the retry with the same token reuses the revision", async () => {
    const w = await world({ faults: { operations: { UpdateService: { throttles: 1 } } } }, { maxAttempts: 1 });
    const id = identity();
    const outcome = await w.deployer.deploy(plan("1.5.0"), id);
    expect(outcome).toEqual({ ok: false, failure: { kind: "throttled", retryable: true, message: expect.stringMatching(/ThrottlingException: Rate exceeded/) } });
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    expect(berthRevisions(w, id.clientToken).map((r) => r.arn)).toEqual([arn]);
    expect(historyOf(w, arn)).toHaveLength(1);
  });

  it("a 5xx answer past the SDK's retries is a retryable failure too", async () => {
    const w = await world({ faults: { operations: { DescribeServices: { serverErrors: 1 } } } }, { maxAttempts: 1 });
    expect(await w.deployer.deploy(plan("1.5.0"), identity())).toEqual({
      ok: false,
      failure: { kind: "throttled", retryable: true, message: expect.stringMatching(/ServerException/) },
    });
  });
});

describe("deploy: what cannot be carried out", () => {
  it.each([
    ["a service the cluster does not have", plan("1.5.0", { service: "api" }), /service api does not exist in cluster web: create it \(or fix deploy\.cluster and deploy\.service/],
    ["an INACTIVE service", plan("1.5.0", { service: "retired" }), /service retired is INACTIVE in cluster web: create it/],
    ["a cluster the account does not have", plan("1.5.0", { cluster: "nowhere" }), /service web does not exist in cluster nowhere/],
    ["a container the task definition does not have", plan("1.5.0", { container: "worker" }), /no container named worker \(its task definition has: app, envoy, log-router\); fix deploy\.container/],
  ])("%s is an invalid, non-retryable failure naming the fix, and registers nothing", async (_what, p, message) => {
    const w = await world();
    expect(await w.deployer.deploy(p, identity())).toEqual({ ok: false, failure: { kind: "invalid", retryable: false, message: expect.stringMatching(message) } });
    expect(w.fake.stats.calls.RegisterTaskDefinition).toBeUndefined();
    expect(w.fake.stats.calls.UpdateService).toBeUndefined();
  });

  it("a refused call is access-denied, naming the call", async () => {
    const w = await world({ accessDenied: ["RegisterTaskDefinition"] });
    expect(await w.deployer.deploy(plan("1.5.0"), identity())).toEqual({
      ok: false,
      failure: { kind: "access-denied", retryable: false, message: expect.stringMatching(/AccessDeniedException: .*ecs:RegisterTaskDefinition/) },
    });
  });
});

describe("stop, describe and deploymentTask", () => {
  it("stop rolls a deployment in progress back: it ends cancelled and the previous version keeps serving", async () => {
    const w = await world();
    const stuck = arnOf(await w.deployer.deploy(plan("1.6.0-stuck"), identity()));
    expect((await w.deployer.describe([stuck])).tasks[0]).toMatchObject({ lastStatus: "RUNNING", version: 1 });
    await w.deployer.stop(stuck, "timed out after 600 s");
    expect(sent(w, "StopServiceDeployment")).toEqual([{ serviceDeploymentArn: historyOf(w, stuck)[0]?.serviceDeploymentArn, stopType: "ROLLBACK" }]);
    const end = await ended(w, stuck);
    expect(end).toMatchObject({ stopCode: "UserInitiated", version: 2 });
    expect(classifyStop(end).status).toBe("CANCELLED");
    expect(w.fake.serving("web", "web")?.taskDefinition).toBe(`${ACCOUNT_ARN}:task-definition/web:1`);
  });

  it("stop of a deployment that ended, of a revision berth did not register, or of one ECS does not know sends no stop", async () => {
    const w = await world();
    const done = arnOf(await w.deployer.deploy(plan("1.5.0"), identity()));
    await ended(w, done);
    for (const arn of [done, `${ACCOUNT_ARN}:task-definition/web:1`, `${ACCOUNT_ARN}:task-definition/web:99`, `${ACCOUNT_ARN}:task/web/0123456789abcdef0123456789abcdef`]) {
      await expect(w.deployer.stop(arn, "cancelled")).resolves.toBeUndefined();
    }
    expect(w.fake.stats.calls.StopServiceDeployment).toBeUndefined();
  });

  it("describe answers the ARNs berth never issued (another revision, an unknown one, no ARN at all) as missing", async () => {
    const w = await world();
    const id = identity();
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), id));
    const others = [`${ACCOUNT_ARN}:task-definition/web:1`, `${ACCOUNT_ARN}:task-definition/web:42`, `${ACCOUNT_ARN}:task-definition/web:0`, "web:2"];
    const { tasks, missing } = await w.deployer.describe([...others, arn, arn]);
    expect(tasks).toEqual([expect.objectContaining({ taskArn: arn, startedBy: id.startedBy })]);
    expect(missing).toEqual(others);
  });

  it("deploymentTask: undefined for a deployment berth did not start, or one the service no longer lists", async () => {
    const w = await world();
    const { DescribeServicesCommand } = await import("@aws-sdk/client-ecs");
    const initial = (await w.client.send(new DescribeServicesCommand({ cluster: "web", services: ["web"] }))).services?.[0]?.deployments?.[0]?.id;
    const serviceArn = `${ACCOUNT_ARN}:service/web/web`;
    expect(await w.deployer.deploymentTask({ serviceArn, deploymentId: initial!, eventName: "SERVICE_DEPLOYMENT_COMPLETED" })).toBeUndefined();
    expect(await w.deployer.deploymentTask({ serviceArn, deploymentId: "ecs-svc/1234567890123456789", eventName: "SERVICE_DEPLOYMENT_COMPLETED" })).toBeUndefined();
    expect(await w.deployer.deploymentTask({ serviceArn: `${ACCOUNT_ARN}:service/web/api`, deploymentId: initial!, eventName: "SERVICE_DEPLOYMENT_COMPLETED" })).toBeUndefined();
  });

  it("deploymentTask: berth's revision deployed to another service by someone else is not berth's deployment", async () => {
    const w = await world({
      services: [
        { cluster: "web", name: "web", taskDefinition: "web:1" },
        { cluster: "web", name: "web-canary", taskDefinition: "web:1" },
      ],
    });
    const arn = arnOf(await w.deployer.deploy(plan("1.5.0"), identity()));
    const { DescribeServicesCommand, UpdateServiceCommand } = await import("@aws-sdk/client-ecs");
    await w.client.send(new UpdateServiceCommand({ cluster: "web", service: "web-canary", taskDefinition: arn }));
    const canary = (await w.client.send(new DescribeServicesCommand({ cluster: "web", services: ["web-canary"] }))).services?.[0]?.deployments?.[0];
    expect(canary?.taskDefinition).toBe(arn);
    expect(await w.deployer.deploymentTask({ serviceArn: `${ACCOUNT_ARN}:service/web/web-canary`, deploymentId: canary!.id!, eventName: "SERVICE_DEPLOYMENT_IN_PROGRESS" })).toBeUndefined();
    const own = w.fake.deploymentEvents.find((e) => e.resources[0] === `${ACCOUNT_ARN}:service/web/web`);
    expect(await w.deployer.deploymentTask({ serviceArn: `${ACCOUNT_ARN}:service/web/web`, deploymentId: own!.detail.deploymentId, eventName: "SERVICE_DEPLOYMENT_IN_PROGRESS" })).toMatchObject({ taskArn: arn });
  });
});
