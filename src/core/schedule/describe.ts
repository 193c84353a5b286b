import type { CronSchedule, Schedule } from "./types.ts";

const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;
const WEEKDAY_WORDS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] as const;
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const ORDINALS = ["first", "second", "third", "fourth", "fifth"] as const;

/**
 * Short English for listings and `berth dev` output, e.g. "at 03:00 every
 * day", "every 5 minutes between 08:00 and 17:59 on MON-FRI". Times are wall
 * clock in the schedule's time zone, which the caller names.
 */
export function describeSchedule(schedule: Schedule): string {
  if (schedule.kind === "rate") {
    return schedule.value === 1 ? `every ${schedule.unit}` : `every ${schedule.value} ${schedule.unit}s`;
  }
  const time = describeTime(schedule);
  const days = describeDays(schedule);
  const parts = [time];
  if (!(days === "every day" && time.includes("every"))) parts.push(days);
  if (schedule.months.length < 12) parts.push(`in ${runs(schedule.months, (m) => MONTHS[m - 1] ?? String(m))}`);
  if (schedule.years.length < 230) parts.push(`in ${runs(schedule.years, String)}`);
  return parts.join(" ");
}

function describeTime(s: CronSchedule): string {
  const everyHour = s.hours.length === 24;
  const [onlyMinute] = s.minutes;
  if (s.minutes.length === 1 && onlyMinute !== undefined) {
    if (everyHour) return `at minute ${onlyMinute} of every hour`;
    if (s.hours.length <= 4) return `at ${list(s.hours.map((h) => clock(h, onlyMinute)))}`;
  }
  const step = /^(\d+)\/(\d+)$/.exec(s.fields[0]);
  const minutes =
    s.minutes.length === 60
      ? "every minute"
      : step
        ? `every ${step[2]} minutes${step[1] === "0" ? "" : ` from minute ${step[1]}`}`
        : `at minutes ${runs(s.minutes, String)}`;
  if (everyHour) return minutes;
  const first = s.hours[0] ?? 0;
  const last = s.hours[s.hours.length - 1] ?? 0;
  if (last - first + 1 === s.hours.length) return `${minutes} between ${clock(first, 0)} and ${clock(last, 59)}`;
  return `${minutes} during hours ${runs(s.hours, String)}`;
}

function describeDays(s: CronSchedule): string {
  const dom = s.dayOfMonth;
  switch (dom.kind) {
    case "days":
      if (dom.days.length === 31) return "every day";
      return dom.days.length === 1
        ? `on day ${dom.days[0]} of the month`
        : `on days ${runs(dom.days, String)} of the month`;
    case "last":
      return "on the last day of the month";
    case "last-weekday":
      return "on the last weekday of the month";
    case "nearest-weekday":
      return `on the weekday nearest day ${dom.day} of the month`;
    case "any":
      break;
  }
  const dow = s.dayOfWeek;
  switch (dow.kind) {
    case "days":
      return dow.days.length === 7 ? "every day" : `on ${runs(dow.days, (d) => WEEKDAYS[d - 1] ?? String(d))}`;
    case "last":
      return `on the last ${WEEKDAY_WORDS[dow.weekday - 1]} of the month`;
    case "nth":
      return `on the ${ORDINALS[dow.nth - 1]} ${WEEKDAY_WORDS[dow.weekday - 1]} of the month`;
    case "any":
      return "every day";
  }
}

function clock(hour: number, minute: number): string {
  return `${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`;
}

function list(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** `[1,2,3,5]` → `1-3,5`, with `name` spelling each value. */
function runs(values: readonly number[], name: (v: number) => string): string {
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === (values[j] ?? 0) + 1) j++;
    const a = values[i] ?? 0;
    const b = values[j] ?? 0;
    out.push(j - i >= 2 ? `${name(a)}-${name(b)}` : j > i ? `${name(a)},${name(b)}` : name(a));
    i = j + 1;
  }
  return out.join(",");
}
