import { ECSClient, RunTaskCommand } from "@aws-sdk/client-ecs";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_MAX_ATTEMPTS, awsClientConfig } from "../../src/aws/clients.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";

const runTask = new RunTaskCommand({ cluster: "jobs", taskDefinition: "thumbnails:1", clientToken: "token-1", count: 1 });

/** A local EventBridge that accepts every entry and remembers which operations arrived. */
async function startEventBridgeRecorder(): Promise<{ url: string; targets: string[]; server: Server }> {
  const targets: string[] = [];
  const server = createServer((req, res) => {
    targets.push(String(req.headers["x-amz-target"]));
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: "event-1" }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets, server };
}

describe("awsClientConfig", () => {
  it.each([
    { env: {}, expected: { maxAttempts: DEFAULT_MAX_ATTEMPTS, retryMode: "standard" } },
    { env: { AWS_MAX_ATTEMPTS: "2" }, expected: { retryMode: "standard" } },
    { env: { AWS_RETRY_MODE: "adaptive" }, expected: { maxAttempts: DEFAULT_MAX_ATTEMPTS } },
    { env: { AWS_MAX_ATTEMPTS: "", AWS_RETRY_MODE: "" }, expected: { maxAttempts: DEFAULT_MAX_ATTEMPTS, retryMode: "standard" } },
  ])("with $env it returns $expected, leaving set variables to the SDK", ({ env, expected }) => {
    expect(awsClientConfig(env)).toEqual(expected);
  });
});

describe("clients built from awsClientConfig honour the SDK's standard environment", () => {
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
  const fakes: FakeEcs[] = [];
  const servers: Server[] = [];

  beforeEach(() => {
    vi.stubEnv("AWS_REGION", "eu-west-1");
    vi.stubEnv("AWS_ENDPOINT_URL", "");
    vi.stubEnv("AWS_ENDPOINT_URL_ECS", "");
    vi.stubEnv("AWS_ENDPOINT_URL_EVENTBRIDGE", "");
    vi.stubEnv("AWS_MAX_ATTEMPTS", "");
    vi.stubEnv("AWS_RETRY_MODE", "");
    vi.stubEnv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "");
  });

  afterEach(async () => {
    vi.unstubAllEnvs();
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  async function fakeEcs(): Promise<FakeEcs> {
    const fake = await startFakeEcs({ region: "eu-west-1" });
    fakes.push(fake);
    return fake;
  }

  it("AWS_ENDPOINT_URL_ECS sends ECS calls to that endpoint", async () => {
    const fake = await fakeEcs();
    vi.stubEnv("AWS_ENDPOINT_URL_ECS", fake.url);
    const output = await new ECSClient({ ...awsClientConfig(process.env), credentials }).send(runTask);
    expect(fake.stats.runTaskCalls).toBe(1);
    expect(output.tasks?.[0]?.taskArn).toMatch(/^arn:aws:ecs:eu-west-1:/);
  });

  it("AWS_ENDPOINT_URL serves every service without its own variable", async () => {
    const fake = await fakeEcs();
    vi.stubEnv("AWS_ENDPOINT_URL", fake.url);
    await new ECSClient({ ...awsClientConfig(process.env), credentials }).send(runTask);
    expect(fake.stats.runTaskCalls).toBe(1);
  });

  it("the service's own variable wins over AWS_ENDPOINT_URL", async () => {
    const wanted = await fakeEcs();
    const other = await fakeEcs();
    vi.stubEnv("AWS_ENDPOINT_URL", other.url);
    vi.stubEnv("AWS_ENDPOINT_URL_ECS", wanted.url);
    await new ECSClient({ ...awsClientConfig(process.env), credentials }).send(runTask);
    expect([wanted.stats.runTaskCalls, other.stats.runTaskCalls]).toEqual([1, 0]);
  });

  it("AWS_ENDPOINT_URL_EVENTBRIDGE sends PutEvents to that endpoint", async () => {
    const recorder = await startEventBridgeRecorder();
    servers.push(recorder.server);
    vi.stubEnv("AWS_ENDPOINT_URL_EVENTBRIDGE", recorder.url);
    const client = new EventBridgeClient({ ...awsClientConfig(process.env), credentials });
    await client.send(new PutEventsCommand({ Entries: [{ Source: "berth", DetailType: "Berth Run State Change", Detail: "{}" }] }));
    expect(recorder.targets).toEqual(["AWSEvents.PutEvents"]);
  });

  it.each([
    { env: "", attempts: DEFAULT_MAX_ATTEMPTS },
    { env: "2", attempts: 2 },
  ])("with AWS_MAX_ATTEMPTS=$env a call failing with 5xx is tried $attempts times", async ({ env, attempts }) => {
    const fake = await fakeEcs();
    fake.inject({ serverErrors: 10 });
    vi.stubEnv("AWS_ENDPOINT_URL_ECS", fake.url);
    vi.stubEnv("AWS_MAX_ATTEMPTS", env);
    const client = new ECSClient({ ...awsClientConfig(process.env), credentials });
    await expect(client.send(runTask)).rejects.toMatchObject({ name: "ServerException" });
    expect(fake.stats.runTaskCalls).toBe(attempts);
  });
});
