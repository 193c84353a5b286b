/** Every minute: timeouts, due retries, interrupted launches, queued runs and tasks whose events never came. */
import { composeEngine } from "../src/aws/compose.ts";
import { log } from "../src/aws/log.ts";
import type { SweepReport } from "../src/core/engine/engine.ts";

const engine = composeEngine();

export async function handler(): Promise<SweepReport> {
  const report = await engine.sweep();
  log(report.changed + report.relaunched + report.reconciled + report.slotsFreed > 0 ? "info" : "debug", "sweep done", { ...report });
  return report;
}
