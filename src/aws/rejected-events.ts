/**
 * Where dispatch puts the events it rejects (malformed, for no job of the catalog, with a key S3
 * would never send, for a job whose request cannot be built): one `Berth Event Rejected` event per
 * rejection on berth's bus, through the EventBridge client dispatch publishes run state changes
 * with. The stack's rejected-events rule delivers each to the rejected-events SQS queue, where the
 * user reads and redrives them (src/aws/stack/queues.ts). Dispatch then answers, so Lambda does not
 * retry: the same event fails the same way every time.
 *
 * The event's detail is the queue message's body (the rule's InputPath is `$.detail`):
 * `{ "reason": <why>, "job": <the job the rule named> | null, "event": <the event as received> }`.
 * An EventBridge entry holds less than 256 KB, and an event that reached dispatch may be close to
 * that already: a rejection that would not fit carries, as `event`, the start of the event's JSON as
 * a string, cut to fit, and its reason says so.
 *
 * An entry that cannot be put is thrown, never answered: Lambda retries the invocation and, after its
 * retries, the on-failure destination keeps the event. A missing bus or a refused permission is a
 * ConfigurationError (the deployment needs fixing); anything else a TransientError.
 */
import type { EventBridgeClient, PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { ConfigurationError, TransientError } from "../core/errors.ts";
import { BERTH_SOURCE, DETAIL_TYPE } from "../core/events/berth-events.ts";
import { MAX_CALL_BYTES, entrySize, putEntries, putPolicy, type EventBridgePublisherOptions } from "./eventbridge-publisher.ts";

export interface Rejection {
  readonly reason: string;
  /** The job the rule's input named; absent for a bare event. */
  readonly job?: string;
  readonly event: unknown;
}

/** Where rejected events go. */
export interface RejectedEvents {
  /** The bus the rejections are put on. */
  readonly bus: string;
  /**
   * Puts one rejection on the bus; returns the event id EventBridge gave it, or undefined for the
   * rejection of an event that is itself a rejection, which is not put (see `isRejection`).
   */
  put(rejection: Rejection): Promise<string | undefined>;
}

/** The longest reason a rejection cut to fit keeps: the event, not the reason, is what fills an entry. */
const MAX_CUT_REASON_CHARS = 4096;

/**
 * Whether `event` is a `Berth Event Rejected` event. Dispatch never puts a rejection of one: the
 * rejected-events rule sends them to the queue only, but a trigger of the catalog matching them on
 * berth's bus would bring each back to dispatch, and every rejection would set off the next.
 */
function isRejection(event: unknown): boolean {
  const e = event as { source?: unknown; "detail-type"?: unknown } | null;
  return e !== null && typeof e === "object" && e.source === BERTH_SOURCE && e["detail-type"] === DETAIL_TYPE.eventRejected;
}

/** SQS refuses U+FFFE and U+FFFF in a message body, and JSON.stringify leaves them as they are: they are written escaped. */
function queueSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** The first `chars` UTF-16 code units of `text`, never ending in half a surrogate pair. */
function cut(text: string, chars: number): string {
  const head = text.slice(0, chars);
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}

/**
 * The event as the rejection carries it: itself, or when it cannot be written as JSON (nested deeper than
 * JSON.stringify's stack reaches, which an event refused for its depth is), a sentence saying so.
 */
function keepable(event: unknown): unknown {
  try {
    JSON.stringify(event);
    return event;
  } catch {
    return "(the event is not kept: it cannot be written as JSON, it nests too deeply)";
  }
}

/** The PutEvents entry of a rejection, less than the 256 KB EventBridge takes. */
export function rejectionEntry(input: Rejection, busName: string): PutEventsRequestEntry {
  const rejection = { ...input, event: keepable(input.event) };
  const job = rejection.job ?? null;
  const entry = (detail: { reason: string; job: string | null; event: unknown }): PutEventsRequestEntry => ({
    EventBusName: busName,
    Source: BERTH_SOURCE,
    DetailType: DETAIL_TYPE.eventRejected,
    Detail: queueSafeJson(detail),
  });
  const whole = entry({ reason: rejection.reason, job, event: rejection.event ?? null });
  const size = entrySize(whole);
  if (size < MAX_CALL_BYTES) return whole;
  const text = JSON.stringify(rejection.event ?? null);
  const reason = cut(rejection.reason, MAX_CUT_REASON_CHARS);
  const cutTo = (chars: number): PutEventsRequestEntry => {
    const head = cut(text, chars);
    return entry({
      reason: `${reason} (the rejection with the event is ${size} bytes, more than an EventBridge entry takes (${MAX_CALL_BYTES}): "event" is the first ${head.length} of the ${text.length} characters of the event's JSON, as a string)`,
      job,
      event: head,
    });
  };
  // The most of the event that fits: the entry grows with every character kept (by 1 to 6 bytes, escaped).
  let fits = 0;
  let over = text.length;
  while (over - fits > 1) {
    const mid = Math.floor((fits + over) / 2);
    if (entrySize(cutTo(mid)) < MAX_CALL_BYTES) fits = mid;
    else over = mid;
  }
  return cutTo(fits);
}

export class EventBridgeRejectedEvents implements RejectedEvents {
  readonly #client: EventBridgeClient;
  readonly #bus: string;
  readonly #policy: ReturnType<typeof putPolicy>;

  constructor(client: EventBridgeClient, bus: string, options: EventBridgePublisherOptions = {}) {
    this.#client = client;
    this.#bus = bus;
    this.#policy = putPolicy(options);
  }

  get bus(): string {
    return this.#bus;
  }

  async put(rejection: Rejection): Promise<string | undefined> {
    if (isRejection(rejection.event)) return undefined;
    const { eventIds, errorCodes } = await putEntries(this.#client, this.#bus, [rejectionEntry(rejection, this.#bus)], this.#policy).catch((e: unknown) => {
      // Answering would lose the event: whatever is not the deployment's fault is for Lambda to retry.
      throw e instanceof ConfigurationError || e instanceof TransientError
        ? e
        : new TransientError(`failed to put the ${DETAIL_TYPE.eventRejected} event on bus ${this.#bus}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
    const eventId = eventIds[0];
    if (eventId === undefined) {
      throw new TransientError(
        `the ${DETAIL_TYPE.eventRejected} event was not delivered to bus ${this.#bus} after ${this.#policy.maxAttempts} attempt(s) ` +
          `(error codes: ${[...new Set(errorCodes)].join(", ")}); the rejected event is kept for Lambda's retry`,
      );
    }
    return eventId;
  }
}
