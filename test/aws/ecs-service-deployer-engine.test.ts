/**
 * A push through the engine with the ECS service deployer, over HTTP against the fake ECS endpoint: the run
 * follows the deployment by the `ECS Deployment State Change` events ECS sends (track), or, when they never
 * come, by the sweep's describe; a deployment that outlives the job's timeout is stopped and the previous
 * version keeps serving. Deploys never go backwards on the service itself: a newer push replaces the
 * deployment of an older one still rolling out, and a push older than the deployed one deploys nothing.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { ECSClient } from "@aws-sdk/client-ecs";
import { afterEach, describe, expect, it } from "vitest";
import { serviceDeployer } from "../../src/aws/compose.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { Engine, type TrackOutcome } from "../../src/core/engine/engine.ts";
import { buildRouter } from "../../src/core/router.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256 } from "../support/memory-shell.ts";
import { MemoryRunStore } from "../support/memory-run-store.ts";
import { until } from "../support/until.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";

const IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";
const CATALOG = `
version: 1
service: acme
jobs:
  deploy-web:
    on: { git: { repo: acme/web, branch: main } }
    deploy: { cluster: web, service: web, container: app, image: "${IMAGE}:\${git.sha}", rollback: true }
    retry: { attempts: 1 }
    timeout: 10m
`;
const GOOD = "9fceb02d0ae598e95dc970b74767f19372d61af8";
const BROKEN = "bad0000000000000000000000000000000000bad";
const STUCK = "5100000000000000000000000000000000000051";
const OLDER = "01de000000000000000000000000000000000001";
const push = JSON.parse(readFileSync(new URL("../../events/git-push.json", import.meta.url), "utf8"));

const open: { fake: FakeEcs; client: ECSClient }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.fake.close();
    o.client.destroy();
  }
});

/** With `track`, each deployment event goes through the engine as it is delivered (the fake waits for it), as the track function gets it. */
async function setup(track = false) {
  const late: { engine?: Engine } = {};
  const tracked: TrackOutcome[] = [];
  const fake = await startFakeEcs({
    ...(track ? { onDeploymentEvent: async (event: unknown) => void tracked.push(await late.engine!.recordTaskEvent(JSON.parse(JSON.stringify(event)))) } : {}),
    clusters: { web: {} },
    taskDefinitions: { web: { body: { family: "web", containerDefinitions: [{ name: "app", image: `${IMAGE}:initial`, essential: true }], networkMode: "awsvpc", requiresCompatibilities: ["FARGATE"], cpu: "256", memory: "512" } } },
    services: [{ cluster: "web", name: "web", taskDefinition: "web:1" }],
    rollouts: (images) => (images.includes(`${IMAGE}:${BROKEN}`) ? "unhealthy" : images.includes(`${IMAGE}:${STUCK}`) ? "stuck" : "healthy"),
  });
  const client = new ECSClient({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
  open.push({ fake, client });
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const clock = new ManualClock(Date.now());
  const store = new MemoryRunStore();
  const publisher = new MemoryPublisher();
  const deployer = serviceDeployer(loaded.catalog, client);
  expect(deployer).toBeDefined();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store, launcher: new MemoryLauncher(), deployer, publisher, clock, randomBytes: countingBytes, sha256 });
  late.engine = engine;
  return { fake, engine, store, publisher, clock, tracked };
}

/** The sample push of commit `sha`; given `after`, the push of main that follows it: moved from its commit, committed a minute later. */
function pushOf(sha: string, after?: { readonly sha: string }) {
  const committedAt = new Date(Date.parse(push.detail.committedAt) + (after ? 60_000 : 0)).toISOString();
  return { ...push, id: randomUUID(), detail: { ...push.detail, sha, deliveryId: randomUUID(), ...(after ? { before: after.sha, committedAt } : {}) } };
}
const runIdOf = (outcome: unknown) => (outcome as { runId: string }).runId;
const revision = (n: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/web:${n}`;
const statusOf = async (store: MemoryRunStore, runId: string, status: string) => ((await store.getRun(runId))?.status === status ? true : undefined);

describe("a deploy run on ECS", () => {
  it("follows the deployment's events: RUNNING while it rolls out, SUCCEEDED once the new version serves", async () => {
    const { fake, engine, store, publisher, tracked } = await setup(true);
    const [outcome] = await engine.dispatch(pushOf(GOOD), "deploy-web");
    expect(outcome).toMatchObject({ kind: "accepted", job: "deploy-web" });
    const runId = (outcome as { runId: string }).runId;

    await until("the COMPLETED event to be tracked", () => (tracked.length === 2 ? true : undefined));
    expect(fake.deploymentEvents.map((e) => e.detail.eventName)).toEqual(["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"]);
    expect(tracked).toEqual([
      { kind: "updated", runId, job: "deploy-web", status: "RUNNING" },
      { kind: "updated", runId, job: "deploy-web", status: "SUCCEEDED" },
    ]);
    // Delivered again, late: the deployment's state now, which cannot move the run backwards.
    for (const event of fake.deploymentEvents) {
      expect(await engine.recordTaskEvent(JSON.parse(JSON.stringify(event)))).toEqual({ kind: "duplicate", runId, job: "deploy-web", status: "SUCCEEDED" });
    }

    const run = await store.getRun(runId);
    expect(run?.status).toBe("SUCCEEDED");
    expect(run?.attempts[0]).toMatchObject({ taskArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/web:2`, exitCode: 0 });
    expect(publisher.statuses(runId).at(-1)).toBe("SUCCEEDED");
    expect(fake.serving("web", "web")?.images.app).toBe(`${IMAGE}:${GOOD}`);
  });

  it("a deployment the circuit breaker fails ends FAILED with ECS's reason and the rollback, and the previous version serves", async () => {
    const { fake, engine, store } = await setup();
    const [outcome] = await engine.dispatch(pushOf(BROKEN), "deploy-web");
    const runId = (outcome as { runId: string }).runId;
    const failed = await until("the FAILED event", () => fake.deploymentEvents.find((e) => e.detail.eventName === "SERVICE_DEPLOYMENT_FAILED"));
    expect(await engine.recordTaskEvent(JSON.parse(JSON.stringify(failed)))).toMatchObject({ kind: "updated", runId, status: "FAILED" });
    const run = await store.getRun(runId);
    expect(run?.attempts[0]).toMatchObject({ status: "FAILED", exitCode: 1 });
    expect(run?.attempts[0]?.stoppedReason).toMatch(/^ECS deployment circuit breaker: tasks failed to start; the circuit breaker rolled back to the previous revision/);
    expect(fake.serving("web", "web")?.images.app).toBe(`${IMAGE}:initial`);
  });

  it("when no event ever comes, the sweep reads the deployment from ECS and ends the run", async () => {
    const { fake, engine, store, clock } = await setup();
    const [outcome] = await engine.dispatch(pushOf(GOOD), "deploy-web");
    const runId = (outcome as { runId: string }).runId;
    await until("the deployment to complete", () => (fake.serviceDeployments("web", "web").at(-1)?.status === "SUCCESSFUL" ? true : undefined));
    clock.advance(6 * 60_000);
    const report = await engine.sweep();
    expect(report.reconciled).toBe(1);
    expect((await store.getRun(runId))?.status).toBe("SUCCEEDED");
  });

  it("a deployment still rolling out at the job's timeout is stopped: TIMED_OUT, and the previous version keeps serving", async () => {
    const { fake, engine, store, clock } = await setup();
    const [outcome] = await engine.dispatch(pushOf(STUCK), "deploy-web");
    const runId = (outcome as { runId: string }).runId;
    clock.advance(11 * 60_000);
    await engine.sweep();
    expect((await store.getRun(runId))?.status).toBe("TIMED_OUT");
    expect(fake.stats.calls.StopServiceDeployment).toBe(1);
    const stopped = await until("the rollback to finish", () => {
      const h = fake.serviceDeployments("web", "web").at(-1);
      return h?.status === "ROLLBACK_SUCCESSFUL" ? h : undefined;
    });
    expect(stopped.circuitBreaker).not.toBe("TRIGGERED");
    expect(fake.serving("web", "web")?.images.app).toBe(`${IMAGE}:initial`);
  });
});

describe("deploys never go backwards on ECS (overlap: supersede)", () => {
  it("a newer push while the older one still rolls out supersedes it: the older run ends CANCELLED, and the service ends on the newer revision, never rolled back to the older", async () => {
    const { fake, engine, store, tracked } = await setup(true);
    // The older push's deployment never reaches a steady state on its own.
    const olderId = runIdOf((await engine.dispatch(pushOf(STUCK), "deploy-web"))[0]);
    await until("the older run to follow its deployment", () => statusOf(store, olderId, "RUNNING"));

    const [newer] = await engine.dispatch(pushOf(GOOD, { sha: STUCK }), "deploy-web");
    expect(newer).toMatchObject({ kind: "accepted", job: "deploy-web", status: "STARTING" });
    const newerId = runIdOf(newer);
    expect(await store.getRun(olderId)).toMatchObject({ status: "CANCELLED", reason: `superseded by ${GOOD.slice(0, 7)} (run ${newerId})` });
    await until("the newer run to succeed", () => statusOf(store, newerId, "SUCCEEDED"));

    expect(tracked).toEqual([
      { kind: "updated", runId: olderId, job: "deploy-web", status: "RUNNING" },
      { kind: "updated", runId: newerId, job: "deploy-web", status: "RUNNING" },
      { kind: "updated", runId: newerId, job: "deploy-web", status: "SUCCEEDED" },
    ]);
    expect(fake.serving("web", "web")).toEqual({ taskDefinition: revision(3), images: { app: `${IMAGE}:${GOOD}` } });
    // The newer deployment replaced the older one: nothing stopped it, nothing rolled the service back to it or past it.
    expect(fake.stats.calls.StopServiceDeployment).toBeUndefined();
    expect(fake.serviceDeployments("web", "web").map((d) => [d.taskDefinition, d.status, d.rollback])).toEqual([
      [revision(1), "SUCCESSFUL", undefined],
      [revision(2), "STOPPED", undefined],
      [revision(3), "SUCCESSFUL", undefined],
    ]);
    expect(fake.stats.calls.RegisterTaskDefinition).toBe(2);
    expect((await store.getRun(olderId))?.status).toBe("CANCELLED");
  });

  it("a push older than the deployed one, delivered late, ends SKIPPED with the reason, and registers no revision: the service keeps serving the newer commit", async () => {
    const { fake, engine, store } = await setup(true);
    const newerId = runIdOf((await engine.dispatch(pushOf(GOOD, { sha: OLDER }), "deploy-web"))[0]);
    await until("the newer run to succeed", () => statusOf(store, newerId, "SUCCEEDED"));
    expect([fake.stats.calls.RegisterTaskDefinition, fake.stats.calls.UpdateService]).toEqual([1, 1]);

    const [late] = await engine.dispatch(pushOf(OLDER), "deploy-web");
    const reason = `${OLDER.slice(0, 7)} is older than ${GOOD.slice(0, 7)} (run ${newerId}, deployed): a deploy never goes back to older code`;
    expect(late).toMatchObject({ kind: "accepted", job: "deploy-web", status: "SKIPPED", reason });
    expect(await store.getRun(runIdOf(late))).toMatchObject({ status: "SKIPPED", reason, attempts: [] });
    expect([fake.stats.calls.RegisterTaskDefinition, fake.stats.calls.UpdateService]).toEqual([1, 1]);
    expect(fake.serving("web", "web")).toEqual({ taskDefinition: revision(2), images: { app: `${IMAGE}:${GOOD}` } });
  });
});
