import {
  AccessDeniedException,
  BlockedException,
  ClientException,
  ClusterNotFoundException,
  ConflictException,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ECSServiceException,
  InvalidParameterException,
  LimitExceededException,
  PlatformTaskDefinitionIncompatibilityException,
  PlatformUnknownException,
  RunTaskCommand,
  ServerException,
  StopTaskCommand,
  UnsupportedFeatureException,
  type Task,
} from "@aws-sdk/client-ecs";
import { CredentialsProviderError } from "@smithy/core/config";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EcsTaskLauncher, type LaunchRetryShell } from "../../src/aws/ecs-task-launcher.ts";
import { LAUNCH_RETRY_CAP_MS, MAX_LAUNCH_RETRY_MS } from "../../src/core/ecs/launch-retry.ts";
import { AwsSetupError } from "../../src/aws/errors.ts";
import { ConfigurationError, TransientError } from "../../src/core/errors.ts";
import type { RunTaskRequest } from "../../src/core/ecs/types.ts";
import type { LaunchFailure } from "../../src/core/ports.ts";
import { CAPACITY_UNAVAILABLE, startFakeEcs, type FakeEcs, type FakeEcsOptions } from "../support/fake-ecs.ts";

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/jobs";
const TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123456789abcdef0123456789abcdef";

function request(overrides: Partial<RunTaskRequest> = {}): RunTaskRequest {
  return {
    cluster: CLUSTER,
    taskDefinition: "thumbnails:7",
    launchType: "FARGATE",
    networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-1", "subnet-2"], assignPublicIp: "DISABLED" } },
    overrides: { containerOverrides: [{ name: "app", command: ["make", "thumbs"], environment: [{ name: "KEY", value: "in/a.png" }] }] },
    tags: [{ key: "berth:job", value: "thumbnails" }],
    startedBy: "berth:01J0000000000000000000RUN1",
    clientToken: "01J0000000000000000000RUN1-1",
    count: 1,
    propagateTags: "TASK_DEFINITION",
    enableECSManagedTags: true,
    ...overrides,
  };
}

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

/** No time to wait: every runTask sends once. */
const ONE_SEND: LaunchRetryShell = { deadline: (now) => now };

/** A manual clock that sleeping advances, and the waits asked for; `random` is fixed. */
function manualTime(budgetMs: number, random = 0.5) {
  let now = 1_000_000;
  const waits: number[] = [];
  const shell: LaunchRetryShell = {
    now: () => now,
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
    random: () => random,
    deadline: (at) => at + budgetMs,
  };
  return { shell, waits };
}

function serviceError(name: string, message: string, fault: "client" | "server", status: number): ECSServiceException {
  return new ECSServiceException({ name, message, $fault: fault, ...meta(status) });
}

describe("EcsTaskLauncher with a mocked ECS client", () => {
  // Mock one instance, not the class: the real-SDK tests below must reach the network.
  const client = new ECSClient({ region: "us-east-1" });
  const ecs = mockClient(client);
  // One send per call here: how each answer is classified. Re-sending is tested below.
  const launcher = new EcsTaskLauncher(client, ONE_SEND);

  beforeEach(() => ecs.reset());

  it("sends the request unchanged and returns the task ARN", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN, lastStatus: "PROVISIONING" }], failures: [] });
    const outcome = await launcher.runTask(request());
    expect(outcome).toEqual({ ok: true, taskArn: TASK_ARN });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]?.args[0].input).toEqual(request());
  });

  const failureCases: { reason: string; detail?: string; kind: LaunchFailure["kind"] }[] = [
    { reason: "RESOURCE:CPU", kind: "capacity" },
    { reason: "RESOURCE:MEMORY", kind: "capacity" },
    { reason: "RESOURCE:PORTS_TCP", kind: "capacity" },
    { reason: "RESOURCE:ENI", kind: "capacity" },
    { reason: "RESOURCE:GPU", kind: "capacity" },
    { reason: "AGENT", kind: "capacity" },
    { reason: CAPACITY_UNAVAILABLE, kind: "capacity" },
    { reason: "You've reached the limit on the number of tasks you can run concurrently", kind: "capacity" },
    { reason: "MISSING", detail: "The specified task definition was not found", kind: "invalid" },
    { reason: "ATTRIBUTE", detail: "ecs.capability.secrets.asm.environment-variables", kind: "invalid" },
    { reason: "INACTIVE", kind: "invalid" },
    { reason: "The requested CPU configuration is above your limit", kind: "invalid" },
  ];

  it.each(failureCases)("a RunTask failure $reason is $kind", async ({ reason, detail, kind }) => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ arn: "arn:aws:ecs:us-east-1:123456789012:container-instance/x", reason, detail }] });
    const outcome = await launcher.runTask(request());
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure.kind).toBe(kind);
    expect(outcome.failure.retryable).toBe(kind === "capacity");
    expect(outcome.failure.message).toBe(detail === undefined ? reason : `${reason}: ${detail}`);
  });

  it("a launch with capacity failures on some instances and no task is capacity; one bad reason makes it invalid", async () => {
    ecs
      .on(RunTaskCommand)
      .resolvesOnce({ failures: [{ reason: "RESOURCE:CPU" }, { reason: "RESOURCE:MEMORY" }] })
      .resolvesOnce({ failures: [{ reason: "RESOURCE:CPU" }, { reason: "ATTRIBUTE" }] });
    const first = await launcher.runTask(request());
    const second = await launcher.runTask(request());
    expect(first).toEqual({ ok: false, failure: { kind: "capacity", retryable: true, message: "RESOURCE:CPU; RESOURCE:MEMORY" } });
    expect(second).toEqual({ ok: false, failure: { kind: "invalid", retryable: false, message: "RESOURCE:CPU; ATTRIBUTE" } });
  });

  it("a task in the answer wins over failures reported for other instances", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN }], failures: [{ reason: "RESOURCE:MEMORY" }] });
    expect(await launcher.runTask(request())).toEqual({ ok: true, taskArn: TASK_ARN });
  });

  const errorCases: { name: string; error: Error; kind: LaunchFailure["kind"]; message?: string }[] = [
    { name: "ThrottlingException", error: serviceError("ThrottlingException", "Rate exceeded", "client", 400), kind: "throttled" },
    { name: "HTTP 429", error: serviceError("TooManyRequests", "Slow down", "client", 429), kind: "throttled" },
    { name: "ServerException", error: new ServerException({ message: "Service unavailable", ...meta(500) }), kind: "throttled" },
    { name: "HTTP 503", error: serviceError("ServiceUnavailable", "Service unavailable", "server", 503), kind: "throttled" },
    { name: "LimitExceededException", error: new LimitExceededException({ message: "Limit exceeded", ...meta(400) }), kind: "throttled" },
    {
      name: "a network failure after the SDK's retries",
      error: Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), { code: "ECONNREFUSED" }),
      kind: "throttled",
    },
    {
      name: "InvalidParameterException",
      error: new InvalidParameterException({ message: "Network Configuration must be provided when networkMode 'awsvpc' is specified.", ...meta(400) }),
      kind: "invalid",
    },
    { name: "ClientException", error: new ClientException({ message: "Unable to describe task definition.", ...meta(400) }), kind: "invalid" },
    {
      name: "PlatformUnknownException",
      error: new PlatformUnknownException({ message: "The specified platform version does not exist.", ...meta(400) }),
      kind: "invalid",
    },
    {
      name: "PlatformTaskDefinitionIncompatibilityException",
      error: new PlatformTaskDefinitionIncompatibilityException({ message: "The specified platform does not satisfy the task definition's required capabilities.", ...meta(400) }),
      kind: "invalid",
    },
    {
      name: "UnsupportedFeatureException",
      error: new UnsupportedFeatureException({ message: "The specified task is not supported in this region.", ...meta(400) }),
      kind: "invalid",
    },
    { name: "ClusterNotFoundException", error: new ClusterNotFoundException({ message: "Cluster not found.", ...meta(400) }), kind: "invalid" },
    {
      name: "AccessDeniedException",
      error: new AccessDeniedException({ message: "User is not authorized to perform: ecs:RunTask", ...meta(400) }),
      kind: "access-denied",
    },
    { name: "BlockedException", error: new BlockedException({ message: "Your account is blocked.", ...meta(400) }), kind: "access-denied" },
    {
      name: "Fargate capacity reported as an error",
      error: new ClientException({ message: CAPACITY_UNAVAILABLE, ...meta(400) }),
      kind: "capacity",
    },
  ];

  it.each(errorCases)("$name becomes a $kind failure carrying AWS's message", async ({ error, kind }) => {
    ecs.on(RunTaskCommand).rejects(error);
    const outcome = await launcher.runTask(request());
    expect(outcome).toEqual({ ok: false, failure: { kind, retryable: kind === "throttled" || kind === "capacity", message: error.message } });
  });

  // ConflictException: "The provided clientToken is already in use with a different RunTask request. The resourceIds are
  // the existing task ARNs which are already associated with the clientToken" (Amazon ECS API Reference, RunTask, Errors).
  it("ConflictException (clientToken reused with other parameters) is a conflict carrying the tasks already started", async () => {
    ecs.on(RunTaskCommand).rejects(new ConflictException({ message: "The request could not be processed because of conflict.", resourceIds: [TASK_ARN], ...meta(400) }));
    const outcome = await launcher.runTask(request());
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure).toMatchObject({ kind: "conflict", retryable: false, existingTaskArns: [TASK_ARN] });
    expect(outcome.failure.message).toContain("clientToken was already used");
    expect(outcome.failure.message).toContain(TASK_ARN);
  });

  it("a ConflictException without resourceIds is a conflict with no task to adopt", async () => {
    ecs.on(RunTaskCommand).rejects(new ConflictException({ message: "conflict", ...meta(400) }));
    const outcome = await launcher.runTask(request());
    expect(outcome).toEqual({ ok: false, failure: { kind: "conflict", retryable: false, message: expect.stringContaining("AWS said: conflict") } });
  });

  // The per-cluster quota of tasks in the PROVISIONING state that managed scaling works through (Amazon ECS Developer
  // Guide, "Amazon ECS service quotas": Tasks in the PROVISIONING state per cluster) is answered as a ClientException,
  // not in failures[] (aws/aws-sdk-ruby#3047); it clears as tasks start, so it is capacity.
  it("the PROVISIONING-tasks quota ClientException is retryable capacity", async () => {
    ecs.on(RunTaskCommand).rejects(new ClientException({ message: "Tasks provisioning capacity limit exceeded.", ...meta(400) }));
    expect(await launcher.runTask(request())).toEqual({ ok: false, failure: { kind: "capacity", retryable: true, message: "Tasks provisioning capacity limit exceeded." } });
  });

  // ContainerDefinition.essential: "If this parameter is omitted, a container is assumed to be essential" (API Reference).
  it("essentialContainers reads DescribeTaskDefinition once per revision: omitted essential counts as essential, false does not", async () => {
    const arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/etl:4";
    ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { containerDefinitions: [{ name: "worker" }, { name: "envoy", essential: false }, { name: "uploader", essential: true }] },
    });
    expect(await launcher.essentialContainers(arn)).toEqual(["worker", "uploader"]);
    expect(await launcher.essentialContainers(arn)).toEqual(["worker", "uploader"]);
    expect(ecs).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 1);
    expect(ecs).toHaveReceivedCommandWith(DescribeTaskDefinitionCommand, { taskDefinition: arn });
  });

  it("essentialContainers of a revision ECS will not describe is unknown (every container decides) and asked again next time", async () => {
    const arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/gone:1";
    ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: "Unable to describe task definition.", ...meta(400) }));
    expect(await launcher.essentialContainers(arn)).toBeUndefined();
    expect(await launcher.essentialContainers(arn)).toBeUndefined();
    expect(ecs).toHaveReceivedCommandTimes(DescribeTaskDefinitionCommand, 2);
  });

  it("essentialContainers throws a TransientError when ECS throttles past the SDK's retries", async () => {
    ecs.on(DescribeTaskDefinitionCommand).rejects(serviceError("ThrottlingException", "Rate exceeded", "client", 400));
    await expect(launcher.essentialContainers("arn:aws:ecs:us-east-1:123456789012:task-definition/etl:5")).rejects.toBeInstanceOf(TransientError);
  });

  it("a Retry-After header on a throttling answer becomes retryAfterMs", async () => {
    const error = Object.assign(serviceError("ThrottlingException", "Rate exceeded", "client", 400), { $response: { statusCode: 400, headers: { "Retry-After": "3" } } });
    ecs.on(RunTaskCommand).rejects(error);
    const outcome = await launcher.runTask(request());
    expect(outcome).toEqual({ ok: false, failure: { kind: "throttled", retryable: true, message: "Rate exceeded", retryAfterMs: 3000 } });
  });

  it.each([
    { name: "CredentialsProviderError", error: new CredentialsProviderError("Could not load credentials from any providers") },
    { name: "UnrecognizedClientException", error: serviceError("UnrecognizedClientException", "The security token included in the request is invalid.", "client", 400) },
  ])("credentials that are missing or refused ($name) fail the launch as access-denied", async ({ error }) => {
    ecs.on(RunTaskCommand).rejects(error);
    expect(await launcher.runTask(request())).toEqual({ ok: false, failure: { kind: "access-denied", retryable: false, message: error.message } });
  });

  it("a machine without a region launches nothing and throws a setup error naming the region", async () => {
    ecs.on(RunTaskCommand).rejects(new Error("Region is missing"));
    const thrown = await launcher.runTask(request()).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(AwsSetupError);
    expect(thrown).toMatchObject({ setting: "region", message: expect.stringMatching(/no AWS region is configured/) });
  });

  it("an error that is not AWS's answer is a bug and is thrown", async () => {
    ecs.on(RunTaskCommand).rejects(new TypeError("Cannot read properties of undefined"));
    await expect(launcher.runTask(request())).rejects.toThrow(TypeError);
  });

  it("stopTask sends the reason cut to 255 characters without splitting a character", async () => {
    ecs.on(StopTaskCommand).resolves({});
    const reason = `${"x".repeat(254)}😀 and more`;
    await launcher.stopTask(CLUSTER, TASK_ARN, reason);
    expect(ecs).toHaveReceivedCommandWith(StopTaskCommand, { cluster: CLUSTER, task: TASK_ARN, reason: "x".repeat(254) });
    await launcher.stopTask(CLUSTER, TASK_ARN, "timed out after 30m");
    expect(ecs).toHaveReceivedLastCommandWith(StopTaskCommand, { reason: "timed out after 30m" });
  });

  it("stopping a task ECS no longer knows is not an error", async () => {
    ecs.on(StopTaskCommand).rejects(new InvalidParameterException({ message: "The referenced task was not found.", ...meta(400) }));
    await expect(launcher.stopTask(CLUSTER, TASK_ARN, "timeout")).resolves.toBeUndefined();
  });

  it.each([
    { name: "throttling", error: serviceError("ThrottlingException", "Rate exceeded", "client", 400), type: TransientError },
    { name: "access denied", error: new AccessDeniedException({ message: "not authorized to perform ecs:StopTask", ...meta(400) }), type: ConfigurationError },
    { name: "a missing cluster", error: new ClusterNotFoundException({ message: "Cluster not found.", ...meta(400) }), type: ConfigurationError },
  ])("stopTask turns $name into a typed error naming the task", async ({ error, type }) => {
    ecs.on(StopTaskCommand).rejects(error);
    const thrown = await launcher.stopTask(CLUSTER, TASK_ARN, "timeout").catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toContain(TASK_ARN);
    expect((thrown as Error).message).toContain(error.message);
  });

  it("describeTasks asks in batches of 100 and reports MISSING tasks", async () => {
    const arns = Array.from({ length: 250 }, (_, i) => `${TASK_ARN.slice(0, -4)}${String(i).padStart(4, "0")}`);
    const gone = new Set([arns[3], arns[170]]);
    ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
      tasks: input.tasks.filter((arn) => !gone.has(arn)).map((taskArn) => ({ taskArn, lastStatus: "RUNNING", version: 3 })),
      failures: input.tasks.filter((arn) => gone.has(arn)).map((arn) => ({ arn, reason: "MISSING" })),
    }));
    const result = await launcher.describeTasks(CLUSTER, arns);
    expect(ecs).toHaveReceivedCommandTimes(DescribeTasksCommand, 3);
    expect(ecs).toHaveReceivedNthCommandWith(DescribeTasksCommand, 1, { cluster: CLUSTER, tasks: arns.slice(0, 100) });
    expect(ecs).toHaveReceivedNthCommandWith(DescribeTasksCommand, 3, { cluster: CLUSTER, tasks: arns.slice(200) });
    expect(result.missing).toEqual([arns[3], arns[170]]);
    expect(result.tasks).toHaveLength(248);
  });

  it("describeTasks maps a task to the fields of an ECS Task State Change event", async () => {
    const task: Task = {
      taskArn: TASK_ARN,
      clusterArn: CLUSTER,
      lastStatus: "STOPPED",
      desiredStatus: "STOPPED",
      version: 5,
      stopCode: "EssentialContainerExited",
      stoppedReason: "Essential container in task exited",
      startedBy: "berth:01J0000000000000000000RUN1",
      launchType: "FARGATE",
      group: "family:thumbnails",
      createdAt: new Date("2024-05-01T10:00:00.000Z"),
      startedAt: new Date("2024-05-01T10:00:42.125Z"),
      stoppedAt: new Date("2024-05-01T10:05:00.000Z"),
      containers: [
        { name: "app", exitCode: 2, lastStatus: "STOPPED", reason: "OutOfMemoryError: Container killed due to memory usage" },
        { name: "log-router", lastStatus: "STOPPED" },
      ],
    };
    ecs.on(DescribeTasksCommand).resolves({ tasks: [task], failures: [] });
    const { tasks, missing } = await launcher.describeTasks(CLUSTER, [TASK_ARN]);
    expect(missing).toEqual([]);
    expect(tasks).toEqual([
      {
        taskArn: TASK_ARN,
        lastStatus: "STOPPED",
        desiredStatus: "STOPPED",
        version: 5,
        stopCode: "EssentialContainerExited",
        stoppedReason: "Essential container in task exited",
        startedBy: "berth:01J0000000000000000000RUN1",
        launchType: "FARGATE",
        startedAt: "2024-05-01T10:00:42.125Z",
        stoppedAt: "2024-05-01T10:05:00.000Z",
        containers: [
          { name: "app", exitCode: 2, lastStatus: "STOPPED", reason: "OutOfMemoryError: Container killed due to memory usage" },
          { name: "log-router", lastStatus: "STOPPED" },
        ],
      },
    ]);
    expect(Object.keys(tasks[0]?.containers?.[1] ?? {})).not.toContain("exitCode");
  });

  it("describeTasks of no tasks asks ECS nothing", async () => {
    expect(await launcher.describeTasks(CLUSTER, [])).toEqual({ tasks: [], missing: [] });
    expect(ecs).not.toHaveReceivedCommand(DescribeTasksCommand);
  });
});

// ECS answers ThrottlingException when the account's RunTask bucket is empty (Amazon ECS API Reference, "Request
// throttling for the Amazon ECS API"; Fargate refills 20 launches a second: "AWS Fargate throttling quotas").
describe("EcsTaskLauncher re-sends a throttled launch while the invocation has time", () => {
  const client = new ECSClient({ region: "us-east-1" });
  const ecs = mockClient(client);
  const throttling = () => serviceError("ThrottlingException", "Rate exceeded", "client", 400);

  beforeEach(() => ecs.reset());

  it("throttled three times, the fourth send starts the task: the same request every time, three waits", async () => {
    const { shell, waits } = manualTime(20_000);
    ecs.on(RunTaskCommand).rejectsOnce(throttling()).rejectsOnce(throttling()).rejectsOnce(throttling()).resolves({ tasks: [{ taskArn: TASK_ARN }] });
    expect(await new EcsTaskLauncher(client, shell).runTask(request())).toEqual({ ok: true, taskArn: TASK_ARN });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 4);
    expect(ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input)).toEqual([request(), request(), request(), request()]);
    // Full jitter: half (random 0.5) of a ceiling that doubles from 100 ms.
    expect(waits).toEqual([50, 100, 200]);
  });

  it("a 5xx answer is re-sent like a throttle", async () => {
    const { shell } = manualTime(20_000);
    ecs.on(RunTaskCommand).rejectsOnce(new ServerException({ message: "Service unavailable", ...meta(500) })).resolves({ tasks: [{ taskArn: TASK_ARN }] });
    expect(await new EcsTaskLauncher(client, shell).runTask(request())).toEqual({ ok: true, taskArn: TASK_ARN });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 2);
  });

  it("throttled until the budget is spent: gives up before the deadline, every wait under the cap, the throttle returned", async () => {
    const budget = 20_000;
    const { shell, waits } = manualTime(budget, 0.999);
    ecs.on(RunTaskCommand).rejects(throttling());
    const outcome = await new EcsTaskLauncher(client, shell).runTask(request());
    expect(outcome).toEqual({ ok: false, failure: { kind: "throttled", retryable: true, message: "Rate exceeded" } });
    const sends = ecs.commandCalls(RunTaskCommand).length;
    expect(sends).toBe(waits.length + 1);
    expect(waits.every((w) => w < LAUNCH_RETRY_CAP_MS)).toBe(true);
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThan(budget);
    // Ceilings 100, 200 … 3,200 ms (6.3 s in all), then 5 s twice: a third 5 s wait would end past 20 s.
    expect(sends).toBe(9);
  });

  it("a long budget still ends at the longest hold a launch has, after which the sweep may take it over", async () => {
    const { shell, waits } = manualTime(10 * MAX_LAUNCH_RETRY_MS, 0.999);
    ecs.on(RunTaskCommand).rejects(throttling());
    await new EcsTaskLauncher(client, shell).runTask(request());
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThan(MAX_LAUNCH_RETRY_MS);
  });

  it("a wait ECS names (Retry-After) is waited at least", async () => {
    const { shell, waits } = manualTime(20_000, 0);
    const error = Object.assign(throttling(), { $response: { statusCode: 400, headers: { "retry-after": "2" }, body: undefined } });
    ecs.on(RunTaskCommand).rejectsOnce(error).resolves({ tasks: [{ taskArn: TASK_ARN }] });
    await new EcsTaskLauncher(client, shell).runTask(request());
    expect(waits).toEqual([2000]);
  });

  it.each([
    { name: "capacity (failures[])", answer: () => ecs.on(RunTaskCommand).resolves({ failures: [{ reason: "RESOURCE:CPU" }] }), kind: "capacity" },
    { name: "an invalid request", answer: () => ecs.on(RunTaskCommand).rejects(new InvalidParameterException({ message: "bad", ...meta(400) })), kind: "invalid" },
    { name: "access denied", answer: () => ecs.on(RunTaskCommand).rejects(new AccessDeniedException({ message: "no", ...meta(400) })), kind: "access-denied" },
  ])("$name is answered at once, not re-sent", async ({ answer, kind }) => {
    const { shell, waits } = manualTime(20_000);
    answer();
    const outcome = await new EcsTaskLauncher(client, shell).runTask(request());
    expect(outcome.ok ? undefined : outcome.failure.kind).toBe(kind);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(waits).toEqual([]);
  });
});

describe("EcsTaskLauncher through the real SDK against a local ECS endpoint", () => {
  let fake: FakeEcs | undefined;

  async function start(options: FakeEcsOptions, maxAttempts: number, delayMs: (attempt: number) => number = () => 5, retry: LaunchRetryShell = ONE_SEND) {
    fake = await startFakeEcs(options);
    const client = new ECSClient({
      region: "us-east-1",
      endpoint: fake.url,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
      // The SDK's own standard strategy, with millisecond backoffs so the test stays fast.
      retryStrategy: new ConfiguredRetryStrategy(maxAttempts, delayMs),
    });
    return { fake, launcher: new EcsTaskLauncher(client, retry) };
  }

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it("throttling on the first two calls is absorbed by the SDK's retries and starts exactly one task", async () => {
    const { fake, launcher } = await start({ faults: { throttles: 2 } }, 3);
    const outcome = await launcher.runTask(request());
    expect(outcome.ok).toBe(true);
    expect(fake.stats).toMatchObject({ runTaskCalls: 3, throttled: 2, tasksLaunched: 1 });
    const [task] = [...fake.tasks.values()];
    expect(outcome).toEqual({ ok: true, taskArn: task?.taskArn });
    expect(task).toMatchObject({ startedBy: request().startedBy, clientToken: request().clientToken, group: "family:thumbnails" });
  });

  it("throttling that outlasts the SDK's retries is a retryable failure, and sending the same request later starts one task overall", async () => {
    const { fake, launcher } = await start({ faults: { throttles: 3 } }, 3);
    const throttled = await launcher.runTask(request());
    expect(throttled).toEqual({ ok: false, failure: { kind: "throttled", retryable: true, message: "Rate exceeded" } });
    expect(fake.stats).toMatchObject({ runTaskCalls: 3, tasksLaunched: 0 });

    const later = await launcher.runTask(request());
    const again = await launcher.runTask(request());
    expect(later.ok && again.ok && later.taskArn === again.taskArn).toBe(true);
    expect(fake.stats).toMatchObject({ tasksLaunched: 1, distinctClientTokens: 1, idempotentReplays: 1 });
  });

  it("a RunTask whose answer was lost is retried by the SDK under the same clientToken and starts one task", async () => {
    const { fake, launcher } = await start({ faults: { lostResponses: 1 } }, 3);
    const outcome = await launcher.runTask(request());
    expect(fake.stats).toMatchObject({ runTaskCalls: 2, tasksLaunched: 1, idempotentReplays: 1 });
    expect(outcome).toEqual({ ok: true, taskArn: [...fake.tasks.keys()][0] });
  });

  it("a clientToken reused with a different request is a conflict naming the first task (resourceIds over the wire), and starts nothing more", async () => {
    const { fake, launcher } = await start({}, 3);
    const first = await launcher.runTask(request());
    const reused = await launcher.runTask(request({ overrides: { containerOverrides: [{ name: "app", command: ["other"] }] } }));
    expect(first.ok).toBe(true);
    expect(reused.ok).toBe(false);
    if (!first.ok || reused.ok) return;
    expect(reused.failure).toMatchObject({ kind: "conflict", retryable: false, existingTaskArns: [first.taskArn] });
    expect(reused.failure.message).toContain(first.taskArn);
    expect(fake.stats.tasksLaunched).toBe(1);
  });

  it("Fargate capacity failures arrive in failures[] and are retryable capacity", async () => {
    const { fake, launcher } = await start({ faults: { launchFailures: 1 } }, 3);
    expect(await launcher.runTask(request())).toEqual({ ok: false, failure: { kind: "capacity", retryable: true, message: CAPACITY_UNAVAILABLE } });
    expect(await launcher.runTask(request())).toMatchObject({ ok: true });
    expect(fake.stats).toMatchObject({ runTaskCalls: 2, tasksLaunched: 1 });
  });

  it("a burst above the RunTask rate limit is throttled, and the SDK's retries start every run exactly once", async () => {
    const { fake, launcher } = await start({ runTaskRateLimit: { ratePerSecond: 100, burst: 5 } }, 20, () => 10 + Math.random() * 30);
    const requests = Array.from({ length: 20 }, (_, i) => request({ clientToken: `run-${i}-1`, startedBy: `berth:run-${i}` }));
    const outcomes = await Promise.all(requests.map((r) => launcher.runTask(r)));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(new Set(outcomes.map((o) => (o.ok ? o.taskArn : ""))).size).toBe(20);
    expect(fake.stats.throttled).toBeGreaterThan(0);
    expect(fake.stats).toMatchObject({ tasksLaunched: 20, distinctClientTokens: 20 });
  });

  it("100 concurrent launches against a bucket of 10 with the SDK's default retries (one retry quota): every run starts once", async () => {
    fake = await startFakeEcs({ runTaskRateLimit: { ratePerSecond: 200, burst: 10 } });
    // The SDK's standard strategy as berth's clients use it: its retry quota is shared by every call of the client.
    const client = new ECSClient({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts: 4 });
    const launcher = new EcsTaskLauncher(client, { deadline: (now) => now + 60_000 });
    const requests = Array.from({ length: 100 }, (_, i) => request({ clientToken: `run-${i}-1`, startedBy: `berth:run-${i}` }));
    const outcomes = await Promise.all(requests.map((r) => launcher.runTask(r)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(100);
    expect(fake.stats.throttled).toBeGreaterThan(0);
    expect(fake.stats).toMatchObject({ tasksLaunched: 100, distinctClientTokens: 100 });
  });

  it("describeTasks and stopTask speak the wire format: exit codes, MISSING tasks, stopping a stopped task", async () => {
    const { fake, launcher } = await start({}, 3);
    const outcome = await launcher.runTask(request());
    if (!outcome.ok) throw new Error("launch failed");
    fake.finishTask(outcome.taskArn, 3);
    const unknown = outcome.taskArn.replace(/[0-9a-f]{32}$/, "f".repeat(32));

    const { tasks, missing } = await launcher.describeTasks(CLUSTER, [outcome.taskArn, unknown]);
    expect(missing).toEqual([unknown]);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      taskArn: outcome.taskArn,
      lastStatus: "STOPPED",
      stopCode: "EssentialContainerExited",
      version: 2,
      startedBy: request().startedBy,
      launchType: "FARGATE",
      containers: [{ name: "app", exitCode: 3, lastStatus: "STOPPED" }],
    });
    expect(Date.parse(tasks[0]?.stoppedAt ?? "")).not.toBeNaN();

    await expect(launcher.stopTask(CLUSTER, outcome.taskArn, "already stopped")).resolves.toBeUndefined();
    await expect(launcher.stopTask(CLUSTER, unknown, "timeout")).resolves.toBeUndefined();

    const running = await launcher.runTask(request({ clientToken: "01J0000000000000000000RUN2-1" }));
    if (!running.ok) throw new Error("launch failed");
    await launcher.stopTask(CLUSTER, running.taskArn, "r".repeat(300));
    expect(fake.tasks.get(running.taskArn)).toMatchObject({ lastStatus: "STOPPED", stopCode: "UserInitiated", stoppedReason: "r".repeat(255) });
    expect(fake.stats.stopTaskCalls).toBe(3);
  });
});
