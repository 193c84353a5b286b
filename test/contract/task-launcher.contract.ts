/**
 * The TaskLauncher contract: every adapter (child processes, ECS over HTTP)
 * passes this one suite. It states what core relies on, observed only through
 * the port (runTask, stopTask, describeTasks) plus the fixture's view of
 * which tasks the world saw start; where the promise is ECS's documented
 * behaviour, the reference is cited so the local adapter is held to ECS's
 * word, not to the other way round.
 *
 * Tasks run for real (a process, or a task in the fake ECS that lives on its
 * own): the suite never assumes how long anything takes, it polls
 * describeTasks until a state is reached, with a generous deadline.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunTaskRequest } from "../../src/core/ecs/types.ts";
import { clientTokenFor, newRunId, startedByFor } from "../../src/core/ids.ts";
import type { TaskLauncher } from "../../src/core/ports.ts";
import { launchResultOf } from "../../src/core/runs/lifecycle.ts";
import { classifyStop, decidingExitCode } from "../../src/core/runs/task-state.ts";
import { type EcsTaskState } from "../../src/core/events/ecs-task.ts";
import { unknownLike } from "./unknown-arn.ts";

/** Who a request is for: one attempt of one run. */
export interface TaskIdentity {
  readonly startedBy: string;
  readonly clientToken: string;
}

export interface TaskLauncherFixture {
  readonly launcher: TaskLauncher;
  /** A request whose task runs and then exits on its own with `exitCode`. */
  exits(exitCode: number, id: TaskIdentity): RunTaskRequest;
  /** A request whose task runs until it is stopped. */
  runsUntilStopped(id: TaskIdentity): RunTaskRequest;
  /** A request that cannot run: its task definition does not exist. */
  cannotRun(id: TaskIdentity): RunTaskRequest;
  /** The ARNs of every task started with `startedBy`, as the world outside the launcher saw them start (ECS's task list, the executor's events). */
  tasksStartedBy(startedBy: string): Promise<readonly string[]>;
  close(): Promise<void> | void;
}

const DEADLINE_MS = 20_000;
const POLL_MS = 20;

/** A new run's first attempt (or attempt `attempt` of `runId`). */
function identity(runId = newRunId(Date.now(), randomBytes(10)), attempt = 1): TaskIdentity & { readonly runId: string } {
  return { runId, startedBy: startedByFor(runId), clientToken: clientTokenFor(runId, attempt) };
}

function arnOf(outcome: Awaited<ReturnType<TaskLauncher["runTask"]>>): string {
  if (!outcome.ok) throw new Error(`the launch failed: ${outcome.failure.kind}: ${outcome.failure.message}`);
  return outcome.taskArn;
}

export function taskLauncherContract(name: string, open: () => Promise<TaskLauncherFixture>): void {
  describe(`TaskLauncher contract: ${name}`, () => {
    let fixture: TaskLauncherFixture;
    let launcher: TaskLauncher;

    beforeEach(async () => {
      fixture = await open();
      ({ launcher } = fixture);
    });
    afterEach(async () => {
      await fixture.close();
    });

    async function launch(request: RunTaskRequest): Promise<string> {
      return arnOf(await launcher.runTask(request));
    }

    async function describeOne(cluster: string, taskArn: string): Promise<EcsTaskState | undefined> {
      const { tasks } = await launcher.describeTasks(cluster, [taskArn]);
      return tasks.find((t) => t.taskArn === taskArn);
    }

    /** Polls describeTasks until the task is in a state `reached` accepts; fails after the deadline. */
    async function waitFor(cluster: string, taskArn: string, what: string, reached: (task: EcsTaskState) => boolean): Promise<EcsTaskState> {
      const deadline = Date.now() + DEADLINE_MS;
      let last: EcsTaskState | undefined;
      for (;;) {
        last = await describeOne(cluster, taskArn);
        if (last !== undefined && reached(last)) return last;
        if (Date.now() > deadline) throw new Error(`task ${taskArn} was not ${what} within ${DEADLINE_MS} ms; last described as ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }

    const stopped = (cluster: string, taskArn: string) => waitFor(cluster, taskArn, "STOPPED", (t) => t.lastStatus === "STOPPED");
    const running = (cluster: string, taskArn: string) => waitFor(cluster, taskArn, "RUNNING", (t) => t.lastStatus === "RUNNING");

    describe("runTask", () => {
      it.each([0, 3])("runs a task that exits with code %i and describeTasks reports it STOPPED with that exit code", async (exitCode) => {
        const request = fixture.exits(exitCode, identity());
        const taskArn = await launch(request);

        const task = await stopped(request.cluster, taskArn);
        expect(task).toMatchObject({ taskArn, lastStatus: "STOPPED", desiredStatus: "STOPPED", stopCode: "EssentialContainerExited", startedBy: request.startedBy });
        expect(task.containers).toEqual(expect.arrayContaining([expect.objectContaining({ exitCode })]));
        expect(decidingExitCode(task)).toBe(exitCode);
        expect(classifyStop(task)).toEqual(exitCode === 0 ? { status: "SUCCEEDED", exitCode: 0 } : { status: "FAILED", failureClass: `exit:${exitCode}`, exitCode });
        expect(await fixture.tasksStartedBy(request.startedBy)).toEqual([taskArn]);
      });

      // RunTask with a clientToken is idempotent: "If you retry a request that completed successfully using the
      // same client token and the same parameters, the retry succeeds without performing any further actions"
      // and returns the original result, for 24 hours (Amazon ECS API Reference, "Ensuring idempotency",
      // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html#RunTaskIdempotency).
      it("a repeated clientToken starts no second task and answers the first task's ARN, also once it stopped", async () => {
        const request = fixture.exits(0, identity());
        const first = await launch(request);
        expect(await launch(request)).toBe(first);

        await stopped(request.cluster, first);
        expect(await launch(request)).toBe(first);
        expect(await fixture.tasksStartedBy(request.startedBy)).toEqual([first]);
      });

      it("concurrent calls with one clientToken start one task and all answer its ARN", async () => {
        const request = fixture.exits(0, identity());
        const arns = (await Promise.all(Array.from({ length: 4 }, () => launcher.runTask(request)))).map(arnOf);

        expect(new Set(arns).size).toBe(1);
        await stopped(request.cluster, arns[0]!);
        expect(await fixture.tasksStartedBy(request.startedBy)).toEqual([arns[0]]);
      });

      // ECS refuses a reused token with changed parameters: ConflictException, whose "resourceIds are the existing task
      // ARNs which are already associated with the clientToken" (API Reference, RunTask, Errors); an adapter may instead
      // answer the first task. Either way the token never starts a second task, and the attempt adopts the first one.
      it("a clientToken reused with a different request starts no second task, and the attempt adopts the first", async () => {
        const id = identity();
        const first = await launch(fixture.exits(0, id));
        const outcome = await launcher.runTask(fixture.runsUntilStopped(id));

        if (!outcome.ok) expect(outcome.failure).toMatchObject({ kind: "conflict", retryable: false, existingTaskArns: [first] });
        expect(launchResultOf(outcome)).toEqual({ ok: true, taskArn: first });
        expect(await fixture.tasksStartedBy(id.startedBy)).toEqual([first]);
      });

      it("a different clientToken starts a second task, even for the same run", async () => {
        const attempt1 = identity();
        const attempt2 = identity(attempt1.runId, 2);
        const first = fixture.exits(0, attempt1);
        const second = fixture.exits(0, attempt2);
        const a = await launch(first);
        const b = await launch(second);

        expect(b).not.toBe(a);
        await Promise.all([stopped(first.cluster, a), stopped(second.cluster, b)]);
        expect([...(await fixture.tasksStartedBy(attempt1.startedBy))].sort()).toEqual([a, b].sort());
      });

      it("a request that cannot run comes back as an invalid, non-retryable failure and starts nothing", async () => {
        const request = fixture.cannotRun(identity());
        const outcome = await launcher.runTask(request);

        expect(outcome).toEqual({ ok: false, failure: { kind: "invalid", retryable: false, message: expect.stringMatching(/\S/) } });
        expect(await fixture.tasksStartedBy(request.startedBy)).toEqual([]);
      });
    });

    // StopTask issues `docker stop` to the task's containers, and the `reason` "appears in subsequent
    // DescribeTasks API operations on this task" (Amazon ECS API Reference, StopTask,
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html); a task stopped that way has
    // stopCode UserInitiated (API Reference, Task.stopCode; Developer Guide, "Amazon ECS stopped tasks error codes").
    describe("stopTask", () => {
      it("ends a running task: it reaches STOPPED with stop code UserInitiated and the reason given", async () => {
        const request = fixture.runsUntilStopped(identity());
        const taskArn = await launch(request);
        const before = await running(request.cluster, taskArn);

        await expect(launcher.stopTask(request.cluster, taskArn, "cancelled by the contract suite")).resolves.toBeUndefined();
        const after = await stopped(request.cluster, taskArn);
        expect(after).toMatchObject({ lastStatus: "STOPPED", desiredStatus: "STOPPED", stopCode: "UserInitiated", stoppedReason: "cancelled by the contract suite" });
        expect(after.version).toBeGreaterThan(before.version);
        expect(classifyStop(after).status).toBe("CANCELLED");
      });

      it("stopping a task that already stopped is not an error and changes nothing", async () => {
        const request = fixture.exits(3, identity());
        const taskArn = await launch(request);
        const before = await stopped(request.cluster, taskArn);

        await expect(launcher.stopTask(request.cluster, taskArn, "too late")).resolves.toBeUndefined();
        expect(await describeOne(request.cluster, taskArn)).toEqual(before);
        expect(classifyStop(before)).toMatchObject({ status: "FAILED", exitCode: 3 });
      });

      // ECS forgets stopped tasks after about an hour (below): stopping one then is not an error either.
      it("stopping a task it does not know is not an error", async () => {
        const request = fixture.exits(0, identity());
        const taskArn = await launch(request);
        await stopped(request.cluster, taskArn);

        await expect(launcher.stopTask(request.cluster, unknownLike(taskArn), "timed out")).resolves.toBeUndefined();
      });
    });

    // DescribeTasks answers tasks it cannot find as failures with reason MISSING ("The specified task wasn't
    // found", Amazon ECS Developer Guide, "API failure reasons",
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html); stopped tasks
    // stay describable "for at least one hour" (API Reference, DescribeTasks,
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html).
    describe("describeTasks", () => {
      it("returns ARNs it never started in missing", async () => {
        const request = fixture.exits(0, identity());
        const taskArn = await launch(request);
        const first = unknownLike(taskArn);
        const unknown = [first, unknownLike(taskArn, first)];

        expect(await launcher.describeTasks(request.cluster, unknown)).toEqual({ tasks: [], missing: unknown });
      });

      it("splits a list of known and unknown ARNs into tasks and missing", async () => {
        const [first, second] = [fixture.exits(0, identity()), fixture.runsUntilStopped(identity())];
        const a = await launch(first);
        const b = await launch(second);
        await stopped(first.cluster, a);
        const [u1, u2] = [unknownLike(a), unknownLike(b)];

        const { tasks, missing } = await launcher.describeTasks(first.cluster, [u1, a, u2, b]);
        expect(tasks.map((t) => t.taskArn).sort()).toEqual([a, b].sort());
        expect(tasks.find((t) => t.taskArn === a)).toMatchObject({ lastStatus: "STOPPED", startedBy: first.startedBy });
        expect(tasks.find((t) => t.taskArn === b)).toMatchObject({ startedBy: second.startedBy });
        expect(tasks.find((t) => t.taskArn === b)?.lastStatus).not.toBe("STOPPED");
        expect([...missing].sort()).toEqual([u1, u2].sort());
      });

      // DescribeTasks takes "a list of up to 100 task IDs or full ARN entries"; the port takes any number.
      it("describes a list longer than one DescribeTasks call takes (100)", async () => {
        const request = fixture.exits(0, identity());
        const taskArn = await launch(request);
        const unknown: string[] = [];
        while (unknown.length < 150) unknown.push(unknownLike(taskArn, ...unknown));

        const { tasks, missing } = await launcher.describeTasks(request.cluster, [...unknown.slice(0, 120), taskArn, ...unknown.slice(120)]);
        expect(tasks.map((t) => t.taskArn)).toEqual([taskArn]);
        expect([...missing].sort()).toEqual([...unknown].sort());
      });

      it("describes no ARNs as no tasks and nothing missing", async () => {
        const request = fixture.exits(0, identity());
        expect(await launcher.describeTasks(request.cluster, [])).toEqual({ tasks: [], missing: [] });
      });
    });
  });
}
