import { describe, expect, it } from "vitest";
import { serviceName, starterCatalog } from "../../src/cli/commands/init.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { formatIssue } from "../../src/core/catalog/issues.ts";

describe("serviceName", () => {
  it.each([
    ["my-app", "my-app"],
    ["My App", "my-app"],
    ["2024_reports", "reports"],
    ["berth-user-AbC123", "berth-user-abc123"],
    ["a".repeat(40), "a".repeat(32)],
    [`${"x".repeat(31)}-y`, "x".repeat(31)],
    ["---", "my-jobs"],
    ["", "my-jobs"],
  ])("names the service of a folder called %j %j", (folder, name) => {
    expect(serviceName(folder)).toBe(name);
    expect(name).toMatch(/^[a-z][a-z0-9-]{0,31}$/);
  });
});

describe("the starter catalog", () => {
  it.each([
    ["my-app", "UTC"],
    ["x", "Asia/Kolkata"],
    ["a".repeat(32), "America/Argentina/Buenos_Aires"],
  ])("for service %s in %s loads with no problem, with a job of each everyday kind and a stand-in for every task definition and service", (service, timezone) => {
    const loaded = loadCatalog(starterCatalog({ schema: "./node_modules/berth-ecs/berth.schema.json", service, timezone }), "berth.yml");
    if (!loaded.ok) throw new Error(loaded.error.issues.map((i) => formatIssue(i)).join("\n"));
    const { jobs, local } = loaded.catalog;
    expect(Object.values(jobs).map((j) => j.triggers[0]?.kind).sort()).toEqual(["git", "job", "manual", "s3", "schedule"]);
    for (const job of Object.values(jobs)) {
      if (job.action.kind === "run") expect(local.taskDefinitions).toHaveProperty([job.action.taskDefinition]);
      else expect(local.services).toHaveProperty([job.action.service]);
    }
    expect(loaded.catalog.service).toBe(service);
  });
});
