import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const bin = join(root, "bin/berth.js");

function berth(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[]): { job: string | null; expression: string; timezone: string; description: string; times: string[] }[] {
  const r = berth([...args, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

describe("berth schedule", () => {
  it("lists the first Mondays of the month for cron(0 12 ? * 2#1 *), day-of-week 2 being Monday as on AWS", () => {
    expect(json(["schedule", "--cron", "0 12 ? * 2#1 *", "--from", "2026-01-01T00:00:00Z", "--next", "3"])).toEqual([
      {
        job: null,
        expression: "cron(0 12 ? * 2#1 *)",
        timezone: "UTC",
        description: "at 12:00 on the first Monday of the month",
        times: ["2026-01-05T12:00:00Z", "2026-02-02T12:00:00Z", "2026-03-02T12:00:00Z"],
      },
    ]);
  });

  it("skips 02:30 on New York's spring-forward day and says so in the table", () => {
    const args = ["schedule", "--cron", "30 2 * * ? *", "--timezone", "America/New_York", "--from", "2026-03-07T00:00:00Z", "--next", "3"];
    const times = json(args)[0]!.times;
    expect(times).toEqual(["2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]);
    expect(times.map((t) => new Date(t).toISOString())).toEqual(["2026-03-07T07:30:00.000Z", "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"]);
    const r = berth(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Sat 2026-03-07T02:30:00-05:00\s+Sat 2026-03-07T07:30:00Z/);
    expect(r.stdout).toMatch(/clocks change: UTC offset -05:00 → -04:00; 2026-03-08T02:30:00 America\/New_York does not exist/);
    expect(r.stdout).toMatch(/Mon 2026-03-09T02:30:00-04:00\s+Mon 2026-03-09T06:30:00Z/);
  });

  it("shows the example catalog's nightly-backup at 03:00 Seoul time, 18:00 UTC the day before", () => {
    const [backup, ...others] = json(["schedule", "nightly-backup", "--from", "2026-11-26T00:00:00Z", "--next", "2"]);
    expect(others).toEqual([]);
    expect(backup).toEqual({
      job: "nightly-backup",
      expression: "cron(0 3 * * ? *)",
      timezone: "Asia/Seoul",
      description: "at 03:00 every day",
      times: ["2026-11-27T03:00:00+09:00", "2026-11-28T03:00:00+09:00"],
    });
    expect(backup!.times.map((t) => new Date(t).toISOString())).toEqual(["2026-11-26T18:00:00.000Z", "2026-11-27T18:00:00.000Z"]);
    const r = berth(["schedule", "nightly-backup", "--from", "2026-11-26T00:00:00Z", "--next", "1"]);
    expect(r.stdout).toMatch(/^nightly-backup\s+cron\(0 3 \* \* \? \*\)\s+Asia\/Seoul\s+— at 03:00 every day$/m);
    expect(r.stdout).toMatch(/Fri 2026-11-27T03:00:00\+09:00\s+Thu 2026-11-26T18:00:00Z/);
  });

  it("lists every scheduled job when no job is named", () => {
    expect(json(["schedule", "--from", "2026-01-01T00:00:00Z", "--next", "1"]).map((l) => l.job)).toEqual(["nightly-backup"]);
  });

  it("counts a rate from --from", () => {
    expect(json(["schedule", "--rate", "90 minutes", "--from", "2026-01-01T00:00:00Z", "--next", "2"])[0]?.times).toEqual([
      "2026-01-01T01:30:00Z",
      "2026-01-01T03:00:00Z",
    ]);
  });

  it.each([
    ["a Unix (5-field) cron", ["--cron", "0 3 * * *"], /^berth: cron needs 6 fields \(minutes hours day-of-month month day-of-week year\), got 5: did you write a Unix cron\? add a year field/],
    ["a rate in the singular with a value above 1", ["--rate", "5 minute"], /^berth: rate\(5 minute\): use the plural "minutes"/],
    ["an unknown time zone", ["--cron", "0 3 * * ? *", "--timezone", "Mars/Olympus"], /^berth: unknown time zone "Mars\/Olympus"/],
    ["an --from that is not a time", ["--cron", "0 3 * * ? *", "--from", "tomorrow"], /^berth: --from "tomorrow" is not an ISO-8601 time/],
    ["a job without a schedule trigger", ["reindex"], /^berth: job "reindex" has no schedule trigger.*berth trigger reindex/],
    ["an unknown job", ["nope"], /^berth: no job named "nope"/],
  ])("rejects %s with exit 2 and the reason", (_what, args, message) => {
    const r = berth(["schedule", ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });
});
