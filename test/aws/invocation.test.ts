/** How long an invocation's waits on AWS may last: Lambda's remaining time less a margin, or a fixed budget outside Lambda. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { lambdaHandler, type LambdaContext } from "../../src/aws/handler.ts";
import { DEFAULT_WAIT_BUDGET_MS, INVOCATION_MARGIN_MS, lambdaDeadline, waitDeadline, withDeadline } from "../../src/aws/invocation.ts";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const context = (remaining: number): LambdaContext => ({
  awsRequestId: "c0ffee00-0000-4000-8000-000000000002",
  functionName: "berth-prod-dispatch",
  getRemainingTimeInMillis: () => remaining,
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: NOW });
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("invocation deadlines", () => {
  it("a Lambda invocation's waits end the margin before Lambda would stop it", async () => {
    const handler = lambdaHandler({ init: () => undefined, handle: async () => waitDeadline(Date.now()), answer: () => 0 });
    expect(await handler(undefined, context(30_000))).toBe(NOW + 30_000 - INVOCATION_MARGIN_MS);
    expect(await handler(undefined, context(60_000))).toBe(NOW + 60_000 - INVOCATION_MARGIN_MS);
  });

  it("outside an invocation, waits get the fixed budget from when they begin", async () => {
    const handler = lambdaHandler({ init: () => undefined, handle: async () => waitDeadline(Date.now()), answer: () => 0 });
    expect(await handler(undefined)).toBe(NOW + DEFAULT_WAIT_BUDGET_MS);
    expect(waitDeadline(NOW + 1)).toBe(NOW + 1 + DEFAULT_WAIT_BUDGET_MS);
    expect(lambdaDeadline({}, NOW)).toBeUndefined();
  });

  it("concurrent invocations in one process keep their own deadlines", async () => {
    const seen = await Promise.all(
      [1_000, 2_000, 3_000].map((d) =>
        withDeadline(NOW + d, async () => {
          await Promise.resolve();
          return waitDeadline(NOW);
        }),
      ),
    );
    expect(seen).toEqual([NOW + 1_000, NOW + 2_000, NOW + 3_000]);
  });
});
