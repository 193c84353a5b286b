import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ECSClient } from "@aws-sdk/client-ecs";
import { EcsTaskLauncher } from "../../src/aws/ecs-task-launcher.ts";
import type { RunTaskRequest } from "../../src/core/ecs/types.ts";
import { ProcessTaskLauncher } from "../../src/local/process-launcher.ts";
import { startFakeEcs } from "../support/fake-ecs.ts";
import { taskLauncherContract, type TaskIdentity } from "./task-launcher.contract.ts";

const NODE = process.execPath;

/** The fields every berth RunTask carries, around the task definition and command under test. */
function request(cluster: string, taskDefinition: string, id: TaskIdentity, command?: string[]): RunTaskRequest {
  return {
    cluster,
    taskDefinition,
    launchType: "FARGATE",
    networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-1"], assignPublicIp: "DISABLED" } },
    ...(command !== undefined ? { overrides: { containerOverrides: [{ name: "main", command }] } } : {}),
    tags: [{ key: "berth:job", value: "contract" }],
    startedBy: id.startedBy,
    clientToken: id.clientToken,
    count: 1,
    propagateTags: "TASK_DEFINITION",
    enableECSManagedTags: true,
  };
}

taskLauncherContract("ProcessTaskLauncher (child processes)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-launcher-contract-"));
  const started = new Map<string, Set<string>>();
  const launcher = new ProcessTaskLauncher({
    catalog: {
      local: {
        engine: "process",
        // One definition; the container override says what each task does, as a job's command would.
        taskDefinitions: { job: { command: [NODE, "-e", "setInterval(() => {}, 1000)"], environment: {} } },
        services: {},
      },
    },
    rootDir: dir,
    logDir: join(dir, "logs"),
    // The executor's events are how the world learns a task started.
    emit: (event) => {
      const arns = started.get(event.detail.startedBy) ?? new Set<string>();
      arns.add(event.detail.taskArn);
      started.set(event.detail.startedBy, arns);
    },
    stopGraceMs: 500,
  });
  return {
    launcher,
    exits: (exitCode, id) => request("jobs", "job", id, [NODE, "-e", `process.exit(${exitCode})`]),
    runsUntilStopped: (id) => request("jobs", "job", id),
    cannotRun: (id) => request("jobs", "no-such-definition", id),
    tasksStartedBy: async (startedBy) => [...(started.get(startedBy) ?? [])],
    async close() {
      await launcher.stopAll("contract test over");
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

taskLauncherContract("EcsTaskLauncher (real SDK over HTTP to the fake ECS endpoint)", async () => {
  // "sleeps" runs until stopped; exit-N families are registered as a test asks for them.
  const fake = await startFakeEcs({ taskDefinitions: { sleeps: {} } });
  const client = new ECSClient({ region: "us-east-1", endpoint: fake.url, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } });
  const cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/jobs";
  const exitFamilies = new Map<number, string>();
  const exitFamily = (exitCode: number): string => {
    const known = exitFamilies.get(exitCode);
    if (known !== undefined) return known;
    const family = fake.registerTaskDefinition(`exits-${exitCode}`, { exitCode });
    exitFamilies.set(exitCode, family);
    return family;
  };
  return {
    launcher: new EcsTaskLauncher(client),
    exits: (exitCode, id) => request(cluster, exitFamily(exitCode), id, ["run-job"]),
    runsUntilStopped: (id) => request(cluster, "sleeps", id, ["serve"]),
    cannotRun: (id) => request(cluster, "never-registered:1", id, ["run-job"]),
    // ECS's own record of the tasks it started (what ListTasks --started-by would list).
    tasksStartedBy: async (startedBy) => [...fake.tasks.values()].filter((t) => t.startedBy === startedBy).map((t) => t.taskArn),
    async close() {
      client.destroy();
      await fake.close();
    },
  };
});
