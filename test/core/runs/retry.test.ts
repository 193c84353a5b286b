import { describe, expect, it } from "vitest";
import type { Launch, RetryClass } from "../../../src/core/catalog/types.ts";
import type { FailureClass, LaunchChoice } from "../../../src/core/runs/model.ts";
import { backoffSeconds, decideRetry, jitteredBackoffMs, retryClassMatches, retryJitter } from "../../../src/core/runs/retry.ts";
import { SEC, T0, retryPolicy } from "./fixtures.ts";

describe("backoffSeconds", () => {
  it.each([
    { backoff: { initial: 30, factor: 2, max: 600 }, attempt: 1, seconds: 30 },
    { backoff: { initial: 30, factor: 2, max: 600 }, attempt: 2, seconds: 60 },
    { backoff: { initial: 30, factor: 2, max: 600 }, attempt: 3, seconds: 120 },
    { backoff: { initial: 30, factor: 2, max: 600 }, attempt: 5, seconds: 480 },
    { backoff: { initial: 30, factor: 2, max: 600 }, attempt: 6, seconds: 600 },
    { backoff: { initial: 30, factor: 2, max: 600 }, attempt: 40, seconds: 600 },
    { backoff: { initial: 10, factor: 1, max: 600 }, attempt: 7, seconds: 10 },
    { backoff: { initial: 4, factor: 1.5, max: 100 }, attempt: 3, seconds: 9 },
  ])("initial $backoff.initial × $backoff.factor^(n−1), max $backoff.max: attempt $attempt waits $seconds s", ({ backoff, attempt, seconds }) => {
    expect(backoffSeconds(backoff, attempt)).toBe(seconds);
  });
});

describe("retryClassMatches", () => {
  it.each<{ on: RetryClass[]; failure: FailureClass; matches: boolean }>([
    { on: ["exit:any"], failure: "exit:1", matches: true },
    { on: ["exit:any"], failure: "exit:137", matches: true },
    { on: ["exit:any"], failure: "exit:0", matches: false },
    { on: ["exit:137"], failure: "exit:137", matches: true },
    { on: ["exit:137"], failure: "exit:1", matches: false },
    { on: ["spot-interruption"], failure: "spot-interruption", matches: true },
    { on: ["failed-to-start"], failure: "capacity", matches: false },
    { on: ["capacity"], failure: "capacity", matches: true },
    { on: ["exit:any"], failure: "failed-to-start", matches: false },
    { on: ["exit:any", "failed-to-start", "capacity", "spot-interruption"], failure: "timeout", matches: false },
    { on: ["exit:any", "failed-to-start", "capacity", "spot-interruption"], failure: "cancelled", matches: false },
    { on: ["exit:any", "failed-to-start", "capacity", "spot-interruption"], failure: "unknown", matches: false },
  ])("on $on, $failure matches: $matches", ({ on, failure, matches }) => {
    expect(retryClassMatches(on, failure)).toBe(matches);
  });
});

describe("decideRetry", () => {
  const policy = retryPolicy({ attempts: 3, on: ["exit:any", "failed-to-start"] });

  it.each([
    { number: 1, at: T0 + 30 * SEC },
    { number: 2, at: T0 + 60 * SEC },
  ])("attempt $number of 3 failing retries at +backoff (the top of its jitter)", ({ number, at }) => {
    expect(decideRetry(policy, { number, launch: "primary" }, "exit:1", T0, undefined, 1)).toEqual({ retry: true, at, launch: "primary" });
  });

  it("the last attempt is not retried", () => {
    const decision = decideRetry(policy, { number: 3, launch: "primary" }, "exit:1", T0, undefined, 0.5);
    expect(decision).toEqual({ retry: false, reason: "no attempts left (3 of 3 used)" });
  });

  it("a class not in retry.on is not retried", () => {
    const decision = decideRetry(policy, { number: 1, launch: "primary" }, "spot-interruption", T0, undefined, 0.5);
    expect(decision.retry).toBe(false);
    if (!decision.retry) expect(decision.reason).toContain("spot-interruption is not in retry.on");
  });

  const spotWithFallback: Launch = { type: "fargate-spot", fallback: "fargate" };
  const spotAlone: Launch = { type: "fargate-spot" };
  const never = retryPolicy({ attempts: 1, on: [] });

  it.each<{ launch: Launch; from: LaunchChoice; failure: FailureClass; expected: unknown }>([
    // the fallback is part of the launch: taken at once even when retry.on/attempts say no
    { launch: spotWithFallback, from: "primary", failure: "spot-interruption", expected: { retry: true, at: T0, launch: "fallback" } },
    { launch: spotWithFallback, from: "primary", failure: "capacity", expected: { retry: true, at: T0, launch: "fallback" } },
    // an application failure is not a Spot problem
    { launch: spotWithFallback, from: "primary", failure: "exit:1", expected: { retry: false } },
    // once on the fallback, the normal rules apply
    { launch: spotWithFallback, from: "fallback", failure: "spot-interruption", expected: { retry: false } },
    // no fallback configured
    { launch: spotAlone, from: "primary", failure: "spot-interruption", expected: { retry: false } },
    { launch: { type: "fargate" }, from: "primary", failure: "capacity", expected: { retry: false } },
  ])("$launch.type (fallback: $launch.fallback) attempt on $from failing with $failure", ({ launch, from, failure, expected }) => {
    expect(decideRetry(never, { number: 1, launch: from }, failure, T0, launch, 0.5)).toMatchObject(expected as object);
  });

  it("a retry after falling back stays on the fallback", () => {
    const p = retryPolicy({ attempts: 3, on: ["exit:any"] });
    expect(decideRetry(p, { number: 2, launch: "fallback" }, "exit:2", T0, spotWithFallback, 1)).toEqual({
      retry: true,
      at: T0 + 60 * SEC,
      launch: "fallback",
    });
  });
});

// Issue 10 item 5. Retrying clients should spread their retries with jitter, so that clients that failed together do not
// come back together (AWS Architecture Blog, "Exponential Backoff And Jitter"; AWS SDKs and Tools Reference Guide,
// "Retry behavior": the standard mode's backoff is randomized). berth uses "equal jitter": half the backoff, plus a
// seeded share of the other half.
describe("retry backoff jitter", () => {
  const backoff = { initial: 30, factor: 2, max: 600 };

  it.each([
    { jitter: 0, ms: 15_000 },
    { jitter: 0.5, ms: 22_500 },
    { jitter: 0.999, ms: 29_985 },
  ])("a 30 s backoff with jitter $jitter waits $ms ms", ({ jitter, ms }) => {
    expect(jitteredBackoffMs(backoff, 1, jitter)).toBe(ms);
  });

  it("a jitter outside [0, 1] (NaN, negative, above 1) stays inside the backoff's jittered half", () => {
    expect(jitteredBackoffMs(backoff, 1, Number.NaN)).toBe(15_000);
    expect(jitteredBackoffMs(backoff, 1, -3)).toBe(15_000);
    expect(jitteredBackoffMs(backoff, 1, 7)).toBe(30_000);
  });

  it("the jitter is seeded by run and attempt: the same retry decided twice lands at the same instant", () => {
    expect(retryJitter("01J00000000000000000000001", 1)).toBe(retryJitter("01J00000000000000000000001", 1));
    expect(retryJitter("01J00000000000000000000001", 1)).not.toBe(retryJitter("01J00000000000000000000001", 2));
  });

  it("a hundred runs failing at the same instant retry at many different instants, all within [backoff/2, backoff]", () => {
    const p = retryPolicy({ attempts: 3, on: ["exit:any"], backoff });
    const ats = Array.from({ length: 100 }, (_, i) => {
      const runId = `01J000000000000000000${String(i).padStart(5, "0")}`;
      const d = decideRetry(p, { number: 1, launch: "primary" }, "exit:1", T0, undefined, retryJitter(runId, 1));
      if (!d.retry) throw new Error("expected a retry");
      return d.at;
    });
    expect(Math.min(...ats)).toBeGreaterThanOrEqual(T0 + 15 * SEC);
    expect(Math.max(...ats)).toBeLessThanOrEqual(T0 + 30 * SEC);
    expect(new Set(ats).size).toBeGreaterThan(90);
  });
});
