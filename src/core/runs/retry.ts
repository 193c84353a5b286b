/**
 * Whether a failed attempt gets another one, when, and on which launch.
 *
 * The Fargate Spot fallback is part of the launch, not of the retry policy: a
 * job that says `launch: { type: fargate-spot, fallback: fargate }` asked to
 * run on Fargate when Spot cannot, so a Spot interruption or Spot capacity
 * shortage of a primary attempt moves to the fallback right away, whatever
 * `retry.on` and `retry.attempts` say. That adds at most one attempt. Once on
 * the fallback a run stays there: Spot that just failed is not tried again.
 */
import type { Launch, RetryClass, RetryPolicy } from "../catalog/types.ts";
import type { Attempt, FailureClass, LaunchChoice } from "./model.ts";

export type RetryDecision =
  | { readonly retry: true; readonly at: number; readonly launch: LaunchChoice }
  | { readonly retry: false; readonly reason: string };

/** Seconds to wait after failed attempt `attempt` (1-based): initial · factor^(attempt−1), capped at max. */
export function backoffSeconds(backoff: RetryPolicy["backoff"], attempt: number): number {
  return Math.min(backoff.max, backoff.initial * backoff.factor ** (attempt - 1));
}

/**
 * The wait actually taken, with "equal jitter": half the backoff, plus a share
 * of the other half given by `jitter` in [0, 1). Runs that failed together
 * (one outage, one bad deploy) then come back spread over that half instead
 * of all at one instant.
 */
export function jitteredBackoffMs(backoff: RetryPolicy["backoff"], attempt: number, jitter: number): number {
  const ms = backoffSeconds(backoff, attempt) * 1000;
  const share = Number.isFinite(jitter) ? Math.min(Math.max(jitter, 0), 1) : 0;
  return Math.round(ms / 2 + (ms / 2) * share);
}

/**
 * A jitter in [0, 1) seeded by the run and its attempt (FNV-1a of both): run ids
 * are random, so runs spread as with fresh randomness, while deciding the
 * same retry twice (a lost write re-decided, a redelivered event) gives the
 * same instant.
 */
export function retryJitter(runId: string, attempt: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${runId}#${attempt}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

export function retryClassMatches(on: readonly RetryClass[], failureClass: FailureClass): boolean {
  if (on.includes(failureClass as RetryClass)) return true;
  return failureClass.startsWith("exit:") && failureClass !== "exit:0" && on.includes("exit:any");
}

export function decideRetry(
  policy: RetryPolicy,
  attempt: Pick<Attempt, "number" | "launch">,
  failureClass: FailureClass,
  now: number,
  launch: Launch | undefined,
  /** In [0, 1): where in the jittered half of the backoff the retry lands (retryJitter). */
  jitter: number,
): RetryDecision {
  const spotTrouble = failureClass === "spot-interruption" || failureClass === "capacity";
  if (spotTrouble && attempt.launch === "primary" && launch?.type === "fargate-spot" && launch.fallback !== undefined) {
    return { retry: true, at: now, launch: "fallback" };
  }
  if (!retryClassMatches(policy.on, failureClass)) {
    return { retry: false, reason: `${failureClass} is not in retry.on [${policy.on.join(", ")}]` };
  }
  if (attempt.number >= policy.attempts) {
    return { retry: false, reason: `no attempts left (${attempt.number} of ${policy.attempts} used)` };
  }
  return { retry: true, at: now + jitteredBackoffMs(policy.backoff, attempt.number, jitter), launch: attempt.launch };
}
