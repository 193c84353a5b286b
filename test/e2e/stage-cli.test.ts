/**
 * `berth runs`, `runs show`, `run` and `cancel` against a stage named with --stage, through the
 * real CLI: the stage's table and bus come from its stack's outputs on a CloudFormation-protocol
 * endpoint, the table is on dynalite, the bus a local EventBridge endpoint, and the region and
 * credentials come from the options, the environment and shared config files written here.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoRunStore, runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { makeRun, T0 } from "../contract/run-fixtures.ts";
import { startFakeCloudFormation, type FakeCloudFormation } from "../support/fake-cloudformation.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";

const root = new URL("../..", import.meta.url).pathname;
const CATALOG = `version: 1
service: e2e
region: ap-northeast-2
defaults:
  network: { subnets: [subnet-e2e] }
jobs:
  reindex:
    on: { manual: { params: { index: { required: true } } } }
    run: { taskDefinition: reindexer, container: app, environment: { INDEX: "\${params.index}" } }
`;

let dynamo: LocalDynamo;
let cfn: FakeCloudFormation;
let bus: FakeEventBridge;
let project: string;
let base: NodeJS.ProcessEnv;
let devStore: DynamoRunStore;

/** Variables of the test runner's own environment that would change what the CLI resolves. */
const INHERITED = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "BERTH_TABLE", "BERTH_BUS", "BERTH_CONFIG", "AWS_ENDPOINT_URL"];

beforeAll(async () => {
  dynamo = await startDynalite();
  for (const table of ["dev-runs", "other-runs"]) await createTable(dynamo.client(), runTableDefinition(table));
  devStore = new DynamoRunStore({ client: DynamoDBDocumentClient.from(dynamo.client()), tableName: "dev-runs" });
  cfn = await startFakeCloudFormation();
  cfn.addStack({ name: "e2e-dev", region: "us-east-1", status: "UPDATE_COMPLETE", outputs: { BerthRunsTable: "dev-runs", BerthBus: "dev-bus", BerthRejectedQueue: "https://sqs.us-east-1.amazonaws.com/123456789012/rejected" } });
  cfn.addStack({ name: "e2e-prod", region: "eu-west-1", outputs: { BerthRunsTable: "dev-runs", BerthBus: "prod-bus" } });
  cfn.addStack({ name: "e2e-half", region: "us-east-1", status: "ROLLBACK_COMPLETE" });
  cfn.addStack({ name: "e2e-tableonly", region: "us-east-1", outputs: { BerthRunsTable: "dev-runs" } });
  bus = await startFakeEventBridge();

  project = mkdtempSync(join(tmpdir(), "berth-stage-"));
  writeFileSync(join(project, "berth.yml"), CATALOG);
  const aws = mkdtempSync(join(tmpdir(), "berth-aws-"));
  // A default profile without a region, so the catalog's region is what is left when nothing else says.
  writeFileSync(join(aws, "config"), "[default]\noutput = json\n\n[profile south]\nregion = sa-east-1\n\n[profile north]\nregion = eu-north-1\n");
  writeFileSync(join(aws, "credentials"), "[south]\naws_access_key_id = AKIDSOUTH\naws_secret_access_key = s\n\n[north]\naws_access_key_id = AKIDNORTH\naws_secret_access_key = n\n");
  base = { ...process.env, NO_COLOR: "1" };
  for (const name of INHERITED) delete base[name];
  Object.assign(base, {
    AWS_CONFIG_FILE: join(aws, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(aws, "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
  });
});
afterAll(async () => {
  await Promise.all([dynamo?.close(), cfn?.close(), bus?.close()]);
});
beforeEach(() => {
  cfn.calls.length = 0;
  cfn.failWith(undefined);
});

const keys = { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "e" };

/** The real CLI, asynchronously so the in-process servers keep answering; `env` adds to the base environment, undefined removes. */
function berth(args: string[], env: Record<string, string | undefined> = { ...keys, AWS_REGION: "us-east-1" }, cwd = project): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv = { ...base, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "bin/berth.js"), ...args], { cwd, env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("berth runs against a stage named with --stage", () => {
  it("finds the stage's table from its stack's outputs, and prints every time as ISO 8601 with its zone", async () => {
    const run = makeRun({ job: "reindex", status: "SUCCEEDED" });
    await devStore.createRun(run);

    const listed = await berth(["runs", "--stage", "dev", "--json"]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    const [row] = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(row).toMatchObject({ id: run.id, status: "SUCCEEDED", createdAt: "2024-05-01T00:00:00.000Z", endedAt: "2024-05-01T00:00:00.000Z" });
    expect(cfn.calls).toEqual([{ action: "DescribeStacks", stackName: "e2e-dev", region: "us-east-1", accessKeyId: "AKIDENV" }]);

    // People read times in this machine's zone, with its offset.
    const table = await berth(["--stage", "dev", "runs"], { ...keys, AWS_REGION: "us-east-1", TZ: "Asia/Seoul" });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${run.id}\\s+reindex\\s+SUCCEEDED.*2024-05-01T09:00:00\\+09:00`));

    const shown = await berth(["runs", "show", run.id, "--stage", "dev"], { ...keys, AWS_REGION: "us-east-1", TZ: "America/New_York" });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/created\s+2024-04-30T20:00:00-04:00/);
    const json = await berth(["runs", "show", run.id, "--stage", "dev", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: run.id, createdAt: new Date(T0).toISOString(), updatedAt: new Date(T0).toISOString() });
  });

  it("berth run puts the manual run request on the stage's bus", async () => {
    const r = await berth(["run", "reindex", "--param", "index=products", "--stage", "dev"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const entry = bus.entries.at(-1)!;
    expect(entry).toMatchObject({ EventBusName: "dev-bus", Source: "berth", DetailType: "Berth Manual Run" });
    expect(JSON.parse(entry.Detail)).toMatchObject({ service: "e2e", job: "reindex", params: { index: "products" } });
  });

  it("berth cancel ends the run in the stage's table and announces it on the stage's bus, asking for the stack once", async () => {
    const run = makeRun({ job: "reindex", status: "QUEUED" });
    await devStore.createRun(run);
    const r = await berth(["cancel", run.id, "--stage", "dev", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: run.id, status: "CANCELLED" });
    expect((await devStore.getRun(run.id))?.status).toBe("CANCELLED");
    const announced = bus.entries.filter((e) => e.DetailType === "Berth Run State Change").map((e) => ({ bus: e.EventBusName, ...JSON.parse(e.Detail) }));
    expect(announced).toContainEqual(expect.objectContaining({ bus: "dev-bus", runId: run.id, status: "CANCELLED" }));
    expect(cfn.calls).toHaveLength(1);
  });

  it("BERTH_TABLE and BERTH_BUS, when set, win over the stack's outputs", async () => {
    const other = makeRun({ job: "reindex", status: "FAILED" });
    await new DynamoRunStore({ client: DynamoDBDocumentClient.from(dynamo.client()), tableName: "other-runs" }).createRun(other);
    const r = await berth(["runs", "--stage", "dev", "--json"], { ...keys, AWS_REGION: "us-east-1", BERTH_TABLE: "other-runs" });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((x: { id: string }) => x.id)).toEqual([other.id]);
    expect(cfn.calls).toEqual([]);

    // Only the bus is missing from the environment: the stack supplies it.
    const run = await berth(["run", "reindex", "--param", "index=a", "--stage", "dev"], { ...keys, AWS_REGION: "us-east-1", BERTH_TABLE: "other-runs" });
    expect(run.code).toBe(0);
    expect(bus.entries.at(-1)?.EventBusName).toBe("dev-bus");
    expect(cfn.calls).toHaveLength(1);
  });
});

describe("the region and credentials of a stage", () => {
  // Each case looks for a stage no region has, so the answer names the region and where it came from;
  // the endpoint records the region and access key that signed the request.
  it.each([
    { why: "--region wins over the environment and the profile", args: ["--region", "eu-west-1"], env: { AWS_REGION: "us-west-2", AWS_PROFILE: "south" }, region: "eu-west-1", source: "--region", key: "AKIDSOUTH" },
    { why: "AWS_REGION wins over AWS_DEFAULT_REGION", args: [], env: { ...keys, AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "eu-west-1" }, region: "us-west-2", source: "AWS_REGION", key: "AKIDENV" },
    { why: "AWS_DEFAULT_REGION wins over the profile's region", args: [], env: { AWS_DEFAULT_REGION: "eu-central-1", AWS_PROFILE: "south" }, region: "eu-central-1", source: "AWS_DEFAULT_REGION", key: "AKIDSOUTH" },
    { why: "--profile gives its region and its credentials", args: ["--profile", "south"], env: {}, region: "sa-east-1", source: "profile south", key: "AKIDSOUTH" },
    { why: "AWS_PROFILE does the same", args: [], env: { AWS_PROFILE: "south" }, region: "sa-east-1", source: "profile south", key: "AKIDSOUTH" },
    { why: "--profile wins over AWS_PROFILE", args: ["--profile", "north"], env: { AWS_PROFILE: "south" }, region: "eu-north-1", source: "profile north", key: "AKIDNORTH" },
    { why: "berth.yml's region is used when nothing else says", args: [], env: keys, region: "ap-northeast-2", source: "berth.yml", key: "AKIDENV" },
  ])("$why", async ({ args, env, region, source, key }) => {
    const r = await berth(["runs", "--stage", "nowhere", ...args], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`berth: no stack e2e-nowhere in ${region} (region from ${source}): \`berth deploy --stage nowhere\` creates it`);
    expect(cfn.calls).toEqual([{ action: "DescribeStacks", stackName: "e2e-nowhere", region, accessKeyId: key }]);
  });

  it.each([
    { from: "--profile", args: ["--profile", "west"], env: {} },
    { from: "AWS_PROFILE", args: [], env: { AWS_PROFILE: "west" } },
  ])("a profile that $from names and the config files do not have is a usage error that names it, before any request", async ({ from, args, env }) => {
    const r = await berth(["runs", "--stage", "dev", ...args], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^berth: ${from} west: no such profile in \\S+/config or \\S+/credentials`));
    expect(cfn.calls).toEqual([]);
  });

  it("a stage is found only in the region it is deployed in", async () => {
    expect((await berth(["runs", "--stage", "prod"])).stderr).toMatch(/no stack e2e-prod in us-east-1/);
    const there = await berth(["runs", "--stage", "prod", "--region", "eu-west-1", "--json"]);
    expect(there.stderr).toBe("");
    expect(there.code).toBe(0);
  });
});

describe("stages that cannot be used", () => {
  it("a stack without berth's outputs exits 1 and names the missing output and the stack's status", async () => {
    const r = await berth(["runs", "--stage", "half"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^berth: stack e2e-half in us-east-1 \(ROLLBACK_COMPLETE\) has no output BerthRunsTable: .*`berth deploy --stage half`/);
    expect(r.stderr).not.toMatch(/please report/);
  });

  it("a stack that has the table but not the bus serves runs, and refuses run with the missing output", async () => {
    expect((await berth(["runs", "--stage", "tableonly", "--json"])).code).toBe(0);
    const r = await berth(["run", "reindex", "--param", "index=a", "--stage", "tableonly"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stack e2e-tableonly in us-east-1 \(CREATE_COMPLETE\) has no output BerthBus/);
  });

  it("credentials that may not describe the stack exit 1 with AWS's answer and the permission to add", async () => {
    cfn.failWith({ status: 403, code: "AccessDenied", message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: cloudformation:DescribeStacks" });
    const r = await berth(["runs", "--stage", "dev"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^berth: failed to describe stack e2e-dev in us-east-1 \(region from AWS_REGION\): AccessDenied: User: .* \(the credentials in use need cloudformation:DescribeStacks/);
  });

  it.each([
    { what: "--stage with --local", args: ["runs", "--stage", "dev", "--local"], message: /choose one of --stage and --local/ },
    { what: "a stage name a stack name cannot hold", args: ["runs", "--stage", "my_stage"], message: /--stage "my_stage": a stage name is letters, digits and hyphens/ },
  ])("$what is a usage error, exit 2", async ({ args, message }) => {
    const r = await berth(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(cfn.calls).toEqual([]);
  });

  it("without a stage, what the environment does not name is asked for first: exit 2, before any region or stack is looked up", async () => {
    const runs = await berth(["runs", "--aws"], keys, mkdtempSync(join(tmpdir(), "berth-empty-")));
    expect(runs.code).toBe(2);
    expect(runs.stderr).toMatch(/^berth: BERTH_TABLE is not set and no stage is named: pass --stage <stage>/);
    const run = await berth(["run", "reindex", "--param", "index=a", "--aws"], { ...keys, AWS_REGION: "us-east-1", BERTH_TABLE: "dev-runs" });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^berth: BERTH_BUS is not set and no stage is named/);
    expect(cfn.calls).toEqual([]);
  });

  it("--stage needs the catalog, for the service that names the stack", async () => {
    const r = await berth(["runs", "--stage", "dev"], undefined, mkdtempSync(join(tmpdir(), "berth-empty-")));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/berth\.yml: no such file/);
  });
});
