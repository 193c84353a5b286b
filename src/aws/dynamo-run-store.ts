/**
 * RunStore in one DynamoDB table (single-table design; see runTableDefinition).
 *
 * | item        | PK                     | SK    | other attributes                                     |
 * |-------------|------------------------|-------|------------------------------------------------------|
 * | run         | `RUN#<id>`             | RUN   | data (JSON), version, index keys, expiresAt          |
 * | idempotency | `KEY#<idempotencyKey>` | KEY   | runId, data (the run as created), expiresAt          |
 * | slots       | `SLOTS#<job>`          | SLOTS | holders: map of run id → since (epoch ms)            |
 *
 * `expiresAt` (epoch seconds, the table's TTL attribute) is set on a run when it ends and on
 * an idempotency key when it is written, `retentionDays` later. A slots item spends about 35
 * bytes per holder, so the catalog's largest `max` (10,000) stays under the 400 KB item limit.
 *
 * Indexes. Each sorts by the run's PK (`RUN#<id>`: ULIDs sort by creation time) and projects
 * only keys, so an index entry is written when a run enters it, leaves it or changes its key,
 * never for the run's other changes ("Provisioned throughput considerations for global
 * secondary indexes": no index write when neither a key nor a projected attribute changes).
 * A listing reads keys, then each run it returns with GetItem.
 * - byTime      (`shard`): everyone's history.
 * - byJob       (`job`): one job's history.
 * - open        (`openShard`, present while the run is open: model.ts `isOpen`): what the sweep
 *   reads, never history. Listing an open status (QUEUED … RETRY_WAIT) walks open runs.
 * - queued      (`queuedJob`, present while QUEUED): admission reads the head of one job's
 *   queue with an exact `Limit` however long the queue grows.
 * - byStatus    (`endedShard` = `<status>#<shard>`, present once the run ended) and
 *   byJobStatus (`jobEnded` = `<status>#<job>`): a run's final status never changes, so listing
 *   a status reads only runs that ended in it, written to each index once.
 * An index key shared by every run is one partition, which takes at most 1,000 writes a second
 * on DynamoDB; the indexes over every run (byTime, open, byStatus) spread runs over SHARDS keys
 * by a hash of the id, read in parallel and merged by id. The per-job indexes have a key per
 * job: a job writes at most one index entry per run to byJob (two to queued), so a job's
 * partition takes 500-1,000 new runs a second, 25-50 times the rate ECS starts tasks at, and
 * every new job adds partitions.
 * Index reads are eventually consistent: a run written a moment ago may be missing from a
 * listing for a moment. What a listing returns is read from the table, so a run that left the
 * index (ended, started) is not returned. Nothing depends on listings being current: slots
 * live in their own strongly consistent item, every run change is conditional on the version
 * read, and the sweep, which runs again a minute later, drains whatever admission missed.
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
 * Partitions of each index over every run. Readers query all of them, so the count may grow
 * (runs written before stay in the lower shards) but never shrink.
 */
export const SHARDS = 16;

/** The shard of a run: FNV-1a of its id, so a run keeps its shard in every version. */
export function shardOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i += 1) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SHARDS;
}

const SHARD_KEYS: readonly string[] = Array.from({ length: SHARDS }, (_, i) => String(i));

/** Every index: its partition key attribute (a string); each sorts by the table's PK. */
const INDEXES = {
  byTime: "shard",
  byJob: "job",
  open: "openShard",
  queued: "queuedJob",
  byStatus: "endedShard",
  byJobStatus: "jobEnded",
} as const;
type IndexName = keyof typeof INDEXES;

/**
 * The table DynamoRunStore expects. CloudFormation (AWS::DynamoDB::Table) takes all of it;
 * the CreateTable API takes everything but TimeToLiveSpecification, which goes to UpdateTimeToLive.
 */
export function runTableDefinition(tableName: string): RunTableDefinition {
  const keys = (hash: string, range: string) => [
    { AttributeName: hash, KeyType: "HASH" as const },
    { AttributeName: range, KeyType: "RANGE" as const },
  ];
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: ["PK", "SK", ...Object.values(INDEXES)].map((AttributeName) => ({ AttributeName, AttributeType: "S" as const })),
    KeySchema: keys("PK", "SK"),
    GlobalSecondaryIndexes: Object.entries(INDEXES).map(([IndexName, hash]) => ({
      IndexName,
      KeySchema: keys(hash, "PK"),
      Projection: { ProjectionType: "KEYS_ONLY" as const },
    })),
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
const INDEX_KEYS: readonly string[] = Object.values(INDEXES);

/** The limit on a key attribute of `item`: PK is the table's partition key, and every index's sort key on items in an index. */
function keyLimit(name: string, item: Readonly<Record<string, Value>>): number | undefined {
  if (name === "SK" || (name === "PK" && INDEX_KEYS.some((k) => k in item))) return MAX_SORT_KEY_BYTES;
  return name === "PK" || INDEX_KEYS.includes(name) ? MAX_PARTITION_KEY_BYTES : undefined;
}

function checkItemSize(item: Readonly<Record<string, Value>>): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    const size = typeof value === "string" ? Buffer.byteLength(value, "utf8") : typeof value === "number" ? String(value).length : 3;
    const limit = keyLimit(name, item);
    if (limit !== undefined && size > limit) {
      throw new ValidationError(`the key attribute ${name} is ${size} bytes; DynamoDB allows at most ${limit}`, { field: name });
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
const RUN_PREFIX = "RUN#";
const runKey = (id: string): Key => ({ PK: `${RUN_PREFIX}${id}`, SK: "RUN" });
const slotKey = (job: string): Key => ({ PK: `SLOTS#${job}`, SK: "SLOTS" });
const toRun = (item: StoredItem): Run => JSON.parse(text(item, "data") ?? "") as Run;

/** A request as the store builds it: keys, items and expression values in plain form, marshalled when sent. */
type Request<T> = Omit<T, "TableName" | "Item" | "Key" | "ExpressionAttributeValues"> & { readonly ExpressionAttributeValues?: Readonly<Record<string, Value>> };

function expressionValues(values: Readonly<Record<string, Value>> | undefined): { ExpressionAttributeValues?: Record<string, AttributeValue> } {
  return values === undefined ? {} : { ExpressionAttributeValues: attributes(values) };
}

/** How #ids reads an index: the order, ids below `before` only, and at most `pageSize` keys per request (no limit: whole pages). */
interface IndexOrder {
  readonly newestFirst: boolean;
  readonly before?: string | undefined;
  readonly pageSize?: number;
}

/**
 * Keys read past a sharded listing's even share per shard: a shard holds more than its share of
 * the newest runs about as often as not, and each page past the first is another round trip.
 */
const PAGE_MARGIN = 4;

/** GetItem requests a listing keeps in flight (the SDK's Node handler opens at most 50 sockets). */
const MAX_READS_IN_FLIGHT = 32;

/** `fn` of every item, at most `limit` at a time, in the items' order. */
async function eachLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Which index answers a listing, under which keys, and which runs read back belong in it. */
function listingOf({ job, status }: RunQuery): { readonly index: IndexName; readonly keys: readonly string[]; readonly accept: (run: Run) => boolean } {
  const ofJob = (run: Run) => job === undefined || run.job === job;
  if (status === undefined) return job === undefined ? { index: "byTime", keys: SHARD_KEYS, accept: () => true } : { index: "byJob", keys: [job], accept: ofJob };
  const inStatus = (run: Run) => run.status === status && ofJob(run);
  if (isTerminal(status)) {
    return job === undefined
      ? { index: "byStatus", keys: SHARD_KEYS.map((shard) => `${status}#${shard}`), accept: inStatus }
      : { index: "byJobStatus", keys: [`${status}#${job}`], accept: inStatus };
  }
  if (isQueued(status) && job !== undefined) return { index: "queued", keys: [job], accept: inStatus };
  // An open status: open runs are few next to the history, and a run's status changes while it is open.
  return { index: "open", keys: SHARD_KEYS, accept: (run) => isOpen(run) && inStatus(run) };
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
    const shard = String(shardOf(run.id));
    const ended = isTerminal(run.status);
    return {
      ...runKey(run.id),
      data: JSON.stringify(run),
      version: run.version,
      job: run.job,
      shard,
      ...(ended
        ? { expiresAt: Math.floor((run.endedAt ?? run.updatedAt) / 1000) + this.#retentionSeconds, endedShard: `${run.status}#${shard}`, jobEnded: `${run.status}#${run.job}` }
        : {}),
      ...(isOpen(run) ? { openShard: shard } : {}),
      ...(isQueued(run.status) ? { queuedJob: run.job } : {}),
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
    const { index, keys, accept } = listingOf(query);
    const ids = this.#ids(index, keys, { newestFirst: true, before: query.before, pageSize: Math.ceil(limit / keys.length) + (keys.length > 1 ? PAGE_MARGIN : 0) });
    return this.#collect(ids, limit, accept, { consistent: false });
  }

  async listOpenRuns(): Promise<readonly Run[]> {
    // Eventually consistent, as the index itself is: each change the sweep makes is conditional on the version it read.
    return this.#collect(this.#ids("open", SHARD_KEYS, { newestFirst: false }), Number.POSITIVE_INFINITY, isOpen, { consistent: false });
  }

  async listQueuedRuns(job: string, limit: number): Promise<readonly Run[]> {
    const count = runQueryLimit({ limit });
    const ids = this.#ids("queued", [job], { newestFirst: false, pageSize: count });
    // Strongly consistent: admission acts on the head of the queue at once, racing other admissions.
    return this.#collect(ids, count, (r) => r.job === job && isQueued(r.status), { consistent: true });
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

  async #get(key: Key, consistent = true): Promise<StoredItem | undefined> {
    const { Item } = await this.#call(`read ${key.PK}`, () => this.#client.send(new GetItemCommand({ TableName: this.#table, Key: attributes(key), ConsistentRead: consistent })));
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

  /**
   * The run ids under `keys` of one index, in id order across all of them: each key's partition is
   * read a page at a time, all of them in parallel, and merged (each is in id order already).
   */
  async *#ids(index: IndexName, keys: readonly string[], order: IndexOrder): AsyncGenerator<string> {
    const hash = INDEXES[index];
    const partitions = keys.map((key) => ({ key, ids: [] as string[], at: 0, start: undefined as Record<string, AttributeValue> | undefined, done: false }));
    const readPage = async (p: (typeof partitions)[number]) => {
      const page = await this.#call(`query index ${index}`, () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: index,
            KeyConditionExpression: `#key = :key${order.before === undefined ? "" : " AND PK < :before"}`,
            ExpressionAttributeNames: { "#key": hash },
            ...expressionValues({ ":key": p.key, ...(order.before === undefined ? {} : { ":before": runKey(order.before).PK }) }),
            ScanIndexForward: !order.newestFirst,
            ...(order.pageSize === undefined ? {} : { Limit: order.pageSize }),
            ExclusiveStartKey: p.start,
          }),
        ),
      );
      p.ids = (page.Items ?? []).map((item) => (text(item, "PK") ?? "").slice(RUN_PREFIX.length));
      p.at = 0;
      p.start = page.LastEvaluatedKey;
      p.done = p.start === undefined;
    };
    const before = (a: string, b: string) => (order.newestFirst ? a > b : a < b);
    for (;;) {
      await Promise.all(partitions.filter((p) => p.at === p.ids.length && !p.done).map(readPage));
      let next: (typeof partitions)[number] | undefined;
      for (const p of partitions) if (p.at < p.ids.length && (next === undefined || before(p.ids[p.at]!, next.ids[next.at]!))) next = p;
      if (next === undefined) return;
      yield next.ids[next.at++]!;
    }
  }

  /**
   * Reads the runs `ids` name, in order, until `want` of them are accepted or the ids end. A run
   * the index listed may since have left it (ended, started, expired): the table's copy decides.
   */
  async #collect(ids: AsyncIterator<string>, want: number, accept: (run: Run) => boolean, read: { readonly consistent: boolean }): Promise<Run[]> {
    const runs: Run[] = [];
    for (let more = true; more && runs.length < want; ) {
      const batch: string[] = [];
      while (batch.length < want - runs.length) {
        const next = await ids.next();
        if (next.done === true) {
          more = false;
          break;
        }
        batch.push(next.value);
      }
      for (const item of await eachLimited(batch, MAX_READS_IN_FLIGHT, (id) => this.#get(runKey(id), read.consistent))) {
        if (item === undefined) continue;
        const run = toRun(item);
        if (accept(run) && runs.length < want) runs.push(run);
      }
    }
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
