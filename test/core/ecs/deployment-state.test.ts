/**
 * The mapping from what ECS reports about a service deployment to berth's pseudo task state.
 *
 * The values are ECS's documented ones:
 * - DescribeServices `deployments[]` (API reference, Deployment): `status` PRIMARY ("the most recent
 *   deployment of a service"), ACTIVE ("still has running tasks, but are in the process of being
 *   replaced"), INACTIVE; `rolloutState` (DeploymentRolloutState) IN_PROGRESS when a deployment starts,
 *   COMPLETED "when the service reaches a steady state", FAILED "if the service fails to reach a steady
 *   state and circuit breaker is turned on";
 * - the service deployment history (API reference, ServiceDeployment; developer guide, "View service
 *   history using Amazon ECS service deployments"): `status` (ServiceDeploymentStatus) PENDING;
 *   IN_PROGRESS, STOP_REQUESTED, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS (ongoing); SUCCESSFUL, STOPPED,
 *   ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED (completed); `deploymentCircuitBreaker.status` and `alarms.status`
 *   (ServiceDeploymentRollbackMonitorsStatus) TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED;
 *   "STOPPED: … a user manually stops the deployment [or] the rollback option is not in use for the failure
 *   detection mechanism (the circuit breaker or alarm-based) and the service fails";
 * - developer guide, "Stopping Amazon ECS service deployments": a PENDING or IN_PROGRESS deployment
 *   "moves to the ROLLBACK_REQUESTED state, and then the rollback operation starts".
 */
import { describe, expect, it } from "vitest";
import * as ecs from "@aws-sdk/client-ecs";
import {
  deploymentTaskState,
  LISTED_DEPLOYMENT_STATUS,
  readListedDeployments,
  revisionOf,
  ROLLBACK_MONITOR_STATUS,
  ROLLOUT_STATE,
  SERVICE_DEPLOYMENT_STATUS,
  type HistoricDeployment,
  type ListedDeployment,
} from "../../../src/core/ecs/deployment-state.ts";
import { classifyStop, decidingExitCode } from "../../../src/core/runs/task-state.ts";

const TD = (revision: number, family = "web") => `arn:aws:ecs:us-east-1:123456789012:task-definition/${family}:${revision}`;
const OWNER = { taskArn: TD(7), startedBy: "berth/01JDQ8Z3X5M1V6K7R2T9ABCDEF", container: "app" };
const T0 = Date.parse("2024-11-26T10:00:00.000Z");

function listedOf(fields: Partial<ListedDeployment> = {}): ListedDeployment {
  return { id: "ecs-svc/4738296519937106352", status: "PRIMARY", taskDefinition: TD(7), rolloutState: "IN_PROGRESS", createdAt: T0, ...fields };
}

describe("the documented values", () => {
  it("are the ones the ECS API model (as the SDK carries it) lists", () => {
    expect(Object.values(ROLLOUT_STATE).sort()).toEqual(Object.values(ecs.DeploymentRolloutState).sort());
    expect(Object.values(SERVICE_DEPLOYMENT_STATUS).sort()).toEqual(Object.values(ecs.ServiceDeploymentStatus).sort());
    expect(Object.values(ROLLBACK_MONITOR_STATUS).sort()).toEqual(Object.values(ecs.ServiceDeploymentRollbackMonitorsStatus).sort());
  });
});

describe("deploymentTaskState", () => {
  const inProgress = { lastStatus: "RUNNING", desiredStatus: "RUNNING", version: 1, containers: [{ name: "app", lastStatus: "RUNNING" }] };

  it.each([
    ["listed IN_PROGRESS", { listed: listedOf({ rolloutState: "IN_PROGRESS" }) }],
    ["history PENDING", { history: { status: "PENDING" } }],
    ["history IN_PROGRESS", { history: { status: "IN_PROGRESS" } }],
    ["history IN_PROGRESS, listed IN_PROGRESS", { listed: listedOf(), history: { status: "IN_PROGRESS" } }],
    ["a rolloutState ECS may add later", { listed: listedOf({ rolloutState: "PAUSED" }) }],
    ["a listed deployment without rolloutState (behind a Classic Load Balancer)", { listed: listedOf({ rolloutState: undefined }) }],
  ])("%s is in progress: RUNNING, version 1", (_what, seen) => {
    expect(deploymentTaskState(OWNER, seen)).toEqual({ taskArn: OWNER.taskArn, startedBy: OWNER.startedBy, ...(("listed" in seen) ? { startedAt: "2024-11-26T10:00:00.000Z" } : {}), ...inProgress });
  });

  it("COMPLETED (listed) and SUCCESSFUL (history) are the same ended state: exit code 0, SUCCEEDED", () => {
    const listed = deploymentTaskState(OWNER, { listed: listedOf({ rolloutState: "COMPLETED", rolloutStateReason: "ECS deployment ecs-svc/4738296519937106352 completed." }) });
    const history = deploymentTaskState(OWNER, { history: { status: "SUCCESSFUL", statusReason: "Service deployment completed successfully", createdAt: T0 } });
    expect(listed).toEqual(history);
    expect(listed).toMatchObject({ lastStatus: "STOPPED", desiredStatus: "STOPPED", version: 2, stopCode: "EssentialContainerExited", startedBy: OWNER.startedBy });
    expect(decidingExitCode(listed!)).toBe(0);
    expect(classifyStop(listed!)).toEqual({ status: "SUCCEEDED", exitCode: 0 });
  });

  const failures: [string, HistoricDeployment, RegExp][] = [
    ["circuit breaker, rollback under way", { status: "ROLLBACK_IN_PROGRESS", circuitBreakerStatus: "TRIGGERED" }, /circuit breaker rolled back to the previous revision/],
    ["circuit breaker, rolled back", { status: "ROLLBACK_SUCCESSFUL", circuitBreakerStatus: "TRIGGERED" }, /circuit breaker rolled back to the previous revision/],
    ["circuit breaker, rollback requested", { status: "ROLLBACK_REQUESTED", circuitBreakerStatus: "TRIGGERED" }, /rolled back to the previous revision/],
    ["alarms, rolled back", { status: "ROLLBACK_SUCCESSFUL", alarmsStatus: "TRIGGERED" }, /rolled back to the previous revision/],
    ["circuit breaker, rollback failed", { status: "ROLLBACK_FAILED", circuitBreakerStatus: "TRIGGERED" }, /rollback to the previous revision failed/],
    ["circuit breaker without rollback", { status: "STOPPED", circuitBreakerStatus: "TRIGGERED" }, /not rolled back/],
  ];
  it.each(failures)("a failure the monitors detected (%s) ends with exit code 1, ECS's reason and what happened to the previous revision", (_what, history, outcome) => {
    const listed = listedOf({ status: "ACTIVE", rolloutState: "FAILED", rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start." });
    const state = deploymentTaskState(OWNER, { listed, history })!;
    expect(state).toMatchObject({ lastStatus: "STOPPED", version: 2, stopCode: "EssentialContainerExited", startedBy: OWNER.startedBy });
    expect(state.stoppedReason).toMatch(/^ECS deployment circuit breaker: tasks failed to start; /);
    expect(state.stoppedReason).toMatch(outcome);
    expect(decidingExitCode(state)).toBe(1);
    expect(classifyStop(state)).toEqual({ status: "FAILED", failureClass: "exit:1", exitCode: 1 });
  });

  it("takes the history's reason when the deployment is no longer listed", () => {
    const state = deploymentTaskState(OWNER, { history: { status: "ROLLBACK_SUCCESSFUL", circuitBreakerStatus: "TRIGGERED", statusReason: "Service deployment rolled back because the circuit breaker threshold was exceeded." } })!;
    expect(state.stoppedReason).toBe(
      "Service deployment rolled back because the circuit breaker threshold was exceeded; the circuit breaker rolled back to the previous revision, which keeps serving",
    );
  });

  it("a FAILED listed deployment without history says it cannot tell whether it was rolled back", () => {
    const state = deploymentTaskState(OWNER, { listed: listedOf({ rolloutState: "FAILED", rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start." }) })!;
    expect(decidingExitCode(state)).toBe(1);
    expect(state.stoppedReason).toMatch(/whether it was rolled back is unknown/);
  });

  it.each([
    ["ROLLBACK_REQUESTED", /rolled back to the previous revision/],
    ["ROLLBACK_IN_PROGRESS", /rolled back to the previous revision/],
    ["ROLLBACK_SUCCESSFUL", /rolled back to the previous revision/],
    ["ROLLBACK_FAILED", /rollback to the previous revision failed/],
    ["STOP_REQUESTED", /not rolled back/],
    ["STOPPED", /not rolled back/],
  ])("a deployment stopped on request (%s, no monitor triggered) is UserInitiated: CANCELLED", (status, outcome) => {
    const history: HistoricDeployment = { status, circuitBreakerStatus: "MONITORING", alarmsStatus: "DISABLED" };
    const state = deploymentTaskState(OWNER, { listed: listedOf({ status: "ACTIVE" }), history })!;
    expect(state).toMatchObject({ lastStatus: "STOPPED", version: 2, stopCode: "UserInitiated" });
    expect(state.stoppedReason).toMatch(/^stopped before it completed; /);
    expect(state.stoppedReason).toMatch(outcome);
    expect(classifyStop(state).status).toBe("CANCELLED");
  });

  it("the history's ending wins over a listed deployment still said to be in progress, and a listed ending over history that lags", () => {
    expect(deploymentTaskState(OWNER, { listed: listedOf({ status: "ACTIVE" }), history: { status: "ROLLBACK_REQUESTED" } })?.stopCode).toBe("UserInitiated");
    expect(deploymentTaskState(OWNER, { listed: listedOf({ rolloutState: "COMPLETED" }), history: { status: "IN_PROGRESS" } })?.version).toBe(2);
  });

  it("an ended state always outranks progress: version 2 against 1", () => {
    const running = deploymentTaskState(OWNER, { listed: listedOf() })!;
    for (const history of [{ status: "SUCCESSFUL" }, { status: "STOPPED" }, { status: "ROLLBACK_SUCCESSFUL", circuitBreakerStatus: "TRIGGERED" }]) {
      expect(deploymentTaskState(OWNER, { history })!.version).toBeGreaterThan(running.version);
    }
  });

  it("nothing reported is no state", () => {
    expect(deploymentTaskState(OWNER, {})).toBeUndefined();
  });

  it("without a startedBy (a revision whose run tag is not a run id) the state has none", () => {
    expect(deploymentTaskState({ taskArn: TD(7), container: "app" }, { listed: listedOf() })).not.toHaveProperty("startedBy");
  });
});

describe("readListedDeployments", () => {
  const primary = LISTED_DEPLOYMENT_STATUS.primary;
  const active = LISTED_DEPLOYMENT_STATUS.active;

  it("a revision no deployment lists needs the history", () => {
    expect(readListedDeployments(TD(7), [listedOf({ taskDefinition: TD(6), rolloutState: "COMPLETED" })])).toEqual({ kind: "history" });
  });

  it("the service's newest deployment rolling it out, or a completed one, settles it", () => {
    const rolling = listedOf({ status: primary, rolloutState: "IN_PROGRESS" });
    const older = listedOf({ id: "ecs-svc/1", taskDefinition: TD(6), status: active, rolloutState: "COMPLETED", createdAt: T0 - 60_000 });
    expect(readListedDeployments(TD(7), [rolling, older])).toEqual({ kind: "conclusive", deployment: rolling });
    const done = listedOf({ status: active, rolloutState: "COMPLETED" });
    const newer = listedOf({ id: "ecs-svc/2", taskDefinition: TD(8), status: primary, createdAt: T0 + 60_000 });
    expect(readListedDeployments(TD(7), [newer, done])).toEqual({ kind: "conclusive", deployment: done });
  });

  it("a FAILED deployment, or one replaced while in progress, needs the history to say why", () => {
    const failed = listedOf({ status: active, rolloutState: "FAILED" });
    expect(readListedDeployments(TD(7), [failed])).toEqual({ kind: "history", deployment: failed });
    const replaced = listedOf({ status: active, rolloutState: "IN_PROGRESS" });
    const newer = listedOf({ id: "ecs-svc/3", taskDefinition: TD(6), status: primary, createdAt: T0 + 1000 });
    expect(readListedDeployments(TD(7), [newer, replaced])).toEqual({ kind: "history", deployment: replaced });
  });

  it("a deployment of the revision created after one of a newer revision (a rollback to it) is not berth's: the history decides", () => {
    const failedNewer = listedOf({ id: "ecs-svc/8", taskDefinition: TD(8), status: active, rolloutState: "FAILED", createdAt: T0 });
    const rollbackToMine = listedOf({ id: "ecs-svc/9", taskDefinition: TD(7), status: primary, rolloutState: "IN_PROGRESS", createdAt: T0 + 30_000 });
    expect(readListedDeployments(TD(7), [rollbackToMine, failedNewer])).toEqual({ kind: "history" });
  });

  it("of two deployments of the revision, the first one created is berth's", () => {
    const first = listedOf({ id: "ecs-svc/1", status: active, rolloutState: "COMPLETED", createdAt: T0 });
    const forced = listedOf({ id: "ecs-svc/2", status: primary, rolloutState: "IN_PROGRESS", createdAt: T0 + 5000 });
    expect(readListedDeployments(TD(7), [forced, first])).toEqual({ kind: "conclusive", deployment: first });
  });

  it("another family's deployment older than it leaves doubt (revisions of two families cannot be ordered): the history decides", () => {
    const other = listedOf({ id: "ecs-svc/5", taskDefinition: TD(3, "web-next"), status: active, rolloutState: "COMPLETED", createdAt: T0 - 1000 });
    expect(readListedDeployments(TD(7), [listedOf(), other]).kind).toBe("history");
  });
});

describe("revisionOf", () => {
  it.each([
    [TD(12), { family: "web", revision: 12 }],
    ["arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/my_app-2:1", { family: "my_app-2", revision: 1 }],
    ["arn:aws:ecs:us-east-1:123456789012:task-definition/web:0", undefined],
    ["arn:aws:ecs:us-east-1:123456789012:task-definition/web:0c", undefined],
    ["arn:aws:ecs:us-east-1:123456789012:task-definition/web", undefined],
    ["arn:aws:ecs:us-east-1:123456789012:task/web/0123456789abcdef", undefined],
    ["web:3", undefined],
  ])("%s → %j", (arn, expected) => {
    expect(revisionOf(arn)).toEqual(expected);
  });
});
