/**
 * DynamoRunStore's lost conditional writes, through the real SDK over HTTP.
 *
 * DynamoDB answers a failed condition asked with ReturnValuesOnConditionCheckFailure ALL_OLD
 * with the item in the ConditionalCheckFailedException (`Item`, attribute-value form:
 * https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ConditionalCheckFailedException.html).
 * dynalite accepts the parameter but never sends the item
 * (https://github.com/architect/dynalite/issues/182), so a small proxy in front of it adds
 * the item the way DynamoDB does; the same proxy, told not to, counts the store's reads on
 * dynalite's own behaviour.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient, GetItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoRunStore, runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { advance, makeRun } from "../contract/run-fixtures.ts";
import { runStoreContract } from "../contract/run-store.contract.ts";

interface Proxy {
  readonly endpoint: string;
  /** GetItem requests the store sent through the proxy. */
  reads: number;
  close(): Promise<void>;
}

type Request = { TableName: string; Item?: Record<string, AttributeValue>; Key?: Record<string, AttributeValue>; ReturnValuesOnConditionCheckFailure?: string };

async function startProxy(dynamo: LocalDynamo, sendItems: boolean): Promise<Proxy> {
  const direct = dynamo.client();
  const proxy: Proxy = { endpoint: "", reads: 0, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const target = String(req.headers["x-amz-target"]);
      if (target.endsWith(".GetItem")) proxy.reads += 1;
      const forwarded = await fetch(dynamo.endpoint, { method: "POST", headers: forwardable(req.headers), body });
      let text = await forwarded.text();
      const request = JSON.parse(body) as Request;
      const answer = JSON.parse(text) as { __type?: string };
      if (sendItems && request.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && answer.__type?.endsWith("#ConditionalCheckFailedException")) {
        const key = request.Key ?? { PK: request.Item!["PK"]!, SK: request.Item!["SK"]! };
        const { Item } = await direct.send(new GetItemCommand({ TableName: request.TableName, Key: key, ConsistentRead: true }));
        if (Item !== undefined) text = JSON.stringify({ ...answer, Item });
      }
      // The body changed, so dynalite's checksum header no longer fits it.
      res.writeHead(forwarded.status, { "content-type": forwarded.headers.get("content-type") ?? "application/x-amz-json-1.0" }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      direct.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (k === "host" || k === "content-length" || v === undefined ? [] : [[k, String(v)]])));
}

let dynamo: LocalDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo.close());

async function storesBehind(sendItems: boolean) {
  const proxy = await startProxy(dynamo, sendItems);
  const tableName = `all-old-${(tables += 1)}`;
  const admin = dynamo.client();
  await createTable(admin, runTableDefinition(tableName));
  admin.destroy();
  const clients = [0, 1].map(
    () => new DynamoDBClient({ endpoint: proxy.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } }),
  );
  const [store, peer] = clients.map((c) => new DynamoRunStore({ client: DynamoDBDocumentClient.from(c), tableName }));
  return {
    store: store!,
    peer: peer!,
    proxy,
    close: async () => {
      clients.forEach((c) => c.destroy());
      await proxy.close();
    },
  };
}

runStoreContract("DynamoRunStore, the stored item coming back with a failed condition (ALL_OLD)", () => storesBehind(true));

describe("DynamoRunStore reads nothing twice when a conditional write loses", () => {
  it.each([
    { server: "sending the item (DynamoDB)", sendItems: true, reads: 1 },
    { server: "not sending it (dynalite)", sendItems: false, reads: 2 },
  ])("a duplicate create, on a server $server, reads $reads item(s) to return the stored run", async ({ sendItems, reads }) => {
    const { store, proxy, close } = await storesBehind(sendItems);
    const first = makeRun({ key: "resize#s3:media:a.png:1" });
    await store.createRun(first);
    proxy.reads = 0;
    // The key item comes back with the lost write; the run item still has to be read, since it may have moved on.
    expect(await store.createRun(makeRun({ key: "resize#s3:media:a.png:1" }))).toEqual({ created: false, existing: first });
    expect(proxy.reads).toBe(reads);
    await close();
  });

  it.each([
    { server: "sending the item (DynamoDB)", sendItems: true, reads: 0 },
    { server: "not sending it (dynalite)", sendItems: false, reads: 1 },
  ])("a lost update, on a server $server, reads $reads item(s) to return the current run", async ({ sendItems, reads }) => {
    const { store, peer, proxy, close } = await storesBehind(sendItems);
    const run = makeRun();
    await store.createRun(run);
    const winner = advance(run, "STARTING");
    await store.updateRun(winner, run.version);
    proxy.reads = 0;
    expect(await peer.updateRun(advance(run, "CANCELLED"), run.version)).toEqual({ ok: false, current: winner });
    expect(proxy.reads).toBe(reads);
    await close();
  });

  it("a run id taken by another key is refused with the run that holds it, read from the failed write", async () => {
    const { store, proxy, close } = await storesBehind(true);
    const run = makeRun({ key: "a" });
    await store.createRun(run);
    proxy.reads = 0;
    const thrown = await store.createRun({ ...run, trigger: { ...run.trigger, idempotencyKey: "b" } }).catch((e: unknown) => e);
    expect(thrown).toMatchObject({ name: "ConflictError", existing: run });
    expect(proxy.reads).toBe(0);
    await close();
  });
});
