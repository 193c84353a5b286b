/**
 * A parsed AWS schedule expression. `parseSchedule` produces these; they are
 * frozen and carry everything `nextFireTimes` needs, so evaluating a schedule
 * never re-reads the text.
 */
import type { Failure, ValidationError } from "../errors.ts";

export type RateUnit = "minute" | "hour" | "day";

export interface RateSchedule {
  readonly kind: "rate";
  readonly value: number;
  readonly unit: RateUnit;
  /** `value` units in milliseconds: a day is always 24 hours, as on AWS. */
  readonly periodMs: number;
}

/** Day-of-month rule; `any` is the `?` placeholder. */
export type DayOfMonthRule =
  | { readonly kind: "any" }
  | { readonly kind: "days"; readonly days: readonly number[] }
  /** `L`: the last day of the month. */
  | { readonly kind: "last" }
  /** `LW`: the last Monday-Friday of the month. */
  | { readonly kind: "last-weekday" }
  /** `<day>W`: the Monday-Friday nearest `day`, never leaving the month. */
  | { readonly kind: "nearest-weekday"; readonly day: number };

/** Day-of-week rule; weekdays are 1-7 with 1 = Sunday. `any` is `?`. */
export type DayOfWeekRule =
  | { readonly kind: "any" }
  | { readonly kind: "days"; readonly days: readonly number[] }
  /** `<weekday>L`: the last such weekday of the month (`6L` = last Friday). */
  | { readonly kind: "last"; readonly weekday: number }
  /** `<weekday>#<nth>`: the nth such weekday of the month (`2#3` = third Monday). */
  | { readonly kind: "nth"; readonly weekday: number; readonly nth: number };

export type CronFields = readonly [
  minutes: string,
  hours: string,
  dayOfMonth: string,
  month: string,
  dayOfWeek: string,
  year: string,
];

export interface CronSchedule {
  readonly kind: "cron";
  /** The six fields in AWS's accepted spelling (what `toAwsExpression` emits). */
  readonly fields: CronFields;
  /** Sorted ascending; never empty. */
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly dayOfMonth: DayOfMonthRule;
  readonly months: readonly number[];
  readonly dayOfWeek: DayOfWeekRule;
  readonly years: readonly number[];
}

export type Schedule = CronSchedule | RateSchedule;

export type ParseScheduleResult = { readonly ok: true; readonly schedule: Schedule } | Failure<ValidationError>;
