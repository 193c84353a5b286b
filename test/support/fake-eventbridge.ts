/**
 * A local HTTP endpoint speaking EventBridge's PutEvents (awsJson1_1), recording what was put.
 *
 * Like PutEvents, it answers per entry: a call can succeed while some of its entries fail,
 * each failed one carrying an ErrorCode and ErrorMessage instead of an EventId, in the
 * position of its request entry, and FailedEntryCount says how many
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html,
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html).
 * A call with no entries, or more than 10, is refused whole, as AWS refuses it.
 *
 * DescribeEventBus (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeEventBus.html):
 * `{ "Name" }`, a bus name or ARN (none: the default bus) → `{ Name, Arn, CreationTime, LastModifiedTime }`;
 * a bus the account does not have is ResourceNotFoundException. The account has the default bus and the
 * buses given to `startFakeEventBridge` or `addBus`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface PutEntry {
  readonly EventBusName?: string;
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly Resources?: string[];
}

/** Why PutEvents did not take an entry. InternalFailure and ThrottlingException are the retryable codes. */
export interface EntryFailure {
  readonly ErrorCode: string;
  readonly ErrorMessage: string;
}

/** Picks the entries that fail: a failure for the entry, or undefined to take it. Asked once per entry per call. */
export type FailEntries = (entry: PutEntry) => EntryFailure | undefined;

export interface FakeEventBridge {
  readonly url: string;
  /** Entries that landed (were given an EventId), in the order they did. */
  readonly entries: PutEntry[];
  /** Every PutEvents call that was answered, with its entries as sent, landed or not. */
  readonly calls: PutEntry[][];
  /** Makes the entries `fail` picks fail from now on; undefined takes every entry again. */
  failEntries(fail: FailEntries | undefined): void;
  /** Creates an event bus for DescribeEventBus (PutEvents takes any bus name). */
  addBus(name: string): void;
  close(): Promise<void>;
}

export interface FakeEventBridgeOptions {
  /** Custom buses the account has, besides `default`. */
  readonly buses?: readonly string[];
  readonly region?: string;
  readonly accountId?: string;
}

const MAX_ENTRIES = 10;

export async function startFakeEventBridge(options: FakeEventBridgeOptions = {}): Promise<FakeEventBridge> {
  const region = options.region ?? "us-east-1";
  const accountId = options.accountId ?? "123456789012";
  const createdAt = Date.now() / 1000;
  const buses = new Set(["default", ...(options.buses ?? [])]);
  const entries: PutEntry[] = [];
  const calls: PutEntry[][] = [];
  let fail: FailEntries | undefined;
  let seq = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(body));
      const target = req.headers["x-amz-target"];
      if (target === "AWSEvents.DescribeEventBus") {
        const ref = (JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { Name?: string }).Name ?? "default";
        const name = ref.startsWith("arn:") ? ref.slice(ref.indexOf(":event-bus/") + ":event-bus/".length) : ref;
        if (!buses.has(name)) return answer(400, { __type: "ResourceNotFoundException", message: `Event bus ${name} does not exist.` });
        return answer(200, { Name: name, Arn: `arn:aws:events:${region}:${accountId}:event-bus/${name}`, CreationTime: createdAt, LastModifiedTime: createdAt });
      }
      if (target !== "AWSEvents.PutEvents") return answer(400, { __type: "UnknownOperationException", message: String(target) });
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Entries?: PutEntry[] };
      const sent = body.Entries ?? [];
      if (sent.length < 1 || sent.length > MAX_ENTRIES) {
        return answer(400, {
          __type: "ValidationException",
          message: `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ENTRIES} and greater than or equal to 1`,
        });
      }
      calls.push(sent);
      const results = sent.map((entry) => {
        const failure = fail?.(entry);
        if (failure) return failure;
        entries.push(entry);
        return { EventId: `evt-${++seq}` };
      });
      answer(200, { FailedEntryCount: results.filter((r) => "ErrorCode" in r).length, Entries: results });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    entries,
    calls,
    failEntries: (f) => {
      fail = f;
    },
    addBus: (name) => {
      buses.add(name);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
