/**
 * Every time the CLI prints is ISO 8601 with its zone: `2026-12-01T03:00:00+09:00`, or `Z` where
 * the offset is zero. People read a time in a zone (this machine's for runs, the job's for
 * schedules); JSON carries the instant in UTC, milliseconds included.
 */
import { utcOffset, wallTime } from "../core/schedule/time-zone.ts";

/** This machine's zone as Intl resolves it (TZ when set). */
export function localZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** `+09:00`, `-04:00`, or `Z` for a zero offset. */
export function isoOffset(offsetMs: number): string {
  if (offsetMs === 0) return "Z";
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  return `${offsetMs < 0 ? "-" : "+"}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** The instant as the wall clock of `timeZone` shows it, to the second, with that zone's offset then. */
export function isoInZone(instant: number, timeZone: string = localZone()): string {
  const wall = new Date(wallTime(instant, timeZone)).toISOString().slice(0, 19);
  return `${wall}${isoOffset(utcOffset(instant, timeZone))}`;
}

/** For JSON: the instant in UTC, as `Date.prototype.toISOString` writes it. */
export function isoUtcMs(instant: number): string {
  return new Date(instant).toISOString();
}
