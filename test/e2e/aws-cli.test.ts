/**
 * The run-history commands against a deployed stage, through the real CLI,
 * with the stage's table on a DynamoDB-compatible server and the SDK's
 * standard endpoint variable pointing at it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoRunStore, runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { makeRun, advance } from "../contract/run-fixtures.ts";

const root = new URL("../..", import.meta.url).pathname;
let dynamo: LocalDynamo;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTable(dynamo.client(), runTableDefinition("stage-runs"));
  env = {
    ...process.env,
    NO_COLOR: "1",
    BERTH_TABLE: "stage-runs",
    BERTH_BUS: "stage-bus",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  };
});
afterAll(() => dynamo?.close());

/** Async, so the in-process DynamoDB server keeps answering while the CLI runs. `unset` removes variables from the stage's environment. */
function berth(args: string[], overrides: NodeJS.ProcessEnv = {}, unset: readonly string[] = [], cwd = root): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv = { ...env, ...overrides };
  for (const name of unset) delete childEnv[name];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin/berth.js"), ...args], { cwd, env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("berth runs against a deployed stage", () => {
  it("lists and shows the stage's runs, filtered by job and status", async () => {
    const store = new DynamoRunStore({ client: DynamoDBDocumentClient.from(dynamo.client()), tableName: "stage-runs" });
    const ok = makeRun({ job: "thumbnails", status: "QUEUED" });
    await store.createRun(ok);
    await store.updateRun(advance(advance(ok, "STARTING"), "SUCCEEDED"), ok.version);
    const other = makeRun({ job: "nightly-backup" });
    await store.createRun(other);

    const all = await berth(["runs", "--json"]);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).map((r: { id: string }) => r.id).sort()).toEqual([ok.id, other.id].sort());
    expect(JSON.parse(all.stdout).find((r: { id: string }) => r.id === ok.id)).toMatchObject({ createdAt: new Date(ok.createdAt).toISOString() });

    const done = await berth(["runs", "--job", "thumbnails", "--status", "succeeded", "--json"]);
    expect(JSON.parse(done.stdout)).toMatchObject([{ id: ok.id, status: "SUCCEEDED" }]);

    const show = await berth(["runs", "show", ok.id.toLowerCase()]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`thumbnails run ${ok.id}\\s+SUCCEEDED`));
  });

  it("says which run does not exist, and what is missing from the environment", async () => {
    expect(await berth(["runs", "show", "01JDQ8Z3X5M1V6K7R2T9ABCDEF"])).toMatchObject({ code: 1, stderr: expect.stringMatching(/no run 01JDQ8Z3X5M1V6K7R2T9ABCDEF/) });
    const saved = env;
    env = { ...env, BERTH_TABLE: "" };
    expect(await berth(["runs", "--aws"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/BERTH_TABLE is not set/) });
    env = saved;
  });
});

describe("berth against AWS from a machine that is not set up for it", () => {
  // No shared config or credentials files, and no instance metadata (on EC2 it would supply both).
  const bare = { AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent", AWS_EC2_METADATA_DISABLED: "true" };
  const stack = /at .*\.m?[jt]s:\d+/;

  it("with no region configured, berth runs --aws exits 2 and says how to set one", async () => {
    // A folder without berth.yml: the catalog's region: would otherwise be used.
    const r = await berth(["runs", "--aws"], bare, ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"], mkdtempSync(join(tmpdir(), "berth-")));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/berth: no AWS region is configured: pass --region .*set AWS_REGION.*or write region: in berth\.yml/);
    expect(r.stderr).not.toMatch(/please report/);
    expect(r.stderr).not.toMatch(stack);
  });

  it("with no region in the environment or a profile, the region: of berth.yml here is used", async () => {
    const r = await berth(["runs", "--aws", "--json"], bare, ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("with no credentials, berth runs --aws exits 2 and says how to configure them", async () => {
    const credentials = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"];
    const r = await berth(["runs", "--aws"], bare, credentials);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no AWS credentials were found .*configure credentials with `aws configure`, pick a profile with --profile or AWS_PROFILE/);
    expect(r.stderr).not.toMatch(/please report/);
    expect(r.stderr).not.toMatch(stack);
  });

  it("a run table that does not exist exits 1 with DynamoDB's answer and what to check, not as a bug", async () => {
    const r = await berth(["runs", "--aws"], { BERTH_TABLE: "no-such-table" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/berth: ResourceNotFoundException: .*\(check the names berth is configured with \(BERTH_TABLE/);
    expect(r.stderr).not.toMatch(/please report/);
  });
});
