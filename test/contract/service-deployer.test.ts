import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EcsServiceDeployer } from "../../src/aws/ecs-service-deployer.ts";
import { TOKEN_TAG, type DeployPlan } from "../../src/core/ecs/deploy-plan.ts";
import { JOB_TAG } from "../../src/core/ecs/run-task.ts";
import { parseDeploymentStateEvent } from "../../src/core/events/ecs-deployment.ts";
import type { EcsTaskState } from "../../src/core/events/ecs-task.ts";
import { LocalServiceDeployer } from "../../src/local/service-deployer.ts";
import { startFakeEcs } from "../support/fake-ecs.ts";
import { serviceDeployerContract } from "./service-deployer.contract.ts";

const NODE = process.execPath;
const SERVICE = resolve("test/fixtures/contract/service.mjs");
const IMAGE = "contract/web";
/** Far longer than any test waits, so a "stuck" version stays in progress until it is stopped. */
const HEALTH_TIMEOUT_S = 120;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

/** The tag of the version answering on `port`, each request on a new connection; undefined when nothing answers. */
function tagServedOn(port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        try {
          done((JSON.parse(body) as { tag?: string }).tag);
        } catch {
          done(undefined);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => done(undefined));
  });
}

serviceDeployerContract("LocalServiceDeployer (blue/green processes behind a local proxy)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-deployer-contract-"));
  const port = await freePort();
  const events: unknown[] = [];
  const deployer = new LocalServiceDeployer({
    catalog: { local: { engine: "process", taskDefinitions: {}, services: { web: { command: [NODE, SERVICE], port, environment: {}, health: { timeout: HEALTH_TIMEOUT_S } } } } },
    rootDir: dir,
    logDir: "logs",
    emit: (event) => {
      events.push(event);
    },
    stopGraceMs: 500,
  });
  const plan = (tag: string, service = "web"): DeployPlan => ({ cluster: "web", service, container: "app", image: `${IMAGE}:${tag}`, rollback: true, tags: [] });
  return {
    deployer,
    healthy: (label) => plan(label),
    unhealthy: (label) => plan(`broken-${label}`),
    stuck: (label) => plan(`stuck-${label}`),
    unknownService: (label) => plan(label, "no-such-service"),
    events: () => events,
    serving: () => tagServedOn(port),
    async close() {
      await deployer.stopAll("contract test over");
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const ECS_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";
const DESCRIBE_EVERY_MS = 25;

/** A pseudo task state as the `ECS Task State Change` event the engine reads. */
function taskStateEvent(state: EcsTaskState): unknown {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "ECS Task State Change",
    source: "aws.ecs",
    account: "123456789012",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [state.taskArn],
    detail: state,
  };
}

serviceDeployerContract("EcsServiceDeployer (real SDK over HTTP to the fake ECS endpoint)", async () => {
  // What the engine would record: every ECS Deployment State Change through deploymentTask (track), and what
  // describe reports (the sweep), each deployment's states in the order of their versions.
  const events: unknown[] = [];
  const recorded = new Map<string, number>();
  let failure: unknown;
  const record = (state: EcsTaskState): void => {
    if (state.version <= (recorded.get(state.taskArn) ?? 0)) return;
    recorded.set(state.taskArn, state.version);
    events.push(taskStateEvent(state));
  };
  // The deployer reads the fake, and the fake's events are read through the deployer.
  const late: { deployer?: EcsServiceDeployer } = {};
  const fake = await startFakeEcs({
    clusters: { web: {} },
    taskDefinitions: {
      web: {
        body: {
          family: "web",
          networkMode: "awsvpc",
          requiresCompatibilities: ["FARGATE"],
          cpu: "256",
          memory: "512",
          containerDefinitions: [
            { name: "app", image: `${ECS_IMAGE}:initial`, essential: true, portMappings: [{ containerPort: 8080, protocol: "tcp" }] },
            { name: "log-router", image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable", essential: false },
          ],
        },
      },
    },
    services: [{ cluster: "web", name: "web", taskDefinition: "web:1" }],
    rollouts: (images) => (images.some((i) => i.startsWith(`${ECS_IMAGE}:broken-`)) ? "unhealthy" : images.some((i) => i.startsWith(`${ECS_IMAGE}:stuck-`)) ? "stuck" : "healthy"),
    async onDeploymentEvent(event) {
      const parsed = parseDeploymentStateEvent(event);
      if (!parsed.ok) {
        failure ??= new Error(`the fake emitted a malformed deployment event: ${parsed.error.message}`);
        return;
      }
      try {
        const state = await late.deployer?.deploymentTask(parsed.change);
        if (state !== undefined) record(state);
      } catch (e) {
        failure ??= e;
      }
    },
  });
  const client = new ECSClient({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
  const ecs = new EcsServiceDeployer(client, { containers: { "deploy-web": "app" } });
  late.deployer = ecs;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const arns = fake.revisions("web").flatMap((r) => (r.tags.some((t) => t.key === TOKEN_TAG) ? [r.arn] : []));
      try {
        if (arns.length > 0) for (const state of (await ecs.describe(arns)).tasks) record(state);
      } catch (e) {
        if (polling) failure ??= e;
      }
      await sleep(DESCRIBE_EVERY_MS);
    }
  })();
  const plan = (tag: string, service = "web"): DeployPlan => ({
    cluster: "web",
    service,
    container: "app",
    image: `${ECS_IMAGE}:${tag}`,
    rollback: true,
    tags: [{ key: JOB_TAG, value: "deploy-web" }],
  });
  return {
    deployer: ecs,
    healthy: (label) => plan(label),
    unhealthy: (label) => plan(`broken-${label}`),
    stuck: (label) => plan(`stuck-${label}`),
    unknownService: (label) => plan(label, "no-such-service"),
    events() {
      if (failure !== undefined) throw failure;
      return events;
    },
    async serving() {
      const image = fake.serving("web", "web")?.images.app;
      return image?.startsWith(`${ECS_IMAGE}:`) ? image.slice(ECS_IMAGE.length + 1) : undefined;
    },
    async close() {
      polling = false;
      await poll;
      await fake.close();
      client.destroy();
    },
  };
});
