/**
 * `berth explain --stage`: the built CLI reads the batches of a deployed stage from its runs table on dynalite (the
 * table named by the stack's BerthRunsTable output on a CloudFormation-protocol endpoint), as DynamoBatchStore
 * writes them, and says which batch an upload would join. Heads are seeded with DynamoBatchStore itself.
 * Needs the built CLI: `node scripts/build.mjs --quiet`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { DynamoBatchStore } from "../../src/aws/dynamo-batch-store.ts";
import { buildRouter } from "../../src/core/router.ts";
import { explainEvent } from "../../src/core/explain.ts";
import { asBusEvent } from "../../src/core/events/envelope.ts";
import type { BatchHead } from "../../src/core/batch/model.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeCloudFormation, type FakeCloudFormation } from "../support/fake-cloudformation.ts";
import { bin } from "../support/berth-cli.ts";

const CATALOG = `version: 1
service: xs
defaults:
  network: { subnets: [subnet-x] }
jobs:
  gather:
    on: { s3: { bucket: inbox } }
    batch: { window: 10m, maxItems: 30 }
    run: { taskDefinition: count, container: app }
  late:
    on: { s3: { bucket: late } }
    batch: { window: 10m, maxItems: 30 }
    run: { taskDefinition: count, container: app }
  fresh:
    on: { s3: { bucket: fresh } }
    batch: { window: 10m, maxItems: 30 }
    run: { taskDefinition: count, container: app }
`;
const UNBATCHED = `version: 1
service: xs
defaults:
  network: { subnets: [subnet-x] }
jobs:
  one:
    on: { s3: { bucket: inbox } }
    run: { taskDefinition: count, container: app }
`;

const OPEN = "a".repeat(32);
const CLOSING = "b".repeat(32);
const INHERITED = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "BERTH_TABLE", "BERTH_BUS", "BERTH_CONFIG", "AWS_ENDPOINT_URL"];
const keys = { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "e", AWS_REGION: "us-east-1" };

let dynamo: LocalDynamo;
let cfn: FakeCloudFormation;
let project: string;
let unbatched: string;
let base: NodeJS.ProcessEnv;
let opened: number;

function uploadEvent(bucket: string, size: number): string {
  return JSON.stringify({
    version: "0",
    id: "explain-stage",
    "detail-type": "Object Created",
    source: "aws.s3",
    account: "123456789012",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: "0", bucket: { name: bucket }, object: { key: "in/a.csv", size, etag: "d41d8cd98f00b204e9800998ecf8427e", sequencer: "0062E99A88DC407460" }, reason: "PutObject" },
  });
}

beforeAll(async () => {
  dynamo = await startDynalite();
  await createTable(dynamo.client(), runTableDefinition("xs-runs"));
  const store = new DynamoBatchStore({ client: dynamo.client(), tableName: "xs-runs" });
  opened = Date.now();
  const head = (job: string, batchId: string, bytes: number): BatchHead => ({ job, batchId, state: "open", opened, closesAt: opened + 600_000, count: 1, bytes });
  // gather: an open batch of 5 uploads of 100 bytes each.
  expect((await store.changeHead("gather", { kind: "open", head: head("gather", OPEN, 100) })).ok).toBe(true);
  for (let i = 1; i < 5; i++) expect((await store.changeHead("gather", { kind: "reserve", batchId: OPEN, size: 100, now: opened, maxItems: 30 })).ok).toBe(true);
  // late: a batch of 1 upload that is closing; fresh: no batch at all.
  expect((await store.changeHead("late", { kind: "open", head: head("late", CLOSING, 7) })).ok).toBe(true);
  expect((await store.changeHead("late", { kind: "close", batchId: CLOSING, closedAt: opened, reason: "window" })).ok).toBe(true);

  cfn = await startFakeCloudFormation();
  cfn.addStack({ name: "xs-dev", region: "us-east-1", outputs: { BerthRunsTable: "xs-runs", BerthBus: "xs-bus" } });
  cfn.addStack({ name: "xs-gone", region: "us-east-1", outputs: { BerthRunsTable: "gone-runs", BerthBus: "xs-bus" } });

  project = mkdtempSync(join(tmpdir(), "berth-explain-stage-"));
  writeFileSync(join(project, "berth.yml"), CATALOG);
  for (const bucket of ["inbox", "late", "fresh"]) writeFileSync(join(project, `${bucket}.json`), uploadEvent(bucket, 42));
  unbatched = mkdtempSync(join(tmpdir(), "berth-explain-unbatched-"));
  writeFileSync(join(unbatched, "berth.yml"), UNBATCHED);
  writeFileSync(join(unbatched, "inbox.json"), uploadEvent("inbox", 42));

  const aws = mkdtempSync(join(tmpdir(), "berth-aws-"));
  writeFileSync(join(aws, "config"), "[default]\noutput = json\n");
  writeFileSync(join(aws, "credentials"), "");
  base = { ...process.env, NO_COLOR: "1" };
  for (const name of INHERITED) delete base[name];
  Object.assign(base, {
    AWS_CONFIG_FILE: join(aws, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(aws, "credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  });
});
afterAll(async () => {
  await Promise.all([dynamo?.close(), cfn?.close()]);
});
beforeEach(() => {
  cfn.calls.length = 0;
});

/** The built CLI, asynchronously so the in-process servers keep answering. */
function berth(args: string[], env: Record<string, string> = keys, cwd = project): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...base, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

interface JsonBatch {
  decision: string;
  batchId?: string;
  count: number;
  bytes: number;
  closesAt?: number;
  after?: { batchId: string; why: string };
  summary: string;
}
const batchOf = (stdout: string): JsonBatch => (JSON.parse(stdout) as { fired: { batch: JsonBatch }[] }).fired[0]!.batch;

describe("berth explain --stage reads the stage's batches", () => {
  it("an upload to a job with an open batch of 5 would join it: its id, 6 uploads, the bytes with this one, when it closes", async () => {
    const human = await berth(["explain", "inbox.json", "--stage", "dev"]);
    expect(human.stderr).toBe("");
    expect(human.code).toBe(0);
    const closes = new Date(opened + 600_000).toISOString();
    expect(human.stdout).toContain(`batch would join batch ${OPEN} of gather (6 uploads, 542 bytes with this one); it closes at ${closes} (10m after its first upload), or at once at 30 uploads`);
    expect(human.stdout).toContain("batches as table xs-runs (from stack xs-dev, us-east-1) holds them now");
    expect(cfn.calls).toEqual([{ action: "DescribeStacks", stackName: "xs-dev", region: "us-east-1", accessKeyId: "AKIDENV" }]);

    const json = await berth(["--stage", "dev", "explain", "inbox.json", "--json"]);
    expect(json.code).toBe(0);
    expect(batchOf(json.stdout)).toMatchObject({ decision: "join", batchId: OPEN, count: 6, bytes: 542, closesAt: opened + 600_000 });
    expect((JSON.parse(json.stdout) as { batchesFrom: string }).batchesFrom).toBe("table xs-runs (from stack xs-dev, us-east-1)");
  });

  it("an upload to a job whose batch is closing would open a new one, and says which batch takes no more", async () => {
    const human = await berth(["explain", "late.json", "--stage", "dev"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`batch would open a new batch of late (batch ${CLOSING} takes no more: it is closing); it closes at `);
    const json = batchOf((await berth(["explain", "late.json", "--stage", "dev", "--json"])).stdout);
    expect(json).toMatchObject({ decision: "open", count: 1, bytes: 42, after: { batchId: CLOSING, why: "it is closing" } });
    expect(json.batchId).toBeUndefined();
  });

  it("an upload to a job with no batch opens one, which closes a window from now", async () => {
    const before = Date.now();
    const human = await berth(["explain", "fresh.json", "--stage", "dev"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/batch would open a new batch of fresh; it closes at \S+ \(10m from now\)/);
    const json = batchOf((await berth(["explain", "fresh.json", "--stage", "dev", "--json"])).stdout);
    expect(json).toMatchObject({ decision: "open", count: 1, bytes: 42 });
    expect(json.after).toBeUndefined();
    expect(json.closesAt).toBeGreaterThanOrEqual(before + 600_000);
  });

  it("BERTH_TABLE names the table without a stage, and no stack is asked for", async () => {
    const json = await berth(["explain", "inbox.json", "--json"], { ...keys, BERTH_TABLE: "xs-runs" });
    expect(json.stderr).toBe("");
    expect(batchOf(json.stdout)).toMatchObject({ decision: "join", batchId: OPEN, count: 6 });
    expect(cfn.calls).toEqual([]);
  });

  it("a catalog that batches nothing asks AWS nothing, even with --stage", async () => {
    const r = await berth(["explain", "inbox.json", "--stage", "dev", "--json"], keys, unbatched);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { fired: { job: string }[] }).fired.map((f) => f.job)).toEqual(["one"]);
    expect(cfn.calls).toEqual([]);
  });
});

describe("berth explain --stage when the stage cannot be read", () => {
  it("a stage that is not deployed: exit 1, names the stack and `berth deploy`", async () => {
    const r = await berth(["explain", "inbox.json", "--stage", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("berth: no stack xs-nope in us-east-1 (region from AWS_REGION): `berth deploy --stage nope` creates it; for a stage deployed elsewhere, pass its --region (or --profile)\n");
    expect(r.stdout).toBe("");
  });

  it("a stack whose table is gone: exit 1, names the table, the stack and the fix", async () => {
    const r = await berth(["explain", "inbox.json", "--stage", "gone"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^berth: no DynamoDB table gone-runs \(from stack xs-gone\) in us-east-1: the stack names it as BerthRunsTable but it is gone: `berth deploy --stage gone` deploys it again/);
    expect(r.stderr).not.toMatch(/please report|\n\s+at /);
  });

  it("BERTH_TABLE naming no table: exit 1, says to fix BERTH_TABLE or pass --stage", async () => {
    const r = await berth(["explain", "inbox.json"], { ...keys, BERTH_TABLE: "nothing-here" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^berth: no DynamoDB table nothing-here \(from BERTH_TABLE\) in us-east-1: set BERTH_TABLE to the BerthRunsTable output of a deployed stage, or unset it and pass --stage <stage>/);
  });

  it("no credentials: exit 2, says how to configure them, no stack trace", async () => {
    for (const args of [["explain", "inbox.json", "--stage", "dev"], ["explain", "inbox.json", "--aws"]]) {
      const r = await berth(args, { AWS_REGION: "us-east-1", ...(args.includes("--aws") ? { BERTH_TABLE: "xs-runs" } : {}) });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^berth: failed to .*: no AWS credentials were found \(.*\): configure credentials with `aws configure`/);
      expect(r.stderr).not.toMatch(/please report|\n\s+at /);
    }
  });

  it("--aws with neither a stage nor BERTH_TABLE is a usage error before any request", async () => {
    const r = await berth(["explain", "inbox.json", "--aws"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^berth: BERTH_TABLE is not set and no stage is named: pass --stage <stage>/);
    expect(cfn.calls).toEqual([]);
  });
});

describe("a head that keeps the closing batch before it (an optional `previous`)", () => {
  it("is shown beside the batch the upload joins, and a head without one explains as before", () => {
    const loaded = loadCatalog(CATALOG, "berth.yml");
    if (!loaded.ok) throw new Error(JSON.stringify(loaded));
    const parsed = asBusEvent(JSON.parse(uploadEvent("inbox", 42)));
    if (!parsed.ok) throw parsed.error;
    const now = Date.now();
    const current: BatchHead = { job: "gather", batchId: OPEN, state: "open", opened: now, closesAt: now + 600_000, count: 2, bytes: 10 };
    const withPrevious = { ...current, previous: { batchId: CLOSING, opened: now - 600_000, closesAt: now, count: 30, bytes: 3000, closedAt: now, closeReason: "window" as const } };
    const explain = (head: BatchHead) => explainEvent(buildRouter(loaded.catalog), parsed.event, "01J0000000000000000000000", { now, head: () => head }).fired[0]!.batch!;

    const shown = explain(withPrevious);
    expect(shown).toMatchObject({ decision: "join", batchId: OPEN, count: 3, bytes: 52, previous: { batchId: CLOSING, state: "closing", count: 30, bytes: 3000 } });
    expect(shown.summary).toContain(`; batch ${CLOSING} before it (30 uploads, 3000 bytes) is closing, its run not started yet`);
    const plain = explain(current);
    expect(plain.previous).toBeUndefined();
    expect(plain.summary).not.toContain("before it");
  });
});
