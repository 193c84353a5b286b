import { describe, expect, it } from "vitest";
import { isoInZone, isoOffset } from "../../src/cli/times.ts";
import { runJson } from "../../src/cli/runs-format.ts";
import { makeRun } from "../contract/run-fixtures.ts";

describe("isoInZone", () => {
  const instant = Date.UTC(2026, 11, 1, 3, 4, 5, 678);
  it.each([
    ["UTC", instant, "2026-12-01T03:04:05Z"],
    ["Asia/Seoul", instant, "2026-12-01T12:04:05+09:00"],
    ["Asia/Kolkata", instant, "2026-12-01T08:34:05+05:30"],
    ["America/St_Johns", instant, "2026-11-30T23:34:05-03:30"],
    ["Europe/London", instant, "2026-12-01T03:04:05Z"],
    ["Europe/London", Date.UTC(2026, 6, 1, 3, 4, 5), "2026-07-01T04:04:05+01:00"],
    // The last second before New York springs forward, and the first after.
    ["America/New_York", Date.UTC(2026, 2, 8, 6, 59, 59), "2026-03-08T01:59:59-05:00"],
    ["America/New_York", Date.UTC(2026, 2, 8, 7, 0, 0), "2026-03-08T03:00:00-04:00"],
  ])("in %s writes the wall clock with that zone's offset then", (zone, at, text) => {
    expect(isoInZone(at, zone)).toBe(text);
    // Read back, it is the same instant, to the second.
    expect(Date.parse(text)).toBe(Math.floor(at / 1000) * 1000);
  });

  it("writes a zero offset as Z and others as ±hh:mm", () => {
    expect([0, 9 * 3_600_000, -(3 * 60 + 30) * 60_000].map(isoOffset)).toEqual(["Z", "+09:00", "-03:30"]);
  });
});

describe("runJson", () => {
  it("gives every time of a run and its attempts as ISO 8601 UTC, and leaves counts and codes as numbers", () => {
    const run = { ...makeRun({ status: "RETRY_WAIT", attempts: 2 }), nextAttemptAt: Date.UTC(2024, 4, 1, 0, 5), timeoutAt: Date.UTC(2024, 4, 1, 1), checkedAt: Date.UTC(2024, 4, 1, 0, 1), exitCode: 137 };
    const json = runJson(run) as Record<string, unknown> & { attempts: Record<string, unknown>[] };
    expect(json).toMatchObject({ createdAt: "2024-05-01T00:00:00.000Z", nextAttemptAt: "2024-05-01T00:05:00.000Z", timeoutAt: "2024-05-01T01:00:00.000Z", checkedAt: "2024-05-01T00:01:00.000Z", version: 1, exitCode: 137 });
    expect(json.attempts[1]).toMatchObject({ number: 2, requestedAt: "2024-05-01T00:01:00.000Z", startedAt: "2024-05-01T00:01:05.000Z", stoppedAt: "2024-05-01T00:01:30.000Z", exitCode: 137, lastEventVersion: 3 });
    const numbers = (o: Record<string, unknown>) => Object.entries(o).filter(([, v]) => typeof v === "number").map(([k]) => k).sort();
    expect(numbers(json)).toEqual(["exitCode", "version"]);
    expect(numbers(json.attempts[0]!)).toEqual(["exitCode", "lastEventVersion", "number"]);
  });
});
