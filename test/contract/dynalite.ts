/**
 * A DynamoDB-compatible server (dynalite) on a free 127.0.0.1 port, in
 * process, so DynamoRunStore is tested through the real SDK stack over HTTP.
 */
import { createRequire } from "node:module";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { RunTableDefinition } from "../../src/aws/dynamo-run-store.ts";

type Dynalite = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;

// dynalite ships no type declarations; load it through require and type the one call used.
const dynalite = createRequire(import.meta.url)("dynalite") as Dynalite;

export interface LocalDynamo {
  readonly endpoint: string;
  /** A new SDK client for the server: each call gives a separate connection pool, as separate processes would have. */
  client(options?: { maxAttempts?: number }): DynamoDBClient;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    client: (options = {}) =>
      new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, ...options }),
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/** CreateTable from the definition (TTL is a separate API dynalite lacks), then wait until it is ACTIVE. */
export async function createTable(client: DynamoDBClient, definition: RunTableDefinition): Promise<void> {
  const { TimeToLiveSpecification: _ttl, ...input } = definition;
  await client.send(new CreateTableCommand(input));
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
    if (Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
