/**
 * The `Publisher` port on EventBridge: every run transition becomes one
 * `Berth Run State Change` event on the berth bus. `putEntries` is how berth
 * puts anything on a bus (the rejected events too: rejected-events.ts).
 *
 * PutEvents is not all-or-nothing: a 200 answer may still report some
 * entries as failed (`ErrorCode`). Only those are sent again, after an
 * exponential backoff with full jitter; the SDK's own retries cover the
 * call as a whole (throttling, 5xx).
 */
import type { EventBridgeClient, PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { ConfigurationError, TransientError, ValidationError } from "../core/errors.ts";
import { BERTH_SOURCE, DETAIL_TYPE } from "../core/events/berth-events.ts";
import { type RunStateChangeDetail } from "../core/runs/effects.ts";
import type { Publisher } from "../core/ports.ts";
import { translateAwsError } from "./errors.ts";

/** PutEvents takes at most 10 entries per call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** The entries of one PutEvents call must total less than 256 KB, counted as EventBridge counts them. */
export const MAX_CALL_BYTES = 256 * 1024;

export interface EventBridgePublisherOptions {
  /** Sends of an entry, counting the first. Default 4. */
  readonly maxAttempts?: number;
  /** Backoff before the second send, doubled for each later one (full jitter). Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Upper bound of one backoff. Default 2000 ms. */
  readonly maxDelayMs?: number;
}

const DEFAULTS = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 2000 } as const;

type PutPolicy = Required<EventBridgePublisherOptions>;

/** The options with their defaults; a ConfigurationError when maxAttempts is not a positive integer. */
export function putPolicy(options: EventBridgePublisherOptions = {}): PutPolicy {
  const policy = { ...DEFAULTS, ...options };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new ConfigurationError(`EventBridgePublisher maxAttempts must be a positive integer, got ${policy.maxAttempts}`);
  }
  return policy;
}

const utf8 = new TextEncoder();

/** EventBridge's size of an entry: Source, DetailType, Detail and each resource in UTF-8 bytes (+14 for Time, never set here). */
export function entrySize(entry: PutEventsRequestEntry): number {
  let size = 0;
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (text !== undefined) size += utf8.encode(text).length;
  }
  return size + (entry.Time !== undefined ? 14 : 0);
}

/** Splits entries into calls of at most 10 entries and less than 256 KB, keeping their order. */
export function batchEntries(entries: readonly PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const batches: PutEventsRequestEntry[][] = [];
  let current: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (current.length === MAX_ENTRIES_PER_CALL || (current.length > 0 && bytes + size >= MAX_CALL_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What putting entries came to: each entry's event id, in order (undefined: never delivered), and the last error code of each undelivered one. */
export interface PutOutcome {
  readonly eventIds: readonly (string | undefined)[];
  readonly errorCodes: readonly string[];
}

/**
 * Puts entries on their bus in calls of at most 10 entries and less than 256 KB, sending again only those that
 * failed. Every batch gets its chance even when an earlier one gave up, so one bad call loses as little as possible.
 * A call the SDK could not make at all is thrown, translated (errors.ts).
 */
export async function putEntries(client: EventBridgeClient, busName: string, entries: readonly PutEventsRequestEntry[], policy: PutPolicy): Promise<PutOutcome> {
  const eventIds: (string | undefined)[] = [];
  const errorCodes: string[] = [];
  for (const batch of batchEntries(entries)) {
    const sent = await sendBatch(client, busName, batch, policy);
    eventIds.push(...sent.eventIds);
    errorCodes.push(...sent.errorCodes);
  }
  return { eventIds, errorCodes };
}

/** Sends one batch, retrying only the entries that failed. */
async function sendBatch(client: EventBridgeClient, busName: string, batch: readonly PutEventsRequestEntry[], policy: PutPolicy): Promise<PutOutcome> {
  const { maxAttempts, baseDelayMs, maxDelayMs } = policy;
  const eventIds: (string | undefined)[] = batch.map(() => undefined);
  let pending = batch.map((entry, position) => ({ entry, position }));
  let codes: string[] = [];
  for (let attempt = 1; attempt <= maxAttempts && pending.length > 0; attempt++) {
    if (attempt > 1) await sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 2)));
    const output = await putEvents(client, busName, pending.map((p) => p.entry));
    const results = output.Entries ?? [];
    const failed: typeof pending = [];
    codes = [];
    pending.forEach((p, i) => {
      const result = results[i];
      // A result without an event id and without an error code is not a delivery either.
      if (result?.ErrorCode !== undefined || result?.EventId === undefined) {
        failed.push(p);
        codes.push(result?.ErrorCode ?? "NoResult");
      } else {
        eventIds[p.position] = result.EventId;
      }
    });
    pending = failed;
  }
  return { eventIds, errorCodes: pending.length > 0 ? codes : [] };
}

async function putEvents(client: EventBridgeClient, busName: string, entries: PutEventsRequestEntry[]) {
  try {
    return await client.send(new PutEventsCommand({ Entries: entries }));
  } catch (error) {
    throw translateAwsError(error, `publish to event bus ${busName}`, { hint: "check the bus name and the function's events:PutEvents permission" }) ?? error;
  }
}

export class EventBridgePublisher implements Publisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;
  readonly #policy: PutPolicy;

  constructor(client: EventBridgeClient, busName: string, options: EventBridgePublisherOptions = {}) {
    this.#client = client;
    this.#busName = busName;
    this.#policy = putPolicy(options);
  }

  async publish(details: readonly RunStateChangeDetail[]): Promise<void> {
    const entries = details.map((detail) => this.#toEntry(detail));
    const { errorCodes } = await putEntries(this.#client, this.#busName, entries, this.#policy);
    if (errorCodes.length > 0) {
      const codes = [...new Set(errorCodes)].join(", ");
      throw new TransientError(
        `${errorCodes.length} of ${entries.length} ${DETAIL_TYPE.runStateChange} event(s) were not delivered to bus ` +
          `${this.#busName} after ${this.#policy.maxAttempts} attempt(s) (error codes: ${codes}); publish them again later`,
      );
    }
  }

  #toEntry(detail: RunStateChangeDetail): PutEventsRequestEntry {
    const entry: PutEventsRequestEntry = {
      EventBusName: this.#busName,
      Source: BERTH_SOURCE,
      DetailType: DETAIL_TYPE.runStateChange,
      Detail: JSON.stringify(detail),
      Resources: detail.taskArn !== undefined ? [detail.taskArn] : [],
    };
    const size = entrySize(entry);
    if (size >= MAX_CALL_BYTES) {
      throw new ValidationError(
        `the ${DETAIL_TYPE.runStateChange} event of run ${detail.runId} is ${size} bytes; EventBridge takes less than ${MAX_CALL_BYTES}. Shorten its reason.`,
        { field: "reason" },
      );
    }
    return entry;
  }
}
