/**
 * The Lambda handlers as deployed: real SDK clients, configured only through
 * the environment, talking over HTTP to a DynamoDB-compatible server, a local
 * ECS endpoint and a local EventBridge endpoint, fed the sample events.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge } from "../support/fake-eventbridge.ts";

const root = new URL("../../", import.meta.url);
const sample = (name: string) => JSON.parse(readFileSync(new URL(`events/${name}`, root), "utf8"));

let dynamo: LocalDynamo;
let ecs: FakeEcs;
let bus: Awaited<ReturnType<typeof startFakeEventBridge>>;
let env: Record<string, string>;
const saved = { ...process.env };

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTable(dynamo.client(), runTableDefinition("berth-runs"));
  ecs = await startFakeEcs();
  bus = await startFakeEventBridge();
  const loaded = loadCatalog(readFileSync(new URL("berth.yml", root), "utf8"), "berth.yml");
  if (!loaded.ok) throw new Error("example catalog must load");
  const dir = mkdtempSync(join(tmpdir(), "berth-handlers-"));
  writeFileSync(join(dir, "catalog.json"), JSON.stringify(compileCatalog(loaded.catalog)));
  env = {
    BERTH_TABLE: "berth-runs",
    BERTH_BUS: "berth",
    BERTH_CATALOG: join(dir, "catalog.json"),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_ECS: ecs.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
  };
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([dynamo?.close(), ecs?.close(), bus?.close()]);
});

async function load<T>(name: string, overrides: Record<string, string | undefined> = {}): Promise<T> {
  process.env = { ...saved, ...env, ...overrides };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete process.env[k];
  vi.resetModules();
  vi.spyOn(console, "log").mockImplementation(() => {});
  return (await import(`../../handlers/${name}.ts`)) as T;
}

type Handler = { handler: (e?: unknown) => Promise<Record<string, unknown>> };

describe("handlers", () => {
  it("dispatch → track: an upload becomes one task, and its end becomes SUCCEEDED on the bus", async () => {
    const dispatch = await load<Handler>("dispatch");
    const event = sample("s3-object-created.json");
    const first = await dispatch.handler({ job: "thumbnails", event });
    expect(first).toMatchObject({ outcomes: [{ kind: "accepted", job: "thumbnails", status: "STARTING" }] });
    const again = await dispatch.handler({ job: "thumbnails", event });
    expect(again).toMatchObject({ outcomes: [{ kind: "duplicate" }] });
    expect(ecs.stats.tasksLaunched).toBe(1);

    const [task] = [...ecs.tasks.values()];
    const track = await load<Handler>("track");
    const stopped = sample("ecs-task-state-change-stopped-exit-0.json");
    const taskEvent = { ...stopped, detail: { ...stopped.detail, taskArn: task!.taskArn, startedBy: task!.startedBy } };
    expect(await track.handler(taskEvent)).toMatchObject({ kind: "updated", status: "SUCCEEDED" });
    expect(await track.handler(taskEvent)).toMatchObject({ kind: "duplicate" });

    const published = bus.entries.map((e) => ({ bus: e.EventBusName, type: e.DetailType, ...JSON.parse(e.Detail) }));
    expect(published.map((p) => p.status)).toEqual(["STARTING", "SUCCEEDED"]);
    expect(published[1]).toMatchObject({ bus: "berth", type: "Berth Run State Change", job: "thumbnails", service: "acme-jobs", exitCode: 0, taskArn: task!.taskArn });
  });

  it("track drops foreign and malformed events without throwing", async () => {
    const track = await load<Handler>("track");
    expect(await track.handler(sample("ecs-task-state-change-running.json"))).toMatchObject({ kind: "ignored" });
    expect(await track.handler({ source: "aws.ecs", "detail-type": "ECS Task State Change", detail: {} })).toMatchObject({ kind: "rejected" });
    expect(await track.handler("garbage")).toMatchObject({ kind: "rejected" });
  });

  it("sweep reports what it looked at", async () => {
    const sweep = await load<Handler>("sweep");
    expect(await sweep.handler()).toMatchObject({ open: expect.any(Number), changed: expect.any(Number) });
  });

  it("a run table that does not exist: dispatch throws, so the event waits in the dead-letter queue, logs a configuration error and launches nothing", async () => {
    const dispatch = await load<Handler>("dispatch", { BERTH_TABLE: "no-such-table" });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const launched = ecs.stats.tasksLaunched;
    await expect(dispatch.handler({ job: "thumbnails", event: sample("s3-object-created.json") })).rejects.toMatchObject({ name: "ConfigurationError", message: expect.stringContaining("ResourceNotFoundException") });
    expect(ecs.stats.tasksLaunched).toBe(launched);
    expect(JSON.parse(String(errors.mock.calls[0]?.[0]))).toMatchObject({ level: "error", error: "ConfigurationError", code: "CONFIGURATION", retryable: false });
    errors.mockRestore();
  });

  it("a bus that cannot be reached: dispatch throws a TransientError for Lambda to retry, and the retry launches nothing more", async () => {
    const base = sample("s3-object-created.json");
    const event = { ...base, id: "retry-after-unreachable-bus", detail: { ...base.detail, object: { ...base.detail.object, key: "incoming/unreachable-bus.png" } } };
    // Port 1 on loopback: nothing listens there, so every PutEvents is refused at once.
    const unreachable = await load<Handler>("dispatch", { AWS_ENDPOINT_URL_EVENTBRIDGE: "http://127.0.0.1:1", AWS_MAX_ATTEMPTS: "1" });
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    const launched = ecs.stats.tasksLaunched;
    await expect(unreachable.handler({ job: "thumbnails", event })).rejects.toMatchObject({ name: "TransientError", retryable: true });
    expect(JSON.parse(String(warnings.mock.calls.at(-1)?.[0]))).toMatchObject({ level: "warn", error: "TransientError", eventId: "retry-after-unreachable-bus" });
    warnings.mockRestore();

    const retried = await load<Handler>("dispatch");
    expect(await retried.handler({ job: "thumbnails", event })).toMatchObject({ outcomes: [{ kind: "duplicate", job: "thumbnails" }] });
    expect(ecs.stats.tasksLaunched).toBe(launched + 1);
  });

  it.each([
    ["BERTH_TABLE", /BERTH_TABLE is not set/],
    ["BERTH_BUS", /BERTH_BUS is not set/],
  ])("a cold start without %s fails with a message naming it", async (name, message) => {
    await expect(load("dispatch", { [name]: undefined })).rejects.toThrow(message);
  });

  it("a cold start with a catalog that is not compiled fails naming BERTH_CATALOG", async () => {
    await expect(load("track", { BERTH_CATALOG: new URL("berth.yml", root).pathname })).rejects.toThrow(/BERTH_CATALOG: cannot read .*berth\.yml|BERTH_CATALOG: .*not a compiled berth catalog/);
  });
});
