import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoBatchStore } from "../../src/aws/dynamo-batch-store.ts";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { TransientError } from "../../src/core/errors.ts";
import { SqliteBatchStore } from "../../src/local/sqlite-batch-store.ts";
import { MemoryBatchStore } from "../support/memory-batch-store.ts";
import { batchStoreContract } from "./batch-store.contract.ts";
import { createTable, startDynalite, type LocalDynamo } from "./dynalite.ts";

batchStoreContract("MemoryBatchStore", async () => {
  const store = new MemoryBatchStore();
  return { store, peer: store, close: () => {} };
});

function sqliteFile() {
  const dir = mkdtempSync(join(tmpdir(), "berth-batch-store-"));
  const file = join(dir, "runs.db");
  const open = () => {
    const db = new Database(file, { timeout: 5000 });
    db.pragma("journal_mode = WAL");
    return db;
  };
  return { dir, open };
}

batchStoreContract("SqliteBatchStore (two connections to one file)", async () => {
  const { dir, open } = sqliteFile();
  const connections = [open(), open()];
  const [store, peer] = connections.map((db) => new SqliteBatchStore(db));
  const close = () => {
    for (const db of connections) db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { store: store!, peer: peer!, close };
});

let dynamo: LocalDynamo;
let tables = 0;
beforeAll(async () => void (dynamo = await startDynalite()));
afterAll(() => dynamo.close());

batchStoreContract("DynamoBatchStore (dynalite over HTTP, two clients)", async () => {
  const tableName = `berth-batches-${(tables += 1)}`;
  const clients = [dynamo.client(), dynamo.client()];
  await createTable(clients[0]!, runTableDefinition(tableName));
  let queries = 0;
  for (const c of clients) {
    c.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { KeyConditionExpression?: string }).KeyConditionExpression !== undefined) queries += 1;
        return next(args);
      },
      { step: "initialize", name: "countQueries" },
    );
  }
  const [store, peer] = clients.map((client) => new DynamoBatchStore({ client, tableName }));
  return { store: store!, peer: peer!, listingRequests: () => queries, close: () => clients.forEach((c) => c.destroy()) };
});

describe("DynamoBatchStore's retention", () => {
  it("writes expiresAt on item keys and slots, and takes a key expired but not yet deleted as absent", async () => {
    const tableName = `berth-batches-ttl-${(tables += 1)}`;
    const client = dynamo.client();
    await createTable(client, runTableDefinition(tableName));
    const store = new DynamoBatchStore({ client, tableName, retentionDays: 1 });
    const now = Date.UTC(2026, 11, 2, 5, 0, 0);
    const day = 86_400;
    const at = { batchId: "b1", slot: 0 };
    expect(await store.changeItemKey({ kind: "place", itemKey: "k", job: "thumbs", at, now })).toMatchObject({ ok: true });
    const slot = { job: "thumbs", ...at, tombstone: true, at: now } as const;
    await store.writeSlot(slot);
    const raw = async (PK: string, SK: string) => (await client.send(new GetItemCommand({ TableName: tableName, Key: { PK: { S: PK }, SK: { S: SK } }, ConsistentRead: true }))).Item;
    expect((await raw("BATCHKEY#k", "KEY"))?.["expiresAt"]).toEqual({ N: String(now / 1000 + day) });
    expect((await raw("BATCH#b1", "SLOT#0000000000"))?.["expiresAt"]).toEqual({ N: String(now / 1000 + day) });
    expect(await store.getItemKey("k")).toEqual({ itemKey: "k", job: "thumbs", placed: at, expiresAt: now / 1000 + day });

    const elsewhere = { batchId: "b2", slot: 3 };
    // Live until its second has passed; then a first placement takes it, as if TTL had deleted it.
    expect(await store.changeItemKey({ kind: "place", itemKey: "k", job: "thumbs", at: elsewhere, now: now + day * 1000 + 999 })).toMatchObject({ ok: false });
    expect(await store.changeItemKey({ kind: "place", itemKey: "k", job: "thumbs", at: elsewhere, now: now + (day + 1) * 1000 })).toMatchObject({ ok: true });
    expect(await store.getItemKey("k")).toMatchObject({ placed: elsewhere, expiresAt: now / 1000 + 2 * day + 1 });
    // Heads never expire.
    await store.changeHead("thumbs", { kind: "open", head: { job: "thumbs", batchId: "b1", state: "open", opened: now, closesAt: now + 60_000, count: 1, bytes: 1 } });
    expect(await raw("BATCHHEAD#thumbs", "HEAD")).not.toHaveProperty("expiresAt");
    client.destroy();
  });

  it("takes an item key written by the claim of an earlier protocol, never placed, as absent", async () => {
    const tableName = `berth-batches-ttl-${(tables += 1)}`;
    const client = dynamo.client();
    await createTable(client, runTableDefinition(tableName));
    const store = new DynamoBatchStore({ client, tableName });
    await client.send(new PutItemCommand({ TableName: tableName, Item: { PK: { S: "BATCHKEY#k" }, SK: { S: "KEY" }, batchJob: { S: "thumbs" } } }));
    expect(await store.getItemKey("k")).toBeUndefined();
    expect(await store.changeItemKey({ kind: "place", itemKey: "k", job: "thumbs", at: { batchId: "b", slot: 0 }, now: 0 })).toMatchObject({ ok: true });
    client.destroy();
  });
});

describe("SqliteBatchStore on its own", () => {
  it("creates its tables beside the run store's and opens an existing file again", async () => {
    const { dir, open } = sqliteFile();
    const db = open();
    db.pragma("user_version = 3");
    const first = new SqliteBatchStore(db);
    await first.changeItemKey({ kind: "place", itemKey: "k", job: "thumbs", at: { batchId: "b", slot: 0 }, now: 0 });
    const again = new SqliteBatchStore(db);
    expect(await again.getItemKey("k")).toEqual({ itemKey: "k", job: "thumbs", placed: { batchId: "b", slot: 0 } });
    // The run store's schema version is its own.
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports a write lock held past the handle's busy timeout as a transient error", async () => {
    const { dir, open } = sqliteFile();
    const db = new Database(join(dir, "runs.db"), { timeout: 50 });
    const store = new SqliteBatchStore(db);
    const other = open();
    other.exec("BEGIN IMMEDIATE");
    const place = { kind: "place", itemKey: "k", job: "thumbs", at: { batchId: "b", slot: 0 }, now: 0 } as const;
    await expect(store.changeItemKey(place)).rejects.toBeInstanceOf(TransientError);
    other.exec("ROLLBACK");
    expect(await store.changeItemKey(place)).toMatchObject({ ok: true });
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

