/**
 * BatchStore in the runs table (DynamoRunStore's table, its PK/SK key schema), under key prefixes of its own:
 *
 * | record   | PK                     | SK                     | other attributes                                                  |
 * |----------|------------------------|------------------------|-------------------------------------------------------------------|
 * | head     | `BATCHHEAD#<job>`      | HEAD                   | batchJob, batchId, state, opened, closesAt, count, bytes, closedAt, closeReason, runId; the previous batch: prevBatchId, prevOpened, prevClosesAt, prevCount, prevBytes, prevClosedAt, prevCloseReason |
 * | item key | `BATCHKEY#<item key>`  | KEY                    | batchJob, placedBatch, placedSlot, expiresAt                      |
 * | slot     | `BATCH#<batch id>`     | `SLOT#<slot, 10 digits>` | batchJob, data (the slot's record as JSON), expiresAt           |
 *
 * Every write is one PutItem or UpdateItem whose condition expression states the model.ts rule it follows
 * (named at each write); no transactions. A batch's slots share its partition, so a strongly consistent
 * Query lists them, in slot order, a page (1 MB) at a time: a 10,000-item batch is a few pages, and no
 * item grows with the batch. The job is `batchJob`, not `job`: `job` keys the run indexes, which these
 * records stay out of.
 *
 * Item keys and slots carry `expiresAt` (epoch seconds, the table's TTL attribute, as the run store's records
 * do: dynamo-run-store.ts), `retentionDays` after they were written, so the batch records do not grow without
 * bound; an item key expired but not yet deleted counts as absent (model.ts `liveItemKey`). Heads are one per
 * job and never expire.
 */
import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { isTombstone, type Applied, type BatchHead, type BatchSlot, type BatchState, type CloseReason, type HeadChange, type ItemKeyChange, type ItemKeyRecord, type PreviousBatch, type SlotRef } from "../core/batch/model.ts";
import type { BatchStore } from "../core/batch/port.ts";
import { ConflictError, TransientError } from "../core/errors.ts";
import type { DynamoCommandSender } from "./dynamo-run-store.ts";
import { translateAwsError } from "./errors.ts";

export interface DynamoBatchStoreOptions {
  readonly client: DynamoCommandSender;
  /** The runs table. */
  readonly tableName: string;
  /** Days an item key and a slot are kept after they are written, via TTL. Default 90, as the run store's. */
  readonly retentionDays?: number;
}

const PREVIOUS = ["prevBatchId", "prevOpened", "prevClosesAt", "prevCount", "prevBytes", "prevClosedAt", "prevCloseReason"] as const;

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
    ...(head.previous !== undefined
      ? {
          prevBatchId: head.previous.batchId,
          prevOpened: head.previous.opened,
          prevClosesAt: head.previous.closesAt,
          prevCount: head.previous.count,
          prevBytes: head.previous.bytes,
          prevClosedAt: head.previous.closedAt,
          prevCloseReason: head.previous.closeReason,
        }
      : {}),
  };
}

function toPrevious(item: Item): PreviousBatch | undefined {
  const batchId = str(item, "prevBatchId");
  if (batchId === undefined) return undefined;
  return {
    batchId,
    opened: num(item, "prevOpened") ?? 0,
    closesAt: num(item, "prevClosesAt") ?? 0,
    count: num(item, "prevCount") ?? 0,
    bytes: num(item, "prevBytes") ?? 0,
    closedAt: num(item, "prevClosedAt") ?? 0,
    closeReason: (str(item, "prevCloseReason") ?? "window") as CloseReason,
  };
}

function toHead(item: Item): BatchHead {
  const closedAt = num(item, "closedAt");
  const closeReason = str(item, "closeReason") as CloseReason | undefined;
  const runId = str(item, "runId");
  const previous = toPrevious(item);
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
    ...(previous !== undefined ? { previous } : {}),
  };
}

/** An item key as stored; undefined for one placed nowhere (a claim written by an earlier protocol), which counts as absent. */
function toItemKey(itemKey: string, item: Item): ItemKeyRecord | undefined {
  const batchId = str(item, "placedBatch");
  const slot = num(item, "placedSlot");
  if (batchId === undefined || slot === undefined) return undefined;
  const expiresAt = num(item, "expiresAt");
  return { itemKey, job: str(item, "batchJob") ?? "", placed: { batchId, slot }, ...(expiresAt !== undefined ? { expiresAt } : {}) };
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
  readonly #retentionSeconds: number;

  constructor(options: DynamoBatchStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#retentionSeconds = (options.retentionDays ?? 90) * 86_400;
  }

  /** `expiresAt` of a record written at `at` (epoch ms). */
  #expiresAt(at: number): number {
    return Math.floor(at / 1000) + this.#retentionSeconds;
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
      case "open": {
        // The batch it replaces: closed, or closing (then kept as the new batch's previous); either without a previous of its own.
        const replacing = change.head.previous !== undefined ? "closing" : "closed";
        return {
          key,
          item: headAttributes(change.head),
          condition:
            change.replaces === undefined ? "attribute_not_exists(PK)" : "attribute_not_exists(PK) OR (#batchId = :replaces AND #state = :replacing AND attribute_not_exists(#prevBatchId))",
          ...(change.replaces === undefined ? {} : { values: { ":replacing": replacing, ":replaces": change.replaces } }),
        };
      }
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
        if (change.previous === true) return { key, update: `REMOVE ${PREVIOUS.map((n) => `#${n}`).join(", ")}`, condition: "#prevBatchId = :batch", values: { ":batch": change.batchId } };
        return {
          key,
          update: `SET #state = :closed${change.runId === undefined ? "" : ", #runId = :run"}`,
          condition: `${ofBatch} AND #state = :closing AND attribute_not_exists(#prevBatchId)`,
          values: { ":batch": change.batchId, ":closing": "closing", ":closed": "closed", ...(change.runId === undefined ? {} : { ":run": change.runId }) },
        };
    }
  }

  async getItemKey(itemKey: string): Promise<ItemKeyRecord | undefined> {
    const item = await this.#get(itemKeyKey(itemKey));
    return item === undefined ? undefined : toItemKey(itemKey, item);
  }

  /** applyItemKeyChange, as condition expressions: one PutItem. */
  async changeItemKey(change: ItemKeyChange): Promise<Applied<ItemKeyRecord>> {
    const key = itemKeyKey(change.itemKey);
    const item = { batchJob: change.job, placedBatch: change.at.batchId, placedSlot: change.at.slot, expiresAt: this.#expiresAt(change.now) };
    const write: Write =
      change.from === undefined
        ? { key, item, condition: "attribute_not_exists(PK) OR attribute_not_exists(#placedBatch) OR #expiresAt < :now", values: { ":now": Math.floor(change.now / 1000) } }
        : { key, item, condition: "#placedBatch = :fromBatch AND #placedSlot = :fromSlot", values: { ":fromBatch": change.from.batchId, ":fromSlot": change.from.slot } };
    const written = await this.#write(write);
    if (written !== undefined) return { ok: true, record: { itemKey: change.itemKey, job: change.job, placed: change.at } };
    return { ok: false, current: await this.getItemKey(change.itemKey) };
  }

  /** applySlotWrite: `attribute_not_exists(PK)`. */
  async writeSlot(slot: BatchSlot): Promise<Applied<BatchSlot>> {
    const key = slotKey(slot);
    const expiresAt = this.#expiresAt(isTombstone(slot) ? slot.at : slot.joinedAt);
    const written = await this.#write({ key, item: { batchJob: slot.job, data: JSON.stringify(slot), expiresAt }, condition: "attribute_not_exists(PK)" });
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
