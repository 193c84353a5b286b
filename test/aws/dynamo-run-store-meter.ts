/**
 * What a DynamoRunStore costs, counted from the requests it sends: each request goes out with
 * ReturnConsumedCapacity INDEXES and the units the server answers are summed; index writes,
 * which dynalite does not report, are counted by DynamoDB's rules from the item before and after
 * each PutItem (asked for with ReturnValues ALL_OLD).
 *
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations:
 * a write puts an item into an index it enters (one write), deletes it from one it leaves (one),
 * both when its index key changes (two), one when only a projected attribute changes, none when
 * neither changes; each write is 1 unit per KB of the index entry, which holds the table's keys,
 * the index's keys and the projected attributes. A Query consumes units for the entries it
 * evaluates (ScannedCount), before any filter.
 */
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoCommandSender, RunTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import { itemSize } from "../support/stack-harness.ts";

type Item = Record<string, AttributeValue>;

export interface CapacityMeter {
  /** Requests by operation (PutItem, GetItem, Query, …). */
  readonly requests: Record<string, number>;
  readUnits: number;
  tableWriteUnits: number;
  indexWriteUnits: number;
  readonly indexWriteUnitsByIndex: Record<string, number>;
  /** Index writes by index and partition key value: how the writes spread over partitions. */
  readonly indexWritesByKey: Record<string, Record<string, number>>;
  /** Index entries or items each query read (ScannedCount, before any filter), by index. */
  readonly evaluatedByIndex: Record<string, number>;
  /** Items GetItem found. */
  itemsRead: number;
}

export function emptyMeter(): CapacityMeter {
  return { requests: {}, readUnits: 0, tableWriteUnits: 0, indexWriteUnits: 0, indexWriteUnitsByIndex: {}, indexWritesByKey: {}, evaluatedByIndex: {}, itemsRead: 0 };
}

interface Command {
  readonly constructor: { readonly name: string };
  readonly input: Record<string, unknown>;
}

interface Answer {
  readonly ConsumedCapacity?: { readonly CapacityUnits?: number };
  readonly Attributes?: Item;
  readonly Item?: Item;
  readonly ScannedCount?: number;
}

const writeUnits = (item: Item) => Math.max(1, Math.ceil(itemSize(item as never) / 1024));

/** The entry `item` has in `index` (its keys and projected attributes), or undefined when the item is not in it. */
function entryOf(index: NonNullable<RunTableDefinition["GlobalSecondaryIndexes"]>[number], tableKeys: readonly string[], item: Item | undefined): Item | undefined {
  const keys = (index.KeySchema ?? []).map((k) => k.AttributeName!);
  if (item === undefined || keys.some((k) => item[k] === undefined)) return undefined;
  const projection = index.Projection?.ProjectionType ?? "ALL";
  if (projection === "ALL") return item;
  const names = new Set([...tableKeys, ...keys, ...(projection === "INCLUDE" ? (index.Projection?.NonKeyAttributes ?? []) : [])]);
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.has(name)));
}

/** `client`, sending every command with ReturnConsumedCapacity and adding what it cost to `meter`. */
export function meteredSender(client: DynamoDBClient, definition: RunTableDefinition, meter: CapacityMeter): DynamoCommandSender {
  const tableKeys = (definition.KeySchema ?? []).map((k) => k.AttributeName!);
  const countIndexWrites = (before: Item | undefined, after: Item | undefined) => {
    for (const index of definition.GlobalSecondaryIndexes ?? []) {
      const hash = index.KeySchema![0]!.AttributeName!;
      const [b, a] = [entryOf(index, tableKeys, before), entryOf(index, tableKeys, after)];
      const keyOf = (e: Item) => JSON.stringify((index.KeySchema ?? []).map((k) => e[k.AttributeName!]));
      const writes: [Item, number][] = [];
      if (b === undefined && a !== undefined) writes.push([a, writeUnits(a)]);
      else if (b !== undefined && a === undefined) writes.push([b, writeUnits(b)]);
      else if (b !== undefined && a !== undefined) {
        if (keyOf(b) !== keyOf(a)) writes.push([b, writeUnits(b)], [a, writeUnits(a)]);
        else if (JSON.stringify(b) !== JSON.stringify(a)) writes.push([a, Math.max(writeUnits(a), writeUnits(b))]);
      }
      for (const [entry, units] of writes) {
        const name = index.IndexName!;
        meter.indexWriteUnits += units;
        meter.indexWriteUnitsByIndex[name] = (meter.indexWriteUnitsByIndex[name] ?? 0) + units;
        const byKey = (meter.indexWritesByKey[name] ??= {});
        const key = entry[hash]?.S ?? "?";
        byKey[key] = (byKey[key] ?? 0) + 1;
      }
    }
  };
  return {
    send: (async (command: Command) => {
      const operation = command.constructor.name.replace(/Command$/, "");
      meter.requests[operation] = (meter.requests[operation] ?? 0) + 1;
      command.input["ReturnConsumedCapacity"] = "INDEXES";
      if (operation === "PutItem") command.input["ReturnValues"] = "ALL_OLD";
      const answer = (await client.send(command as never)) as Answer;
      const units = answer.ConsumedCapacity?.CapacityUnits ?? 0;
      if (operation === "GetItem" || operation === "Query") meter.readUnits += units;
      else meter.tableWriteUnits += units;
      if (operation === "GetItem" && answer.Item !== undefined) meter.itemsRead += 1;
      if (operation === "Query") {
        const index = String(command.input["IndexName"] ?? "table");
        meter.evaluatedByIndex[index] = (meter.evaluatedByIndex[index] ?? 0) + (answer.ScannedCount ?? 0);
      }
      if (operation === "PutItem") countIndexWrites(answer.Attributes, command.input["Item"] as Item);
      return answer;
    }) as DynamoCommandSender["send"],
  };
}
