import { describe, expect, it } from "vitest";
import { parseSchedule, toAwsExpression } from "../../../src/core/schedule/index.ts";
import type { Schedule } from "../../../src/core/schedule/index.ts";

function parsed(expression: string): Schedule {
  const result = parseSchedule(expression);
  if (!result.ok) throw new Error(`expected ${expression} to parse, got: ${result.error.message}`);
  return result.schedule;
}

describe("parseSchedule: accepted expressions and their AWS form", () => {
  it.each([
    // AWS documentation examples stay exactly as written.
    ["cron(0 10 * * ? *)", "cron(0 10 * * ? *)"],
    ["cron(15 12 * * ? *)", "cron(15 12 * * ? *)"],
    ["cron(0 18 ? * MON-FRI *)", "cron(0 18 ? * MON-FRI *)"],
    ["cron(0 8 1 * ? *)", "cron(0 8 1 * ? *)"],
    ["cron(0/15 * * * ? *)", "cron(0/15 * * * ? *)"],
    ["cron(0/10 * ? * MON-FRI *)", "cron(0/10 * ? * MON-FRI *)"],
    ["cron(0/5 8-17 ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)"],
    ["cron(0 9 ? * 2#1 *)", "cron(0 9 ? * 2#1 *)"],
    ["rate(1 minute)", "rate(1 minute)"],
    ["rate(5 minutes)", "rate(5 minutes)"],
    ["rate(1 hour)", "rate(1 hour)"],
    ["rate(1 day)", "rate(1 day)"],
    // Bare forms, as berth.yml writes them.
    ["0 3 * * ? *", "cron(0 3 * * ? *)"],
    ["5 minutes", "rate(5 minutes)"],
    // Spelling is normalized to the documented form.
    ["  CRON( 0  3 * *  ?  * ) ", "cron(0 3 * * ? *)"],
    ["cron(0 9 ? jan,jul mon-fri *)", "cron(0 9 ? JAN,JUL MON-FRI *)"],
    ["cron(*/5 * * * ? *)", "cron(0/5 * * * ? *)"],
    ["cron(0 */6 */10 */2 ? */5)", "cron(0 0/6 1/10 1/2 ? 1970/5)"],
    ["cron(0 0 ? * FRI#3 *)", "cron(0 0 ? * 6#3 *)"],
    ["cron(0 0 ? * friL *)", "cron(0 0 ? * 6L *)"],
    ["cron(0 0 lw * ? *)", "cron(0 0 LW * ? *)"],
    ["cron(0 0 3w * ? *)", "cron(0 0 3W * ? *)"],
    ["rate(05 MINUTES)", "rate(5 minutes)"],
  ])("%s is %s", (input, aws) => {
    expect(toAwsExpression(parsed(input))).toBe(aws);
  });

  it("expands lists, ranges and steps into the values they select", () => {
    const schedule = parsed("cron(1/20 0-3,22 1,15-16 JAN,MAR-APR ? 2026-2028,2030)");
    expect(schedule).toMatchObject({
      kind: "cron",
      minutes: [1, 21, 41],
      hours: [0, 1, 2, 3, 22],
      dayOfMonth: { kind: "days", days: [1, 15, 16] },
      months: [1, 3, 4],
      dayOfWeek: { kind: "any" },
      years: [2026, 2027, 2028, 2030],
    });
  });

  it.each([
    ["SUN", [1]],
    ["1", [1]],
    ["SAT", [7]],
    ["L", [7]],
    ["MON-FRI", [2, 3, 4, 5, 6]],
    ["2-6", [2, 3, 4, 5, 6]],
    ["SUN,SAT", [1, 7]],
    ["*", [1, 2, 3, 4, 5, 6, 7]],
  ])("day-of-week %s selects weekdays %j (1 = Sunday)", (field, days) => {
    expect(parsed(`cron(0 0 ? * ${field} *)`)).toMatchObject({ dayOfWeek: { kind: "days", days } });
  });

  it.each([
    ["L", { kind: "last" }],
    ["LW", { kind: "last-weekday" }],
    ["15W", { kind: "nearest-weekday", day: 15 }],
    ["*", { kind: "days", days: Array.from({ length: 31 }, (_, i) => i + 1) }],
  ])("day-of-month %s is %j", (field, rule) => {
    expect(parsed(`cron(0 0 ${field} * ? *)`)).toMatchObject({ dayOfMonth: rule });
  });

  it.each([
    ["6L", { kind: "last", weekday: 6 }],
    ["2#3", { kind: "nth", weekday: 2, nth: 3 }],
    ["MON#5", { kind: "nth", weekday: 2, nth: 5 }],
  ])("day-of-week %s is %j", (field, rule) => {
    expect(parsed(`cron(0 0 ? * ${field} *)`)).toMatchObject({ dayOfWeek: rule });
  });

  it.each([
    ["rate(1 minute)", 60_000],
    ["rate(90 minutes)", 5_400_000],
    ["rate(2 hours)", 7_200_000],
    ["rate(7 days)", 604_800_000],
  ])("%s has a period of %i ms", (expression, periodMs) => {
    expect(parsed(expression)).toMatchObject({ kind: "rate", periodMs });
  });

  it("returns a frozen schedule", () => {
    const schedule = parsed("cron(0 3 * * ? *)");
    expect(Object.isFrozen(schedule)).toBe(true);
    expect(schedule.kind === "cron" && Object.isFrozen(schedule.minutes)).toBe(true);
  });
});

describe("parseSchedule: rejected expressions say what is allowed", () => {
  it.each([
    ["", "schedule expression is empty: write cron(...) or rate(...), e.g. rate(5 minutes)"],
    [
      "0 3 * * *",
      'cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5: did you write a Unix cron? add a year field, e.g. "*"',
    ],
    [
      "cron(0 0 3 * * ? *)",
      "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 7: did you write a Quartz cron with seconds? remove the seconds field",
    ],
    ["cron()", "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 0"],
    ["cron(0 3 * * * *)", "day-of-month and day-of-week cannot both be set: use ? in one of them"],
    ["cron(0 3 1 * MON *)", "day-of-month and day-of-week cannot both be set: use ? in one of them"],
    [
      "cron(0 3 ? * ? *)",
      "day-of-month and day-of-week cannot both be ?: set one of them, e.g. * in day-of-month for every day",
    ],
    ["cron(0 0 ? * 8 *)", 'day-of-week field "8": values are 1-7 (1 = SUN) or SUN-SAT'],
    [
      "cron(0 0 ? * 0 *)",
      'day-of-week field "0": values are 1-7 (1 = SUN) or SUN-SAT (0 is Sunday only in Unix cron: use 1 or SUN)',
    ],
    ["cron(0 0 ? * MON,8 *)", 'day-of-week field "MON,8": 8 is out of range: values are 1-7 (1 = SUN) or SUN-SAT'],
    ["cron(60 0 * * ? *)", 'minutes field "60": values are 0-59'],
    ["cron(0 24 * * ? *)", 'hours field "24": values are 0-23'],
    ["cron(0 0 32 * ? *)", 'day-of-month field "32": values are 1-31'],
    ["cron(0 0 0W * ? *)", 'day-of-month field "0W": 0 is out of range: values are 1-31'],
    ["cron(0 0 1 13 ? *)", 'month field "13": values are 1-12 or JAN-DEC'],
    ["cron(0 0 1 JANUARY ? *)", 'month field "JANUARY": values are 1-12 or JAN-DEC; wildcards are , - * /'],
    ["cron(0 0 1 january ? *)", 'month field "january": values are 1-12 or JAN-DEC; wildcards are , - * /'],
    ["cron(0 0 1 1 ? 1969)", 'year field "1969": values are 1970-2199'],
    ["cron(0 0 1 1 ? 2200)", 'year field "2200": values are 1970-2199'],
    ["cron(? 0 * * ? *)", 'minutes field "?": ? is only allowed in day-of-month and day-of-week'],
    ["cron(0 0 1,? * ? *)", 'day-of-month field "1,?": ? must be the whole field'],
    ["cron(0 0 ? * MON/2 *)", 'day-of-week field "MON/2": "/" is not allowed here; allowed: , - * ? L #'],
    ["cron(*/60 * * * ? *)", 'minutes field "*/60": step 60 is out of range: steps are 1-59'],
    ["cron(0/0 * * * ? *)", 'minutes field "0/0": step 0 is out of range: steps are 1-59'],
    ["cron(0/x * * * ? *)", 'minutes field "0/x": step "x" must be a whole number'],
    ["cron(0 0 1,,2 * ? *)", 'day-of-month field "1,,2": empty list item: separate values with single commas'],
    [
      "cron(0 22-2 * * ? *)",
      'hours field "22-2": range 22-2 runs backwards: write it as two ranges, e.g. 22-23,0-2',
    ],
    [
      "cron(0 0 ? * FRI-MON *)",
      'day-of-week field "FRI-MON": range FRI-MON runs backwards: write it as two ranges, e.g. FRI-SAT,SUN-MON',
    ],
    [
      "cron(0 0 L-3 * ? *)",
      'day-of-month field "L-3": L and W must be the whole field: use L (last day), LW (last weekday) or <day>W (weekday nearest <day>, e.g. 15W)',
    ],
    [
      "cron(0 0 1,L * ? *)",
      'day-of-month field "1,L": L and W must be the whole field: use L (last day), LW (last weekday) or <day>W (weekday nearest <day>, e.g. 15W)',
    ],
    [
      "cron(0 0 ? * 1,6L *)",
      'day-of-week field "1,6L": L must be the whole field: use L (Saturday) or <weekday>L (last such weekday of the month, e.g. 6L = last Friday)',
    ],
    [
      "cron(0 0 ? * 3#1,6#3 *)",
      'day-of-week field "3#1,6#3": # must be the only value in the field, as <weekday>#<n> (e.g. 2#3 = third Monday); 3#1,6#3 is not allowed',
    ],
    ["cron(0 0 ? * 6#6 *)", 'day-of-week field "6#6": #6: a month has at most 5 of a weekday; use #1-#5'],
    ["rate(1 minutes)", 'rate(1 minutes): use the singular "minute" when the value is 1'],
    ["rate(1 days)", 'rate(1 days): use the singular "day" when the value is 1'],
    ["rate(5 minute)", 'rate(5 minute): use the plural "minutes" when the value is more than 1'],
    ["rate(0 minutes)", "rate(0 minutes): the value must be a whole number of at least 1, e.g. rate(5 minutes)"],
    ["rate(-5 minutes)", "rate(-5 minutes): the value must be a whole number of at least 1, e.g. rate(5 minutes)"],
    ["rate(1.5 hours)", "rate(1.5 hours): the value must be a whole number of at least 1, e.g. rate(5 minutes)"],
    ["rate(30 seconds)", "rate(30 seconds): AWS schedules run at most once a minute: use minutes, hours or days"],
    ["rate(2 weeks)", 'rate(2 weeks): unknown unit "weeks": use minute(s), hour(s) or day(s), e.g. rate(7 days)'],
    ["rate(5)", "rate(5): write rate(<value> <unit>), e.g. rate(5 minutes)"],
    ["rate()", "rate(): write rate(<value> <unit>), e.g. rate(5 minutes)"],
    [
      "at(2026-01-01T00:00:00)",
      '"at(2026-01-01T00:00:00)": at(...) schedules are not supported: use cron(...) or rate(...)',
    ],
    [
      "cron(0 3 * * ? *",
      '"cron(0 3 * * ? *": unbalanced parentheses: write cron(<6 fields>) or rate(<value> <unit>)',
    ],
  ])("%j is rejected: %s", (expression, error) => {
    expect(parseSchedule(expression)).toMatchObject({ ok: false, error: { message: error } });
  });
});
