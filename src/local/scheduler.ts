/**
 * The local stand-in for EventBridge Scheduler: fires every schedule trigger
 * of the catalog as a `Berth Schedule Fired` event, at the instants the core's
 * `nextFireTimes` computes, so `berth dev` runs a job exactly when AWS would
 * (time zones and daylight-saving rules included).
 *
 * One timer is armed at a time, for the earliest due schedule. Waking up late
 * (a suspended laptop) fires each overdue schedule once, for its most recent
 * due instant, as a missed window on AWS is not made up either; the skipped
 * occurrences are reported through `warn`.
 */
import { randomUUID } from "node:crypto";
import { scheduleFiredEvent } from "../core/events/berth-events.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import type { ScheduleFiredDetail } from "../core/events/berth-events.ts";
import type { Catalog, ScheduleTrigger } from "../core/catalog/types.ts";
import { nextFireTimes, parseSchedule } from "../core/schedule/index.ts";
import type { Schedule } from "../core/schedule/index.ts";

/** setTimeout's longest delay; a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** How many overdue occurrences are counted one by one before the warning says "more than". */
const MISSED_COUNT_LIMIT = 1000;

export interface LocalSchedulerOptions {
  readonly catalog: Catalog;
  readonly emit: (event: BusEvent<ScheduleFiredDetail>) => void;
  /** Epoch ms. */
  readonly now: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  /** Event ids; random UUIDs by default. */
  readonly newId?: () => string;
  /** Told when overdue occurrences were skipped. */
  readonly warn?: (message: string) => void;
}

export interface UpcomingFireTimes {
  readonly trigger: ScheduleTrigger;
  /** Epoch ms, ascending. */
  readonly times: number[];
}

interface Entry {
  readonly job: string;
  readonly trigger: ScheduleTrigger;
  readonly schedule: Schedule;
  /** Epoch ms of the next occurrence; undefined once the schedule has ended. */
  next: number | undefined;
}

/** `2024-11-26T18:00:00Z`: second precision unless the instant has milliseconds, as EventBridge writes times. */
export function isoUtc(instant: number): string {
  const iso = new Date(instant).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

function parsed(job: string, trigger: ScheduleTrigger): Schedule {
  const result = parseSchedule(trigger.awsExpression);
  // The catalog loader already rejected invalid expressions; reaching this means a hand-built catalog.
  if (!result.ok) throw new Error(`job "${job}": schedule ${trigger.awsExpression} is invalid: ${result.error.message}`);
  return result.schedule;
}

export class LocalScheduler {
  readonly #catalog: Catalog;
  readonly #emit: (event: BusEvent<ScheduleFiredDetail>) => void;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  readonly #newId: () => string;
  readonly #warn: (message: string) => void;
  readonly #entries: Entry[] = [];
  /** When `start()` ran: rate schedules count their periods from here. */
  #anchor: number | undefined;
  #timer: { handle: unknown } | undefined;
  #running = false;

  constructor(opts: LocalSchedulerOptions) {
    this.#catalog = opts.catalog;
    this.#emit = opts.emit;
    this.#now = opts.now;
    this.#setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = opts.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.#newId = opts.newId ?? randomUUID;
    this.#warn = opts.warn ?? (() => {});
    for (const job of Object.values(opts.catalog.jobs)) {
      for (const trigger of job.triggers) {
        if (trigger.kind === "schedule") this.#entries.push({ job: job.name, trigger, schedule: parsed(job.name, trigger), next: undefined });
      }
    }
  }

  /**
   * Computes every schedule's next occurrence and arms the timer. A rate
   * schedule counts its periods from now, as an EventBridge Scheduler schedule
   * counts from its creation. AWS also invokes a new rate schedule right away;
   * here the first occurrence is one period later, so each restart of
   * `berth dev` does not fire every rate job at once.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const now = this.#now();
    // EventBridge Scheduler works to the minute at best; whole seconds keep event times readable.
    this.#anchor = Math.floor(now / 1000) * 1000;
    for (const entry of this.#entries) entry.next = this.#after(entry, now, 1)[0];
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clearTimer(this.#timer.handle);
    this.#timer = undefined;
  }

  /** The next `count` fire times of each schedule trigger of `job` after `after` (default: now). */
  upcoming(job: string, count: number, after: number = this.#now()): UpcomingFireTimes[] {
    this.#requireJob(job);
    return this.#entries.filter((e) => e.job === job).map((e) => ({ trigger: e.trigger, times: this.#after(e, after, count, after) }));
  }

  /** Fires `job`'s schedule now (`berth trigger`), outside its timetable, which stays as it was. */
  fireNow(job: string): BusEvent<ScheduleFiredDetail> {
    this.#requireJob(job);
    if (!this.#entries.some((e) => e.job === job)) {
      throw new Error(`job "${job}" has no schedule trigger, so a fired schedule would not start it; send it a manual run instead`);
    }
    const now = this.#now();
    const event = this.#event(job, now, now);
    this.#emit(event);
    return event;
  }

  #requireJob(job: string): void {
    if (this.#catalog.jobs[job] === undefined) {
      throw new Error(`no job named "${job}"; jobs: ${Object.keys(this.#catalog.jobs).join(", ")}`);
    }
  }

  #after(entry: Entry, after: number, count: number, anchorIfStopped = after): number[] {
    return nextFireTimes(entry.schedule, {
      timezone: entry.trigger.timezone,
      after,
      count,
      anchor: this.#anchor ?? Math.floor(anchorIfStopped / 1000) * 1000,
    });
  }

  #event(job: string, scheduled: number, now: number): BusEvent<ScheduleFiredDetail> {
    return scheduleFiredEvent({ service: this.#catalog.service, job, scheduledTime: isoUtc(scheduled) }, { id: this.#newId(), time: now });
  }

  #arm(): void {
    if (!this.#running) return;
    let earliest: number | undefined;
    for (const e of this.#entries) if (e.next !== undefined && (earliest === undefined || e.next < earliest)) earliest = e.next;
    if (earliest === undefined) return;
    // Far-off times are reached in hops: each wake-up finds nothing due and re-arms.
    const delay = Math.min(Math.max(earliest - this.#now(), 0), MAX_TIMER_MS);
    const timer = { handle: undefined as unknown };
    this.#timer = timer;
    timer.handle = this.#setTimer(() => {
      if (this.#timer === timer) this.#wake();
    }, delay);
  }

  #wake(): void {
    this.#timer = undefined;
    if (!this.#running) return;
    const now = this.#now();
    const due: { job: string; scheduled: number }[] = [];
    for (const entry of this.#entries) {
      if (entry.next === undefined || entry.next > now) continue;
      const { latest, missed } = this.#latestDue(entry, entry.next, now);
      if (missed !== 0) {
        this.#warn(
          `${entry.job}: ${missed} earlier occurrence${missed === 1 ? "" : "s"} of ${entry.trigger.awsExpression} (${entry.trigger.timezone}) ` +
            `since ${isoUtc(entry.next)} passed while berth was not running on time (was the machine asleep?); ` +
            `firing only the most recent one, due at ${isoUtc(latest)}`,
        );
      }
      due.push({ job: entry.job, scheduled: latest });
      entry.next = this.#after(entry, now, 1)[0];
    }
    // Re-arm before emitting, so a failing listener cannot stop the timetable.
    this.#arm();
    due.sort((a, b) => a.scheduled - b.scheduled);
    for (const d of due) this.#emit(this.#event(d.job, d.scheduled, now));
  }

  /**
   * The most recent occurrence in [first, now] and how many earlier ones it
   * supersedes. Counts one by one up to a limit; past it, a doubling search
   * back from `now` finds the latest occurrence without walking a long sleep
   * minute by minute.
   */
  #latestDue(entry: Entry, first: number, now: number): { latest: number; missed: number | string } {
    const following = this.#after(entry, first, MISSED_COUNT_LIMIT).filter((t) => t <= now);
    if (following.length < MISSED_COUNT_LIMIT) return { latest: following.at(-1) ?? first, missed: following.length };
    let window = 60_000;
    let from = now - window;
    let found = this.#after(entry, from, 1)[0];
    while (found === undefined || found > now) {
      window *= 2;
      from = now - window;
      found = this.#after(entry, from, 1)[0];
    }
    let latest = found;
    for (;;) {
      const later = this.#after(entry, latest, 100).filter((t) => t <= now);
      if (later.length === 0) return { latest, missed: `more than ${MISSED_COUNT_LIMIT}` };
      latest = later.at(-1) ?? latest;
    }
  }
}

export interface LocalBatchTimerOptions {
  /** Settles the job's batch (Engine.settleBatch): it asks this timer again when the batch needs it. */
  readonly settle: (job: string) => Promise<unknown>;
  /** Epoch ms. */
  readonly now: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
  /** Told when settling fails; the next reminder or the sweep tries again. */
  readonly warn?: (message: string) => void;
}

/**
 * The local BatchTimer (what the SQS reminder is on AWS): one setTimeout per open batch, at the earliest
 * time asked for it, which settles the job's batch when it fires. Reminders live in memory: `stop()`
 * clears them, and after a restart the sweep, which settles every batched job's batch, catches up.
 */
export class LocalBatchTimer {
  readonly #settle: (job: string) => Promise<unknown>;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  readonly #warn: (message: string) => void;
  /** `<job>\n<batch id>` → the armed reminder. */
  readonly #armed = new Map<string, { readonly at: number; readonly handle: unknown }>();
  readonly #settling = new Set<Promise<void>>();
  #stopped = false;

  constructor(opts: LocalBatchTimerOptions) {
    this.#settle = opts.settle;
    this.#now = opts.now;
    this.#setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = opts.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
    this.#warn = opts.warn ?? (() => {});
  }

  /** Reminders armed and not yet fired. */
  get pending(): number {
    return this.#armed.size;
  }

  async settleAt(job: string, batchId: string, at: number): Promise<void> {
    if (this.#stopped) return;
    const id = `${job}\n${batchId}`;
    const armed = this.#armed.get(id);
    // The earlier reminder stands: settling then asks again for whatever comes later.
    if (armed !== undefined && armed.at <= at) return;
    if (armed !== undefined) this.#clearTimer(armed.handle);
    // A far-off time is reached in hops: firing early settles nothing and asks again.
    const delay = Math.min(Math.max(at - this.#now(), 0), MAX_TIMER_MS);
    const handle = this.#setTimer(() => this.#fire(id, job), delay);
    this.#armed.set(id, { at, handle });
  }

  /** Clears every reminder and waits for settles in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { handle } of this.#armed.values()) this.#clearTimer(handle);
    this.#armed.clear();
    await Promise.all(this.#settling);
  }

  #fire(id: string, job: string): void {
    this.#armed.delete(id);
    if (this.#stopped) return;
    const settling: Promise<void> = this.#settle(job).then(
      () => undefined,
      (error: unknown) => this.#warn(`settling the batch of ${job} failed: ${(error as Error).message}; the sweep tries again`),
    );
    this.#settling.add(settling);
    void settling.finally(() => this.#settling.delete(settling));
  }
}
