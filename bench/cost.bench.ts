/**
 * What one run costs in AWS requests, counted on the packaged example stack
 * run locally (test/support/stack-harness.ts): a run job from its triggering
 * event to its end — dispatch, then the task's PROVISIONING, RUNNING and
 * STOPPED state changes through track, then whatever the published run state
 * changes set off — plus what one sweep costs, which runs every minute
 * whatever the number of runs. Prints markdown for BENCHMARKS.md's cost per
 * 1M runs; the prices and assumptions are the reader's to apply.
 *
 * The Lambda GB-s column is wall time on this machine × the template's
 * memory size, an upper bound of nothing in particular: Lambda bills the
 * duration it measures on its own hardware.
 */
import { readFileSync } from "node:fs";
import { loadCatalog } from "../src/core/catalog/load.ts";
import { packageCatalog } from "../test/stack/package.ts";
import { WiredStack, type DynamoMeter, type RunCost, type Template } from "../test/support/stack-harness.ts";
import { table } from "./report.ts";

const STAGE = "dev";
const catalogText = readFileSync("berth.yml", "utf8");
const loaded = loadCatalog(catalogText, "berth.yml");
if (!loaded.ok) throw new Error(`berth.yml must load: ${loaded.error.message}`);
const catalog = loaded.catalog;
const { template, packageDir } = await packageCatalog(catalogText, { stage: STAGE });
const wired = await WiredStack.start({ template: template as Template, artifacts: packageDir, catalog, stage: STAGE, samples: new URL("../events/", import.meta.url) });

try {
  // Run jobs triggered by AWS events, those without a concurrency limit (plain) first.
  const jobs = Object.values(catalog.jobs)
    .filter((j) => j.action.kind === "run" && j.triggers.some((t) => t.kind === "s3" || t.kind === "event"))
    .sort((a, b) => Number("max" in a.concurrency) - Number("max" in b.concurrency));
  if (jobs.length === 0) throw new Error("the example catalog has no run job triggered by an AWS event");
  // One run first warms every container, so the GB-s of the counted runs are a warm container's (cold starts add no requests).
  await wired.measureTrackedRun(jobs[0]!.name);
  const costs: RunCost[] = [];
  for (const job of jobs) costs.push(await wired.measureTrackedRun(job.name));

  const sweep = [...wired.stack.functions.values()].find((f) => f.handler.endsWith("/sweep.handler"));
  if (sweep === undefined) throw new Error("the stack has no sweep function");
  wired.metered.reset();
  await wired.cloud.invoke(sweep.logicalId, {}, "sweep");
  const sweepMeter: DynamoMeter = structuredClone(wired.metered.meter);

  const rowsOf = (c: RunCost): (string | number)[] => {
    const d = c.dynamo;
    const index = Object.entries(d.indexWriteUnitsByIndex)
      .map(([ix, n]) => `${ix} ${n}`)
      .join(", ");
    return [
      `${c.job} (${concurrencyOf(c.job)})`,
      c.status ?? "?",
      Object.entries(c.invocations)
        .map(([fn, n]) => `${fn.replace(`${wired.place.stackName}-`, "")} ${n}`)
        .join(", "),
      c.gbSeconds.toFixed(3),
      Object.entries(d.requests)
        .map(([op, n]) => `${op} ${n}`)
        .join(", "),
      d.readUnits,
      d.tableWriteUnits,
      `${d.indexWriteUnits} (${index})`,
      `${c.putEventsCalls} / ${c.putEventsEntries}`,
      `${c.runTask} / ${c.describeTasks} / ${c.stopTask}`,
      c.otherDeliveries,
    ];
  };
  const concurrencyOf = (job: string) => {
    const c = catalog.jobs[job]?.concurrency;
    return c === undefined ? "" : `overlap ${c.overlap}${"max" in c && c.max !== undefined ? `, max ${c.max}` : ""}`;
  };

  const markdown = [
    "Requests per run, counted on the packaged example stack run locally (dynalite behind a metering proxy, the local ECS and EventBridge endpoints):",
    "",
    table(
      ["job", "end", "Lambda invocations", "GB-s here", "DynamoDB requests", "read units", "table write units", "index write units", "PutEvents calls / entries", "RunTask / DescribeTasks / StopTask", "SNS deliveries"],
      costs.map(rowsOf),
    ),
    "",
    `One sweep (every minute, whatever the number of runs), right after the runs above ended: ${Object.entries(sweepMeter.requests)
      .map(([op, n]) => `${op} ${n}`)
      .join(", ")}; ${sweepMeter.readUnits} read units, ${sweepMeter.tableWriteUnits + sweepMeter.indexWriteUnits} write units:`,
    "",
    ...sweepMeter.trace.map((line) => `- ${line}`),
    "",
    `DynamoDB requests of one ${costs[0]!.job} run, in order:`,
    "",
    ...costs[0]!.dynamo.trace.map((line) => `- ${line}`),
  ].join("\n");
  console.log(markdown);
} finally {
  await wired.close();
}
