/**
 * A local HTTP endpoint speaking EventBridge's PutEvents (awsJson1_1), recording what was put.
 *
 * Like PutEvents, it answers per entry: a call can succeed while some of its entries fail,
 * each failed one carrying an ErrorCode and ErrorMessage instead of an EventId, in the
 * position of its request entry, and FailedEntryCount says how many
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html,
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html).
 * A call with no entries, or more than 10, is refused whole, as AWS refuses it.
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
  close(): Promise<void>;
}

const MAX_ENTRIES = 10;

export async function startFakeEventBridge(): Promise<FakeEventBridge> {
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
