import type { Command } from "commander";
import { configOption, invalidCatalog, readCatalog, printIssues } from "../catalog-file.ts";
import { c, printJson, table } from "../output.ts";
import { formatDuration } from "../../core/catalog/duration.ts";
import type { Job, Trigger } from "../../core/catalog/types.ts";

export function triggerSummary(t: Trigger): string {
  switch (t.kind) {
    case "s3": {
      const k = t.key;
      const key = k ? (k.equals ?? k.wildcard ?? `${k.prefix ?? ""}*${k.suffix ?? ""}`) : "*";
      return `s3 ${t.buckets.join(",")}/${key}`;
    }
    case "git":
      return `git ${t.provider} ${t.repo}${t.branches ? ` branch ${t.branches.join(",")}` : ""}${t.tags ? ` tag ${t.tags.join(",")}` : ""}`;
    case "schedule":
      return `schedule ${t.awsExpression} ${t.timezone}`;
    case "manual":
      return `manual${Object.keys(t.params).length ? ` (${Object.keys(t.params).join(", ")})` : ""}`;
    case "job":
      return `after ${t.job} ${t.statuses.join("|")}`;
    case "event":
      return `event ${JSON.stringify(t.pattern).slice(0, 60)}${t.bus ? ` on ${t.bus}` : ""}`;
  }
}

function actionSummary(job: Job): string {
  const a = job.action;
  return a.kind === "run" ? `run ${a.taskDefinition} on ${a.cluster} (${a.launch.type})` : `deploy ${a.service} on ${a.cluster}`;
}

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check berth.yml and list its jobs; every problem is printed as file:line:col path: message")
    .addOption(configOption())
    .option("--json", "print the resolved catalog (or the problems) as JSON")
    .action((opts: { config?: string; json?: boolean }) => {
      const r = readCatalog(opts.config);
      if (!r.ok) {
        if (opts.json) printJson({ ok: false, file: r.file, issues: r.issues });
        else printIssues(r.issues);
        throw invalidCatalog(r.issues);
      }
      const jobs = Object.values(r.catalog.jobs);
      if (opts.json) {
        printJson({ ok: true, file: r.file, catalog: r.catalog });
        return;
      }
      console.log(`${c.green("✔")} ${r.file}: ${jobs.length} job${jobs.length === 1 ? "" : "s"}, service ${c.bold(r.catalog.service)}\n`);
      const rows = [[c.dim("job"), c.dim("when"), c.dim("what"), c.dim("policies")]];
      for (const job of jobs) {
        const policies = [
          job.timeout ? `timeout ${formatDuration(job.timeout)}` : "",
          job.retry.attempts > 1 ? `${job.retry.attempts} attempts` : "no retry",
          job.concurrency.max ? `max ${job.concurrency.max} (${job.concurrency.overlap})` : "",
        ].filter(Boolean);
        job.triggers.forEach((t, i) => rows.push([i === 0 ? c.bold(job.name) : "", triggerSummary(t), i === 0 ? actionSummary(job) : "", i === 0 ? policies.join(", ") : ""]));
      }
      console.log(table(rows, "  "));
    });
}
