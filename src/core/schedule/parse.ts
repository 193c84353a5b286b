/**
 * Parses AWS schedule expressions (`cron(...)`, `rate(...)`) as EventBridge
 * rules and EventBridge Scheduler define them, and writes them back in the
 * form AWS accepts. Input is read leniently where the meaning is unambiguous
 * (case of names, extra spaces, `*\/5`); output is always the documented form,
 * so whatever parses here deploys. Anything AWS documents as invalid, or that
 * its documentation does not cover, is rejected with a message that says what
 * is allowed instead.
 */
import type {
  CronFields,
  CronSchedule,
  DayOfMonthRule,
  DayOfWeekRule,
  ParseScheduleResult,
  RateSchedule,
  RateUnit,
  Schedule,
} from "./types.ts";
import { failure, ValidationError } from "../errors.ts";

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const WEEKDAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

const FIELD_ORDER = "minutes hours day-of-month month day-of-week year";

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Completes "values are ...". */
  readonly values: string;
  readonly wildcards: string;
  readonly step: boolean;
}

const MINUTES: FieldSpec = { name: "minutes", min: 0, max: 59, values: "0-59", wildcards: ", - * /", step: true };
const HOURS: FieldSpec = { name: "hours", min: 0, max: 23, values: "0-23", wildcards: ", - * /", step: true };
const DAY_OF_MONTH: FieldSpec = {
  name: "day-of-month",
  min: 1,
  max: 31,
  values: "1-31",
  wildcards: ", - * ? / L W",
  step: true,
};
const MONTH: FieldSpec = {
  name: "month",
  min: 1,
  max: 12,
  names: MONTH_NAMES,
  values: "1-12 or JAN-DEC",
  wildcards: ", - * /",
  step: true,
};
const DAY_OF_WEEK: FieldSpec = {
  name: "day-of-week",
  min: 1,
  max: 7,
  names: WEEKDAY_NAMES,
  values: "1-7 (1 = SUN) or SUN-SAT",
  wildcards: ", - * ? L #",
  // AWS's field table lists no `/` for day-of-week.
  step: false,
};
const YEAR: FieldSpec = { name: "year", min: 1970, max: 2199, values: "1970-2199", wildcards: ", - * /", step: true };

const RATE_UNIT_MS: Readonly<Record<RateUnit, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

function fieldError(spec: FieldSpec, text: string, problem: string): ValidationError {
  return new ValidationError(`${spec.name} field "${text}": ${problem}`);
}

/**
 * Accepts `cron(<6 fields>)`, `rate(<value> <unit>)`, a bare 6-field cron
 * (`0 3 * * ? *`) and a bare rate (`5 minutes`).
 */
export function parseSchedule(expression: string): ParseScheduleResult {
  try {
    return { ok: true, schedule: parseOrThrow(expression) };
  } catch (error) {
    // The parser throws a ValidationError at the first problem; nothing else it calls throws one.
    if (error instanceof ValidationError) return failure(error);
    throw error;
  }
}

/** The expression in the form EventBridge and EventBridge Scheduler accept. */
export function toAwsExpression(schedule: Schedule): string {
  if (schedule.kind === "rate") {
    return `rate(${schedule.value} ${schedule.value === 1 ? schedule.unit : `${schedule.unit}s`})`;
  }
  return `cron(${schedule.fields.join(" ")})`;
}

function parseOrThrow(expression: string): Schedule {
  const text = expression.trim();
  if (text === "") {
    throw new ValidationError("schedule expression is empty: write cron(...) or rate(...), e.g. rate(5 minutes)");
  }
  const call = /^([A-Za-z]+)\s*\(([^()]*)\)$/.exec(text);
  if (call) {
    const kind = (call[1] ?? "").toLowerCase();
    const body = call[2] ?? "";
    if (kind === "cron") return parseCron(body);
    if (kind === "rate") return parseRate(body);
    throw new ValidationError(
      `"${text}": ${kind}(...) schedules are not supported: use cron(...) or rate(...)`,
    );
  }
  if (text.includes("(") || text.includes(")")) {
    throw new ValidationError(
      `"${text}": unbalanced parentheses: write cron(<6 fields>) or rate(<value> <unit>)`,
    );
  }
  // A bare "<number> <word>" can only be meant as a rate; everything else is read as cron fields.
  if (/^\S+\s+[A-Za-z]+$/.test(text) && /^[+-]?\d/.test(text)) return parseRate(text);
  return parseCron(text);
}

function parseRate(body: string): RateSchedule {
  const shown = `rate(${body.trim()})`;
  const parts = body.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] === "") {
    throw new ValidationError(`${shown}: write rate(<value> <unit>), e.g. rate(5 minutes)`);
  }
  const [valueText = "", unitText = ""] = parts;
  if (!/^\d+$/.test(valueText) || Number(valueText) < 1) {
    throw new ValidationError(`${shown}: the value must be a whole number of at least 1, e.g. rate(5 minutes)`);
  }
  const value = Number(valueText);
  const unitWord = unitText.toLowerCase();
  const singular = unitWord.endsWith("s") ? unitWord.slice(0, -1) : unitWord;
  if (singular === "second") {
    throw new ValidationError(`${shown}: AWS schedules run at most once a minute: use minutes, hours or days`);
  }
  if (singular !== "minute" && singular !== "hour" && singular !== "day") {
    throw new ValidationError(
      `${shown}: unknown unit "${unitText}": use minute(s), hour(s) or day(s), e.g. rate(7 days)`,
    );
  }
  const plural = unitWord !== singular;
  if (value === 1 && plural) {
    throw new ValidationError(`${shown}: use the singular "${singular}" when the value is 1`);
  }
  if (value > 1 && !plural) {
    throw new ValidationError(`${shown}: use the plural "${singular}s" when the value is more than 1`);
  }
  const periodMs = value * RATE_UNIT_MS[singular];
  if (!Number.isSafeInteger(periodMs)) {
    throw new ValidationError(`${shown}: the value is too large`);
  }
  return Object.freeze({ kind: "rate", value, unit: singular, periodMs });
}

function parseCron(body: string): CronSchedule {
  const fields = body.trim() === "" ? [] : body.trim().split(/\s+/);
  if (fields.length !== 6) {
    const got = `cron needs 6 fields (${FIELD_ORDER}), got ${fields.length}`;
    if (fields.length === 5) {
      throw new ValidationError(`${got}: did you write a Unix cron? add a year field, e.g. "*"`);
    }
    if (fields.length === 7) {
      throw new ValidationError(`${got}: did you write a Quartz cron with seconds? remove the seconds field`);
    }
    throw new ValidationError(got);
  }
  const [minText = "", hourText = "", domText = "", monthText = "", dowText = "", yearText = ""] = fields;

  const minutes = parseList(MINUTES, minText);
  const hours = parseList(HOURS, hourText);
  const dayOfMonth = parseDayOfMonth(domText);
  const months = parseList(MONTH, monthText);
  const dayOfWeek = parseDayOfWeek(dowText);
  const years = parseList(YEAR, yearText);

  if (dayOfMonth.rule.kind !== "any" && dayOfWeek.rule.kind !== "any") {
    throw new ValidationError("day-of-month and day-of-week cannot both be set: use ? in one of them");
  }
  if (dayOfMonth.rule.kind === "any" && dayOfWeek.rule.kind === "any") {
    throw new ValidationError(
      "day-of-month and day-of-week cannot both be ?: set one of them, e.g. * in day-of-month for every day",
    );
  }

  const normalized: CronFields = [
    minutes.text,
    hours.text,
    dayOfMonth.text,
    months.text,
    dayOfWeek.text,
    years.text,
  ];
  return Object.freeze({
    kind: "cron",
    fields: Object.freeze(normalized),
    minutes: minutes.values,
    hours: hours.values,
    dayOfMonth: dayOfMonth.rule,
    months: months.values,
    dayOfWeek: dayOfWeek.rule,
    years: years.values,
  });
}

interface ParsedList {
  readonly values: readonly number[];
  readonly text: string;
}

/** `,`-separated items of `*`, `*\/step`, `a`, `a-b`, `a/step`, `a-b/step`. */
function parseList(spec: FieldSpec, text: string): ParsedList {
  if (text.includes("?")) {
    throw fieldError(
      spec,
      text,
      spec === DAY_OF_MONTH || spec === DAY_OF_WEEK
        ? "? must be the whole field"
        : "? is only allowed in day-of-month and day-of-week",
    );
  }
  const items = text.split(",");
  const selected = new Set<number>();
  const normalized: string[] = [];
  for (const item of items) {
    if (item === "") throw fieldError(spec, text, `empty list item: separate values with single commas`);
    const match = /^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(.*))?$/.exec(item);
    if (!match) throw fieldError(spec, text, unexpected(spec, item, text));
    const [, startText = "", endText, stepText] = match;
    let start: number;
    let end: number;
    if (startText === "*") {
      if (endText !== undefined) throw fieldError(spec, text, unexpected(spec, item, text));
      start = spec.min;
      end = spec.max;
    } else {
      start = parseValue(spec, startText, text);
      end = endText === undefined ? (stepText === undefined ? start : spec.max) : parseValue(spec, endText, text);
      if (end < start) {
        throw fieldError(
          spec,
          text,
          `range ${startText}-${endText ?? ""} runs backwards: write it as two ranges, e.g. ${startText}-${valueName(spec, spec.max, startText)},${valueName(spec, spec.min, startText)}-${endText ?? ""}`,
        );
      }
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!spec.step) throw fieldError(spec, text, `"/" is not allowed here; allowed: ${spec.wildcards}`);
      if (!/^\d+$/.test(stepText)) throw fieldError(spec, text, `step "${stepText}" must be a whole number`);
      step = Number(stepText);
      const maxStep = spec.max - spec.min;
      if (step < 1 || step > maxStep) {
        throw fieldError(spec, text, `step ${stepText} is out of range: steps are 1-${maxStep}`);
      }
    }
    for (let v = start; v <= end; v += step) selected.add(v);
    // AWS documents increments as `<start>/<step>`; `*\/<step>` means the same from the field's first value.
    normalized.push(startText === "*" && stepText !== undefined ? `${spec.min}/${stepText}` : item.toUpperCase());
  }
  return {
    values: Object.freeze([...selected].sort((a, b) => a - b)),
    text: normalized.join(","),
  };
}

function parseValue(spec: FieldSpec, token: string, text: string): number {
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    if (value >= spec.min && value <= spec.max) return value;
    const hint = spec === DAY_OF_WEEK && value === 0 ? " (0 is Sunday only in Unix cron: use 1 or SUN)" : "";
    throw fieldError(spec, text, `${token === text ? "" : `${token} is out of range: `}values are ${spec.values}${hint}`);
  }
  const index = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index >= 0) return index + 1;
  throw fieldError(spec, text, unexpected(spec, token, text));
}

function unexpected(spec: FieldSpec, token: string, text: string): string {
  const what = token === text ? "" : `"${token}" is not understood: `;
  return `${what}values are ${spec.values}; wildcards are ${spec.wildcards}`;
}

/** Spells a bound the way the user spelled the range: by name if they used names. */
function valueName(spec: FieldSpec, value: number, like: string): string {
  return /^\d+$/.test(like) ? String(value) : (spec.names?.[value - 1] ?? String(value));
}

function parseDayOfMonth(text: string): { rule: DayOfMonthRule; text: string } {
  const upper = text.toUpperCase();
  if (upper === "?") return { rule: Object.freeze({ kind: "any" }), text: upper };
  if (upper === "L") return { rule: Object.freeze({ kind: "last" }), text: upper };
  if (upper === "LW") return { rule: Object.freeze({ kind: "last-weekday" }), text: upper };
  const nearest = /^(\d+)W$/.exec(upper);
  if (nearest) {
    const day = parseValue(DAY_OF_MONTH, nearest[1] ?? "", text);
    return { rule: Object.freeze({ kind: "nearest-weekday", day }), text: `${day}W` };
  }
  if (/[LW]/.test(upper)) {
    throw fieldError(
      DAY_OF_MONTH,
      text,
      "L and W must be the whole field: use L (last day), LW (last weekday) or <day>W (weekday nearest <day>, e.g. 15W)",
    );
  }
  const list = parseList(DAY_OF_MONTH, text);
  return { rule: Object.freeze({ kind: "days", days: list.values }), text: list.text };
}

function parseDayOfWeek(text: string): { rule: DayOfWeekRule; text: string } {
  const upper = text.toUpperCase();
  if (upper === "?") return { rule: Object.freeze({ kind: "any" }), text: upper };
  // `L` alone is the last day of the week: Saturday.
  if (upper === "L") return { rule: Object.freeze({ kind: "days", days: Object.freeze([7]) }), text: upper };
  if (upper.includes("#")) {
    const nth = /^([A-Z0-9]+)#(\d+)$/.exec(upper);
    if (!nth) {
      throw fieldError(
        DAY_OF_WEEK,
        text,
        "# must be the only value in the field, as <weekday>#<n> (e.g. 2#3 = third Monday); 3#1,6#3 is not allowed",
      );
    }
    const weekday = parseValue(DAY_OF_WEEK, nth[1] ?? "", text);
    const n = Number(nth[2]);
    if (n < 1 || n > 5) {
      throw fieldError(DAY_OF_WEEK, text, `#${nth[2] ?? ""}: a month has at most 5 of a weekday; use #1-#5`);
    }
    return { rule: Object.freeze({ kind: "nth", weekday, nth: n }), text: `${weekday}#${n}` };
  }
  const last = /^([A-Z0-9]+)L$/.exec(upper);
  if (last && (/^\d+$/.test(last[1] ?? "") || WEEKDAY_NAMES.some((n) => n === last[1]))) {
    const weekday = parseValue(DAY_OF_WEEK, last[1] ?? "", text);
    return { rule: Object.freeze({ kind: "last", weekday }), text: `${weekday}L` };
  }
  if (/L/.test(upper)) {
    throw fieldError(
      DAY_OF_WEEK,
      text,
      "L must be the whole field: use L (Saturday) or <weekday>L (last such weekday of the month, e.g. 6L = last Friday)",
    );
  }
  const list = parseList(DAY_OF_WEEK, text);
  return { rule: Object.freeze({ kind: "days", days: list.values }), text: list.text };
}
