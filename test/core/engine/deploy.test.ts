/**
 * Deploy runs through the engine: ECS Deployment State Change events read back through the
 * service deployer, and `overlap: supersede` (the deploy default): a newer push supersedes an
 * older one in flight or queued, a push delivered late never rolls the service back.
 */
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { Engine } from "../../../src/core/engine/engine.ts";
import { busEvent } from "../../../src/core/events/envelope.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import { ManualClock, MemoryDeployer, MemoryLauncher, MemoryPublisher, countingBytes, sha256 } from "../../support/memory-shell.ts";
import { readFileSync } from "node:fs";

const CATALOG = `
version: 1
service: acme
jobs:
  deploy-web:
    on: { git: { repo: acme/web, branch: main } }
    deploy: { cluster: web, service: web, container: app, image: "web:\${git.sha}", rollback: true }
    timeout: 20m
  deploy-image:
    on:
      event:
        pattern:
          source: [aws.ecr]
          detail-type: [ECR Image Action]
          detail: { action-type: [PUSH], result: [SUCCESS], repository-name: [api] }
    deploy: { cluster: web, service: api, container: app, image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@\${event.detail.image-digest}" }
`;

function setup() {
  const loaded = loadCatalog(CATALOG, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  const clock = new ManualClock();
  const store = new MemoryRunStore();
  const deployer = new MemoryDeployer();
  const publisher = new MemoryPublisher();
  const engine = new Engine({ router: buildRouter(loaded.catalog), store, launcher: new MemoryLauncher(), deployer, publisher, clock, randomBytes: countingBytes, sha256 });
  return { engine, store, deployer, publisher, clock };
}

const sha = (n: number) => n.toString(16).padStart(40, "0").replace(/^0/, "a");
/**
 * The n-th push of a chain: sha(n), moved from sha(n - 1), committed n minutes after the first.
 * Without `committedAt` (as CodeCommit's events) the event's time is when the push happened.
 */
function push(n: number, options: { committedAt?: boolean; deliveryTime?: number } = {}) {
  const committedAt = options.committedAt === false ? undefined : new Date(Date.parse("2026-03-01T10:00:00Z") + n * 60_000).toISOString();
  return busEvent(
    "berth.git",
    "Git Push",
    { provider: "github", repo: "acme/web", ref: "refs/heads/main", branch: "main", sha: sha(n), before: sha(n - 1), pusher: "mona", deleted: false, ...(committedAt ? { committedAt } : {}) },
    { id: `push-${n}`, time: options.deliveryTime ?? (committedAt ? Date.parse("2026-03-01T12:00:00Z") : Date.parse("2026-03-01T10:00:00Z") + n * 60_000) },
  );
}

describe("deploy runs on ECS Deployment State Change events", () => {
  it("a push deploys; IN_PROGRESS keeps the run RUNNING, COMPLETED ends it SUCCEEDED", async () => {
    const { engine, store, deployer } = setup();
    const [out] = await engine.dispatch(push(1));
    expect(out).toMatchObject({ kind: "accepted", status: "STARTING" });
    const d = deployer.started[0]!;
    expect(d.plan.image).toBe(`web:${sha(1)}`);

    expect(await engine.recordTaskEvent(deployer.event(d.arn, "SERVICE_DEPLOYMENT_IN_PROGRESS"))).toMatchObject({ kind: "updated", status: "RUNNING" });
    deployer.finish(d.arn, "COMPLETED");
    expect(await engine.recordTaskEvent(deployer.event(d.arn, "SERVICE_DEPLOYMENT_COMPLETED"))).toMatchObject({ kind: "updated", status: "SUCCEEDED" });
    // A repeated or late event changes nothing: the state is read back from the service.
    expect(await engine.recordTaskEvent(deployer.event(d.arn, "SERVICE_DEPLOYMENT_IN_PROGRESS"))).toMatchObject({ status: "SUCCEEDED" });
    expect((await store.getRun((out as { runId: string }).runId))?.attempts[0]?.taskArn).toBe(d.arn);
  });

  it("FAILED ends the run FAILED with ECS's reason", async () => {
    const { engine, store, deployer } = setup();
    const [out] = await engine.dispatch(push(1));
    const d = deployer.started[0]!;
    deployer.finish(d.arn, "FAILED", "ECS deployment circuit breaker: tasks failed to start; rolled back to web:3");
    expect(await engine.recordTaskEvent(deployer.event(d.arn, "SERVICE_DEPLOYMENT_FAILED"))).toMatchObject({ status: "FAILED" });
    const run = await store.getRun((out as { runId: string }).runId);
    expect(run?.attempts[0]?.stoppedReason).toContain("circuit breaker");
  });

  it("a deployment berth did not start, and a malformed deployment event, change nothing", async () => {
    const { engine, deployer } = setup();
    await engine.dispatch(push(1));
    const foreign = JSON.parse(JSON.stringify(deployer.event(deployer.started[0]!.arn, "SERVICE_DEPLOYMENT_COMPLETED")));
    foreign.detail.deploymentId = "ecs-svc/999";
    expect(await engine.recordTaskEvent(foreign)).toMatchObject({ kind: "ignored" });
    const malformed = { ...foreign, resources: [], detail: { eventName: 7 } };
    expect(await engine.recordTaskEvent(malformed)).toEqual({ kind: "rejected", reason: expect.stringContaining("resources must name the service") });
  });

  it("missed events: the sweep asks the deployer and ends the run", async () => {
    const { engine, store, deployer, clock } = setup();
    const [out] = await engine.dispatch(push(1));
    deployer.finish(deployer.started[0]!.arn, "COMPLETED");
    clock.advance(10 * 60_000);
    await engine.sweep();
    expect((await store.getRun((out as { runId: string }).runId))?.status).toBe("SUCCEEDED");
  });

  it("a deployment that does not complete within the timeout ends TIMED_OUT and is stopped", async () => {
    const { engine, store, deployer, clock } = setup();
    const [out] = await engine.dispatch(push(1));
    clock.advance(21 * 60_000);
    await engine.sweep();
    expect((await store.getRun((out as { runId: string }).runId))?.status).toBe("TIMED_OUT");
    expect(deployer.stops.map((s) => s.arn)).toEqual([deployer.started[0]!.arn]);
  });

  it("an ECR image push deploys the pushed digest", async () => {
    const { engine, deployer } = setup();
    const ecr = JSON.parse(readFileSync(new URL("../../../events/ecr-image-push.json", import.meta.url), "utf8"));
    ecr.detail["repository-name"] = "api";
    const [out] = await engine.dispatch(ecr);
    expect(out).toMatchObject({ kind: "accepted", job: "deploy-image", status: "STARTING" });
    expect(deployer.started[0]!.plan.image).toBe(`123456789012.dkr.ecr.us-east-1.amazonaws.com/api@${ecr.detail["image-digest"]}`);
    // The same push delivered again deploys nothing new.
    expect(await engine.dispatch(ecr)).toMatchObject([{ kind: "duplicate" }]);
    expect(deployer.started).toHaveLength(1);
  });
});

describe("migrations before the deploy, by chaining", () => {
  const CHAINED = `
version: 1
service: acme
defaults:
  network: { subnets: [subnet-1] }
jobs:
  migrate:
    on: { git: { repo: acme/web, branch: main } }
    run: { taskDefinition: web-migrate, container: app, command: [migrate, "\${git.sha}"] }
  deploy-web:
    on: { job: { name: migrate, status: succeeded } }
    deploy: { cluster: web, service: web, container: app, image: "web:\${git.sha}" }
`;

  it("the deploy chained after a push's migrations deploys that push's commit, ordered by that push", async () => {
    const loaded = loadCatalog(CHAINED, "berth.yml");
    if (!loaded.ok) throw new Error(loaded.error.message);
    const clock = new ManualClock();
    const store = new MemoryRunStore();
    const deployer = new MemoryDeployer();
    const launcher = new MemoryLauncher();
    const publisher = new MemoryPublisher();
    const engine = new Engine({ router: buildRouter(loaded.catalog), store, launcher, deployer, publisher, clock, randomBytes: countingBytes, sha256 });

    await engine.dispatch(push(2));
    const task = [...launcher.tasks.values()][0]!;
    expect(task.request.overrides?.containerOverrides?.[0]?.command).toEqual(["migrate", sha(2)]);
    const { taskEvent } = await import("../../support/memory-shell.ts");
    await engine.recordTaskEvent(taskEvent(task, "STOPPED", 3, { exitCode: 0 }));
    // The run state change the engine published is what EventBridge delivers to the chained job.
    const succeeded = publisher.published.find((d) => d.job === "migrate" && d.status === "SUCCEEDED")!;
    expect(succeeded.git).toMatchObject({ sha: sha(2), before: sha(1), branch: "main" });
    await engine.dispatch(busEvent("berth", "Berth Run State Change", succeeded, { id: "chain-2", time: clock.now() }));
    expect(deployer.started.map((d) => d.plan.image)).toEqual([`web:${sha(2)}`]);

    // An older push's migrations finishing later never deploy its older commit.
    const older = busEvent("berth", "Berth Run State Change", { ...succeeded, runId: "01J0000000000000000000000A", git: { ...succeeded.git, sha: sha(1), before: sha(0) }, position: { label: "old", sha: sha(1), before: sha(0), at: 0 } }, { id: "chain-1", time: clock.now() });
    expect(await engine.dispatch(older)).toMatchObject([{ status: "SKIPPED" }]);
    expect(deployer.started).toHaveLength(1);
  });

  it("a chained job may read ${git.sha} only when every run of the job before it carries a push", () => {
    const bad = CHAINED.replace("on: { git: { repo: acme/web, branch: main } }", "on: { manual: true }");
    const loaded = loadCatalog(bad, "berth.yml");
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.error.message).toContain("unknown template variable ${git.sha}");
  });
});

describe("deploys never go backwards (overlap: supersede)", () => {
  it("a newer push supersedes the one in flight, which ends CANCELLED without rolling the service back", async () => {
    const { engine, store, deployer } = setup();
    const [first] = await engine.dispatch(push(1));
    const [second] = await engine.dispatch(push(2));
    expect(second).toMatchObject({ kind: "accepted", status: "STARTING" });
    const older = await store.getRun((first as { runId: string }).runId);
    expect(older).toMatchObject({ status: "CANCELLED", reason: `superseded by ${sha(2).slice(0, 7)} (run ${(second as { runId: string }).runId})` });
    // The newer deployment replaces the older one on the service; stopping it would roll back first.
    expect(deployer.stops).toEqual([]);
    expect(deployer.started.map((d) => d.plan.image)).toEqual([`web:${sha(1)}`, `web:${sha(2)}`]);
  });

  it("a push older than the deployed one is SKIPPED with the reason and deploys nothing", async () => {
    const { engine, store, deployer } = setup();
    const [newer] = await engine.dispatch(push(2));
    deployer.finish(deployer.started[0]!.arn, "COMPLETED");
    await engine.recordTaskEvent(deployer.event(deployer.started[0]!.arn, "SERVICE_DEPLOYMENT_COMPLETED"));
    expect((await store.getRun((newer as { runId: string }).runId))?.status).toBe("SUCCEEDED");

    const [late] = await engine.dispatch(push(1));
    expect(late).toMatchObject({ kind: "accepted", status: "SKIPPED" });
    expect((late as { reason: string }).reason).toBe(
      `${sha(1).slice(0, 7)} is older than ${sha(2).slice(0, 7)} (run ${(newer as { runId: string }).runId}, deployed): a deploy never goes back to older code`,
    );
    expect(deployer.started).toHaveLength(1);
  });

  it("order comes from the push chain when commit times disagree, and from commit times across chains", async () => {
    const { engine, deployer } = setup();
    // Push 2 claims an earlier commit time than push 1, but its `before` is push 1's sha: it is newer.
    const p1 = push(1);
    const p2 = busEvent("berth.git", "Git Push", { ...(push(2).detail as object), committedAt: "2026-03-01T09:00:00Z" }, { id: "push-2", time: p1.time ? Date.parse(p1.time) : 0 });
    await engine.dispatch(p2);
    expect(await engine.dispatch(p1)).toMatchObject([{ status: "SKIPPED" }]);
    expect(deployer.started.map((d) => d.plan.image)).toEqual([`web:${sha(2)}`]);
  });

  it("shuffled deliveries of a chain of pushes, with deployments ending in between, never deploy older code after newer", async () => {
    const pushes = 6;
    for (let seed = 1; seed <= 40; seed++) {
      const { engine, deployer } = setup();
      const order = shuffled([...Array(pushes).keys()].map((i) => i + 1), seed);
      for (const n of order) {
        await engine.dispatch(push(n, { committedAt: seed % 2 === 0 }));
        // Half the time the deployment in flight completes before the next delivery.
        const last = deployer.started.at(-1);
        if (last && (seed + n) % 2 === 0) {
          deployer.finish(last.arn, "COMPLETED");
          await engine.recordTaskEvent(deployer.event(last.arn, "SERVICE_DEPLOYMENT_COMPLETED"));
        }
        // A delivery repeated at once launches nothing new.
        await engine.dispatch(push(n, { committedAt: seed % 2 === 0 }));
      }
      const deployed = deployer.started.map((d) => Number.parseInt(d.plan.image.slice(-40).replace(/^a/, "0"), 16));
      expect(deployed, `seed ${seed}, order ${order.join(",")}`).toEqual([...deployed].sort((a, b) => a - b));
      expect(new Set(deployed).size, `seed ${seed}`).toBe(deployed.length);
      // The newest push reaches the service whatever the order (when it came first, it was the only one).
      expect(deployed.at(-1), `seed ${seed}, order ${order.join(",")}`).toBe(pushes);
    }
  });

  it("the push chain alone orders pushes that carry no time, across pushes in between", async () => {
    const { engine, deployer } = setup();
    const same = Date.parse("2026-03-01T12:00:00Z");
    for (const n of [2, 3, 4]) await engine.dispatch(push(n, { committedAt: false, deliveryTime: same }));
    expect(await engine.dispatch(push(1, { committedAt: false, deliveryTime: same }))).toMatchObject([{ status: "SKIPPED" }]);
    expect(deployer.started.map((d) => d.plan.image.slice(-1))).toEqual(["2", "3", "4"]);
  });

  it("pushes delivered concurrently, some twice, end with the newest deployed and never an older one after a newer", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { engine, deployer, clock } = setup();
      const order = shuffled([1, 2, 3, 4, 5, 3, 5], seed);
      await Promise.all(order.map((n) => engine.dispatch(push(n))));
      // Deployments end one by one; queued runs (those that lost the race for the slot) go next.
      for (let round = 0; round < 10; round++) {
        for (const d of deployer.started) {
          deployer.finish(d.arn, "COMPLETED");
          await engine.recordTaskEvent(deployer.event(d.arn, "SERVICE_DEPLOYMENT_COMPLETED"));
        }
        clock.advance(60_000);
        await engine.sweep();
      }
      const deployed = deployer.started.map((d) => Number.parseInt(d.plan.image.slice(-40).replace(/^a/, "0"), 16));
      const completed = deployer.started.filter((d) => d.state.containers?.[0]?.exitCode === 0).map((d) => Number.parseInt(d.plan.image.slice(-40).replace(/^a/, "0"), 16));
      expect(new Set(deployed).size, `seed ${seed}: ${deployed.join(",")}`).toBe(deployed.length);
      expect(completed, `seed ${seed}: ${deployed.join(",")}`).toEqual([...completed].sort((a, b) => a - b));
      expect(deployed.at(-1), `seed ${seed}: ${deployed.join(",")}`).toBe(5);
    }
  });

  it("a newer push that arrives while an older one waits in the queue supersedes it", async () => {
    const { engine, store, deployer } = setup();
    const [a] = await engine.dispatch(push(1));
    // Push 2 is admitted; push 3 arrives: the run in flight (2) is superseded, and so is nothing else.
    const [b] = await engine.dispatch(push(2));
    const [c] = await engine.dispatch(push(3));
    const ids = [a, b, c].map((o) => (o as { runId: string }).runId);
    expect(await Promise.all(ids.map(async (id) => (await store.getRun(id))?.status))).toEqual(["CANCELLED", "CANCELLED", "STARTING"]);
    expect(deployer.started).toHaveLength(3);
  });
});

/** Deterministic Fisher–Yates with a small LCG. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
