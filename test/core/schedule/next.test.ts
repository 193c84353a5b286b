import { describe, expect, it } from "vitest";
import { nextFireTimes, parseSchedule } from "../../../src/core/schedule/index.ts";
import type { CronSchedule, Schedule } from "../../../src/core/schedule/index.ts";

function parsed(expression: string): Schedule {
  const result = parseSchedule(expression);
  if (!result.ok) throw new Error(`expected ${expression} to parse, got: ${result.error.message}`);
  return result.schedule;
}

const ms = (iso: string): number => Date.parse(iso);

function fires(expression: string, after: string, count: number, timezone = "UTC", anchor?: string): string[] {
  return nextFireTimes(parsed(expression), {
    timezone,
    after: ms(after),
    count,
    ...(anchor === undefined ? {} : { anchor: ms(anchor) }),
  }).map((t) => new Date(t).toISOString());
}

// 2026-01-01 is a Thursday. All expected instants below were worked out by hand from a calendar.
describe("nextFireTimes: AWS documentation examples (UTC)", () => {
  it.each([
    // 10:00 every day
    ["cron(0 10 * * ? *)", "2026-01-01T00:00:00Z", ["2026-01-01T10:00:00.000Z", "2026-01-02T10:00:00.000Z", "2026-01-03T10:00:00.000Z"]],
    // 12:15 every day
    ["cron(15 12 * * ? *)", "2026-01-01T00:00:00Z", ["2026-01-01T12:15:00.000Z", "2026-01-02T12:15:00.000Z", "2026-01-03T12:15:00.000Z"]],
    // 18:00 Monday to Friday: Thu 1, Fri 2, then Mon 5
    ["cron(0 18 ? * MON-FRI *)", "2026-01-01T00:00:00Z", ["2026-01-01T18:00:00.000Z", "2026-01-02T18:00:00.000Z", "2026-01-05T18:00:00.000Z"]],
    // 08:00 on the first day of every month
    ["cron(0 8 1 * ? *)", "2026-01-01T00:00:00Z", ["2026-01-01T08:00:00.000Z", "2026-02-01T08:00:00.000Z", "2026-03-01T08:00:00.000Z"]],
    // every 15 minutes; `after` itself is excluded
    ["cron(0/15 * * * ? *)", "2026-01-01T00:00:00Z", ["2026-01-01T00:15:00.000Z", "2026-01-01T00:30:00.000Z", "2026-01-01T00:45:00.000Z"]],
    // every 10 minutes Monday to Friday: from Friday night straight to Monday 00:00
    ["cron(0/10 * ? * MON-FRI *)", "2026-01-02T23:55:00Z", ["2026-01-05T00:00:00.000Z", "2026-01-05T00:10:00.000Z", "2026-01-05T00:20:00.000Z"]],
    // every 5 minutes Monday to Friday between 08:00 and 17:55
    ["cron(0/5 8-17 ? * MON-FRI *)", "2026-01-02T17:50:00Z", ["2026-01-02T17:55:00.000Z", "2026-01-05T08:00:00.000Z", "2026-01-05T08:05:00.000Z"]],
    // 09:00 on the first Monday of each month
    ["cron(0 9 ? * 2#1 *)", "2026-01-01T00:00:00Z", ["2026-01-05T09:00:00.000Z", "2026-02-02T09:00:00.000Z", "2026-03-02T09:00:00.000Z"]],
  ])("%s after %s", (expression, after, expected) => {
    expect(fires(expression, after, expected.length)).toEqual(expected);
  });
});

describe("nextFireTimes: cron wildcards (UTC)", () => {
  it.each([
    ["L is the last day of each month", "cron(0 0 L * ? *)", "2026-01-15T00:00:00Z", ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]],
    ["L is 29 February in a leap year", "cron(0 0 L 2 ? *)", "2027-06-01T00:00:00Z", ["2028-02-29", "2029-02-28"]],
    ["LW is the last Monday-Friday of the month", "cron(0 0 LW * ? *)", "2026-01-01T00:00:00Z", ["2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30"]],
    ["1W on a Saturday the 1st is Monday the 3rd, on a Sunday Monday the 2nd", "cron(0 0 1W * ? *)", "2026-07-15T00:00:00Z", ["2026-08-03", "2026-09-01", "2026-10-01", "2026-11-02"]],
    ["15W moves a Saturday back to Friday and a Sunday on to Monday", "cron(0 0 15W * ? 2026)", "2026-08-01T00:00:00Z", ["2026-08-14", "2026-09-15", "2026-10-15", "2026-11-16", "2026-12-15"], true],
    ["31W on a Sunday the 31st stays in the month (Friday the 29th) and skips 30-day months", "cron(0 0 31W * ? *)", "2026-04-01T00:00:00Z", ["2026-05-29", "2026-07-31", "2026-08-31"]],
    ["6L is the last Friday", "cron(0 0 ? * 6L *)", "2026-01-01T00:00:00Z", ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"]],
    ["2#3 is the third Monday", "cron(0 0 ? * 2#3 *)", "2026-01-01T00:00:00Z", ["2026-01-19", "2026-02-16", "2026-03-16"]],
    ["6#5 only fires in months with five Fridays", "cron(0 0 ? * 6#5 *)", "2026-01-01T00:00:00Z", ["2026-01-30", "2026-05-29", "2026-07-31"]],
    ["1 is Sunday", "cron(0 0 ? * 1 *)", "2026-01-01T00:00:00Z", ["2026-01-04", "2026-01-11", "2026-01-18"]],
    ["SUN is Sunday", "cron(0 0 ? * SUN *)", "2026-01-01T00:00:00Z", ["2026-01-04", "2026-01-11", "2026-01-18"]],
    ["7 is Saturday", "cron(0 0 ? * 7 *)", "2026-01-01T00:00:00Z", ["2026-01-03", "2026-01-10", "2026-01-17"]],
    ["L alone in day-of-week is Saturday", "cron(0 0 ? * L *)", "2026-01-01T00:00:00Z", ["2026-01-03", "2026-01-10", "2026-01-17"]],
    ["a list of weekdays", "cron(0 0 ? * TUE,THU *)", "2026-01-01T00:00:00Z", ["2026-01-06", "2026-01-08", "2026-01-13"]],
    ["month names", "cron(0 0 1 JAN,JUL ? *)", "2026-01-01T00:00:00Z", ["2026-07-01", "2027-01-01", "2027-07-01"]],
    ["a day-of-month step", "cron(0 0 1/10 * ? *)", "2026-01-01T00:00:00Z", ["2026-01-11", "2026-01-21", "2026-01-31", "2026-02-01"]],
    ["a 31st is skipped in shorter months", "cron(0 0 31 * ? *)", "2026-01-31T00:00:00Z", ["2026-03-31", "2026-05-31", "2026-07-31"]],
    ["29 February only in leap years", "cron(0 0 29 2 ? *)", "2026-01-01T00:00:00Z", ["2028-02-29", "2032-02-29", "2036-02-29"]],
    ["2100 is not a leap year", "cron(0 0 29 2 ? *)", "2096-03-01T00:00:00Z", ["2104-02-29"]],
    ["a year list ends the schedule", "cron(0 0 1 1 ? 2027,2029)", "2026-01-01T00:00:00Z", ["2027-01-01", "2029-01-01"], true],
    ["year steps", "cron(0 0 1 1 ? 2026/4)", "2026-01-01T00:00:00Z", ["2030-01-01", "2034-01-01"]],
    ["2199 is the last year", "cron(0 0 1 1 ? *)", "2197-06-01T00:00:00Z", ["2198-01-01", "2199-01-01"], true],
  ])("%s: %s", (_name, expression, after, days, ends = false) => {
    // A schedule whose years run out returns fewer than asked for.
    const count = ends ? days.length + 3 : days.length;
    expect(fires(expression, after, count).map((iso) => iso.slice(0, 10))).toEqual(days);
  });

  it.each([
    ["minute steps start at the given minute", "cron(1/20 * * * ? *)", ["00:01", "00:21", "00:41", "01:01"]],
    ["hour steps", "cron(30 0/6 * * ? *)", ["00:30", "06:30", "12:30", "18:30"]],
    ["ranges and lists combine", "cron(0,30 9-10 * * ? *)", ["09:00", "09:30", "10:00", "10:30"]],
    ["*/n is n-minute steps from minute 0", "cron(*/20 * * * ? *)", ["00:20", "00:40", "01:00", "01:20"]],
  ])("%s: %s", (_name, expression, times) => {
    expect(fires(expression, "2026-01-01T00:00:00Z", times.length).map((iso) => iso.slice(11, 16))).toEqual(times);
  });

  it.each([
    ["30 February never comes", "cron(0 0 30 2 ? *)"],
    ["31 April never comes", "cron(0 0 31 4 ? *)"],
    ["a fifth Monday in February needs a leap year starting on Monday", "cron(0 0 ? FEB 2#5 2027-2030)"],
    ["years in the past", "cron(0 0 * * ? 2020-2025)"],
    ["no leap day in 2197-2199", "cron(0 0 29 2 ? 2197-2199)"],
  ])("returns nothing when %s", (_name, expression) => {
    expect(fires(expression, "2026-01-01T00:00:00Z", 5)).toEqual([]);
  });

  it("returns fewer than count when the years run out", () => {
    expect(fires("cron(0 12 L 12 ? 2026-2027)", "2026-01-01T00:00:00Z", 10)).toEqual([
      "2026-12-31T12:00:00.000Z",
      "2027-12-31T12:00:00.000Z",
    ]);
  });

  it("returns nothing for a count of 0", () => {
    expect(fires("cron(0 10 * * ? *)", "2026-01-01T00:00:00Z", 0)).toEqual([]);
  });

  it("excludes a fire time equal to after and includes one a millisecond later", () => {
    expect(fires("cron(0 10 * * ? *)", "2026-01-01T10:00:00.000Z", 1)).toEqual(["2026-01-02T10:00:00.000Z"]);
    expect(fires("cron(0 10 * * ? *)", "2026-01-01T09:59:59.999Z", 1)).toEqual(["2026-01-01T10:00:00.000Z"]);
  });

  it("rejects a time zone that is not an IANA id", () => {
    expect(() => nextFireTimes(parsed("cron(0 10 * * ? *)"), { timezone: "PST", after: 0, count: 1 })).toThrow(
      'unknown time zone "PST": use an IANA name such as Asia/Seoul or UTC',
    );
  });
});

describe("nextFireTimes: time zones and daylight saving time", () => {
  // America/New_York: EST (UTC-5) until 2026-03-08 02:00, when clocks jump to 03:00 EDT (UTC-4);
  // EDT until 2026-11-01 02:00, when clocks go back to 01:00 EST.
  it.each([
    [
      "a daily 09:00 follows the wall clock across spring forward",
      "cron(0 9 * * ? *)",
      "2026-03-07T00:00:00Z",
      ["2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"],
    ],
    [
      "02:30 does not exist on the spring-forward day, so that day is skipped",
      "cron(30 2 * * ? *)",
      "2026-03-06T12:00:00Z",
      ["2026-03-07T07:30:00.000Z", "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"],
    ],
    [
      "02:00 does not exist either (01:59 is followed by 03:00)",
      "cron(0 2 * * ? *)",
      "2026-03-07T12:00:00Z",
      ["2026-03-09T06:00:00.000Z"],
    ],
    [
      "a half-hourly schedule jumps from 01:30 EST to 03:00 EDT",
      "cron(0/30 * * * ? *)",
      "2026-03-08T06:00:00Z",
      ["2026-03-08T06:30:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-08T07:30:00.000Z"],
    ],
    [
      "01:30 happens twice on the fall-back day but runs once, at its first (EDT) occurrence",
      "cron(30 1 * * ? *)",
      "2026-10-31T12:00:00Z",
      ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"],
    ],
    [
      "a half-hourly schedule does not repeat the repeated hour",
      "cron(0/30 * * * ? *)",
      "2026-11-01T04:00:00Z",
      ["2026-11-01T04:30:00.000Z", "2026-11-01T05:00:00.000Z", "2026-11-01T05:30:00.000Z", "2026-11-01T07:00:00.000Z", "2026-11-01T07:30:00.000Z"],
    ],
    [
      "from inside the repeated hour the next fire is after it",
      "cron(0/30 * * * ? *)",
      "2026-11-01T06:10:00Z",
      ["2026-11-01T07:00:00.000Z"],
    ],
    [
      "a daily 09:00 follows the wall clock across fall back",
      "cron(0 9 * * ? *)",
      "2026-10-31T00:00:00Z",
      ["2026-10-31T13:00:00.000Z", "2026-11-01T14:00:00.000Z", "2026-11-02T14:00:00.000Z"],
    ],
  ])("America/New_York: %s", (_name, expression, after, expected) => {
    expect(fires(expression, after, expected.length, "America/New_York")).toEqual(expected);
  });

  it.each([
    // UTC+9 all year: 03:00 KST is 18:00 UTC the day before, even on US change days.
    ["2026-03-07T00:00:00Z", ["2026-03-07T18:00:00.000Z", "2026-03-08T18:00:00.000Z", "2026-03-09T18:00:00.000Z"]],
    ["2026-10-31T00:00:00Z", ["2026-10-31T18:00:00.000Z", "2026-11-01T18:00:00.000Z", "2026-11-02T18:00:00.000Z"]],
  ])("Asia/Seoul has no DST: cron(0 3 * * ? *) after %s", (after, expected) => {
    expect(fires("cron(0 3 * * ? *)", after, expected.length, "Asia/Seoul")).toEqual(expected);
  });

  it("reads day-of-week in the schedule's zone, not UTC", () => {
    // Monday 08:00 in Seoul is Sunday 23:00 UTC.
    expect(fires("cron(0 8 ? * MON *)", "2026-01-01T00:00:00Z", 2, "Asia/Seoul")).toEqual([
      "2026-01-04T23:00:00.000Z",
      "2026-01-11T23:00:00.000Z",
    ]);
  });

  it("reads the last day of the month in the schedule's zone", () => {
    // 31 January 22:00 in New York (EST) is 1 February 03:00 UTC.
    expect(fires("cron(0 22 L * ? *)", "2026-01-15T00:00:00Z", 2, "America/New_York")).toEqual([
      "2026-02-01T03:00:00.000Z",
      "2026-03-01T03:00:00.000Z",
    ]);
  });
});

describe("nextFireTimes: rates", () => {
  it.each([
    ["fires every period from the anchor", "rate(5 minutes)", "2026-01-01T00:10:00Z", "2026-01-01T00:02:00Z", ["2026-01-01T00:12:00.000Z", "2026-01-01T00:17:00.000Z", "2026-01-01T00:22:00.000Z"]],
    ["fires at the anchor itself when after is earlier", "rate(1 hour)", "2025-12-31T00:00:00Z", "2026-01-01T00:30:00Z", ["2026-01-01T00:30:00.000Z", "2026-01-01T01:30:00.000Z"]],
    ["excludes a fire time equal to after", "rate(2 hours)", "2026-01-01T02:00:00Z", "2026-01-01T00:00:00Z", ["2026-01-01T04:00:00.000Z"]],
  ])("%s: %s", (_name, expression, after, anchor, expected) => {
    expect(fires(expression, after, expected.length, "UTC", anchor)).toEqual(expected);
  });

  it("aligns to the Unix epoch without an anchor", () => {
    expect(fires("rate(1 hour)", "2026-01-01T00:30:00Z", 2)).toEqual([
      "2026-01-01T01:00:00.000Z",
      "2026-01-01T02:00:00.000Z",
    ]);
  });

  it("counts a day as 24 hours across a DST change, ignoring the time zone", () => {
    // 09:00 EST on 7 March; 24 hours later it is 10:00 EDT.
    expect(fires("rate(1 day)", "2026-03-07T14:00:00Z", 2, "America/New_York", "2026-03-07T14:00:00Z")).toEqual([
      "2026-03-08T14:00:00.000Z",
      "2026-03-09T14:00:00.000Z",
    ]);
  });
});

// An independent, slow reading of the same rules: each calendar day is tested
// on its own (nearest weekday = the closest Monday-Friday of the same month),
// then each minute of a matching day. The fast search must agree with it.
function bruteForce(schedule: CronSchedule, from: number, days: number): number[] {
  const out: number[] = [];
  const dayMs = 86_400_000;
  for (let dayStart = from; dayStart < from + days * dayMs; dayStart += dayMs) {
    const date = new Date(dayStart);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth() + 1;
    const day = date.getUTCDate();
    const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const weekday = (d: number) => new Date(Date.UTC(year, month - 1, d)).getUTCDay() + 1;
    const isWorkday = (d: number) => weekday(d) >= 2 && weekday(d) <= 6;
    const nearestWorkday = (target: number) => {
      let best = 0;
      for (let d = 1; d <= last; d++) {
        if (isWorkday(d) && (best === 0 || Math.abs(d - target) < Math.abs(best - target))) best = d;
      }
      return best;
    };
    if (!schedule.years.includes(year) || !schedule.months.includes(month)) continue;
    const dom = schedule.dayOfMonth;
    const dow = schedule.dayOfWeek;
    const dayMatches =
      dom.kind === "days"
        ? dom.days.includes(day)
        : dom.kind === "last"
          ? day === last
          : dom.kind === "last-weekday"
            ? isWorkday(day) && ![...Array(last - day).keys()].some((i) => isWorkday(day + i + 1))
            : dom.kind === "nearest-weekday"
              ? dom.day <= last && day === nearestWorkday(dom.day)
              : dow.kind === "days"
                ? dow.days.includes(weekday(day))
                : dow.kind === "last"
                  ? weekday(day) === dow.weekday && day + 7 > last
                  : dow.kind === "nth"
                    ? weekday(day) === dow.weekday && Math.ceil(day / 7) === dow.nth
                    : false;
    if (!dayMatches) continue;
    for (const hour of schedule.hours) {
      for (const minute of schedule.minutes) out.push(dayStart + hour * 3_600_000 + minute * 60_000);
    }
  }
  return out;
}

describe("nextFireTimes agrees with a day-by-day reading of the rules", () => {
  it.each([
    "cron(0 10 * * ? *)",
    "cron(7,37 1-2,23 ? * MON,WED-FRI *)",
    "cron(0 0 L * ? *)",
    "cron(15 6 LW * ? *)",
    "cron(0 12 1W * ? *)",
    "cron(0 12 15W * ? *)",
    "cron(0 12 30W * ? *)",
    "cron(0 12 31W * ? *)",
    "cron(0 9 ? * 6L *)",
    "cron(0 9 ? * 1L *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 9 ? * 5#5 *)",
    "cron(0/45 3/7 1/9 FEB-AUG/2 ? 2026,2028)",
    "cron(0 0 29 2 ? *)",
  ])("%s over 2026-2028", (expression) => {
    const schedule = parsed(expression);
    if (schedule.kind !== "cron") throw new Error("expected a cron schedule");
    const from = ms("2026-01-01T00:00:00Z");
    const expected = bruteForce(schedule, from, 1096);
    const actual = nextFireTimes(schedule, { timezone: "UTC", after: from - 1, count: expected.length + 1 }).filter(
      (t) => t < from + 1096 * 86_400_000,
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(actual).toEqual(expected);
  });
});
