import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoRunStore, runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { TransientError } from "../../src/core/errors.ts";
import { MemoryRunStore } from "../support/memory-run-store.ts";
import { SqliteRunStore } from "../../src/local/sqlite-run-store.ts";
import { createTable, startDynalite } from "./dynalite.ts";
import type { LocalDynamo } from "./dynalite.ts";
import { advance, makeRun, T0 } from "./run-fixtures.ts";
import { runStoreContract } from "./run-store.contract.ts";

const DAY_MS = 86_400_000;

const JOBS = 300;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "berth-run-store-"));
}

runStoreContract("MemoryRunStore", async () => {
  const store = new MemoryRunStore();
  return { store, peer: store, close: () => {} };
});

runStoreContract("SqliteRunStore (two connections to one file)", async () => {
  const dir = tempDir();
  const store = new SqliteRunStore(join(dir, "runs.db"));
  const peer = new SqliteRunStore(join(dir, "runs.db"));
  return {
    store,
    peer,
    close: () => {
      store.close();
      peer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

let dynamo: LocalDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.close();
});

async function dynamoStores(retentionDays?: number) {
  const tableName = `berth-runs-${(tables += 1)}`;
  const clients = [dynamo.client(), dynamo.client()];
  await createTable(clients[0]!, runTableDefinition(tableName));
  const [store, peer] = clients.map(
    (c) => new DynamoRunStore({ client: DynamoDBDocumentClient.from(c), tableName, ...(retentionDays === undefined ? {} : { retentionDays }) }),
  );
  return { store: store!, peer: peer!, tableName, doc: DynamoDBDocumentClient.from(clients[0]!), close: () => clients.forEach((c) => c.destroy()) };
}

runStoreContract("DynamoRunStore (dynalite over HTTP, two clients)", () => dynamoStores());

describe("SqliteRunStore on its own", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a database written by a newer berth", () => {
    const file = join(dir, "runs.db");
    const raw = new Database(file);
    raw.pragma("user_version = 99");
    raw.close();
    expect(() => new SqliteRunStore(file)).toThrow(/schema version 99, newer than this berth understands/);
  });

  it("reports a write lock held past the busy timeout as a transient error", async () => {
    const file = join(dir, "runs.db");
    const store = new SqliteRunStore(file, { busyTimeoutMs: 50 });
    const other = new Database(file);
    other.exec("BEGIN IMMEDIATE");

    await expect(store.acquireSlot("render", "r1", 1, T0)).rejects.toBeInstanceOf(TransientError);
    other.exec("ROLLBACK");
    expect(await store.acquireSlot("render", "r1", 1, T0)).toBe(true);
    other.close();
    store.close();
  });

  it("works in memory", async () => {
    const store = new SqliteRunStore(":memory:");
    const run = makeRun();
    expect(await store.createRun(run)).toEqual({ created: true, run });
    expect(await store.listOpenRuns()).toEqual([run]);
    store.close();
  });

  it("gives each last slot to exactly one of four processes racing for it", async () => {
    const file = join(dir, "runs.db");
    new SqliteRunStore(file).close();
    const adapter = fileURLToPath(new URL("../../src/local/sqlite-run-store.ts", import.meta.url));
    // The processes start at one moment and walk the same jobs in the same order, so they
    // race for each job's single slot at nearly the same time.
    const script = `
      const { SqliteRunStore } = await import(process.argv[1]);
      const store = new SqliteRunStore(process.argv[2]);
      while (Date.now() < Number(process.argv[3])) await new Promise((r) => setTimeout(r, 1));
      const won = [];
      for (let job = 0; job < ${JOBS}; job += 1) if (await store.acquireSlot("job-" + job, "run-" + process.pid, 1, Date.now())) won.push(job);
      console.log(JSON.stringify(won));`;
    const startAt = String(Date.now() + 2_500);
    const run = promisify(execFile);
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, adapter, file, startAt])),
    );

    const wins = outputs.flatMap((o) => JSON.parse(o.stdout) as number[]).sort((a, b) => a - b);
    expect(wins).toEqual(Array.from({ length: JOBS }, (_, job) => job));
    const store = new SqliteRunStore(file);
    for (let job = 0; job < JOBS; job += 1) expect(await store.slotHolders(`job-${job}`)).toHaveLength(1);
    store.close();
  });
});

describe("DynamoRunStore on its own", () => {
  it("finishes a create whose writer died after claiming the idempotency key", async () => {
    const { store, doc, tableName, close } = await dynamoStores();
    const run = makeRun({ key: "resize#event:e-1" });
    await store.createRun(run);
    await doc.send(new DeleteCommand({ TableName: tableName, Key: { PK: `RUN#${run.id}`, SK: "RUN" } }));

    expect(await store.createRun(makeRun({ key: "resize#event:e-1" }))).toEqual({ created: false, existing: run });
    expect(await store.getRun(run.id)).toEqual(run);
    expect(await store.listOpenRuns()).toEqual([run]);
    close();
  });

  it.each([
    { laterDays: 29, created: false },
    { laterDays: 31, created: true },
  ])("an idempotency key reused $laterDays days later with 30 days retention creates: $created", async ({ laterDays, created }) => {
    const { store, close } = await dynamoStores(30);
    await store.createRun(makeRun({ key: "nightly#schedule:2024-05-01T00:00:00Z" }));
    const later = await store.createRun(makeRun({ key: "nightly#schedule:2024-05-01T00:00:00Z", at: T0 + laterDays * DAY_MS }));
    expect(later.created).toBe(created);
    close();
  });

  it("sets the TTL attribute when a run ends, counted from its end", async () => {
    const { store, doc, tableName, close } = await dynamoStores(7);
    const run = makeRun();
    await store.createRun(run);
    const rawItem = async () => (await doc.send(new GetCommand({ TableName: tableName, Key: { PK: `RUN#${run.id}`, SK: "RUN" } }))).Item;
    expect(await rawItem()).not.toHaveProperty("expiresAt");

    const ended = advance(run, "SUCCEEDED", T0 + 3 * DAY_MS + 1_500);
    await store.updateRun(ended, run.version);
    expect((await rawItem())?.["expiresAt"]).toBe(Math.floor(ended.endedAt! / 1000) + 7 * 86_400);
    close();
  });

  describe("error translation", () => {
    const answers = [
      { status: 400, type: "ThrottlingException", transient: true },
      { status: 400, type: "ProvisionedThroughputExceededException", transient: true },
      { status: 400, type: "RequestLimitExceeded", transient: true },
      { status: 500, type: "InternalServerError", transient: true },
      { status: 503, type: "ServiceUnavailable", transient: true },
      { status: 400, type: "ValidationException", transient: false },
      { status: 400, type: "ResourceNotFoundException", transient: false },
    ];
    let answer = answers[0]!;
    const server = createServer((req, res) => {
      req.resume().on("end", () => {
        res.writeHead(answer.status, { "content-type": "application/x-amz-json-1.0" });
        res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${answer.type}`, message: `${answer.type} from the test server` }));
      });
    });
    let client: DynamoDBClient;
    beforeAll(async () => {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      client = new DynamoDBClient({
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "x" },
        maxAttempts: 1,
      });
    });
    afterAll(async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it.each(answers)("$type ($status) is transient: $transient", async (a) => {
      answer = a;
      const store = new DynamoRunStore({ client: DynamoDBDocumentClient.from(client), tableName: "runs" });
      const error = await store.getRun("anything").then(
        () => undefined,
        (e: unknown) => e,
      );
      if (a.transient) {
        expect(error).toBeInstanceOf(TransientError);
        expect((error as TransientError).message).toContain(a.type);
      } else {
        expect(error).not.toBeInstanceOf(TransientError);
        expect((error as Error).name).toBe(a.type);
      }
      await expect(store.acquireSlot("job", "r1", 1, T0)).rejects.toSatisfy((e) => (e instanceof TransientError) === a.transient);
    });
  });
});
