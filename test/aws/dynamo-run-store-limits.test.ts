/**
 * DynamoRunStore checks its writes against DynamoDB's size limits ("Quotas in Amazon DynamoDB": items at
 * most 400 KB, partition keys 2,048 bytes, sort keys 1,024) before sending them: an oversized value is
 * refused as berth's ValidationError, and DynamoDB never sees the request.
 */
import { describe, expect, it } from "vitest";
import { DynamoRunStore } from "../../src/aws/dynamo-run-store.ts";
import { ValidationError } from "../../src/core/errors.ts";
import { makeRun } from "../contract/run-fixtures.ts";

function storeSeeingRequests() {
  const sent: string[] = [];
  const client = {
    send: async (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return {};
    },
  };
  return { store: new DynamoRunStore({ client: client as never, tableName: "runs" }), sent };
}

describe("DynamoRunStore within DynamoDB's limits", () => {
  it("refuses a run whose item would pass 400 KB, sending nothing", async () => {
    const { store, sent } = storeSeeingRequests();
    const run = makeRun({ context: { "s3.etag": "e".repeat(500 * 1024) } });
    await expect(store.createRun(run)).rejects.toThrow(ValidationError);
    await expect(store.createRun(run)).rejects.toThrow(/is \d+ bytes; DynamoDB items are at most 400 KB/);
    expect(sent).toEqual([]);
  });

  it("counts bytes, not characters: 150,000 three-byte characters are too many", async () => {
    const { store, sent } = storeSeeingRequests();
    await expect(store.updateRun(makeRun({ context: { "params.x": "€".repeat(150_000) } }), 1)).rejects.toThrow(/DynamoDB items are at most 400 KB/);
    expect(sent).toEqual([]);
  });

  it("refuses an idempotency key past the 2,048-byte partition key limit", async () => {
    const { store, sent } = storeSeeingRequests();
    await expect(store.createRun(makeRun({ key: "k".repeat(3000) }))).rejects.toThrow(/the key attribute PK is 3004 bytes; DynamoDB allows at most 2048/);
    expect(sent).toEqual([]);
  });

  it("sends a run within the limits", async () => {
    const { store, sent } = storeSeeingRequests();
    await store.createRun(makeRun({ context: { "s3.etag": "e".repeat(1024) } }));
    expect(sent).toEqual(["PutItemCommand", "PutItemCommand"]);
  });
});
