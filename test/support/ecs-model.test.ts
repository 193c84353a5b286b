import { describe, expect, it } from "vitest";
import type { Job } from "../../src/core/catalog/types.ts";
import { buildRunTaskRequest } from "../../src/core/ecs/run-task.ts";
import { newRunId } from "../../src/core/ids.ts";
import { ecsModelProblems } from "./ecs-model.ts";

const RUN_ID = newRunId(1_700_000_000_000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));

describe("ecsModelProblems", () => {
  it("passes the RunTask request core builds for a Fargate job", () => {
    const job: Job = {
      name: "thumbnails",
      triggers: [{ kind: "s3", buckets: ["media-uploads"] }],
      action: {
        kind: "run",
        cluster: "jobs",
        taskDefinition: "thumbnailer",
        container: "worker",
        command: ["node", "thumb.js", "${s3.key}"],
        environment: { INPUT_KEY: "${s3.key}" },
        cpu: 512,
        memory: 1024,
        launch: { type: "fargate" },
        network: { subnets: ["subnet-0a1"], securityGroups: ["sg-0c3"], assignPublicIp: false },
      },
      retry: { attempts: 3, backoff: { initial: 30, factor: 2, max: 600 }, on: [] },
      concurrency: { overlap: "allow" },
      tags: { team: "media" },
      roles: {},
      notify: [],
    };
    const built = buildRunTaskRequest(job, (name) => (name === "s3.key" ? "in/cat.png" : undefined), { runId: RUN_ID, attempt: 1, jobName: "thumbnails" });
    if (!built.ok) throw built.error;
    expect(ecsModelProblems("RunTask", built.request)).toEqual([]);
  });

  it("names a member the model does not have, at any depth (the SDK would drop it unsent)", () => {
    expect(ecsModelProblems("RegisterTaskDefinition", { family: "web", revision: 3, containerDefinitions: [{ name: "app", image: "web:1", imageTag: "1" }] })).toEqual([
      "RegisterTaskDefinition.revision: RegisterTaskDefinitionRequest has no member revision",
      "RegisterTaskDefinition.containerDefinitions[0].imageTag: ContainerDefinition has no member imageTag",
    ]);
  });

  it("names a missing required member, a wrong type and a value outside an enum", () => {
    expect(ecsModelProblems("RegisterTaskDefinition", { containerDefinitions: [{ name: "app", image: "web:1", memory: "512" }], networkMode: "vpc" })).toEqual([
      "RegisterTaskDefinition.containerDefinitions[0].memory: the model has a number, the request string \"512\"",
      "RegisterTaskDefinition.networkMode: \"vpc\" is not one of awsvpc, bridge, host, none",
      "RegisterTaskDefinition.family: required by RegisterTaskDefinitionRequest, missing",
    ]);
    expect(ecsModelProblems("DeregisterTaskDefinition", {})).toEqual(["DeregisterTaskDefinition.taskDefinition: required by DeregisterTaskDefinitionRequest, missing"]);
    expect(ecsModelProblems("StopServiceDeployment", { serviceDeploymentArn: "arn", stopType: "CANCEL" })).toEqual([
      "StopServiceDeployment.stopType: \"CANCEL\" is not one of ABORT, ROLLBACK",
    ]);
    expect(ecsModelProblems("UpdateService", { service: "web", deploymentConfiguration: { deploymentCircuitBreaker: { enable: true } } })).toEqual([
      "UpdateService.deploymentConfiguration.deploymentCircuitBreaker.rollback: required by DeploymentCircuitBreaker, missing",
    ]);
    expect(ecsModelProblems("ListServiceDeployments", { service: "web", createdAt: { after: "yesterday" } })).toEqual([
      "ListServiceDeployments.createdAt.after: the model has a timestamp, the request string \"yesterday\"",
    ]);
  });

  it("knows no operation ECS does not have", () => {
    expect(ecsModelProblems("LaunchRocket", {})).toEqual(["the ECS model has no operation LaunchRocket"]);
  });
});
