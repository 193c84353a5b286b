/**
 * How long the current invocation may keep waiting on AWS (a throttled launch re-sent until ECS
 * takes it: ecs-task-launcher.ts). In a Lambda function that is the time Lambda leaves it, less a
 * margin to store what came back and log it; elsewhere (the CLI, a benchmark's stand-in for an
 * invocation) a fixed budget from the first send. The handler wrapper (handler.ts) runs each
 * invocation inside `withDeadline`; asynchronous context keeps concurrent invocations of one
 * process (a benchmark, a test) apart.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Left of an invocation's time after its last wait: storing the task ARN, publishing, logging. */
export const INVOCATION_MARGIN_MS = 5_000;
/** Outside an invocation: how long one throttled launch is re-sent. */
export const DEFAULT_WAIT_BUDGET_MS = 25_000;

const deadlines = new AsyncLocalStorage<number>();

/** Runs `work` as an invocation whose waits end at `deadline` (epoch ms). */
export function withDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  return deadlines.run(deadline, work);
}

/** The deadline of a Lambda invocation from its context's remaining time; undefined without one. */
export function lambdaDeadline(context: { readonly getRemainingTimeInMillis?: () => number } | undefined, now: number): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === "number" && Number.isFinite(remaining) ? now + remaining - INVOCATION_MARGIN_MS : undefined;
}

/** When waits begun at `now` must end: the current invocation's deadline, or the fixed budget outside one. */
export function waitDeadline(now: number): number {
  return deadlines.getStore() ?? now + DEFAULT_WAIT_BUDGET_MS;
}
