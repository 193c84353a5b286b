/**
 * The Lambda handlers as deployed: the built bundles and their chunks, alone in a package directory with
 * the compiled catalog, each run in a fresh process as a Lambda execution environment (./lambda.ts),
 * configured only through the environment, their real SDK clients talking over HTTP to a DynamoDB-compatible
 * server and local ECS and EventBridge endpoints, fed the sample events. Which of the package's files each
 * process loads, and when, is read from the process itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";
import { handlerFiles, packagePath } from "../support/bundle-files.ts";
import { until } from "../support/until.ts";
import { functionPackage, type FunctionPackage, type Invocation } from "./lambda.ts";

const root = new URL("../../", import.meta.url);
const sample = (name: string) => JSON.parse(readFileSync(new URL(`events/${name}`, root), "utf8"));
const TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793";

let dynamo: LocalDynamo;
let ecs: FakeEcs;
let bus: FakeEventBridge;
let pkg: FunctionPackage;
let env: Record<string, string>;
/** The example catalog's deploy-api service, on an ECS endpoint of its own. */
let serviceEcs: FakeEcs;

beforeAll(async () => {
  [dynamo, ecs, bus, serviceEcs] = await Promise.all([
    startDynalite(),
    startFakeEcs(),
    startFakeEventBridge(),
    startFakeEcs({
      clusters: { web: {} },
      taskDefinitions: { api: { body: { family: "api", containerDefinitions: [{ name: "app", image: `${API_REPOSITORY}:v1.0.0`, essential: true }], networkMode: "awsvpc", requiresCompatibilities: ["FARGATE"], cpu: "256", memory: "512" } } },
      services: [{ cluster: "web", name: "api", taskDefinition: "api:1" }],
    }),
  ]);
  await createTable(dynamo.client(), runTableDefinition("berth-runs"));
  await createTable(dynamo.client(), runTableDefinition("berth-runs-idle"));
  const loaded = loadCatalog(readFileSync(new URL("berth.yml", root), "utf8"), "berth.yml");
  if (!loaded.ok) throw new Error("example catalog must load");
  pkg = functionPackage(compileCatalog(loaded.catalog));
  env = {
    BERTH_TABLE: "berth-runs",
    BERTH_BUS: "berth",
    POWERTOOLS_SERVICE_NAME: "berth-acme-jobs",
    _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_SESSION_TOKEN: "test-session",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_ECS: ecs.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
  };
});

afterAll(async () => {
  await Promise.all([dynamo?.close(), ecs?.close(), bus?.close(), serviceEcs?.close()]);
  if (pkg) rmSync(pkg.dir, { recursive: true, force: true });
});

const API_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api";
const run = (name: "dispatch" | "track" | "sweep", events: readonly unknown[], overrides: Record<string, string | undefined> = {}) => pkg.run(name, events, { ...env, ...overrides });
const value = (i: Invocation | undefined) => (i?.ok ? i.value : { failed: i?.error });
/** An upload of `key` to the example's bucket: a distinct event (id, key) each time. */
const upload = (id: string, key: string) => {
  const base = sample("s3-object-created.json");
  return { ...base, id, detail: { ...base.detail, object: { ...base.detail.object, key } } };
};

describe("handlers", () => {
  it("dispatch → track: an upload becomes one task, and its end becomes SUCCEEDED on the bus", async () => {
    const event = sample("s3-object-created.json");
    const dispatched = await run("dispatch", [{ job: "thumbnails", event }, { job: "thumbnails", event }]);
    expect(dispatched.invocations.map(value)).toMatchObject([
      { outcomes: [{ kind: "accepted", job: "thumbnails", status: "STARTING" }] },
      { outcomes: [{ kind: "duplicate" }] },
    ]);
    expect(ecs.stats.tasksLaunched).toBe(1);

    const [task] = [...ecs.tasks.values()];
    const stopped = sample("ecs-task-state-change-stopped-exit-0.json");
    const taskEvent = { ...stopped, detail: { ...stopped.detail, taskArn: task!.taskArn, startedBy: task!.startedBy } };
    const tracked = await run("track", [taskEvent, taskEvent]);
    expect(tracked.invocations.map(value)).toMatchObject([{ kind: "updated", status: "SUCCEEDED" }, { kind: "duplicate" }]);

    const published = bus.entries.map((e) => ({ bus: e.EventBusName, type: e.DetailType, ...JSON.parse(e.Detail) }));
    expect(published.map((p) => p.status)).toEqual(["STARTING", "SUCCEEDED"]);
    expect(published[1]).toMatchObject({ bus: "berth", type: "Berth Run State Change", job: "thumbnails", service: "acme-jobs", exitCode: 0, taskArn: task!.taskArn });

    // The log lines platform teams search: Powertools' keys on every line, the run id and job on every line about the run.
    const runId = published[0].runId as string;
    const lambda = (fn: string, request: string, coldStart: boolean) => ({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      service: "berth-acme-jobs",
      cold_start: coldStart,
      function_arn: `arn:aws:lambda:us-east-1:123456789012:function:berth-test-${fn}`,
      function_memory_size: "1024",
      function_name: `berth-test-${fn}`,
      function_request_id: request,
      sampling_rate: 0,
      xray_trace_id: TRACE_ROOT,
    });
    expect(dispatched.lines).toEqual([
      { level: "INFO", message: "run STARTING", ...lambda("dispatch", "request-1", true), eventId: event.id, job: "thumbnails", runId, status: "STARTING", attempt: 1 },
      { level: "INFO", message: "run accepted: STARTING", ...lambda("dispatch", "request-1", true), eventId: event.id, job: "thumbnails", runId, status: "STARTING", kind: "accepted" },
      { level: "INFO", message: "duplicate delivery: nothing launched", ...lambda("dispatch", "request-2", false), eventId: event.id, job: "thumbnails", runId, status: "STARTING", kind: "duplicate" },
    ]);
    expect(tracked.lines).toEqual([
      { level: "INFO", message: "run SUCCEEDED", ...lambda("track", "request-1", true), taskArn: task!.taskArn, runId, job: "thumbnails", status: "SUCCEEDED", attempt: 1, exitCode: 0 },
      { level: "INFO", message: "task event updated", ...lambda("track", "request-1", true), taskArn: task!.taskArn, runId, job: "thumbnails", status: "SUCCEEDED", kind: "updated" },
    ]);
  });

  it("track drops foreign and malformed events without throwing", async () => {
    const tracked = await run("track", [sample("ecs-task-state-change-running.json"), { source: "aws.ecs", "detail-type": "ECS Task State Change", detail: {} }, "garbage"]);
    expect(tracked.invocations.map(value)).toMatchObject([{ kind: "ignored" }, { kind: "rejected" }, { kind: "rejected" }]);
  });

  it("sweep reports what it looked at, and says nothing at the default level when it changed nothing", async () => {
    const quiet = await run("sweep", [undefined], { BERTH_TABLE: "berth-runs-idle" });
    expect(quiet.invocations.map(value)).toEqual([{ open: 0, changed: 0, relaunched: 0, reconciled: 0, announced: 0, slotsFreed: 0, batchesHandedOff: 0, batchFailures: [] }]);
    expect(quiet.lines).toEqual([]);

    const debug = await run("sweep", [undefined], { BERTH_TABLE: "berth-runs-idle", POWERTOOLS_LOG_LEVEL: "DEBUG" });
    expect(debug.lines).toEqual([expect.objectContaining({ level: "DEBUG", message: "sweep done", service: "berth-acme-jobs", function_name: "berth-test-sweep", open: 0, changed: 0 })]);
  });

  it("a run table that does not exist: dispatch logs a configuration error, then throws it, so the event waits in the dead-letter queue, and launches nothing", async () => {
    const launched = ecs.stats.tasksLaunched;
    const failed = await run("dispatch", [{ job: "thumbnails", event: sample("s3-object-created.json") }], { BERTH_TABLE: "no-such-table" });
    expect(failed.invocations).toEqual([{ ok: false, error: { name: "ConfigurationError", message: expect.stringContaining("ResourceNotFoundException"), retryable: false } }]);
    expect(ecs.stats.tasksLaunched).toBe(launched);
    expect(failed.lines).toEqual([expect.objectContaining({ level: "ERROR", function_request_id: "request-1", error: expect.objectContaining({ name: "ConfigurationError", code: "CONFIGURATION", retryable: false }) })]);
  });

  it("a bus that cannot be reached: dispatch throws a TransientError for Lambda to retry, and the retry launches nothing more", async () => {
    const event = upload("retry-after-unreachable-bus", "incoming/unreachable-bus.png");
    const launched = ecs.stats.tasksLaunched;
    // Port 1 on loopback: nothing listens there, so every PutEvents is refused at once.
    const unreachable = await run("dispatch", [{ job: "thumbnails", event }], { AWS_ENDPOINT_URL_EVENTBRIDGE: "http://127.0.0.1:1", AWS_MAX_ATTEMPTS: "1" });
    expect(unreachable.invocations).toEqual([{ ok: false, error: expect.objectContaining({ name: "TransientError", retryable: true }) }]);
    expect(unreachable.lines.at(-1)).toMatchObject({ level: "WARN", error: { name: "TransientError" }, eventId: "retry-after-unreachable-bus", job: "thumbnails" });

    const retried = await run("dispatch", [{ job: "thumbnails", event }]);
    expect(retried.invocations.map(value)).toMatchObject([{ outcomes: [{ kind: "duplicate", job: "thumbnails" }] }]);
    // The launch is the first delivery's until the sweep's relaunch wait (2 minutes) has passed: a retry at once sends no RunTask (issue 10, item 7).
    expect(ecs.stats.tasksLaunched).toBe(launched);
  });

  it.each([
    ["BERTH_TABLE", /BERTH_TABLE is not set/],
    ["BERTH_BUS", /BERTH_BUS is not set/],
  ])("a cold start with %s missing fails with a message naming it, logged", async (name, message) => {
    const failed = await run("dispatch", [{}], { [name]: undefined });
    expect(failed.initError?.message).toMatch(message);
    expect(failed.lines).toEqual([expect.objectContaining({ level: "ERROR", message: expect.stringMatching(message), function_name: "berth-test-dispatch" })]);
  });

  it("a cold start with a catalog that is not compiled fails naming BERTH_CATALOG", async () => {
    const failed = await run("track", [{}], { BERTH_CATALOG: new URL("berth.yml", root).pathname });
    expect(failed.initError?.message).toMatch(/BERTH_CATALOG: cannot read .*berth\.yml|BERTH_CATALOG: .*not a compiled berth catalog/);
  });

  it("credentials come from the environment only: a profile in the shared files is not used, the call fails as a configuration error and launches nothing", async () => {
    const home = mkdtempSync(join(tmpdir(), "berth-home-"));
    writeFileSync(join(home, "credentials"), "[default]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = secret\n");
    writeFileSync(join(home, "config"), "[default]\nregion = us-east-1\n");
    const launched = ecs.stats.tasksLaunched;
    const failed = await run("dispatch", [{ job: "thumbnails", event: upload("no-env-credentials", "incoming/no-credentials.png") }], {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      HOME: home,
      AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
      AWS_CONFIG_FILE: join(home, "config"),
    });
    expect(failed.invocations).toEqual([{ ok: false, error: expect.objectContaining({ name: "ConfigurationError", message: expect.stringContaining("no AWS credentials were found") }) }]);
    expect(ecs.stats.tasksLaunched).toBe(launched);
  });
});

describe("dispatch's rejected events", () => {
  const rejections = () => bus.entries.filter((e) => e.DetailType === "Berth Event Rejected").map((e) => ({ bus: e.EventBusName, source: e.Source, detail: JSON.parse(e.Detail) as Record<string, unknown> }));

  it.each([
    {
      what: "an event for a job the catalog does not have",
      input: { job: "no-such-job", event: upload("unknown-job", "incoming/a.png") },
      reason: /no job named "no-such-job"/,
      job: "no-such-job",
    },
    {
      what: "an object key S3 would never send (not valid URL encoding)",
      input: { job: "thumbnails", event: upload("bad-key", "incoming/%E0%A4%A.png") },
      reason: /not valid URL encoding/,
      job: "thumbnails",
    },
    {
      what: "an event no trigger of the job matches",
      input: { job: "thumbnails", event: upload("no-match", "elsewhere/a.txt") },
      reason: /does not match any trigger of job "thumbnails"/,
      job: "thumbnails",
    },
    { what: "input that is no event", input: { job: "thumbnails", event: "garbage" }, reason: /an event is a JSON object/, job: "thumbnails" },
  ])("$what goes to berth's bus once as a Berth Event Rejected event with the reason, and is answered: no retry, nothing launched", async ({ input, reason, job }) => {
    const before = rejections().length;
    const launched = ecs.stats.tasksLaunched;
    const dispatched = await run("dispatch", [input]);
    expect(dispatched.invocations.map(value)).toEqual([{ outcomes: [{ kind: "rejected", job, reason: expect.stringMatching(reason) }] }]);
    expect(ecs.stats.tasksLaunched).toBe(launched);
    expect(rejections().slice(before)).toEqual([{ bus: "berth", source: "berth", detail: { reason: expect.stringMatching(reason), job, event: input.event } }]);
    expect(dispatched.lines).toEqual([
      expect.objectContaining({ level: "ERROR", message: expect.stringMatching(reason), job, reason: expect.stringMatching(reason), rejectedOn: "berth", rejectionEventId: expect.stringMatching(/^evt-/), function_request_id: "request-1" }),
    ]);
  });

  it("a bare event no job matches is answered with nothing to reject, and puts nothing on the bus", async () => {
    const before = bus.entries.length;
    const dispatched = await run("dispatch", [upload("matches-nothing", "elsewhere/b.txt")]);
    expect(dispatched.invocations.map(value)).toEqual([{ outcomes: [] }]);
    expect(bus.entries.length).toBe(before);
  });

  it("the rejection of an event that is itself a rejection is only logged, never put back on the bus", async () => {
    const before = bus.entries.length;
    const rejection = { ...upload("rejection-1", "x"), source: "berth", "detail-type": "Berth Event Rejected", detail: { reason: "r", job: "thumbnails", event: "garbage" } };
    const dispatched = await run("dispatch", [{ job: "thumbnails", event: rejection }]);
    expect(dispatched.invocations.map(value)).toEqual([{ outcomes: [{ kind: "rejected", job: "thumbnails", reason: expect.stringContaining("does not match any trigger") }] }]);
    expect(bus.entries.length).toBe(before);
    expect(dispatched.lines).toEqual([expect.objectContaining({ level: "ERROR", message: expect.stringMatching(/only logged/), job: "thumbnails" })]);
    expect(dispatched.lines[0]).not.toHaveProperty("rejectionEventId");
  });

  it("a rejected event EventBridge does not take is thrown for Lambda to retry, and the retry puts it once", async () => {
    const before = rejections().length;
    const input = { job: "no-such-job", event: upload("unknown-job-retried", "incoming/c.png") };
    bus.failEntries((e) => (e.DetailType === "Berth Event Rejected" ? { ErrorCode: "InternalFailure", ErrorMessage: "internal" } : undefined));
    const failed = await run("dispatch", [input]).finally(() => bus.failEntries(undefined));
    expect(failed.invocations).toEqual([{ ok: false, error: expect.objectContaining({ name: "TransientError", retryable: true, message: expect.stringMatching(/Berth Event Rejected.*berth.*InternalFailure/) }) }]);
    expect(failed.lines.at(-1)).toMatchObject({ level: "WARN", error: { name: "TransientError" }, job: "no-such-job" });
    expect(rejections().length).toBe(before);

    const retried = await run("dispatch", [input]);
    expect(retried.invocations.map(value)).toMatchObject([{ outcomes: [{ kind: "rejected" }] }]);
    expect(rejections().slice(before)).toEqual([expect.objectContaining({ detail: expect.objectContaining({ job: "no-such-job", event: input.event }) })]);
  });
});

/** Catalogs of their own for the deployer: one with a job that deploys each image pushed to the api repository, by digest, and one that only runs a task. */
const CATALOG = `
version: 1
service: acme-jobs
defaults: { cluster: jobs, network: { subnets: [subnet-0a1b2c3d] } }
jobs:
  report:
    on: { manual: {} }
    run: { taskDefinition: report }
`;
const DEPLOYING_CATALOG = `${CATALOG}  deploy-api:
    on:
      event:
        pattern: { source: [aws.ecr], detail-type: [ECR Image Action], detail: { action-type: [PUSH], result: [SUCCESS], repository-name: [api] } }
    deploy: { cluster: web, service: api, container: app, image: "${API_REPOSITORY}@\${event.detail.image-digest}", rollback: true }
`;

function packaged(yamlText: string): FunctionPackage {
  const loaded = loadCatalog(yamlText, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
  return functionPackage(compileCatalog(loaded.catalog));
}

describe("the service deployer: a chunk of each bundle, loaded at its first use", () => {
  const built = fileURLToPath(new URL("dist/handlers/", root));
  /** What a cold start of `fn` loads, and what its first deploy loads besides, as paths in its package. */
  const files = (fn: string) => {
    const f = handlerFiles(built, fn);
    return { coldStart: f.coldStart.map((file) => packagePath(built, file)).sort(), onFirstUse: f.onFirstUse.map((file) => packagePath(built, file)).sort() };
  };
  const sorted = (loaded: readonly (readonly string[])[]) => loaded.map((l) => [...l].sort());
  let deploying: FunctionPackage;
  let runOnly: FunctionPackage;
  beforeAll(() => {
    deploying = packaged(DEPLOYING_CATALOG);
    runOnly = packaged(CATALOG);
  });
  afterAll(() => {
    for (const p of [deploying, runOnly]) if (p) rmSync(p.dir, { recursive: true, force: true });
  });

  it("an upload, in a catalog with deploy jobs: the cold start loads only the bundle and its cold-start chunks, and the run it starts loads nothing more", async () => {
    const dispatched = await run("dispatch", [{ job: "thumbnails", event: upload("no-deployer", "incoming/no-deployer.png") }]);
    expect(dispatched.invocations.map(value)).toMatchObject([{ outcomes: [{ kind: "accepted", job: "thumbnails" }] }]);
    expect([...dispatched.loaded.init].sort()).toEqual(files("dispatch").coldStart);
    expect(dispatched.loaded.invocations).toEqual([[]]);
  });

  it("a pushed image: dispatch's first deploy loads the deployer's chunk and deploys the digest once; track loads its own at the first deployment event and ends the run SUCCEEDED", async () => {
    const digest = "sha256:" + "5".repeat(64);
    const base = sample("ecr-image-push.json");
    const push = { ...base, id: "deploy-through-bundles", resources: ["arn:aws:ecr:us-east-1:123456789012:repository/api"], detail: { ...base.detail, "repository-name": "api", "image-digest": digest } };
    const deployEnv = { ...env, AWS_ENDPOINT_URL_ECS: serviceEcs.url };
    const dispatched = await deploying.run("dispatch", [{ job: "deploy-api", event: push }, { job: "deploy-api", event: push }], deployEnv);
    expect(dispatched.invocations.map(value)).toMatchObject([{ outcomes: [{ kind: "accepted", job: "deploy-api" }] }, { outcomes: [{ kind: "duplicate", job: "deploy-api" }] }]);
    expect([...dispatched.loaded.init].sort()).toEqual(files("dispatch").coldStart);
    expect(sorted(dispatched.loaded.invocations)).toEqual([files("dispatch").onFirstUse, []]);
    expect(serviceEcs.revisions("api").map((r) => r.arn)).toEqual(["arn:aws:ecs:us-east-1:123456789012:task-definition/api:1", "arn:aws:ecs:us-east-1:123456789012:task-definition/api:2"]);

    const events = await until("the deployment to complete", () => (serviceEcs.deploymentEvents.some((e) => e.detail.eventName === "SERVICE_DEPLOYMENT_COMPLETED") ? serviceEcs.deploymentEvents : undefined));
    const tracked = await deploying.run("track", events, deployEnv);
    // Each event is read as the deployment stands now: the first already finds it completed.
    expect(tracked.invocations.map(value)).toMatchObject([{ kind: "updated", job: "deploy-api", status: "SUCCEEDED" }, ...events.slice(1).map(() => ({ kind: "duplicate", status: "SUCCEEDED" }))]);
    expect([...tracked.loaded.init].sort()).toEqual(files("track").coldStart);
    expect(sorted(tracked.loaded.invocations)).toEqual([files("track").onFirstUse, ...events.slice(1).map(() => [])]);
    expect(serviceEcs.serving("web", "api")?.images.app).toBe(`${API_REPOSITORY}@${digest}`);
  });

  it("a catalog without deploy jobs has no deployer: a deployment event is ignored, and nothing of the deployer is loaded", async () => {
    const tracked = await runOnly.run("track", [sample("ecs-deployment-state-change.json")], env);
    expect(tracked.invocations.map(value)).toEqual([{ kind: "ignored", reason: expect.stringContaining("no deploy jobs") }]);
    expect([...tracked.loaded.init].sort()).toEqual(files("track").coldStart);
    expect(tracked.loaded.invocations).toEqual([[]]);
  });
});
