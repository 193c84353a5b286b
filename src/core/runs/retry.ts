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

export function retryClassMatches(on: readonly RetryClass[], failureClass: FailureClass): boolean {
  if (on.includes(failureClass as RetryClass)) return true;
  return failureClass.startsWith("exit:") && failureClass !== "exit:0" && on.includes("exit:any");
}

export function decideRetry(
  policy: RetryPolicy,
  attempt: Pick<Attempt, "number" | "launch">,
  failureClass: FailureClass,
  now: number,
  launch?: Launch,
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
  return { retry: true, at: now + Math.round(backoffSeconds(policy.backoff, attempt.number) * 1000), launch: attempt.launch };
}
