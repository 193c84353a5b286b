import { describe, expect, it } from "vitest";
import { isValidTimeZone, toWallClock } from "../../../src/core/schedule/index.ts";

describe("isValidTimeZone", () => {
  it.each([
    "UTC",
    "Etc/UTC",
    "Asia/Seoul",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Argentina/Buenos_Aires",
    "America/Port-au-Prince",
    "Etc/GMT+5",
    // IANA ids that ICU files under an older canonical name.
    "Asia/Kolkata",
    "Europe/Kyiv",
  ])("accepts the IANA id %s", (zone) => {
    expect(isValidTimeZone(zone)).toBe(true);
  });

  it.each([
    ["", "empty"],
    ["PST", "an abbreviation Intl maps to America/Los_Angeles"],
    ["EST", "an abbreviation"],
    ["CET", "an abbreviation"],
    ["KST", "an abbreviation Intl does not know"],
    ["EST5EDT", "a POSIX-style rule name"],
    ["GMT", "not the UTC spelling berth documents"],
    ["US/Eastern", "a legacy alias"],
    ["+09:00", "an offset"],
    ["utc", "wrongly cased"],
    ["asia/seoul", "wrongly cased"],
    ["America/New_york", "wrongly cased"],
    ["Asia/Seoul ", "padded"],
    ["Mars/Phobos", "not a zone"],
    ["Asia/Atlantis", "not a zone"],
  ])("rejects %j (%s)", (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
  });
});

describe("toWallClock", () => {
  it.each([
    ["2026-03-08T06:59:59Z", "America/New_York", { year: 2026, month: 3, day: 8, hour: 1, minute: 59, second: 59 }],
    ["2026-03-08T07:00:00Z", "America/New_York", { year: 2026, month: 3, day: 8, hour: 3, minute: 0, second: 0 }],
    ["2026-11-01T05:30:00Z", "America/New_York", { year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 }],
    ["2026-11-01T06:30:00Z", "America/New_York", { year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 }],
    ["2026-12-31T15:00:00Z", "Asia/Seoul", { year: 2027, month: 1, day: 1, hour: 0, minute: 0, second: 0 }],
    ["2026-06-30T23:59:00Z", "UTC", { year: 2026, month: 6, day: 30, hour: 23, minute: 59, second: 0 }],
  ])("%s in %s", (iso, zone, wall) => {
    expect(toWallClock(Date.parse(iso), zone)).toEqual(wall);
  });
});
