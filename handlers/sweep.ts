/** Every minute: timeouts, due retries, interrupted launches, queued runs and tasks whose events never came. */
import { composeSweep } from "../src/aws/compose.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { SweepReport } from "../src/core/engine/engine.ts";

export const handler = lambdaHandler({
  init: (log) => composeSweep(process.env, log),
  async handle(sweep, _input: unknown, log): Promise<SweepReport> {
    const report = await sweep();
    // Quiet at INFO when nothing changed: a line a minute that says nothing would drown the ones that do.
    const acted = report.changed + report.relaunched + report.reconciled + report.announced + report.slotsFreed + report.batchesHandedOff > 0;
    log(report.batchFailures.length > 0 ? "warn" : acted ? "info" : "debug", "sweep done", { ...report });
    return report;
  },
  // The next sweep, a minute later, looks at everything again.
  answer: (error) => ({ failed: error.message }),
});
