import type { Command } from "commander";
import { configOption, requireCatalog } from "../catalog-file.ts";
import { c, printJson, table, UsageError } from "../output.ts";
import { describeSchedule, isValidTimeZone, nextFireTimes, parseSchedule, toAwsExpression, toWallClock } from "../../core/schedule/index.ts";
import type { Schedule } from "../../core/schedule/index.ts";
import { instantsAt, utcOffset, wallTime } from "../../core/schedule/time-zone.ts";
import type { Catalog } from "../../core/catalog/types.ts";
import { isoInZone } from "../times.ts";

const DEFAULT_COUNT = 5;
const MAX_COUNT = 1000;
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

interface ScheduleOptions {
  next?: string;
  cron?: string;
  rate?: string;
  timezone?: string;
  from?: string;
  json?: boolean;
  config?: string;
}

/** One schedule and its upcoming fire times: what both output forms are made from. */
export interface ScheduleListing {
  readonly job: string | null;
  readonly expression: string;
  readonly timezone: string;
  readonly description: string;
  readonly schedule: Schedule;
  /** Epoch ms, ascending. */
  readonly times: readonly number[];
}

function parseCount(text: string | undefined): number {
  if (text === undefined) return DEFAULT_COUNT;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_COUNT) {
    throw new UsageError(`--next takes a whole number from 1 to ${MAX_COUNT}, got "${text}"`);
  }
  return Number(text);
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** Epoch ms of `--from`: an ISO-8601 instant with its offset, or a date meaning midnight UTC. */
function parseFrom(text: string | undefined, now: number): number {
  if (text === undefined) return now;
  const ms = ISO_INSTANT.test(text) ? Date.parse(text) : NaN;
  // Date.parse rolls impossible dates over (2026-02-30 → March 2); the round trip of the date part exposes them.
  const datePart = text.slice(0, 10);
  const offsetMatch = /([+-])(\d{2}):(\d{2})$/.exec(text);
  const offset = offsetMatch ? (offsetMatch[1] === "-" ? -1 : 1) * (Number(offsetMatch[2]) * 60 + Number(offsetMatch[3])) * 60_000 : 0;
  if (Number.isNaN(ms) || new Date(ms + offset).toISOString().slice(0, 10) !== datePart) {
    throw new UsageError(
      `--from "${text}" is not an ISO-8601 time: write it with its UTC offset, e.g. 2026-01-01T00:00:00Z or 2026-01-01T09:00:00+09:00 (a bare date means midnight UTC)`,
    );
  }
  return ms;
}

function requireTimeZone(zone: string): string {
  if (!isValidTimeZone(zone)) throw new UsageError(`unknown time zone "${zone}": use an IANA name such as Asia/Seoul or UTC`);
  return zone;
}

/** `--cron`/`--rate` accept the body alone (`0 3 * * ? *`) or the whole call (`cron(0 3 * * ? *)`). */
function parseFlag(kind: "cron" | "rate", text: string): Schedule {
  const expression = text.includes("(") ? text : `${kind}(${text})`;
  const parsed = parseSchedule(expression);
  if (!parsed.ok) throw new UsageError(parsed.error.message);
  if (parsed.schedule.kind !== kind) throw new UsageError(`--${kind} "${text}" is a ${parsed.schedule.kind} expression: pass it with --${parsed.schedule.kind}`);
  return parsed.schedule;
}

function listing(job: string | null, schedule: Schedule, timezone: string, from: number, count: number): ScheduleListing {
  // A rate schedule is taken to start at --from (or now), as a schedule created then would.
  const anchor = Math.floor(from / 1000) * 1000;
  return {
    job,
    expression: toAwsExpression(schedule),
    timezone,
    description: describeSchedule(schedule),
    schedule,
    times: nextFireTimes(schedule, { timezone, after: from, count, anchor }),
  };
}

function catalogListings(catalog: Catalog, jobName: string | undefined, from: number, count: number): ScheduleListing[] {
  const jobs = jobName === undefined ? Object.values(catalog.jobs) : [catalog.jobs[jobName]];
  const out: ScheduleListing[] = [];
  for (const job of jobs) {
    if (job === undefined) throw new UsageError(`no job named "${jobName}"; jobs: ${Object.keys(catalog.jobs).join(", ")}`);
    for (const t of job.triggers) {
      if (t.kind !== "schedule") continue;
      const parsed = parseSchedule(t.awsExpression);
      if (!parsed.ok) throw new UsageError(`job "${job.name}": ${parsed.error.message}`);
      out.push(listing(job.name, parsed.schedule, t.timezone, from, count));
    }
    if (jobName !== undefined && out.length === 0) {
      throw new UsageError(`job "${job.name}" has no schedule trigger, so it has no fire times; \`berth trigger ${job.name}\` can still fire it now`);
    }
  }
  return out;
}

/** Builds the listings `berth schedule` prints; `now` is the default for --from. */
export function scheduleListings(jobName: string | undefined, opts: ScheduleOptions, now: number): { listings: ScheduleListing[]; from: number; count: number } {
  const count = parseCount(opts.next);
  const from = parseFrom(opts.from, now);
  if (opts.cron !== undefined && opts.rate !== undefined) throw new UsageError("give either --cron or --rate, not both");
  const flag = opts.cron !== undefined ? ("cron" as const) : opts.rate !== undefined ? ("rate" as const) : undefined;
  if (flag === undefined) {
    if (opts.timezone !== undefined) {
      throw new UsageError("--timezone goes with --cron or --rate; a job's schedule uses the time zone written in berth.yml");
    }
    return { listings: catalogListings(requireCatalog(opts.config), jobName, from, count), from, count };
  }
  if (jobName !== undefined) throw new UsageError(`give either a job or --${flag}, not both`);
  const schedule = parseFlag(flag, (flag === "cron" ? opts.cron : opts.rate) ?? "");
  return { listings: [listing(null, schedule, requireTimeZone(opts.timezone ?? "UTC"), from, count)], from, count };
}

const pad = (n: number): string => String(n).padStart(2, "0");

function formatOffset(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  return `${ms < 0 ? "-" : "+"}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/** `Fri 2026-11-27T03:00:00+09:00`: the weekday helps read a schedule; the rest is ISO 8601 in `zone`. */
function formatFireTime(instant: number, zone: string): string {
  const w = toWallClock(instant, zone);
  return `${WEEKDAYS[new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay()] ?? ""} ${isoInZone(instant, zone)}`;
}

/** A wall time that never happens in `zone` (a clock change skips it): no offset to give, so the zone is named. */
function formatSkipped(wall: number, zone: string): string {
  return `${new Date(wall).toISOString().slice(0, 19)} ${zone}`;
}

const isUtc = (zone: string): boolean => zone === "UTC" || zone === "Etc/UTC";

/**
 * What the clock change between two consecutive fire times did to the
 * schedule: the wall times it matches that do not exist that day (skipped on
 * AWS too), or only the new offset.
 */
function clockChangeNote(l: ScheduleListing, before: number, after: number): string {
  const from = formatOffset(utcOffset(before, l.timezone));
  const to = formatOffset(utcOffset(after, l.timezone));
  const note = `clocks change: UTC offset ${from} → ${to}`;
  if (l.schedule.kind === "rate") return `${note} (a rate counts real time, so the local times shift)`;
  // Walking the cron in UTC walks wall times: the ones between two real fire times never came.
  const end = wallTime(after, l.timezone);
  const matched = nextFireTimes(l.schedule, { timezone: "UTC", after: wallTime(before, l.timezone), count: 120 }).filter((w) => w < end);
  const skipped = matched.filter((w) => instantsAt(w, l.timezone).length === 0);
  const [first] = skipped;
  const last = skipped.at(-1);
  if (first === undefined || last === undefined) return note;
  const which = first === last ? `${formatSkipped(first, l.timezone)} does` : `${skipped.length} times from ${formatSkipped(first, l.timezone)} to ${formatSkipped(last, l.timezone)} do`;
  return `${note}; ${which} not exist that day, so the schedule does not run then (as on AWS)`;
}

function printListing(l: ScheduleListing, from: number, count: number): void {
  const zone = l.timezone;
  const head = [l.job === null ? undefined : c.bold(l.job), l.expression, zone].filter((s) => s !== undefined).join("  ");
  console.log(`${head}  ${c.dim(`— ${l.description}`)}`);
  if (l.times.length === 0) {
    console.log(`  ${c.yellow(`never fires after ${isoInZone(from, zone)}`)}\n`);
    return;
  }
  const rows: string[][] = [];
  const notes = new Map<number, string>();
  l.times.forEach((t, i) => {
    const prev = l.times[i - 1];
    if (!isUtc(zone) && prev !== undefined && utcOffset(prev, zone) !== utcOffset(t, zone)) {
      notes.set(rows.length, clockChangeNote(l, prev, t));
      rows.push([]);
    }
    const utc = formatFireTime(t, "UTC");
    const repeated = l.schedule.kind === "cron" && !isUtc(zone) && instantsAt(wallTime(t, zone), zone).length > 1;
    const local = formatFireTime(t, zone);
    const row = isUtc(zone) ? [utc] : [local, utc];
    if (repeated) row.push(c.yellow("this local time happens twice today (clocks go back); runs once, at the first"));
    rows.push(row);
  });
  const lines = table(rows.filter((r) => r.length > 0), "  ").split("\n");
  let line = 0;
  rows.forEach((r, i) => {
    const note = notes.get(i);
    if (note !== undefined) console.log(`  ${c.yellow(`↓ ${note}`)}`);
    else console.log(lines[line++]);
  });
  if (l.times.length < count) {
    const last = l.times.at(-1) ?? from;
    console.log(`  ${c.dim(`no more fire times after ${isoInZone(last, zone)}`)}`);
  }
  console.log("");
}

export function registerSchedule(program: Command): void {
  program
    .command("schedule")
    .description("list the next fire times of a job's schedules (all scheduled jobs without one), or of any --cron/--rate expression")
    .argument("[job]", "the job; default: every job with a schedule trigger")
    .option("-n, --next <count>", `how many fire times per schedule (default ${DEFAULT_COUNT})`)
    .option("--cron <expression>", 'an AWS cron expression, 6 fields, e.g. "0 3 * * ? *" (no berth.yml needed)')
    .option("--rate <expression>", 'an AWS rate expression, e.g. "5 minutes" (taken to start at --from)')
    .option("--timezone <zone>", "IANA time zone for --cron/--rate (default UTC)")
    .option("--from <time>", "list fire times after this ISO-8601 time, e.g. 2026-01-01T00:00:00Z (default: now)")
    .addOption(configOption())
    .option("--json", "print [{ job, expression, timezone, description, times: [ISO 8601 in the schedule's time zone] }]")
    .action((jobName: string | undefined, opts: ScheduleOptions) => {
      const { listings, from, count } = scheduleListings(jobName, opts, Date.now());
      if (opts.json) {
        printJson(listings.map((l) => ({ job: l.job, expression: l.expression, timezone: l.timezone, description: l.description, times: l.times.map((t) => isoInZone(t, l.timezone)) })));
        return;
      }
      if (listings.length === 0) {
        console.log("no job has a schedule trigger; add `schedule: { cron: ... }` under a job's on:, or try --cron");
        return;
      }
      for (const l of listings) printListing(l, from, count);
    });
}
