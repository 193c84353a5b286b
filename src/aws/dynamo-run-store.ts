/**
 * RunStore in one DynamoDB table (single-table design; see runTableDefinition).
 *
 * | item        | PK                     | SK    | other attributes                                     |
 * |-------------|------------------------|-------|------------------------------------------------------|
 * | run         | `RUN#<id>`             | RUN   | data (JSON), version, status, index keys, expiresAt  |
 * | idempotency | `KEY#<idempotencyKey>` | KEY   | runId, data (the run as created), expiresAt          |
 * | slots       | `SLOTS#<job>`          | SLOTS | holders: map of run id → since (epoch ms)            |
 *
 * `expiresAt` (epoch seconds, the table's TTL attribute) is set on a run when it ends and on
 * an idempotency key when it is written, `retentionDays` later. A slots item spends about 35
 * bytes per holder, so the catalog's largest `max` (10,000) stays under the 400 KB item limit.
 *
 * Indexes (all project every attribute, so a query needs no second read):
 * - byJob  (GSI1PK `JOB#<job>`, GSI1SK id): one job's history; ULIDs sort by creation time.
 * - byTime (GSI2PK `RUNS`, GSI2SK id): everyone's history. One partition caps index writes at
 *   about 1,000 per second, far above the rate ECS lets berth start tasks; partitioning by
 *   day would lift that cap but make "newest 50" walk empty days.
 * - open   (GSI3PK `OPEN`, GSI3SK `<job>#<id>`): sparse, present only while the run is open
 *   (not ended, or ended but not yet announced: model.ts `isOpen`), so the sweep reads open
 *   runs and never history. One partition holds every job's open runs: the sweep wants all
 *   of them, once a minute (a burst that queues thousands costs thousands of reads a minute).
 * - queued (GSI4PK `QUEUED#<job>`, GSI4SK id): sparse, present only while the run is QUEUED,
 *   so admission reads the head of one job's queue with an exact `Limit` however long the
 *   queue grows (a burst of uploads can queue thousands of runs behind `max: 20`).
 * Index reads are eventually consistent: a run written a moment ago may be missing from a
 * listing for a moment, and a run that just left the queue may still be listed as QUEUED.
 * Nothing depends on listings being current: slots live in their own strongly consistent
 * item, every run change is conditional on the version read, and the sweep, which runs
 * again a minute later, drains whatever admission missed.
 *
 * Runs are stored as a JSON string so the record round-trips exactly. The store speaks DynamoDB's
 * own attribute-value form through the plain client: besides that string it writes only other
 * strings, whole numbers and an empty map, which `attributes` marshals, and it reads back only
 * strings and the slots item's map of numbers.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import type {
  AttributeValue,
  CreateTableCommandInput,
  DynamoDBClient,
  PutItemCommandInput,
  QueryCommandInput,
  TimeToLiveSpecification,
  UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import { ConflictError, TransientError, ValidationError } from "../core/errors.ts";
import { translateAwsError } from "./errors.ts";
import { runQueryLimit } from "../core/ports.ts";
import type { CreateRunResult, RunQuery, RunStore, UpdateRunResult } from "../core/ports.ts";
import { isOpen } from "../core/runs/model.ts";
import { isQueued, isTerminal } from "../core/runs/status.ts";
import type { Run } from "../core/runs/model.ts";

export type RunTableDefinition = CreateTableCommandInput & { readonly TimeToLiveSpecification: TimeToLiveSpecification };

/**
 * The table DynamoRunStore expects. CloudFormation (AWS::DynamoDB::Table) takes all of it;
 * the CreateTable API takes everything but TimeToLiveSpecification, which goes to UpdateTimeToLive.
 */
export function runTableDefinition(tableName: string): RunTableDefinition {
  const keys = (hash: string, range: string) => [
    { AttributeName: hash, KeyType: "HASH" as const },
    { AttributeName: range, KeyType: "RANGE" as const },
  ];
  const index = (IndexName: string, hash: string, range: string) => ({
    IndexName,
    KeySchema: keys(hash, range),
    Projection: { ProjectionType: "ALL" as const },
  });
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", "GSI4PK", "GSI4SK"].map((AttributeName) => ({
      AttributeName,
      AttributeType: "S" as const,
    })),
    KeySchema: keys("PK", "SK"),
    GlobalSecondaryIndexes: [
      index("byJob", "GSI1PK", "GSI1SK"),
      index("byTime", "GSI2PK", "GSI2SK"),
      index("open", "GSI3PK", "GSI3SK"),
      index("queued", "GSI4PK", "GSI4SK"),
    ],
    TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
  };
}

/**
 * What the store sends its commands with: a DynamoDBClient, or a DynamoDBDocumentClient over one, which
 * sends DynamoDB's own commands through that client's middleware unchanged.
 */
export type DynamoCommandSender = Pick<DynamoDBClient, "send">;

export interface DynamoRunStoreOptions {
  readonly client: DynamoCommandSender;
  readonly tableName: string;
  /** Days a run is kept after it ends (and an idempotency key after its run was created), via TTL. Default 90. */
  readonly retentionDays?: number;
}

/** A conditional write's outcome: written, or lost, with the item that failed the condition when DynamoDB sent it back. */
type Written = { readonly written: true } | { readonly written: false; readonly stored?: StoredItem };
type StoredItem = Readonly<Record<string, AttributeValue>>;

/** What the store writes: strings, whole numbers (epoch times, versions, slot counts) and the empty map a slots item starts as. */
type Value = string | number | Readonly<Record<string, never>>;

/** `values` in DynamoDB's attribute-value form; an integer's decimal digits are its DynamoDB number. */
function attributes(values: Readonly<Record<string, Value>>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(values)) {
    out[name] = typeof value === "string" ? { S: value } : typeof value === "number" ? { N: String(value) } : { M: {} };
  }
  return out;
}

/**
 * DynamoDB's size limits ("Quotas in Amazon DynamoDB"): an item is at most 400 KB, its attribute names and
 * values counted in UTF-8 bytes; a partition key value at most 2,048 bytes and a sort key value at most 1,024,
 * for the table's keys and every index's. The store checks its writes against them first, so an oversized
 * value is refused as berth's ValidationError naming it, never sent to come back as DynamoDB's own.
 */
const MAX_ITEM_BYTES = 400 * 1024;
const MAX_PARTITION_KEY_BYTES = 2048;
const MAX_SORT_KEY_BYTES = 1024;
const PARTITION_KEYS = new Set(["PK", "GSI1PK", "GSI2PK", "GSI3PK", "GSI4PK"]);
const SORT_KEYS = new Set(["SK", "GSI1SK", "GSI2SK", "GSI3SK", "GSI4SK"]);

function checkItemSize(item: Readonly<Record<string, Value>>): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    const size = typeof value === "string" ? Buffer.byteLength(value, "utf8") : typeof value === "number" ? String(value).length : 3;
    const keyLimit = PARTITION_KEYS.has(name) ? MAX_PARTITION_KEY_BYTES : SORT_KEYS.has(name) ? MAX_SORT_KEY_BYTES : undefined;
    if (keyLimit !== undefined && size > keyLimit) {
      throw new ValidationError(`the key attribute ${name} is ${size} bytes; DynamoDB allows at most ${keyLimit}`, { field: name });
    }
    bytes += Buffer.byteLength(name, "utf8") + size;
  }
  if (bytes > MAX_ITEM_BYTES) throw new ValidationError(`the item for ${String(item["PK"])} is ${bytes} bytes; DynamoDB items are at most 400 KB`);
}

/** A string attribute of a stored item. */
const text = (item: StoredItem, name: string): string | undefined => item[name]?.S;

/** Waits for a conditional write. */
async function conditional(write: Promise<unknown>): Promise<Written> {
  try {
    await write;
    return { written: true };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    return error.existing === undefined ? { written: false } : { written: false, stored: error.existing as StoredItem };
  }
}

/**
 * The item a ConditionalCheckFailedException carries (asked for with ReturnValuesOnConditionCheckFailure
 * ALL_OLD), in DynamoDB's attribute-value form like every item the store reads. Absent when the item does
 * not exist, and from servers without ALL_OLD (dynalite): then the caller reads.
 */
function itemOf(error: unknown): StoredItem | undefined {
  return (error as { Item?: StoredItem }).Item;
}

type Key = { readonly PK: string; readonly SK: string };
const runKey = (id: string): Key => ({ PK: `RUN#${id}`, SK: "RUN" });
const slotKey = (job: string): Key => ({ PK: `SLOTS#${job}`, SK: "SLOTS" });
const toRun = (item: StoredItem): Run => JSON.parse(text(item, "data") ?? "") as Run;

/** A request as the store builds it: keys, items and expression values in plain form, marshalled when sent. */
type Request<T> = Omit<T, "TableName" | "Item" | "Key" | "ExpressionAttributeValues"> & { readonly ExpressionAttributeValues?: Readonly<Record<string, Value>> };

function expressionValues(values: Readonly<Record<string, Value>> | undefined): { ExpressionAttributeValues?: Record<string, AttributeValue> } {
  return values === undefined ? {} : { ExpressionAttributeValues: attributes(values) };
}

export class DynamoRunStore implements RunStore {
  readonly #client: DynamoCommandSender;
  readonly #table: string;
  readonly #retentionSeconds: number;

  constructor(options: DynamoRunStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#retentionSeconds = (options.retentionDays ?? 90) * 86_400;
  }

  async createRun(run: Run): Promise<CreateRunResult> {
    const now = Math.floor(run.createdAt / 1000);
    const claim = { PK: `KEY#${run.trigger.idempotencyKey}`, SK: "KEY" };
    // Two plain writes rather than one TransactWriteItems: half the write cost, and dynalite
    // (the test server) has no transactions. The key item is the commit point: whoever writes
    // it owns the occurrence. It carries the run as created, so if its writer dies before the
    // run item exists, the next caller with the same key writes it. A key past its expiry
    // that TTL has not deleted yet counts as gone.
    const claimed = await conditional(
      this.#put({
        Item: { ...claim, runId: run.id, data: JSON.stringify(run), expiresAt: now + this.#retentionSeconds },
        ConditionExpression: "attribute_not_exists(PK) OR expiresAt < :now",
        ExpressionAttributeValues: { ":now": now },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    if (!claimed.written) return { created: false, existing: await this.#claimedRun(claim, claimed.stored) };
    const put = await this.#putNewRun(run);
    if (!put.written) {
      const taken = put.stored !== undefined ? toRun(put.stored) : await this.getRun(run.id);
      if (taken?.trigger.idempotencyKey !== run.trigger.idempotencyKey) {
        await this.#call(`release idempotency key ${claim.PK}`, () => this.#client.send(new DeleteItemCommand({ TableName: this.#table, Key: attributes(claim) })));
        throw new ConflictError(`run id ${run.id} is already taken by a run with another idempotency key; create the run with a fresh id`, {
          existing: taken,
        });
      }
    }
    return { created: true, run };
  }

  /**
   * The run that owns an idempotency key, written now from the key item if its creator never did.
   * `stored` is the key item the lost write got back; without it the key item is read.
   */
  async #claimedRun(claimKey: Key, stored: StoredItem | undefined): Promise<Run> {
    const claim = stored ?? (await this.#get(claimKey));
    if (claim === undefined) throw new TransientError(`idempotency key ${claimKey.PK} expired while it was being read; retry`);
    // The key item holds the run as created; the run item holds it as it is now.
    const existing = await this.getRun(text(claim, "runId") ?? "");
    if (existing !== undefined) return existing;
    const created = toRun(claim);
    const put = await this.#putNewRun(created);
    if (put.written) return created;
    return put.stored !== undefined ? toRun(put.stored) : ((await this.getRun(created.id)) ?? created);
  }

  #putNewRun(run: Run): Promise<Written> {
    return conditional(this.#put({ Item: this.#runItem(run), ConditionExpression: "attribute_not_exists(PK)", ReturnValuesOnConditionCheckFailure: "ALL_OLD" }));
  }

  #runItem(run: Run): Record<string, Value> {
    return {
      ...runKey(run.id),
      data: JSON.stringify(run),
      version: run.version,
      status: run.status,
      GSI1PK: `JOB#${run.job}`,
      GSI1SK: run.id,
      GSI2PK: "RUNS",
      GSI2SK: run.id,
      ...(isTerminal(run.status) ? { expiresAt: Math.floor((run.endedAt ?? run.updatedAt) / 1000) + this.#retentionSeconds } : {}),
      ...(isOpen(run) ? { GSI3PK: "OPEN", GSI3SK: `${run.job}#${run.id}` } : {}),
      ...(isQueued(run.status) ? { GSI4PK: `QUEUED#${run.job}`, GSI4SK: run.id } : {}),
    };
  }

  async getRun(id: string): Promise<Run | undefined> {
    const item = await this.#get(runKey(id));
    return item === undefined ? undefined : toRun(item);
  }

  async updateRun(run: Run, expectedVersion: number): Promise<UpdateRunResult> {
    const put = await conditional(
      this.#put({
        Item: this.#runItem(run),
        ConditionExpression: "#v = :expected",
        ExpressionAttributeNames: { "#v": "version" },
        ExpressionAttributeValues: { ":expected": expectedVersion },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
    if (put.written) return { ok: true, run };
    // No item back: the run does not exist, or the server does not send one (dynalite); reading tells which.
    return { ok: false, current: put.stored !== undefined ? toRun(put.stored) : await this.getRun(run.id) };
  }

  async listRuns(query: RunQuery): Promise<readonly Run[]> {
    const limit = runQueryLimit(query);
    const [index, hash, range, partition] =
      query.job === undefined ? ["byTime", "GSI2PK", "GSI2SK", "RUNS"] : ["byJob", "GSI1PK", "GSI1SK", `JOB#${query.job}`];
    const runs = await this.#query(
      {
        IndexName: index,
        KeyConditionExpression: `${hash} = :p${query.before === undefined ? "" : ` AND ${range} < :before`}`,
        ScanIndexForward: false,
        // Limit counts items read before the filter, so a filtered query reads whole pages instead.
        ...(query.status === undefined
          ? { Limit: limit }
          : { FilterExpression: "#status = :status", ExpressionAttributeNames: { "#status": "status" } }),
        ExpressionAttributeValues: {
          ":p": partition,
          ...(query.before === undefined ? {} : { ":before": query.before }),
          ...(query.status === undefined ? {} : { ":status": query.status }),
        },
      },
      limit,
    );
    return runs.slice(0, limit);
  }

  async listOpenRuns(): Promise<readonly Run[]> {
    const runs = await this.#query({ IndexName: "open", KeyConditionExpression: "GSI3PK = :open", ExpressionAttributeValues: { ":open": "OPEN" } });
    return runs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async listQueuedRuns(job: string, limit: number): Promise<readonly Run[]> {
    const count = runQueryLimit({ limit });
    // No filter, so Limit counts exactly the runs wanted; a second page is read only when
    // the 1 MB page cap cut the first one short.
    const runs = await this.#query(
      {
        IndexName: "queued",
        KeyConditionExpression: "GSI4PK = :queue",
        ExpressionAttributeValues: { ":queue": `QUEUED#${job}` },
        ScanIndexForward: true,
        Limit: count,
      },
      count,
    );
    return runs.slice(0, count);
  }

  async acquireSlot(job: string, runId: string, max: number, now: number): Promise<boolean> {
    // A nested map path can only be set once the map exists; creating it is idempotent.
    await this.#update({
      Key: slotKey(job),
      UpdateExpression: "SET holders = if_not_exists(holders, :empty)",
      ExpressionAttributeValues: { ":empty": {} },
    });
    // One conditional update of one item: DynamoDB applies them one at a time, so of callers
    // racing for the last slot exactly one sees room. Re-taking a held slot keeps its first `since`.
    const capped = Number.isFinite(max);
    const taken = await conditional(
      this.#update({
        Key: slotKey(job),
        UpdateExpression: "SET holders.#run = if_not_exists(holders.#run, :now)",
        ...(capped ? { ConditionExpression: "attribute_exists(holders.#run) OR size(holders) < :max" } : {}),
        ExpressionAttributeNames: { "#run": runId },
        ExpressionAttributeValues: { ":now": now, ...(capped ? { ":max": max } : {}) },
      }),
    );
    return taken.written;
  }

  async releaseSlot(job: string, runId: string): Promise<void> {
    // The condition keeps releasing a slot nobody took from creating an empty slots item.
    await conditional(
      this.#update({
        Key: slotKey(job),
        UpdateExpression: "REMOVE holders.#run",
        ConditionExpression: "attribute_exists(holders.#run)",
        ExpressionAttributeNames: { "#run": runId },
      }),
    );
  }

  async slotHolders(job: string): Promise<readonly { readonly runId: string; readonly since: number }[]> {
    const holders = (await this.#get(slotKey(job)))?.["holders"]?.M ?? {};
    return Object.entries(holders)
      .map(([runId, since]) => ({ runId, since: Number(since.N) }))
      .sort((a, b) => a.since - b.since || (a.runId < b.runId ? -1 : 1));
  }

  async #get(key: Key): Promise<StoredItem | undefined> {
    const { Item } = await this.#call(`read ${key.PK}`, () => this.#client.send(new GetItemCommand({ TableName: this.#table, Key: attributes(key), ConsistentRead: true })));
    return Item;
  }

  #put({ Item, ExpressionAttributeValues, ...input }: Request<PutItemCommandInput> & { readonly Item: Readonly<Record<string, Value>> }): Promise<unknown> {
    checkItemSize(Item);
    return this.#call(`write ${String(Item["PK"])}`, () =>
      this.#client.send(new PutItemCommand({ ...input, TableName: this.#table, Item: attributes(Item), ...expressionValues(ExpressionAttributeValues) })),
    );
  }

  #update({ Key, ExpressionAttributeValues, ...input }: Request<UpdateItemCommandInput> & { readonly Key: Key }): Promise<unknown> {
    return this.#call(`update ${Key.PK}`, () =>
      this.#client.send(new UpdateItemCommand({ ...input, TableName: this.#table, Key: attributes(Key), ...expressionValues(ExpressionAttributeValues) })),
    );
  }

  /** Pages through a query until `enough` runs are in hand or the results end. */
  async #query({ ExpressionAttributeValues, ...input }: Request<QueryCommandInput>, enough = Number.POSITIVE_INFINITY): Promise<Run[]> {
    const runs: Run[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.#call(`query index ${input.IndexName}`, () =>
        this.#client.send(new QueryCommand({ ...input, TableName: this.#table, ExclusiveStartKey: start, ...expressionValues(ExpressionAttributeValues) })),
      );
      for (const item of page.Items ?? []) runs.push(toRun(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined && runs.length < enough);
    return runs;
  }

  /**
   * Sends one request; what the store's callers act on comes back in berth's classes: a lost
   * condition (ConflictError carrying the stored item), a temporary failure (TransientError).
   * Any other refusal (no such table, access denied, an invalid request) is thrown as the SDK
   * raised it, under DynamoDB's own name: the handler wrapper and the CLI classify it with the
   * same table (src/aws/errors.ts).
   */
  async #call<T>(action: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      const translated = translateAwsError(error, `${action} in DynamoDB table ${this.#table}`, { existing: itemOf(error) });
      throw translated instanceof ConflictError || translated instanceof TransientError ? translated : error;
    }
  }
}
