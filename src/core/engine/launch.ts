/**
 * Launching an attempt: render the job's action for it, send it (RunTask
 * with the attempt's clientToken, or a service deployment), and record what
 * came back. A re-send after a crash uses the same clientToken, so ECS starts
 * no second task.
 */
import { startedByFor } from "../ids.ts";
import { buildAction } from "../plan.ts";
import type { LaunchOutcome } from "../ports.ts";
import { awaitsTask, DEFAULT_RELAUNCH_AFTER_MS, launchResultOf, recordLaunch, releaseLaunch, type LaunchResult, type Run } from "../runs/index.ts";
import { apply } from "./apply.ts";
import type { EngineContext } from "./context.ts";

export async function launch(ctx: EngineContext, run: Run, attemptNumber: number): Promise<Run> {
  const attempt = run.attempts.find((a) => a.number === attemptNumber);
  if (!attempt || !awaitsTask(attempt)) return run;
  const record = async (result: LaunchResult): Promise<Run> =>
    (await apply(ctx, run, (r) => recordLaunch(r, attemptNumber, result, ctx.now(), ctx.policyOf(r)))) ?? run;
  const refused = (reason: string) => record({ ok: false, reason, failureClass: "invalid" });

  const job = ctx.catalog.jobs[run.job];
  if (!job) return refused(`job "${run.job}" is no longer in the catalog`);
  const built = buildAction(job, run.context, { runId: run.id, attempt: attemptNumber, jobName: job.name }, attempt.launch);
  if (!built.ok) return refused(built.error.message);
  let answer: LaunchOutcome;
  if (built.action.kind === "deploy") {
    if (!ctx.deps.deployer) return refused("this runtime has no service deployer, so deploy jobs cannot run here");
    answer = await ctx.deps.deployer.deploy(built.action.plan, { runId: run.id, attempt: attemptNumber, clientToken: attempt.clientToken, startedBy: startedByFor(run.id) });
  } else {
    answer = await ctx.deps.launcher.runTask(built.action.request);
  }
  const result = launchResultOf(answer);
  if (result) return record(result);
  // Throttled for as long as the launcher could wait: the run stays STARTING, and the next sweep
  // re-sends it (same clientToken) without waiting out this sender's hold.
  const relaunchAfter = ctx.deps.sweep?.relaunchAfterMs ?? DEFAULT_RELAUNCH_AFTER_MS;
  return (await apply(ctx, run, (r) => releaseLaunch(r, attemptNumber, ctx.now(), relaunchAfter))) ?? run;
}
