/**
 * AWS schedule expressions: parsing and normalizing `cron(...)`/`rate(...)`,
 * time zone validation, and fire times that match EventBridge Scheduler's,
 * including its daylight-saving behaviour.
 */
export { parseSchedule, toAwsExpression } from "./parse.ts";
export { describeSchedule } from "./describe.ts";
export { nextFireTimes } from "./next.ts";
export type { NextFireTimesOptions } from "./next.ts";
export { isValidTimeZone, toWallClock } from "./time-zone.ts";
export type { WallClock } from "./time-zone.ts";
export type {
  CronFields,
  CronSchedule,
  DayOfMonthRule,
  DayOfWeekRule,
  ParseScheduleResult,
  RateSchedule,
  RateUnit,
  Schedule,
} from "./types.ts";
