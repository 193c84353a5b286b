/** Every minute: timeouts, due retries, interrupted launches, queued runs and tasks whose events never came. */
import { composeEngine } from "../src/aws/compose.ts";
import { lambdaHandler } from "../src/aws/handler.ts";
import type { SweepReport } from "../src/core/engine/engine.ts";

export const handler = lambdaHandler({
  init: () => composeEngine(),
  async handle(engine, _input: unknown, log): Promise<SweepReport> {
    const report = await engine.sweep();
    log(report.changed + report.relaunched + report.reconciled + report.slotsFreed > 0 ? "info" : "debug", "sweep done", { ...report });
    return report;
  },
  // The next sweep, a minute later, looks at everything again.
  answer: (error) => ({ failed: error.message }),
});
