import { describe, expect, it } from "vitest";
import { LAUNCH_RETRY_BASE_MS, LAUNCH_RETRY_CAP_MS, MAX_LAUNCH_RETRY_MS, nextLaunchRetry } from "../../../src/core/ecs/launch-retry.ts";

const T0 = 1_000_000;
const at = (throttled: number, now = T0, deadline = T0 + 25_000) => ({ throttled, startedAt: T0, now, deadline });

describe("nextLaunchRetry", () => {
  it("waits a random part (full jitter) of a ceiling that doubles from the base up to the cap", () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => nextLaunchRetry(at(n), 0.999_999)! + 1);
    expect(ceilings).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(nextLaunchRetry(at(1), 0)).toBe(0);
    expect(nextLaunchRetry(at(3), 0.5)).toBe(2 * LAUNCH_RETRY_BASE_MS);
    expect(nextLaunchRetry(at(60), 0.5)).toBe(LAUNCH_RETRY_CAP_MS / 2);
  });

  it("gives up when the next send would come at or after the deadline", () => {
    expect(nextLaunchRetry(at(1, T0 + 24_950), 0.5)).toBeUndefined();
    expect(nextLaunchRetry(at(1, T0 + 24_949), 0.5)).toBe(50);
    expect(nextLaunchRetry(at(1, T0 + 30_000), 0)).toBeUndefined();
  });

  it("never holds a launch past the longest hold, however long the invocation has", () => {
    expect(nextLaunchRetry(at(20, T0 + MAX_LAUNCH_RETRY_MS - 100, T0 + 10 * MAX_LAUNCH_RETRY_MS), 0.5)).toBeUndefined();
    expect(nextLaunchRetry(at(20, T0 + MAX_LAUNCH_RETRY_MS - 3000, T0 + 10 * MAX_LAUNCH_RETRY_MS), 0.5)).toBe(2500);
  });

  it("waits at least what ECS asked for (Retry-After)", () => {
    expect(nextLaunchRetry({ ...at(1), retryAfterMs: 1500 }, 0.5)).toBe(1500);
    expect(nextLaunchRetry({ ...at(1, T0 + 24_000), retryAfterMs: 1500 }, 0.5)).toBeUndefined();
  });
});
