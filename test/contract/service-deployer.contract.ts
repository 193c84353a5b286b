/**
 * The ServiceDeployer contract: every adapter (the local blue/green deployer
 * today, an ECS service deployer later) passes this one suite unchanged. It
 * is written against the port's promise in src/core/ports.ts only: a
 * deployment is a pseudo task whose `ECS Task State Change` events carry the
 * run's `startedBy`, RUNNING while it rolls out, STOPPED with exit code 0 once
 * the new version is healthy and serving, non-zero when it failed and was
 * rolled back; stop() abandons one in progress and the previous version keeps
 * serving.
 *
 * What it observes goes through the fixture: the events as they reach the
 * bus, and which version the service serves. Events are read the way the
 * engine reads ECS's, so duplicates are allowed and the highest `version`
 * is the deployment's last word. Nothing assumes how long a rollout takes:
 * the suite waits on conditions with a generous deadline.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeployPlan } from "../../src/core/ecs/deploy-plan.ts";
import { parseTaskStateEvent, type EcsTaskState } from "../../src/core/events/ecs-task.ts";
import { clientTokenFor, newRunId, startedByFor } from "../../src/core/ids.ts";
import type { LaunchOutcome, ServiceDeployer } from "../../src/core/ports.ts";
import { classifyStop, decidingExitCode } from "../../src/core/runs/task-state.ts";
import { unknownLike } from "./unknown-arn.ts";

export interface ServiceDeployerFixture {
  readonly deployer: ServiceDeployer;
  /** A plan rolling out a version labelled `label` that becomes healthy. */
  healthy(label: string): DeployPlan;
  /** A plan rolling out a version that never becomes healthy and fails on its own. */
  unhealthy(label: string): DeployPlan;
  /** A plan whose rollout stays in progress until it is stopped: its version neither passes nor fails its health check within the test. */
  stuck(label: string): DeployPlan;
  /** A plan that cannot be carried out: its service does not exist. */
  unknownService(label: string): DeployPlan;
  /** Every event the deployer has put on the bus so far, in the order they arrived, as JSON-able EventBridge events. */
  events(): readonly unknown[];
  /** The label of the version the service serves now (what a client of the service gets), or undefined while none serves. */
  serving(): Promise<string | undefined>;
  close(): Promise<void> | void;
}

type DeployIdentity = Parameters<ServiceDeployer["deploy"]>[1];

const DEADLINE_MS = 20_000;
const POLL_MS = 20;

/** A new run's first attempt (or attempt `attempt` of `runId`). */
function identity(runId = newRunId(Date.now(), randomBytes(10)), attempt = 1): DeployIdentity {
  return { runId, attempt, clientToken: clientTokenFor(runId, attempt), startedBy: startedByFor(runId) };
}

function arnOf(outcome: LaunchOutcome): string {
  if (!outcome.ok) throw new Error(`the deploy failed: ${outcome.failure.kind}: ${outcome.failure.message}`);
  return outcome.taskArn;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const byVersion = (states: readonly EcsTaskState[]): EcsTaskState[] => [...states].sort((a, b) => a.version - b.version);

export function serviceDeployerContract(name: string, open: () => Promise<ServiceDeployerFixture>): void {
  describe(`ServiceDeployer contract: ${name}`, () => {
    let fixture: ServiceDeployerFixture;
    let deployer: ServiceDeployer;

    beforeEach(async () => {
      fixture = await open();
      ({ deployer } = fixture);
    });
    afterEach(async () => {
      await fixture.close();
    });

    /** The deployer's events, read as the engine reads ECS task state changes (a malformed one fails the test). */
    function states(): EcsTaskState[] {
      return fixture.events().map((event) => {
        const parsed = parseTaskStateEvent(JSON.parse(JSON.stringify(event)));
        if (!parsed.ok) throw new Error(`the deployer emitted an event that is not an ECS Task State Change: ${parsed.error.message}`);
        return parsed.task;
      });
    }
    const statesOf = (taskArn: string) => states().filter((s) => s.taskArn === taskArn);
    const deploymentsStartedBy = (startedBy: string) => [...new Set(states().filter((s) => s.startedBy === startedBy).map((s) => s.taskArn))];

    async function deploy(plan: DeployPlan, id: DeployIdentity = identity()): Promise<string> {
      return arnOf(await deployer.deploy(plan, id));
    }

    /** Waits until the deployment's latest state (highest version) is STOPPED, and returns it. */
    function ended(taskArn: string): Promise<EcsTaskState> {
      return until(`deployment ${taskArn} to end`, () => {
        const last = byVersion(statesOf(taskArn)).at(-1);
        return last?.lastStatus === "STOPPED" ? last : undefined;
      });
    }

    function rollingOut(taskArn: string): Promise<EcsTaskState> {
      return until(`deployment ${taskArn} to report RUNNING`, () => statesOf(taskArn).find((s) => s.lastStatus === "RUNNING"));
    }

    /** Deploys a healthy version and waits until it serves: the service's "previous version" for what follows. */
    async function serve(label: string): Promise<string> {
      const taskArn = await deploy(fixture.healthy(label));
      expect(decidingExitCode(await ended(taskArn))).toBe(0);
      expect(await fixture.serving()).toBe(label);
      return taskArn;
    }

    describe("deploy", () => {
      it("a healthy version reports RUNNING, then STOPPED with exit code 0, and serves", async () => {
        const id = identity();
        const taskArn = await deploy(fixture.healthy("v1"), id);
        const end = await ended(taskArn);

        const seen = statesOf(taskArn);
        expect(seen.map((s) => s.startedBy)).toEqual(seen.map(() => id.startedBy));
        expect(seen.filter((s) => s.lastStatus === "RUNNING" && s.version < end.version)).not.toEqual([]);
        for (const s of seen.filter((s) => s.lastStatus === "STOPPED")) expect(s).toEqual(end);
        expect(decidingExitCode(end)).toBe(0);
        expect(classifyStop(end)).toEqual({ status: "SUCCEEDED", exitCode: 0 });
        expect(await fixture.serving()).toBe("v1");

        const described = await deployer.describe([taskArn]);
        expect(described.missing).toEqual([]);
        expect(described.tasks).toEqual([expect.objectContaining({ taskArn, lastStatus: "STOPPED", version: end.version, startedBy: id.startedBy })]);
        expect(decidingExitCode(described.tasks[0]!)).toBe(0);
      });

      it("an unhealthy version ends with a non-zero exit code and the previous version keeps serving", async () => {
        await serve("v1");
        const id = identity();
        const taskArn = await deploy(fixture.unhealthy("v2"), id);
        const end = await ended(taskArn);

        expect(end.startedBy).toBe(id.startedBy);
        expect(decidingExitCode(end)).not.toBe(0);
        expect(decidingExitCode(end)).toBeDefined();
        expect(classifyStop(end).status).toBe("FAILED");
        expect(await fixture.serving()).toBe("v1");
      });

      it("a repeated clientToken starts no second deployment, also when the calls race or come after it ended", async () => {
        const id = identity();
        const plan = fixture.healthy("v1");
        const arns = (await Promise.all([deployer.deploy(plan, id), deployer.deploy(plan, id)])).map(arnOf);
        expect(arns[1]).toBe(arns[0]);

        await ended(arns[0]!);
        expect(await deploy(plan, id)).toBe(arns[0]);
        expect(deploymentsStartedBy(id.startedBy)).toEqual([arns[0]]);
        expect(await fixture.serving()).toBe("v1");
      });

      it("a new clientToken for the same run starts a second deployment", async () => {
        const attempt1 = identity();
        const first = await deploy(fixture.healthy("v1"), attempt1);
        await ended(first);
        const second = await deploy(fixture.healthy("v2"), identity(attempt1.runId, 2));

        expect(second).not.toBe(first);
        expect(decidingExitCode(await ended(second))).toBe(0);
        expect(deploymentsStartedBy(attempt1.startedBy).sort()).toEqual([first, second].sort());
        expect(await fixture.serving()).toBe("v2");
      });

      it("a deploy that cannot be carried out is an invalid, non-retryable failure, not a throw, and starts nothing", async () => {
        const id = identity();
        const outcome = await deployer.deploy(fixture.unknownService("v1"), id);

        expect(outcome).toEqual({ ok: false, failure: { kind: "invalid", retryable: false, message: expect.stringMatching(/\S/) } });
        expect(deploymentsStartedBy(id.startedBy)).toEqual([]);
      });
    });

    describe("stop", () => {
      it("abandons a deployment in progress: it ends cancelled, the previous version keeps serving, and the next deploy proceeds", async () => {
        await serve("v1");
        const taskArn = await deploy(fixture.stuck("v2"));
        const progress = await rollingOut(taskArn);
        const { tasks } = await deployer.describe([taskArn]);
        expect(tasks[0]?.lastStatus).not.toBe("STOPPED");

        await expect(deployer.stop(taskArn, "cancelled by the contract suite")).resolves.toBeUndefined();
        const end = await ended(taskArn);
        expect(end.version).toBeGreaterThan(progress.version);
        // Tracking treats a stopped deployment like a stopped task: cancelled, not failed, not succeeded.
        expect(classifyStop(end).status).toBe("CANCELLED");
        expect(await fixture.serving()).toBe("v1");

        await serve("v3");
      });

      it("stop() of a deployment that ended changes nothing", async () => {
        const taskArn = await serve("v1");
        const [before] = (await deployer.describe([taskArn])).tasks;
        const emitted = statesOf(taskArn);

        await expect(deployer.stop(taskArn, "too late")).resolves.toBeUndefined();
        expect(await fixture.serving()).toBe("v1");
        // Another deployment end to end, so anything the stop set off has had its chance to show.
        await serve("v2");
        expect((await deployer.describe([taskArn])).tasks).toEqual([before]);
        expect(statesOf(taskArn)).toEqual(emitted);
      });

      it("stop() of an ARN it never issued is not an error", async () => {
        const taskArn = await serve("v1");
        await expect(deployer.stop(unknownLike(taskArn), "timed out")).resolves.toBeUndefined();
        expect(await fixture.serving()).toBe("v1");
      });
    });

    describe("describe", () => {
      it("returns ARNs it never issued in missing and the deployments it knows in tasks", async () => {
        const id = identity();
        const taskArn = await deploy(fixture.healthy("v1"), id);
        const u1 = unknownLike(taskArn);
        const u2 = unknownLike(taskArn, u1);

        const { tasks, missing } = await deployer.describe([u1, taskArn, u2]);
        expect(tasks).toEqual([expect.objectContaining({ taskArn, startedBy: id.startedBy })]);
        expect([...missing].sort()).toEqual([u1, u2].sort());
        expect(await deployer.describe([u1])).toEqual({ tasks: [], missing: [u1] });
        expect(await deployer.describe([])).toEqual({ tasks: [], missing: [] });
        await ended(taskArn);
      });
    });
  });
}
