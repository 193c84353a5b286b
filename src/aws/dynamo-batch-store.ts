/**
 * BatchStore in the runs table (DynamoRunStore's table, its PK/SK key schema), under key prefixes of its own:
 *
 * | record   | PK                     | SK                     | other attributes                                                  |
 * |----------|------------------------|------------------------|-------------------------------------------------------------------|
 * | head     | `BATCHHEAD#<job>`      | HEAD                   | batchJob, batchId, state, opened, closesAt, count, bytes, closedAt, closeReason, runId |
 * | item key | `BATCHKEY#<item key>`  | KEY                    | batchJob, placedBatch, placedSlot, done                           |
 * | slot     | `BATCH#<batch id>`     | `SLOT#<slot, 10 digits>` | batchJob, data (the slot's record as JSON)                      |
 *
 * Every write is one PutItem or UpdateItem whose condition expression states the model.ts rule it follows
 * (named at each write); no transactions. A batch's slots share its partition, so a strongly consistent
 * Query lists them, in slot order, a page (1 MB) at a time: a 10,000-item batch is a few pages, and no
 * item grows with the batch. The job is `batchJob`, not `job`: `job` keys the run indexes, which these
 * records stay out of.
 */
import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { Applied, BatchHead, BatchSlot, BatchState, CloseReason, HeadChange, ItemKeyChange, ItemKeyRecord, SlotRef } from "../core/batch/model.ts";
import type { BatchStore } from "../core/batch/port.ts";
import { ConflictError, TransientError } from "../core/errors.ts";
import type { DynamoCommandSender } from "./dynamo-run-store.ts";
import { translateAwsError } from "./errors.ts";

export interface DynamoBatchStoreOptions {
  readonly client: DynamoCommandSender;
  /** The runs table. */
  readonly tableName: string;
}

type Item = Readonly<Record<string, AttributeValue>>;
type Values = Readonly<Record<string, string | number>>;

function attributes(values: Values): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(values)) out[name] = typeof value === "string" ? { S: value } : { N: String(value) };
  return out;
}

/** `#name` for every attribute an expression names: several (count, state, bytes) are DynamoDB reserved words. */
function names(expression: string): Record<string, string> {
  return Object.fromEntries([...new Set(expression.match(/#\w+/g) ?? [])].map((n) => [n, n.slice(1)]));
}

const headKey = (job: string) => ({ PK: `BATCHHEAD#${job}`, SK: "HEAD" });
const itemKeyKey = (itemKey: string) => ({ PK: `BATCHKEY#${itemKey}`, SK: "KEY" });
const slotPartition = (batchId: string) => `BATCH#${batchId}`;
const slotKey = (ref: SlotRef) => ({ PK: slotPartition(ref.batchId), SK: `SLOT#${String(ref.slot).padStart(10, "0")}` });

const str = (item: Item, name: string): string | undefined => item[name]?.S;
const num = (item: Item, name: string): number | undefined => (item[name]?.N === undefined ? undefined : Number(item[name]!.N));

function headAttributes(head: BatchHead): Values {
  return {
    batchJob: head.job,
    batchId: head.batchId,
    state: head.state,
    opened: head.opened,
    closesAt: head.closesAt,
    count: head.count,
    bytes: head.bytes,
    ...(head.closedAt !== undefined ? { closedAt: head.closedAt } : {}),
    ...(head.closeReason !== undefined ? { closeReason: head.closeReason } : {}),
    ...(head.runId !== undefined ? { runId: head.runId } : {}),
  };
}

function toHead(item: Item): BatchHead {
  const closedAt = num(item, "closedAt");
  const closeReason = str(item, "closeReason") as CloseReason | undefined;
  const runId = str(item, "runId");
  return {
    job: str(item, "batchJob") ?? "",
    batchId: str(item, "batchId") ?? "",
    state: str(item, "state") as BatchState,
    opened: num(item, "opened") ?? 0,
    closesAt: num(item, "closesAt") ?? 0,
    count: num(item, "count") ?? 0,
    bytes: num(item, "bytes") ?? 0,
    ...(closedAt !== undefined ? { closedAt } : {}),
    ...(closeReason !== undefined ? { closeReason } : {}),
    ...(runId !== undefined ? { runId } : {}),
  };
}

function toItemKey(itemKey: string, item: Item): ItemKeyRecord {
  const batchId = str(item, "placedBatch");
  const slot = num(item, "placedSlot");
  return { itemKey, job: str(item, "batchJob") ?? "", ...(batchId !== undefined && slot !== undefined ? { placed: { batchId, slot } } : {}), done: item["done"] !== undefined };
}

const toSlot = (item: Item): BatchSlot => JSON.parse(str(item, "data") ?? "") as BatchSlot;

/** A conditional write: one UpdateItem or PutItem, its expression and values. */
interface Write {
  readonly key: { readonly PK: string; readonly SK: string };
  readonly condition: string;
  readonly values?: Values;
  /** UpdateItem's SET expression; absent: PutItem of `item`. */
  readonly update?: string;
  readonly item?: Values;
}

export class DynamoBatchStore implements BatchStore {
  readonly #client: DynamoCommandSender;
  readonly #table: string;

  constructor(options: DynamoBatchStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async getHead(job: string): Promise<BatchHead | undefined> {
    const item = await this.#get(headKey(job));
    return item === undefined ? undefined : toHead(item);
  }

  async changeHead(job: string, change: HeadChange): Promise<Applied<BatchHead>> {
    const key = headKey(job);
    const written = await this.#write(this.#headWrite(key, change));
    if (written !== undefined) return { ok: true, record: change.kind === "open" ? change.head : toHead(written) };
    return { ok: false, current: await this.getHead(job) };
  }

  /** applyHeadChange, as condition expressions. */
  #headWrite(key: Write["key"], change: HeadChange): Write {
    const ofBatch = "#batchId = :batch";
    switch (change.kind) {
      case "open":
        return {
          key,
          item: headAttributes(change.head),
          condition: change.replaces === undefined ? "attribute_not_exists(PK)" : "attribute_not_exists(PK) OR (#state = :closed AND #batchId = :replaces)",
          ...(change.replaces === undefined ? {} : { values: { ":closed": "closed", ":replaces": change.replaces } }),
        };
      case "reserve":
        return {
          key,
          update: "SET #count = #count + :one, #bytes = #bytes + :size",
          condition: `${ofBatch} AND #state = :open AND #closesAt > :now AND #count < :maxItems${change.bytesAtMost === undefined ? "" : " AND #bytes <= :bytesAtMost"}`,
          values: {
            ":batch": change.batchId,
            ":open": "open",
            ":one": 1,
            ":size": change.size,
            ":now": change.now,
            ":maxItems": change.maxItems,
            ...(change.bytesAtMost === undefined ? {} : { ":bytesAtMost": change.bytesAtMost }),
          },
        };
      case "close":
        return {
          key,
          update: "SET #state = :closing, #closedAt = :at, #closeReason = :reason",
          condition: `${ofBatch} AND #state = :open`,
          values: { ":batch": change.batchId, ":open": "open", ":closing": "closing", ":at": change.closedAt, ":reason": change.reason },
        };
      case "hand-off":
        return {
          key,
          update: `SET #state = :closed${change.runId === undefined ? "" : ", #runId = :run"}`,
          condition: `${ofBatch} AND #state = :closing`,
          values: { ":batch": change.batchId, ":closing": "closing", ":closed": "closed", ...(change.runId === undefined ? {} : { ":run": change.runId }) },
        };
    }
  }

  async getItemKey(itemKey: string): Promise<ItemKeyRecord | undefined> {
    const item = await this.#get(itemKeyKey(itemKey));
    return item === undefined ? undefined : toItemKey(itemKey, item);
  }

  /** applyItemKeyChange, as condition expressions. */
  async changeItemKey(change: ItemKeyChange): Promise<Applied<ItemKeyRecord>> {
    const key = itemKeyKey(change.itemKey);
    let write: Write;
    switch (change.kind) {
      case "claim":
        write = { key, item: { batchJob: change.job }, condition: "attribute_not_exists(PK)" };
        break;
      case "place":
        write = {
          key,
          update: "SET #placedBatch = :batch, #placedSlot = :slot",
          condition: `attribute_exists(PK) AND attribute_not_exists(#done) AND ${change.from === undefined ? "attribute_not_exists(#placedBatch)" : "#placedBatch = :fromBatch AND #placedSlot = :fromSlot"}`,
          values: { ":batch": change.at.batchId, ":slot": change.at.slot, ...(change.from === undefined ? {} : { ":fromBatch": change.from.batchId, ":fromSlot": change.from.slot }) },
        };
        break;
      case "done":
        write = { key, update: "SET #done = :one", condition: "#placedBatch = :batch AND #placedSlot = :slot", values: { ":one": 1, ":batch": change.at.batchId, ":slot": change.at.slot } };
        break;
    }
    const written = await this.#write(write);
    if (written !== undefined) return { ok: true, record: change.kind === "claim" ? { itemKey: change.itemKey, job: change.job, done: false } : toItemKey(change.itemKey, written) };
    return { ok: false, current: await this.getItemKey(change.itemKey) };
  }

  /** applySlotWrite: `attribute_not_exists(PK)`. */
  async writeSlot(slot: BatchSlot): Promise<Applied<BatchSlot>> {
    const key = slotKey(slot);
    const written = await this.#write({ key, item: { batchJob: slot.job, data: JSON.stringify(slot) }, condition: "attribute_not_exists(PK)" });
    if (written !== undefined) return { ok: true, record: slot };
    const current = await this.#get(key);
    return { ok: false, current: current === undefined ? undefined : toSlot(current) };
  }

  async listSlots(batchId: string): Promise<readonly BatchSlot[]> {
    const slots: BatchSlot[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.#call(`list the slots of batch ${batchId}`, () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            KeyConditionExpression: "PK = :pk AND begins_with(SK, :slot)",
            ExpressionAttributeValues: attributes({ ":pk": slotPartition(batchId), ":slot": "SLOT#" }),
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      for (const item of page.Items ?? []) slots.push(toSlot(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return slots;
  }

  async #get(key: Write["key"]): Promise<Item | undefined> {
    const { Item } = await this.#call(`read ${key.PK}`, () => this.#client.send(new GetItemCommand({ TableName: this.#table, Key: attributes(key), ConsistentRead: true })));
    return Item;
  }

  /**
   * The write, or undefined when its condition failed. An update answers the item as written (ALL_NEW); a
   * put answers `{}`. A lost condition is read back by the caller: dynalite sends no item with it.
   */
  async #write(w: Write): Promise<Item | undefined> {
    const expressionNames = names(`${w.condition} ${w.update ?? ""}`);
    const common = {
      TableName: this.#table,
      ConditionExpression: w.condition,
      ...(Object.keys(expressionNames).length > 0 ? { ExpressionAttributeNames: expressionNames } : {}),
      ...(w.values === undefined ? {} : { ExpressionAttributeValues: attributes(w.values) }),
    };
    try {
      if (w.update === undefined) {
        await this.#call(`write ${w.key.PK}`, () => this.#client.send(new PutItemCommand({ ...common, Item: attributes({ ...w.key, ...w.item }) })));
        return {};
      }
      const out = await this.#call(`update ${w.key.PK}`, () =>
        this.#client.send(new UpdateItemCommand({ ...common, Key: attributes(w.key), UpdateExpression: w.update, ReturnValues: "ALL_NEW" })),
      );
      return out.Attributes ?? {};
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  /** Sends one request; a lost condition comes back as ConflictError, a temporary failure as TransientError, anything else as the SDK raised it. */
  async #call<T>(action: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      const translated = translateAwsError(error, `${action} in DynamoDB table ${this.#table}`);
      throw translated instanceof ConflictError || translated instanceof TransientError ? translated : error;
    }
  }
}
