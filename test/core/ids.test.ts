import { describe, expect, it } from "vitest";
import {
  clientTokenFor,
  isRunId,
  newRunId,
  runIdFromStartedBy,
  runIdTime,
  startedByFor,
} from "../../src/core/ids.ts";

const zeros = new Uint8Array(10);
const ones = new Uint8Array(10).fill(0xff);

/** Deterministic bytes so failures reproduce. */
function bytes(seed: number): Uint8Array {
  const out = new Uint8Array(10);
  let x = (seed + 1) | 0;
  for (let i = 0; i < out.length; i += 1) {
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5;
    out[i] = (x >>> 24) & 0xff;
  }
  return out;
}

describe("newRunId", () => {
  it("encodes the time like the ULID reference example", () => {
    // The ULID spec's example 01ARYZ6S41TSV4RRFFQ69G5FAV carries time 1469918176385.
    expect(newRunId(1469918176385, zeros).slice(0, 10)).toBe("01ARYZ6S41");
    expect(runIdTime("01ARYZ6S41TSV4RRFFQ69G5FAV")).toBe(1469918176385);
  });

  it.each([
    { time: 0, random: zeros, id: "00000000000000000000000000" },
    { time: 2 ** 48 - 1, random: ones, id: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" },
    { time: 1, random: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 1), id: "00000000010000000000000001" },
    { time: 32, random: Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0), id: "0000000010G000000000000000" },
  ])("encodes time $time and its random bytes into $id", ({ time, random, id }) => {
    expect(newRunId(time, random)).toBe(id);
    expect(isRunId(id)).toBe(true);
  });

  it("uses every random bit: flipping any one of the 80 bits changes the id", () => {
    const ids = new Set([newRunId(1_700_000_000_000, zeros)]);
    for (let bit = 0; bit < 80; bit += 1) {
      const random = new Uint8Array(10);
      random[bit >> 3] = 1 << (bit & 7);
      const id = newRunId(1_700_000_000_000, random);
      expect(id.slice(0, 10)).toBe(newRunId(1_700_000_000_000, zeros).slice(0, 10));
      ids.add(id);
    }
    expect(ids.size).toBe(81);
  });

  it.each([
    { time: -1, random: zeros },
    { time: 2 ** 48, random: zeros },
    { time: 1.5, random: zeros },
    { time: Number.NaN, random: zeros },
    { time: 0, random: new Uint8Array(9) },
    { time: 0, random: new Uint8Array(11) },
  ])("rejects time $time with $random.length random bytes", ({ time, random }) => {
    expect(() => newRunId(time, random)).toThrow(RangeError);
  });
});

describe("runIdTime", () => {
  it("round-trips the time of ids across the whole range", () => {
    for (const t of [0, 1, 31, 32, 1_000, 1_700_000_000_123, 2 ** 40 + 7, 2 ** 48 - 1]) {
      expect(runIdTime(newRunId(t, bytes(t)))).toBe(t);
    }
  });

  it("throws for something that is not a run id", () => {
    expect(() => runIdTime("nope")).toThrow(/not a berth run id/);
  });
});

describe("run id ordering", () => {
  it("sorts as strings in the order of their times", () => {
    const times = [5, 1_700_000_000_000, 0, 31, 32, 1_700_000_000_001, 2 ** 47, 999];
    const ids = times.map((t, i) => newRunId(t, bytes(i)));
    const byString = [...ids].sort();
    expect(byString.map(runIdTime)).toEqual([...times].sort((a, b) => a - b));
  });
});

describe("isRunId", () => {
  it.each([
    ["01ARYZ6S41TSV4RRFFQ69G5FAV", true],
    ["01ARYZ6S41TSV4RRFFQ69G5FA", false],
    ["01ARYZ6S41TSV4RRFFQ69G5FAVX", false],
    ["01aryz6s41tsv4rrffq69g5fav", false],
    ["01ARYZ6S41TSV4RRFFQ69G5FAI", false],
    ["01ARYZ6S41TSV4RRFFQ69G5FAU", false],
    ["81ARYZ6S41TSV4RRFFQ69G5FAV", false],
    ["", false],
  ] as const)("%s → %s", (s, expected) => {
    expect(isRunId(s)).toBe(expected);
  });
});

describe("startedBy", () => {
  const id = newRunId(1_700_000_000_000, bytes(1));

  it("marks the task as berth's and fits ECS's startedBy rules", () => {
    const s = startedByFor(id);
    expect(s).toBe(`berth/${id}`);
    // 36 was the limit in older API revisions; staying under it works everywhere.
    expect(s.length).toBeLessThanOrEqual(36);
    expect(s).toMatch(/^[A-Za-z0-9_/-]+$/);
  });

  it("reads the run id back", () => {
    expect(runIdFromStartedBy(startedByFor(id))).toBe(id);
  });

  it.each(["ecs-svc/1234567890", "berth/", "berth/not-a-run-id", `other/${id}`, `berth-${id}`, ""])(
    "finds no run id in %j",
    (s) => {
      expect(runIdFromStartedBy(s)).toBeUndefined();
    },
  );

  it("refuses to build one from a non-id", () => {
    expect(() => startedByFor("x")).toThrow(RangeError);
  });
});

describe("clientTokenFor", () => {
  const id = newRunId(1_700_000_000_000, bytes(2));

  it("is the same for a retried dispatch of one attempt", () => {
    expect(clientTokenFor(id, 1)).toBe(clientTokenFor(id, 1));
  });

  it("differs between attempts and between runs", () => {
    const other = newRunId(1_700_000_000_000, bytes(3));
    const tokens = new Set([clientTokenFor(id, 1), clientTokenFor(id, 2), clientTokenFor(id, 10), clientTokenFor(other, 1)]);
    expect(tokens.size).toBe(4);
  });

  it("fits RunTask's clientToken rules: at most 64 characters in ASCII 33–126", () => {
    const token = clientTokenFor(id, Number.MAX_SAFE_INTEGER);
    expect(token.length).toBeLessThanOrEqual(64);
    expect(token).toMatch(/^[\x21-\x7e]+$/);
  });

  it.each([0, -1, 1.5, Number.NaN])("rejects attempt %s", (attempt) => {
    expect(() => clientTokenFor(id, attempt)).toThrow(RangeError);
  });
});
