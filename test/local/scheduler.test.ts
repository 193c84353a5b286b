import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import type { ScheduleFiredDetail } from "../../src/core/events/berth-events.ts";
import { buildRouter } from "../../src/core/router.ts";
import { LocalScheduler, MAX_TIMER_MS } from "../../src/local/scheduler.ts";

const at = (iso: string): number => Date.parse(iso);

/** A clock and timer queue the test moves by hand. */
class FakeTime {
  now: number;
  readonly delays: number[] = [];
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #nextId = 1;

  constructor(start: string) {
    this.now = at(start);
  }

  setTimer = (fn: () => void, ms: number): number => {
    const id = this.#nextId++;
    this.delays.push(ms);
    this.#timers.push({ at: this.now + ms, fn, id });
    return id;
  };

  clearTimer = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };

  get pending(): number {
    return this.#timers.length;
  }

  /** Runs due timers in order, each at its own instant, as a machine that stays awake. */
  advanceTo(iso: string): void {
    const end = at(iso);
    for (let guard = 0; ; guard++) {
      if (guard > 10_000) throw new Error("timers keep re-arming without time passing");
      const next = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.now = Math.max(this.now, next.at);
      next.fn();
    }
    this.now = end;
  }

  /** The clock jumps while timers are frozen, then overdue timers run late, as after a suspend. */
  sleepUntil(iso: string): void {
    this.now = at(iso);
    const overdue = this.#timers.filter((t) => t.at <= this.now);
    this.#timers = this.#timers.filter((t) => t.at > this.now);
    for (const t of overdue) t.fn();
  }
}

function catalogOf(jobs: Record<string, string>): Catalog {
  const body = Object.entries(jobs)
    .map(([name, on]) => `  ${name}:\n    on: ${on}\n    run: { taskDefinition: td, cluster: c, launch: ec2 }`)
    .join("\n");
  const loaded = loadCatalog(`version: 1\nservice: svc\njobs:\n${body}\n`, "berth.yml");
  if (!loaded.ok) throw new Error(loaded.error.issues.map((i) => i.message).join("; "));
  return loaded.catalog;
}

function setup(jobs: Record<string, string>, start: string) {
  const time = new FakeTime(start);
  const events: BusEvent<ScheduleFiredDetail>[] = [];
  const warnings: string[] = [];
  let id = 0;
  const scheduler = new LocalScheduler({
    catalog: catalogOf(jobs),
    emit: (e) => events.push(e),
    now: () => time.now,
    setTimer: time.setTimer,
    clearTimer: time.clearTimer,
    newId: () => `event-${++id}`,
    warn: (m) => warnings.push(m),
  });
  const fired = () => events.map((e) => `${e.detail.job}@${e.detail.scheduledTime}`);
  return { time, scheduler, events, warnings, fired };
}

describe("LocalScheduler", () => {
  it("fires a cron schedule at its instants in the job's time zone, with the scheduled (not the wake-up) time", () => {
    const { time, scheduler, events, fired } = setup({ backup: '{ schedule: { cron: "0 3 * * ? *", timezone: Asia/Seoul } }' }, "2026-11-26T12:00:00Z");
    scheduler.start();
    time.advanceTo("2026-11-26T17:59:59Z");
    expect(fired()).toEqual([]);
    time.advanceTo("2026-11-28T00:00:00Z");
    expect(fired()).toEqual(["backup@2026-11-26T18:00:00Z", "backup@2026-11-27T18:00:00Z"]);
    expect(events[0]).toMatchObject({ id: "event-1", source: "berth.scheduler", "detail-type": "Berth Schedule Fired", time: "2026-11-26T18:00:00Z" });
    expect(events[0]?.detail).toEqual({ service: "svc", job: "backup", scheduledTime: "2026-11-26T18:00:00Z" });
  });

  it("stamps the envelope with the wake-up time and the detail with the due time when the timer runs late", () => {
    const { time, scheduler, events, warnings } = setup({ backup: '{ schedule: { cron: "0 3 * * ? *", timezone: Asia/Seoul } }' }, "2026-11-26T12:00:00Z");
    scheduler.start();
    time.sleepUntil("2026-11-26T18:00:07Z");
    expect(events.map((e) => [e.time, e.detail.scheduledTime])).toEqual([["2026-11-26T18:00:07Z", "2026-11-26T18:00:00Z"]]);
    expect(warnings).toEqual([]);
  });

  it("skips 02:30 on the New York spring-forward day: neither runs it twice nor loops", () => {
    const { time, scheduler, fired } = setup({ late: '{ schedule: { cron: "30 2 * * ? *", timezone: America/New_York } }' }, "2026-03-06T12:00:00Z");
    scheduler.start();
    time.advanceTo("2026-03-10T12:00:00Z");
    // 02:30 EST on the 7th, none on the 8th (clocks jump 02:00 → 03:00), 02:30 EDT on the 9th and 10th.
    expect(fired()).toEqual(["late@2026-03-07T07:30:00Z", "late@2026-03-09T06:30:00Z", "late@2026-03-10T06:30:00Z"]);
    expect(time.pending).toBe(1);
  });

  it("runs 01:30 once on the New York fall-back day, at its first (daylight-time) occurrence", () => {
    const { time, scheduler, fired } = setup({ late: '{ schedule: { cron: "30 1 * * ? *", timezone: America/New_York } }' }, "2026-10-31T12:00:00Z");
    scheduler.start();
    time.advanceTo("2026-11-02T12:00:00Z");
    expect(fired()).toEqual(["late@2026-11-01T05:30:00Z", "late@2026-11-02T06:30:00Z"]);
  });

  it("counts a rate schedule's periods from start(), not from the epoch", () => {
    const { time, scheduler, fired } = setup({ poll: '{ schedule: { rate: "7 minutes" } }' }, "2026-01-01T10:00:42Z");
    scheduler.start();
    time.advanceTo("2026-01-01T10:21:42Z");
    expect(fired()).toEqual(["poll@2026-01-01T10:07:42Z", "poll@2026-01-01T10:14:42Z", "poll@2026-01-01T10:21:42Z"]);
  });

  it("fires two jobs due at the same instant in one wake-up, one event each", () => {
    const { time, scheduler, fired, events } = setup(
      {
        a: '{ schedule: { cron: "0 12 * * ? *" } }',
        b: '{ schedule: { cron: "0 21 * * ? *", timezone: Asia/Tokyo } }',
      },
      "2026-05-01T00:00:00Z",
    );
    scheduler.start();
    time.advanceTo("2026-05-01T12:00:00Z");
    expect(fired()).toEqual(["a@2026-05-01T12:00:00Z", "b@2026-05-01T12:00:00Z"]);
    expect(new Set(events.map((e) => e.id)).size).toBe(2);
  });

  it("fires each of a job's schedule triggers", () => {
    const { time, scheduler, fired } = setup({ twice: '{ schedule: [{ cron: "0 6 * * ? *" }, { cron: "0 18 * * ? *" }] }' }, "2026-05-01T00:00:00Z");
    scheduler.start();
    time.advanceTo("2026-05-02T00:00:00Z");
    expect(fired()).toEqual(["twice@2026-05-01T06:00:00Z", "twice@2026-05-01T18:00:00Z"]);
  });

  it("re-arms in hops of at most 2^31-1 ms for a time months away, and fires it on the dot", () => {
    const { time, scheduler, fired } = setup({ yearly: '{ schedule: { cron: "0 0 1 1 ? *" } }' }, "2026-02-01T00:00:00Z");
    scheduler.start();
    expect(time.delays[0]).toBe(MAX_TIMER_MS);
    time.advanceTo("2026-12-31T23:59:59Z");
    expect(fired()).toEqual([]);
    time.advanceTo("2027-01-01T00:00:00Z");
    expect(fired()).toEqual(["yearly@2027-01-01T00:00:00Z"]);
    expect(Math.max(...time.delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect(time.delays.length).toBeGreaterThan(Math.ceil((at("2027-01-01T00:00:00Z") - at("2026-02-01T00:00:00Z")) / MAX_TIMER_MS));
  });

  it.each([
    ["a cron", '{ schedule: { cron: "0 * * * ? *" } }', "2026-01-01T00:30:00Z", "2026-01-01T05:10:00Z", "job@2026-01-01T05:00:00Z", /job: 4 earlier occurrences .* since 2026-01-01T01:00:00Z .* due at 2026-01-01T05:00:00Z/],
    ["a rate", '{ schedule: { rate: "10 minutes" } }', "2026-01-01T00:00:00Z", "2026-01-01T00:45:00Z", "job@2026-01-01T00:40:00Z", /job: 3 earlier occurrences/],
    ["an every-minute cron over a month asleep", '{ schedule: { cron: "* * * * ? *" } }', "2026-01-01T00:00:30Z", "2026-02-01T00:00:30Z", "job@2026-02-01T00:00:00Z", /more than 1000 earlier occurrences/],
  ])("after a sleep past several occurrences of %s, fires only the latest and warns", (_what, on, start, wake, expected, warning) => {
    const { time, scheduler, fired, warnings } = setup({ job: on }, start);
    scheduler.start();
    time.sleepUntil(wake);
    expect(fired()).toEqual([expected]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(warning);
    expect(time.pending).toBe(1);
  });

  it("fires nothing and arms nothing after stop()", () => {
    const { time, scheduler, fired } = setup({ job: '{ schedule: { rate: "1 minute" } }' }, "2026-01-01T00:00:00Z");
    scheduler.start();
    time.advanceTo("2026-01-01T00:01:00Z");
    scheduler.stop();
    time.advanceTo("2026-01-01T01:00:00Z");
    expect(fired()).toEqual(["job@2026-01-01T00:01:00Z"]);
    expect(time.pending).toBe(0);
  });

  it("arms no timer for a catalog without schedules, nor for a schedule whose years are over", () => {
    const { time, scheduler } = setup({ m: "{ manual: true }", old: '{ schedule: { cron: "0 0 1 1 ? 2020" } }' }, "2026-01-01T00:00:00Z");
    scheduler.start();
    expect(time.pending).toBe(0);
  });

  it("lists upcoming fire times per schedule trigger", () => {
    const { scheduler } = setup({ backup: '{ schedule: { cron: "0 3 * * ? *", timezone: Asia/Seoul } }' }, "2026-11-26T12:00:00Z");
    const [only, ...rest] = scheduler.upcoming("backup", 2);
    expect(rest).toEqual([]);
    expect(only?.trigger.awsExpression).toBe("cron(0 3 * * ? *)");
    expect(only?.times.map((t) => new Date(t).toISOString())).toEqual(["2026-11-26T18:00:00.000Z", "2026-11-27T18:00:00.000Z"]);
    expect(scheduler.upcoming("backup", 1, at("2026-11-27T18:00:00Z"))[0]?.times).toEqual([at("2026-11-28T18:00:00Z")]);
  });

  it("lists a started rate schedule's times from the start, not from the query time", () => {
    const { time, scheduler } = setup({ poll: '{ schedule: { rate: "5 minutes" } }' }, "2026-01-01T10:00:10Z");
    scheduler.start();
    time.advanceTo("2026-01-01T10:03:00Z");
    expect(scheduler.upcoming("poll", 2)[0]?.times).toEqual([at("2026-01-01T10:05:10Z"), at("2026-01-01T10:10:10Z")]);
  });

  it("fireNow emits a schedule event for now and leaves the timetable alone", () => {
    const { time, scheduler, fired, events } = setup({ backup: '{ schedule: { cron: "0 3 * * ? *", timezone: Asia/Seoul } }' }, "2026-11-26T12:00:00Z");
    scheduler.start();
    time.advanceTo("2026-11-26T12:34:56.789Z");
    const event = scheduler.fireNow("backup");
    expect(events).toEqual([event]);
    expect(event.detail.scheduledTime).toBe("2026-11-26T12:34:56.789Z");
    time.advanceTo("2026-11-26T18:00:00Z");
    expect(fired()).toEqual(["backup@2026-11-26T12:34:56.789Z", "backup@2026-11-26T18:00:00Z"]);
  });

  it.each([
    ["an unknown job", "nope", /no job named "nope"; jobs: backup, m/],
    ["a job without a schedule trigger", "m", /job "m" has no schedule trigger.*manual run/],
  ])("fireNow refuses %s", (_what, job, message) => {
    const { scheduler, events } = setup({ backup: '{ schedule: { cron: "0 3 * * ? *" } }', m: "{ manual: true }" }, "2026-01-01T00:00:00Z");
    expect(() => scheduler.fireNow(job)).toThrow(message);
    expect(events).toEqual([]);
  });

  it("emits events the example catalog routes to nightly-backup", () => {
    const loaded = loadCatalog(readFileSync(new URL("../../berth.yml", import.meta.url), "utf8"), "berth.yml");
    if (!loaded.ok) throw new Error("example catalog must load");
    const time = new FakeTime("2026-11-26T12:00:00Z");
    const events: BusEvent[] = [];
    const scheduler = new LocalScheduler({ catalog: loaded.catalog, emit: (e) => events.push(e), now: () => time.now, setTimer: time.setTimer, clearTimer: time.clearTimer });
    scheduler.start();
    time.advanceTo("2026-11-27T00:00:00Z");
    const router = buildRouter(loaded.catalog);
    expect(events.map((e) => router.match(e).map((r) => r.job.name))).toEqual([["nightly-backup"]]);
  });
});
