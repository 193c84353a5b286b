import { describe, expect, it } from "vitest";
import { secretsInForce, usableSecrets } from "../../../src/core/webhook/secrets.ts";

const HOUR = 3600;
const ROTATED = Date.parse("2024-11-26T09:00:00Z");

describe("secretsInForce", () => {
  it.each([
    { name: "only the current secret when there is no previous one", versions: { current: "new", currentSince: ROTATED }, now: ROTATED, expected: ["new"] },
    { name: "the previous secret too, right after the rotation", versions: { current: "new", previous: "old", currentSince: ROTATED }, now: ROTATED, expected: ["new", "old"] },
    { name: "the previous secret a second before the window ends", versions: { current: "new", previous: "old", currentSince: ROTATED }, now: ROTATED + HOUR * 1000 - 1000, expected: ["new", "old"] },
    { name: "not the previous secret once the window has ended", versions: { current: "new", previous: "old", currentSince: ROTATED }, now: ROTATED + HOUR * 1000, expected: ["new"] },
    { name: "not the previous secret when the time of the change is unknown", versions: { current: "new", previous: "old" }, now: ROTATED, expected: ["new"] },
    { name: "the value once when the previous version holds the same one", versions: { current: "same", previous: "same", currentSince: ROTATED }, now: ROTATED, expected: ["same"] },
  ])("$name", ({ versions, now, expected }) => {
    expect(secretsInForce(versions, HOUR, now)).toEqual(expected);
  });

  it("a rotation window of 0 never lets the previous secret verify", () => {
    expect(secretsInForce({ current: "new", previous: "old", currentSince: ROTATED }, 0, ROTATED)).toEqual(["new"]);
  });
});

describe("usableSecrets", () => {
  it("drops empty values, which must never verify", () => {
    expect(usableSecrets({ values: ["", "s", ""], source: "x", configure: () => "" })).toEqual(["s"]);
  });
});
