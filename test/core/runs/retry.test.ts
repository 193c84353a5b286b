import { describe, expect, it } from "vitest";
import type { Launch, RetryClass } from "../../../src/core/catalog/types.ts";
import type { FailureClass, LaunchChoice } from "../../../src/core/runs/model.ts";
import { backoffSeconds, decideRetry, retryClassMatches } from "../../../src/core/runs/retry.ts";
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
  ])("attempt $number of 3 failing retries at +backoff", ({ number, at }) => {
    expect(decideRetry(policy, { number, launch: "primary" }, "exit:1", T0)).toEqual({ retry: true, at, launch: "primary" });
  });

  it("the last attempt is not retried", () => {
    const decision = decideRetry(policy, { number: 3, launch: "primary" }, "exit:1", T0);
    expect(decision).toEqual({ retry: false, reason: "no attempts left (3 of 3 used)" });
  });

  it("a class not in retry.on is not retried", () => {
    const decision = decideRetry(policy, { number: 1, launch: "primary" }, "spot-interruption", T0);
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
    expect(decideRetry(never, { number: 1, launch: from }, failure, T0, launch)).toMatchObject(expected as object);
  });

  it("a retry after falling back stays on the fallback", () => {
    const p = retryPolicy({ attempts: 3, on: ["exit:any"] });
    expect(decideRetry(p, { number: 2, launch: "fallback" }, "exit:2", T0, spotWithFallback)).toEqual({
      retry: true,
      at: T0 + 60 * SEC,
      launch: "fallback",
    });
  });
});
