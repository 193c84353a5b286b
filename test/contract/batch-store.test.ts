import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

describe("SqliteBatchStore on its own", () => {
  it("creates its tables beside the run store's and opens an existing file again", async () => {
    const { dir, open } = sqliteFile();
    const db = open();
    db.pragma("user_version = 3");
    const first = new SqliteBatchStore(db);
    await first.changeItemKey({ kind: "claim", itemKey: "k", job: "thumbs" });
    const again = new SqliteBatchStore(db);
    expect(await again.getItemKey("k")).toEqual({ itemKey: "k", job: "thumbs", done: false });
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
    await expect(store.changeItemKey({ kind: "claim", itemKey: "k", job: "thumbs" })).rejects.toBeInstanceOf(TransientError);
    other.exec("ROLLBACK");
    expect(await store.changeItemKey({ kind: "claim", itemKey: "k", job: "thumbs" })).toMatchObject({ ok: true });
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

