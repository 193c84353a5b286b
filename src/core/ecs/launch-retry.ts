/**
 * How long one invocation keeps re-sending a launch ECS throttled, and how long it waits between
 * sends. ECS answers RunTask with ThrottlingException once the account's token bucket is empty
 * ("Request throttling for the Amazon ECS API"; Fargate refills its launch bucket at 20 tasks per
 * second, burst 100: "AWS Fargate throttling quotas"), so a throttled launch gets through as soon
 * as a token is free; what ends the waiting is the invocation's own time. Waits are "full jitter"
 * (a random wait up to an exponentially growing ceiling; AWS Architecture Blog, "Exponential
 * Backoff And Jitter"), so the many callers a burst brings never retry in step.
 *
 * The sweep leaves an unanswered launch to the invocation that holds it for `MAX_LAUNCH_RETRY_MS`
 * and a margin (runs/sweep.ts `DEFAULT_RELAUNCH_AFTER_MS`): no holder keeps re-sending past it.
 */

/** The ceiling of the first wait; it doubles with every throttled answer up to `LAUNCH_RETRY_CAP_MS`. */
export const LAUNCH_RETRY_BASE_MS = 100;
/**
 * The largest ceiling: a caller waiting for a token asks about every 2.5 s on average, so a
 * hundred of them ask about 40 times a second, twice what the bucket refills, without flooding
 * RunTask's own request quota.
 */
export const LAUNCH_RETRY_CAP_MS = 5_000;
/**
 * The longest one invocation keeps re-sending one launch, whatever time it has left: the longest
 * any berth function runs (the sweep's 60 s), so inside Lambda only the invocation's time ends it.
 */
export const MAX_LAUNCH_RETRY_MS = 60_000;

export interface ThrottledLaunch {
  /** Throttled answers so far, this one included (1 after the first send). */
  readonly throttled: number;
  /** When this invocation first sent the launch. */
  readonly startedAt: number;
  readonly now: number;
  /** When the invocation's time is up (its remaining time less what it needs to store the answer). */
  readonly deadline: number;
  /** The wait ECS asked for (Retry-After), when it named one. */
  readonly retryAfterMs?: number;
}

/**
 * The wait before sending a throttled launch again, or undefined when the next send would come
 * after the deadline: the launch stays pending for the sweep. `random` is uniform in [0, 1).
 */
export function nextLaunchRetry(launch: ThrottledLaunch, random: number): number | undefined {
  const until = Math.min(launch.deadline, launch.startedAt + MAX_LAUNCH_RETRY_MS);
  const ceiling = Math.min(LAUNCH_RETRY_CAP_MS, LAUNCH_RETRY_BASE_MS * 2 ** (launch.throttled - 1));
  const wait = Math.max(launch.retryAfterMs ?? 0, Math.floor(random * ceiling));
  return launch.now + wait < until ? wait : undefined;
}
