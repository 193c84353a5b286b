/**
 * Fire times of a schedule, as EventBridge Scheduler computes them, so that
 * `berth dev` fires exactly when AWS would.
 *
 * Cron fields are matched against the wall clock of the schedule's time zone.
 * Around daylight-saving changes EventBridge Scheduler documents that
 *  - a wall time skipped when clocks move forward (02:30 on a US spring-forward
 *    day) does not exist, so that occurrence is skipped, not moved;
 *  - a wall time repeated when clocks move back (01:30 on a US fall-back day)
 *    runs only once: at its first occurrence, the earlier instant.
 * Rates are fixed durations: `rate(1 day)` is every 24 hours, whatever the
 * clocks do, counted from the schedule's start.
 */
import { instantsAt, isValidTimeZone, utcMs, wallTime } from "./time-zone.ts";
import type { CronSchedule, Schedule } from "./types.ts";

export interface NextFireTimesOptions {
  /** IANA zone the cron fields are read in (ignored by rates). */
  readonly timezone: string;
  /** Epoch ms; only fire times strictly later are returned. */
  readonly after: number;
  /** At most this many fire times. */
  readonly count: number;
  /**
   * Epoch ms of a rate schedule's start: it fires at `anchor + k * period`
   * (k >= 0). Absent: the Unix epoch, so rates align to UTC minute, hour
   * and day boundaries.
   */
  readonly anchor?: number;
}

/**
 * The next `count` fire instants (epoch ms, ascending) after `opts.after`.
 * Returns fewer when the schedule ends first (a year field, or the 2199 limit
 * of AWS's year range) and none for a cron that can never fire
 * (`cron(0 0 30 2 ? *)`).
 */
export function nextFireTimes(schedule: Schedule, opts: NextFireTimesOptions): number[] {
  if (!Number.isFinite(opts.after)) throw new RangeError(`after must be an epoch ms number, got ${opts.after}`);
  if (opts.count <= 0) return [];
  if (schedule.kind === "rate") return nextRateTimes(schedule.periodMs, opts.anchor ?? 0, opts.after, opts.count);
  if (!isValidTimeZone(opts.timezone)) {
    throw new RangeError(`unknown time zone "${opts.timezone}": use an IANA name such as Asia/Seoul or UTC`);
  }
  return nextCronTimes(schedule, opts.timezone, opts.after, opts.count);
}

function nextRateTimes(period: number, anchor: number, after: number, count: number): number[] {
  const first = after < anchor ? 0 : Math.floor((after - anchor) / period) + 1;
  const times: number[] = [];
  for (let k = first; times.length < count; k++) times.push(anchor + k * period);
  return times;
}

interface Minute {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

function nextCronTimes(schedule: CronSchedule, timeZone: string, after: number, count: number): number[] {
  // Wall minutes map to instants in increasing order (a repeated hour maps to
  // its first pass, a skipped one to nothing), so walking matching wall
  // minutes from the one containing `after` yields fire times in order.
  let cursor: Minute | null = minuteOf(wallTime(after, timeZone));
  const times: number[] = [];
  const offsets = new Map<number, number>();
  while (times.length < count) {
    cursor = nextMatchingMinute(schedule, cursor);
    if (cursor === null) break;
    const wall = utcMs(cursor.year, cursor.month, cursor.day, cursor.hour, cursor.minute);
    const first = instantsAt(wall, timeZone, offsets)[0];
    if (first !== undefined && first > after) times.push(first);
    cursor = { ...cursor, minute: cursor.minute + 1 };
  }
  return times;
}

function minuteOf(wall: number): Minute {
  const date = new Date(wall);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
  };
}

/**
 * The first wall minute at or after `from` that the schedule matches, found
 * field by field (year, month, day, hour, minute) so impossible or far-off
 * dates cost a few hundred steps at most, never a scan of minutes.
 */
function nextMatchingMinute(schedule: CronSchedule, from: Minute): Minute | null {
  let { year, month, day, hour, minute } = from;
  for (;;) {
    if (minute > 59) [minute, hour] = [0, hour + 1];
    if (hour > 23) [hour, day] = [0, day + 1];
    if (month > 12) [month, year] = [1, year + 1];
    if (day > daysInMonth(year, month)) [day, month] = [1, month + 1];
    if (month > 12) [month, year] = [1, year + 1];

    const y = firstAtLeast(schedule.years, year);
    if (y === undefined) return null;
    if (y !== year) [year, month, day, hour, minute] = [y, 1, 1, 0, 0];

    const m = firstAtLeast(schedule.months, month);
    if (m === undefined) {
      [year, month, day, hour, minute] = [year + 1, 1, 1, 0, 0];
      continue;
    }
    if (m !== month) [month, day, hour, minute] = [m, 1, 0, 0];

    const d = firstAtLeast(matchingDays(schedule, year, month), day);
    if (d === undefined) {
      [month, day, hour, minute] = [month + 1, 1, 0, 0];
      continue;
    }
    if (d !== day) [day, hour, minute] = [d, 0, 0];

    const h = firstAtLeast(schedule.hours, hour);
    if (h === undefined) {
      [day, hour, minute] = [day + 1, 0, 0];
      continue;
    }
    if (h !== hour) [hour, minute] = [h, 0];

    const mi = firstAtLeast(schedule.minutes, minute);
    if (mi === undefined) {
      [hour, minute] = [hour + 1, 0];
      continue;
    }
    return { year, month, day, hour, minute: mi };
  }
}

function firstAtLeast(sorted: readonly number[], value: number): number | undefined {
  for (const v of sorted) if (v >= value) return v;
  return undefined;
}

function daysInMonth(year: number, month: number): number {
  return new Date(utcMs(year, month + 1, 0)).getUTCDate();
}

/** 1 = Sunday ... 7 = Saturday. */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(utcMs(year, month, day)).getUTCDay() + 1;
}

/** Days of `month` the day-of-month and day-of-week rules select, ascending. */
function matchingDays(schedule: CronSchedule, year: number, month: number): number[] {
  const last = daysInMonth(year, month);
  const dom = schedule.dayOfMonth;
  switch (dom.kind) {
    case "days":
      return dom.days.filter((d) => d <= last);
    case "last":
      return [last];
    case "last-weekday":
      return [nearestWeekday(year, month, last, last)];
    case "nearest-weekday":
      // A day the month does not have selects nothing, as a plain `31` does.
      return dom.day <= last ? [nearestWeekday(year, month, dom.day, last)] : [];
    case "any":
      break;
  }
  const dow = schedule.dayOfWeek;
  const firstWeekday = weekdayOf(year, month, 1);
  // First day of the month falling on `weekday`.
  const firstOn = (weekday: number): number => 1 + ((weekday - firstWeekday + 7) % 7);
  switch (dow.kind) {
    case "days": {
      const days: number[] = [];
      for (let d = 1; d <= last; d++) {
        if (dow.days.includes(((firstWeekday - 1 + d - 1) % 7) + 1)) days.push(d);
      }
      return days;
    }
    case "last": {
      const first = firstOn(dow.weekday);
      return [first + 7 * Math.floor((last - first) / 7)];
    }
    case "nth": {
      const day = firstOn(dow.weekday) + 7 * (dow.nth - 1);
      return day <= last ? [day] : [];
    }
    case "any":
      return [];
  }
}

/** The Monday-Friday nearest `day`, staying inside the month (1W on a Saturday is Monday the 3rd). */
function nearestWeekday(year: number, month: number, day: number, last: number): number {
  const weekday = weekdayOf(year, month, day);
  if (weekday === 7) return day === 1 ? 3 : day - 1;
  if (weekday === 1) return day === last ? day - 2 : day + 1;
  return day;
}
