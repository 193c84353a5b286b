/**
 * What EventBridge's retry policy is to a rule's target: a dispatch that fails with a TransientError (the
 * store was busy, a batch still completing its slots answers "deliver again later") is delivered again to
 * the same job after the delay the error asks for, or a growing one. Dispatch is idempotent, so a repeat
 * changes nothing that the first delivery did.
 *
 * Pending redeliveries are rows in berth.db, beside the runs (on the run store's connection), written before
 * the failure is handed back to the bus: stopping or killing `berth dev` loses none, and `start` schedules
 * every row again, those already due at once. A row goes when its redelivery succeeds, fails for good (not
 * transiently) or reaches the retry policy's limits; the last two are warned about, naming the event and the
 * job, since no dead-letter queue receives them.
 *
 * By default EventBridge retries a target for 24 hours and up to 185 times, with exponential back-off and
 * jitter (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html); the limits are
 * RetryPolicy's MaximumEventAgeInSeconds and MaximumRetryAttempts
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html). The same limits apply
 * here; the delays, 1 s doubling to a minute without jitter, use up the 185 retries in about three hours.
 */
import Database from "better-sqlite3";
import type { BusEvent } from "../core/events/envelope.ts";
import type { Engine } from "../core/engine/engine.ts";
import { TransientError } from "../core/errors.ts";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS redeliveries (event_id TEXT NOT NULL, job TEXT NOT NULL, attempts INTEGER NOT NULL, due_at INTEGER NOT NULL, first_failed_at INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (event_id, job)) WITHOUT ROWID;`;

/** `attempts`: the deliveries made so far, all failed (so the next is retry number `attempts`). */
type Row = { readonly event_id: string; readonly job: string; readonly attempts: number; readonly due_at: number; readonly first_failed_at: number; readonly event: string };

function statements(db: Database.Database) {
  return {
    all: db.prepare<[], Row>("SELECT * FROM redeliveries ORDER BY due_at"),
    one: db.prepare<[string, string], Row>("SELECT * FROM redeliveries WHERE event_id = ? AND job = ?"),
    put: db.prepare<[string, string, number, number, number, string]>(
      "INSERT INTO redeliveries (event_id, job, attempts, due_at, first_failed_at, event) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, job) DO UPDATE SET attempts = excluded.attempts, due_at = excluded.due_at",
    ),
    remove: db.prepare<[string, string]>("DELETE FROM redeliveries WHERE event_id = ? AND job = ?"),
  };
}

/** A pending redelivery: `retry` is the number of the retry it will be (1 for the delivery after the first). */
interface Pending {
  readonly event: BusEvent;
  readonly job: string;
  readonly retry: number;
  readonly dueAt: number;
  readonly firstFailedAt: number;
}

/** EventBridge's RetryPolicy, and the back-off between retries. */
export interface RedeliveryPolicy {
  /** The first retry's delay when the failure names none; each next one waits twice as long, up to `lastDelayMs`. Default 1000. */
  readonly firstDelayMs?: number;
  /** Default 60 000. */
  readonly lastDelayMs?: number;
  /** Retries after the first delivery before the event is dropped (MaximumRetryAttempts). Default 185. */
  readonly maxRetryAttempts?: number;
  /** How long after the first failure retries go on (MaximumEventAgeInSeconds). Default 24 hours. */
  readonly maxEventAgeMs?: number;
}

export interface RedeliveriesOptions extends RedeliveryPolicy {
  /**
   * Where pending redeliveries are kept: berth.db's connection (SqliteRunStore.database); the table is created
   * if missing. Without one they are kept in a database of their own in memory, for as long as this object.
   */
  readonly db?: Database.Database;
  readonly now?: () => number;
}

const key = (eventId: string, job: string) => `${eventId}\u0000${job}`;

export class Redeliveries {
  readonly #dispatch: (event: BusEvent, job: string) => ReturnType<Engine["dispatch"]>;
  readonly #warn: (message: string) => void;
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof statements>;
  readonly #now: () => number;
  readonly #first: number;
  readonly #last: number;
  readonly #maxRetries: number;
  readonly #maxAgeMs: number;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #stopped = false;

  constructor(dispatch: (event: BusEvent, job: string) => ReturnType<Engine["dispatch"]>, warn: (message: string) => void, options: RedeliveriesOptions = {}) {
    for (const [field, value, least] of [
      ["firstDelayMs", options.firstDelayMs, 1],
      ["lastDelayMs", options.lastDelayMs, 1],
      ["maxRetryAttempts", options.maxRetryAttempts, 0],
      ["maxEventAgeMs", options.maxEventAgeMs, 1],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value >= least)) {
        throw new RangeError(`redeliveries.${field} is ${value}: it must be a whole number of at least ${least}`);
      }
    }
    this.#dispatch = dispatch;
    this.#warn = warn;
    this.#now = options.now ?? Date.now;
    this.#first = options.firstDelayMs ?? 1_000;
    this.#last = Math.max(options.lastDelayMs ?? 60_000, this.#first);
    this.#maxRetries = options.maxRetryAttempts ?? 185;
    this.#maxAgeMs = options.maxEventAgeMs ?? 24 * 60 * 60 * 1000;
    this.#db = options.db ?? new Database(":memory:");
    this.#db.exec(SCHEMA);
    this.#sql = statements(this.#db);
  }

  /** Redeliveries waiting, in this process. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Schedules every redelivery the database holds (left by a previous runtime, stopped or killed); due ones at once. */
  start(): void {
    this.#stopped = false;
    for (const row of this.#sql.all.all()) {
      this.#schedule({ event: JSON.parse(row.event) as BusEvent, job: row.job, retry: row.attempts, dueAt: row.due_at, firstFailedAt: row.first_failed_at });
    }
  }

  /**
   * Dispatches now; a transient failure is still thrown (the bus reports it), once its redelivery is recorded.
   * An event delivered again from elsewhere (the folder watcher) while its redelivery is pending counts as that retry.
   */
  dispatch(event: BusEvent, job: string): ReturnType<Engine["dispatch"]> {
    const pending = this.#db.open ? this.#sql.one.get(event.id, job) : undefined;
    return this.#deliver(event, job, pending?.attempts ?? 0, pending?.first_failed_at);
  }

  /** Clears the timers; the rows stay for the next start. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** `retry`: 0 for the first delivery. */
  async #deliver(event: BusEvent, job: string, retry: number, firstFailedAt: number | undefined): ReturnType<Engine["dispatch"]> {
    try {
      const outcomes = await this.#dispatch(event, job);
      if (firstFailedAt !== undefined) this.#forget(event, job);
      return outcomes;
    } catch (error) {
      const what = `event ${event.id} (${event["detail-type"]} from ${event.source}) to job ${job}`;
      const tries = `${retry + 1} ${retry === 0 ? "delivery" : "deliveries"}`;
      if (!(error instanceof TransientError)) {
        if (firstFailedAt !== undefined) {
          this.#forget(event, job);
          this.#warn(`dropped ${what} after ${tries}: it failed, not transiently: ${(error as Error).message}`);
        }
        throw error;
      }
      const now = this.#now();
      const first = firstFailedAt ?? now;
      const dueAt = now + (error.retryAfterMs ?? Math.min(this.#first * 2 ** retry, this.#last));
      const limit =
        retry >= this.#maxRetries
          ? `the retry limit (${this.#maxRetries})`
          : dueAt - first > this.#maxAgeMs
            ? `the age limit (${Math.round(this.#maxAgeMs / 1000)} s since it first failed)`
            : undefined;
      if (limit !== undefined) {
        this.#forget(event, job);
        this.#warn(`gave up on ${what} after ${tries}, at ${limit}: dropped, as EventBridge drops an event it has no dead-letter queue for; last failure: ${error.message}`);
        throw error;
      }
      const pending: Pending = { event, job, retry: retry + 1, dueAt, firstFailedAt: first };
      // A delivery still running when the runtime closed berth.db: the event was announced as handled only once recorded, so an earlier row, if any, stands.
      if (this.#db.open) this.#sql.put.run(event.id, job, pending.retry, pending.dueAt, pending.firstFailedAt, JSON.stringify(event));
      if (!this.#stopped) this.#schedule(pending);
      throw error;
    }
  }

  #forget(event: BusEvent, job: string): void {
    const k = key(event.id, job);
    clearTimeout(this.#timers.get(k));
    this.#timers.delete(k);
    if (this.#db.open) this.#sql.remove.run(event.id, job);
  }

  #schedule(pending: Pending): void {
    const k = key(pending.event.id, pending.job);
    clearTimeout(this.#timers.get(k));
    const timer = setTimeout(() => {
      if (this.#timers.get(k) === timer) this.#timers.delete(k);
      // Its failure was warned about, or is delivered again, by the call itself.
      this.#deliver(pending.event, pending.job, pending.retry, pending.firstFailedAt).catch(() => undefined);
    }, Math.max(0, pending.dueAt - this.#now()));
    this.#timers.set(k, timer);
  }
}
