/**
 * Wall-clock arithmetic in IANA time zones using only `Intl`. A "wall time" is
 * the local date and time in a zone, encoded as milliseconds as if that local
 * time were UTC (`Date.UTC(y, m - 1, d, h, mi, s)`), so calendar arithmetic on
 * it is plain UTC arithmetic.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

// Every IANA zone other than the bare `UTC` lives under one of these areas.
// Requiring one rejects ICU's abbreviation aliases (`PST`, `EST`, `CET`) and
// POSIX-style names, which AWS does not document as time zones.
const IANA_NAME = /^(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)(?:\/[A-Z][A-Za-z0-9_+-]*)+$/;

let canonicalZones: ReadonlyMap<string, string> | undefined;

/**
 * True for IANA time zone ids such as `Asia/Seoul`, `America/New_York`,
 * `Etc/GMT+5` and `UTC`. Names must be spelled as IANA spells them; abbreviations
 * (`PST`, `KST`) and legacy `US/...` aliases are rejected even where `Intl`
 * would accept them.
 */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone === "UTC") return true;
  if (!IANA_NAME.test(timeZone)) return false;
  canonicalZones ??= new Map(Intl.supportedValuesOf("timeZone").map((zone) => [zone.toLowerCase(), zone]));
  const canonical = canonicalZones.get(timeZone.toLowerCase());
  if (canonical !== undefined) return canonical === timeZone;
  // Links such as Asia/Kolkata or Europe/Kyiv: ICU knows them under another canonical name.
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Local date and time of `instant` (epoch ms) in `timeZone`. */
export function toWallClock(instant: number, timeZone: string): WallClock {
  const fields: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) fields[part.type] = part.value;
  const yearOfEra = Number(fields.year);
  return {
    year: fields.era === "BC" || fields.era === "B" ? 1 - yearOfEra : yearOfEra,
    month: Number(fields.month),
    day: Number(fields.day),
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
  };
}

/** `Date.UTC` without its mapping of years 0-99 onto 1900-1999. */
export function utcMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

/** The wall time of `instant` in `timeZone` (see the header for the encoding). */
export function wallTime(instant: number, timeZone: string): number {
  if (isUtc(timeZone)) return instant;
  const c = toWallClock(instant, timeZone);
  const wholeSecond = Math.floor(instant / 1000) * 1000;
  return utcMs(c.year, c.month, c.day, c.hour, c.minute, c.second) + (instant - wholeSecond);
}

/** UTC offset in ms in effect at `instant` (positive east of Greenwich). */
export function utcOffset(instant: number, timeZone: string): number {
  return wallTime(instant, timeZone) - instant;
}

/**
 * Every instant whose wall time in `timeZone` is `wall`, ascending: none for a
 * time skipped when clocks move forward, two for a time repeated when they
 * move back, one otherwise. Callers resolving many nearby wall times pass the
 * same `memo` to reuse the offsets sampled around them.
 */
export function instantsAt(wall: number, timeZone: string, memo?: Map<number, number>): number[] {
  if (isUtc(timeZone)) return [wall];
  // Offsets sampled about a day either side lie beyond any instant that can
  // show this wall time (offsets stay within ±14h), so they are the offsets in
  // force before and after a transition near it. Zones do not change offset
  // twice within a day and a half. Sampling from the start of the hour lets
  // the 60 minutes of an hour share two samples.
  const hourStart = Math.floor(wall / HOUR_MS) * HOUR_MS;
  const before = sampledOffset(hourStart - DAY_MS, timeZone, memo);
  const after = sampledOffset(hourStart + DAY_MS, timeZone, memo);
  const instants: number[] = [];
  for (const offset of before === after ? [before] : [before, after]) {
    const instant = wall - offset;
    if (utcOffset(instant, timeZone) === offset) instants.push(instant);
  }
  return instants.sort((a, b) => a - b);
}

function sampledOffset(instant: number, timeZone: string, memo: Map<number, number> | undefined): number {
  const known = memo?.get(instant);
  if (known !== undefined) return known;
  const offset = utcOffset(instant, timeZone);
  memo?.set(instant, offset);
  return offset;
}

function isUtc(timeZone: string): boolean {
  return timeZone === "UTC" || timeZone === "Etc/UTC";
}
