import { describe, expect, it } from "vitest";
import { InvalidTransitionError } from "../../../src/core/errors.ts";
import type { Run } from "../../../src/core/runs/model.ts";
import { RUN_STATUSES, TRANSITIONS, canTransition, isActive, isTerminal, isWaitingForRetry, outcomeOf, phaseOf, type RunStatus } from "../../../src/core/runs/status.ts";
import { touch, transition } from "../../../src/core/runs/transitions.ts";
import { spelledStatus } from "../../../src/core/catalog/patterns.ts";
import { UPSTREAM_STATUSES } from "../../../src/core/catalog/schema.ts";
import { SEC, T0, startingRun } from "./fixtures.ts";

const ALL = RUN_STATUSES;
const pairs = ALL.flatMap((from) => ALL.map((to) => ({ from, to })));
const order = (s: RunStatus) => ALL.indexOf(s);

function runIn(status: RunStatus): Run {
  return { ...startingRun(), status };
}

describe("the transition table", () => {
  it("lists every status once", () => {
    expect(Object.keys(TRANSITIONS)).toEqual([...ALL]);
    expect(new Set(ALL).size).toBe(ALL.length);
  });

  it("its rows are empty exactly for the ended statuses", () => {
    for (const status of ALL) expect(TRANSITIONS[status].length === 0).toBe(phaseOf(status) === "ended");
    expect(ALL.filter(isTerminal)).toEqual(["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"]);
  });

  it("says how every ended status came out, and nothing for the others", () => {
    for (const status of ALL) expect(outcomeOf(status) !== undefined).toBe(isTerminal(status));
    expect(outcomeOf("SUCCEEDED")).toBe("success");
    expect(ALL.filter((s) => outcomeOf(s) === "failure")).toEqual(["FAILED", "TIMED_OUT"]);
  });

  it("reaches every status from QUEUED, where every run starts", () => {
    const seen = new Set<RunStatus>(["QUEUED"]);
    for (const status of seen) for (const next of TRANSITIONS[status]) seen.add(next);
    expect([...seen].sort()).toEqual([...ALL].sort());
  });

  it("moves forward in lifecycle order, except a retry, which starts a new attempt", () => {
    for (const { from, to } of pairs) {
      if (!canTransition(from, to)) continue;
      if (isWaitingForRetry(from)) expect(to === "STARTING" || isTerminal(to)).toBe(true);
      else expect(order(to)).toBeGreaterThan(order(from));
    }
  });

  it("lets every active status end in any way, or wait for a retry", () => {
    for (const from of ALL.filter(isActive)) {
      for (const to of ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "RETRY_WAIT"] as const) expect(canTransition(from, to)).toBe(true);
      expect(canTransition(from, "SKIPPED")).toBe(false);
    }
  });

  it.each(pairs)("transition() applies exactly the table's answer: $from → $to", ({ from, to }) => {
    const legal = canTransition(from, to);
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

  it("every status a job trigger can wait for is an ending of a run that started", () => {
    for (const spelled of UPSTREAM_STATUSES) {
      const status = RUN_STATUSES.find((s) => spelledStatus(s) === spelled);
      expect(status, spelled).toBeDefined();
      expect(isTerminal(status!)).toBe(true);
      expect(status).not.toBe("SKIPPED");
    }
  });

  it.each(ALL.filter(isTerminal))("a %s run never moves again", (status) => {
    for (const to of ALL) expect(canTransition(status, to)).toBe(false);
  });

  it.each([
    ["QUEUED", "STARTING"],
    ["QUEUED", "SKIPPED"],
    ["QUEUED", "CANCELLED"],
    ["STARTING", "RUNNING"],
    ["RETRY_WAIT", "STARTING"],
    ["RETRY_WAIT", "CANCELLED"],
  ] as const)("%s → %s is allowed", (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each([
    ["RUNNING", "PENDING"],
    ["RUNNING", "PROVISIONING"],
    ["PENDING", "PROVISIONING"],
    ["RUNNING", "STARTING"],
    ["RUNNING", "RUNNING"],
    ["QUEUED", "RUNNING"],
    ["RETRY_WAIT", "RUNNING"],
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
