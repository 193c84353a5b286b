import { describe, expect, it } from "vitest";
import { InvalidTransitionError } from "../../../src/core/errors.ts";
import type { RunStatusName } from "../../../src/core/events.ts";
import { isTerminal, type Run } from "../../../src/core/runs/model.ts";
import { TRANSITIONS, canTransition, touch, transition } from "../../../src/core/runs/transitions.ts";
import { SEC, T0, startingRun } from "./fixtures.ts";

const ALL: readonly RunStatusName[] = [
  "QUEUED",
  "STARTING",
  "PROVISIONING",
  "PENDING",
  "RUNNING",
  "RETRY_WAIT",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "CANCELLED",
  "SKIPPED",
];

const ENDINGS = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"];
const LEGAL: Record<RunStatusName, readonly RunStatusName[]> = {
  QUEUED: ["STARTING", "SKIPPED", "CANCELLED"],
  STARTING: ["PROVISIONING", "PENDING", "RUNNING", "RETRY_WAIT", ...ENDINGS] as RunStatusName[],
  PROVISIONING: ["PENDING", "RUNNING", "RETRY_WAIT", ...ENDINGS] as RunStatusName[],
  PENDING: ["RUNNING", "RETRY_WAIT", ...ENDINGS] as RunStatusName[],
  RUNNING: ["RETRY_WAIT", ...ENDINGS] as RunStatusName[],
  RETRY_WAIT: ["STARTING", "CANCELLED"],
  SUCCEEDED: [],
  FAILED: [],
  TIMED_OUT: [],
  CANCELLED: [],
  SKIPPED: [],
};

const pairs = ALL.flatMap((from) => ALL.map((to) => ({ from, to, legal: LEGAL[from].includes(to) })));

function runIn(status: RunStatusName): Run {
  return { ...startingRun(), status };
}

describe("the transition table", () => {
  it("lists every status", () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ALL].sort());
  });

  it.each(pairs)("$from → $to is legal: $legal", ({ from, to, legal }) => {
    expect(canTransition(from, to)).toBe(legal);
    const result = transition(runIn(from), to, T0 + SEC);
    expect(result.ok).toBe(legal);
    if (result.ok) {
      expect(result.run.status).toBe(to);
    } else {
      expect(result.error).toBeInstanceOf(InvalidTransitionError);
      expect(result.error.from).toBe(from);
      expect(result.error.to).toBe(to);
    }
  });

  it.each(ALL.filter(isTerminal))("a %s run never moves again", (status) => {
    for (const to of ALL) expect(canTransition(status, to)).toBe(false);
  });

  it.each([
    ["RUNNING", "PENDING"],
    ["RUNNING", "PROVISIONING"],
    ["PENDING", "PROVISIONING"],
    ["RUNNING", "STARTING"],
    ["RUNNING", "RUNNING"],
  ] as const)("task progress only moves forward: %s → %s is rejected", (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });
});

describe("transition", () => {
  it("bumps the version, stamps updatedAt and applies the patch", () => {
    const run = runIn("RUNNING");
    const result = transition(run, "RETRY_WAIT", T0 + 5 * SEC, { nextAttemptAt: T0 + 60 * SEC, reason: "exit 1" });
    expect(result).toMatchObject({
      ok: true,
      run: { status: "RETRY_WAIT", version: run.version + 1, updatedAt: T0 + 5 * SEC, nextAttemptAt: T0 + 60 * SEC, reason: "exit 1" },
    });
  });

  it("sets endedAt on entering a terminal status unless the patch gives one", () => {
    const ended = transition(runIn("RUNNING"), "FAILED", T0 + 9 * SEC);
    expect(ended.ok && ended.run.endedAt).toBe(T0 + 9 * SEC);
    const given = transition(runIn("RUNNING"), "FAILED", T0 + 9 * SEC, { endedAt: T0 + 3 * SEC });
    expect(given.ok && given.run.endedAt).toBe(T0 + 3 * SEC);
    const notEnded = transition(runIn("RUNNING"), "RETRY_WAIT", T0 + 9 * SEC);
    expect(notEnded.ok && notEnded.run.endedAt).toBeUndefined();
  });

  it("a patch value of undefined removes the field", () => {
    const run = { ...runIn("RETRY_WAIT"), nextAttemptAt: T0, nextLaunch: "fallback" as const };
    const result = transition(run, "STARTING", T0 + SEC, { nextAttemptAt: undefined, nextLaunch: undefined });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect("nextAttemptAt" in result.run).toBe(false);
      expect("nextLaunch" in result.run).toBe(false);
    }
  });

  it("leaves the input run untouched", () => {
    const run = runIn("RUNNING");
    const copy = structuredClone(run);
    transition(run, "SUCCEEDED", T0 + SEC);
    expect(run).toEqual(copy);
  });

  it("a rejected transition says the run already ended", () => {
    const result = transition(runIn("SUCCEEDED"), "RUNNING", T0);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/already ended SUCCEEDED; it cannot move to RUNNING/);
  });

  it("touch keeps the status but still makes a new version", () => {
    const run = runIn("RUNNING");
    const touched = touch(run, T0 + 2 * SEC, { checkedAt: T0 + 2 * SEC });
    expect(touched).toMatchObject({ status: "RUNNING", version: run.version + 1, updatedAt: T0 + 2 * SEC, checkedAt: T0 + 2 * SEC });
  });
});
