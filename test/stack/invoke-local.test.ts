/**
 * `npx serverless invoke local -f dispatch -p events/s3-object-created.json`, as events/README.md
 * promises: osls runs the real built handler in this checkout, pointed at local endpoints through the
 * standard AWS endpoint variables (dynalite for the runs table, local ECS and EventBridge endpoints).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge } from "../support/fake-eventbridge.ts";
import { ROOT, isolatedEnv } from "./package.ts";

// The example catalog's service and the stage below: the function's BERTH_TABLE.
const TABLE = "acme-jobs-dev-runs";

let dynamo: LocalDynamo;
let ecs: FakeEcs;
let eventBridge: Awaited<ReturnType<typeof startFakeEventBridge>>;
let home: string;

beforeAll(async () => {
  [dynamo, ecs, eventBridge] = await Promise.all([startDynalite(), startFakeEcs(), startFakeEventBridge()]);
  await createTable(dynamo.client(), runTableDefinition(TABLE));
  home = mkdtempSync(join(tmpdir(), "berth-invoke-local-"));
});

afterAll(async () => {
  await Promise.all([dynamo.close(), ecs.close(), eventBridge.close()]);
  rmSync(home, { recursive: true, force: true });
});

function invokeLocal(fn: string, eventFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const serverless = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
  const env = isolatedEnv(home, {
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_ECS: ecs.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
  });
  return new Promise((resolve) => {
    execFile(process.execPath, [serverless, "invoke", "local", "-f", fn, "-p", eventFile, "--stage", "dev"], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The handler's answer: the last JSON document osls prints (log lines come before it). */
function answerOf(stdout: string): { outcomes: { kind: string; job?: string; runId?: string; status?: string }[] } {
  const start = stdout.lastIndexOf('{\n    "outcomes"');
  if (start < 0) throw new Error(`no handler answer in:\n${stdout}`);
  return JSON.parse(stdout.slice(start));
}

describe("serverless invoke local", () => {
  it("runs the real dispatch bundle on the sample upload: one run of thumbnails, one RunTask", async () => {
    const r = await invokeLocal("dispatch", "events/s3-object-created.json");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const answer = answerOf(r.stdout);
    expect(answer.outcomes).toEqual([expect.objectContaining({ kind: "accepted", job: "thumbnails", status: "STARTING" })]);
    expect(ecs.stats.tasksLaunched).toBe(1);
    const runs = await dynamo.client().send(new ScanCommand({ TableName: TABLE }));
    expect((runs.Items ?? []).filter((item) => item.runId?.S === answer.outcomes[0]!.runId).length).toBeGreaterThan(0);
  });

  it("the same upload again is a duplicate: nothing more is launched", async () => {
    const r = await invokeLocal("dispatch", "events/s3-object-created.json");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(answerOf(r.stdout).outcomes).toEqual([expect.objectContaining({ kind: "duplicate", job: "thumbnails" })]);
    expect(ecs.stats.tasksLaunched).toBe(1);
  });
});
