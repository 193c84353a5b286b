/**
 * Runs: one execution of a job for one triggering occurrence.
 *
 *   event → idempotencyKey → decideAdmission → createRun
 *        QUEUED ──(slot frees: decideQueueDrain → startQueuedRun)──┐
 *        SKIPPED (overlap forbid)                                  ▼
 *        STARTING ── launch effect → RunTask → recordLaunch (task ARN or failure)
 *           │ recordTaskState (ECS events, ordered by task `version`)
 *           ▼
 *        PROVISIONING → PENDING → RUNNING → SUCCEEDED | FAILED | TIMED_OUT | CANCELLED
 *           │ a failed attempt that decideRetry accepts
 *           ▼
 *        RETRY_WAIT ──(due: startRetry)──► STARTING (next attempt, new clientToken)
 *
 * Every function here is pure: it takes the run, the fact and `now`, and
 * returns the next run (store it first, conditioned on the version read) and
 * effects (launch, stop, publish, start-queued, reconcile) for
 * the shell to execute. Every status change publishes a
 * `Berth Run State Change`. decideSweep covers what no event will: timeouts,
 * due retries, interrupted launches, queued runs and silent tasks.
 */
export * from "./status.ts";
export * from "./model.ts";
export * from "./transitions.ts";
export * from "./effects.ts";
export * from "./idempotency.ts";
export * from "./occurrence.ts";
export * from "./concurrency.ts";
export * from "./position.ts";
export * from "./supersede.ts";
export * from "./admission.ts";
export * from "./retry.ts";
export * from "./attempts.ts";
export * from "./lifecycle.ts";
export * from "./task-state.ts";
export * from "./sweep.ts";
