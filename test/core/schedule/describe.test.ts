import { describe, expect, it } from "vitest";
import { describeSchedule, parseSchedule } from "../../../src/core/schedule/index.ts";

describe("describeSchedule", () => {
  it.each([
    ["rate(1 minute)", "every minute"],
    ["rate(5 minutes)", "every 5 minutes"],
    ["rate(1 day)", "every day"],
    ["cron(0 10 * * ? *)", "at 10:00 every day"],
    ["cron(0 9,17 * * ? *)", "at 09:00 and 17:00 every day"],
    ["cron(0 18 ? * MON-FRI *)", "at 18:00 on MON-FRI"],
    ["cron(0 8 1 * ? *)", "at 08:00 on day 1 of the month"],
    ["cron(0/15 * * * ? *)", "every 15 minutes"],
    ["cron(* * * * ? *)", "every minute"],
    ["cron(5 * * * ? *)", "at minute 5 of every hour"],
    ["cron(0/5 8-17 ? * MON-FRI *)", "every 5 minutes between 08:00 and 17:59 on MON-FRI"],
    ["cron(0 9 ? * 2#1 *)", "at 09:00 on the first Monday of the month"],
    ["cron(0 9 ? * 6L *)", "at 09:00 on the last Friday of the month"],
    ["cron(0 0 L * ? *)", "at 00:00 on the last day of the month"],
    ["cron(0 0 LW * ? *)", "at 00:00 on the last weekday of the month"],
    ["cron(0 0 15W * ? *)", "at 00:00 on the weekday nearest day 15 of the month"],
    ["cron(0 0 1,15 JAN,APR,JUL,OCT ? 2026-2028)", "at 00:00 on days 1,15 of the month in JAN,APR,JUL,OCT in 2026-2028"],
    ["cron(0 3 ? * SUN,SAT *)", "at 03:00 on SUN,SAT"],
  ])("%s reads %j", (expression, text) => {
    const result = parseSchedule(expression);
    if (!result.ok) throw new Error(result.error.message);
    expect(describeSchedule(result.schedule)).toBe(text);
  });
});
