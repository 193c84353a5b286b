/**
 * Catalogs for the stack tests: the example with one change, and a large catalog shaped like a real
 * platform team's (mostly uploads and application events, a tail of schedules, manual jobs, chains and
 * deploys), sized by its number of jobs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./package.ts";

export const EXAMPLE = readFileSync(join(ROOT, "berth.yml"), "utf8");

/** The example with a job added before `local:`. */
export function withJob(name: string, yamlBody: string): string {
  const at = EXAMPLE.indexOf("\nlocal:");
  if (at < 0) throw new Error("the example catalog has no local: block to insert before");
  const body = yamlBody
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
  return `${EXAMPLE.slice(0, at)}\n  ${name}:\n${body}\n${EXAMPLE.slice(at)}`;
}

/** The example with the thumbnails job listening to another bucket. */
export function withThumbnailsBucket(bucket: string): string {
  const changed = EXAMPLE.replace("bucket: media-uploads\n", `bucket: ${bucket}\n`);
  if (changed === EXAMPLE) throw new Error("the example catalog no longer names bucket media-uploads");
  return changed;
}

/** The example's `webhook:` block: the key and the lines indented under it. */
const WEBHOOK_BLOCK = /\nwebhook:[^\n]*\n(?:[ \t]+[^\n]*\n)*/;

/** The example with its `webhook:` block holding the lines given (indented under it) instead of its own. */
export function withWebhook(...lines: string[]): string {
  const changed = EXAMPLE.replace(WEBHOOK_BLOCK, `\nwebhook:\n${lines.map((l) => `  ${l}\n`).join("")}`);
  if (changed === EXAMPLE) throw new Error("the example catalog has no webhook: block to replace");
  return changed;
}

/** `yaml` (the example unless given) without its `webhook:` block: nothing names a secret to verify deliveries with. */
export function withoutWebhook(yaml = EXAMPLE): string {
  const changed = yaml.replace(WEBHOOK_BLOCK, "\n");
  if (changed === yaml || /^webhook:/m.test(changed)) throw new Error("the catalog has no webhook: block to remove");
  return changed;
}

/**
 * The example with the push trigger of migrate-web made a manual one and deploy-web, chained after it, run by
 * hand too (a chained job reads `${git.sha}` only after a push), the commit a parameter of each: no job is
 * triggered by GitHub or GitLab. The `webhook:` block stays.
 */
export function withoutGitTriggers(): string {
  const manual = "manual: { params: { sha: { required: true } } }";
  const changed = EXAMPLE.replace("git: { repo: acme/web, branch: main }", manual)
    .replace("job: { name: migrate-web, status: succeeded }", manual)
    .replace('[node, migrate.js, "${git.sha}"]', '[node, migrate.js, "${params.sha}"]')
    .replace("web:${git.sha}", "web:${params.sha}");
  if (/\bgit:|\$\{git\.|name: migrate-web/.test(changed)) throw new Error("the example catalog no longer has exactly the push trigger of migrate-web and deploy-web chained after it");
  return changed;
}

export interface LargeCatalog {
  readonly yaml: string;
  readonly jobs: number;
  readonly kinds: Readonly<Record<string, number>>;
}

const ZONES = ["UTC", "Asia/Seoul", "Europe/Berlin", "America/New_York", "Australia/Sydney"];

/** `n` jobs: 40 % uploads, 15 % events on the default bus, 10 % on a named bus, 10 % manual, 10 % chained, 5 % pushes, 10 % schedules. */
export function largeCatalog(n: number): LargeCatalog {
  const lines: string[] = [
    "version: 1",
    "service: big-platform",
    "region: eu-west-1",
    "defaults:",
    "  cluster: batch",
    "  launch: fargate",
    "  network: { subnets: [subnet-0a1b2c3d4e5f60718], securityGroups: [sg-0c3d4e5f607182930] }",
    "  roles: { task: arn:aws:iam::123456789012:role/platform-task, execution: arn:aws:iam::123456789012:role/ecsTaskExecutionRole }",
    '  notify: [{ on: [failed, timed-out], sns: "arn:aws:sns:eu-west-1:123456789012:platform-alerts" }]',
    "jobs:",
  ];
  const kinds: Record<string, number> = {};
  const share = (i: number) => (i * 100) / n;
  for (let i = 0; i < n; i++) {
    const name = `job-${String(i).padStart(4, "0")}`;
    const family = `task-${i % 40}`;
    const cluster = ["batch", "batch-spot", "analytics"][i % 3]!;
    const run = `    run: { cluster: ${cluster}, taskDefinition: ${family}, container: app, command: [run, "\${job.name}"] }`;
    const p = share(i);
    let kind: string;
    let on: string;
    let action = run;
    if (p < 40) {
      kind = "s3";
      on = `s3: { bucket: uploads-${i % 20}, key: { prefix: "in/${name}/", suffix: .csv } }`;
    } else if (p < 55) {
      kind = "event-default";
      on = `event: { pattern: { source: [acme.app${i % 10}], detail-type: [Order ${i % 7}], detail: { tenant: [t${i}] } } }`;
    } else if (p < 65) {
      kind = "event-named";
      on = `event: { bus: acme-events, pattern: { source: [acme.billing], detail-type: [Invoice ${i % 5}], detail: { account: [a${i}] } } }`;
    } else if (p < 75) {
      kind = "manual";
      on = "manual: true";
    } else if (p < 85) {
      kind = "job";
      on = `job: { name: job-${String(i % Math.max(1, Math.floor(n * 0.4))).padStart(4, "0")}, status: [succeeded, failed] }`;
    } else if (p < 90) {
      kind = "git";
      on = `git: { repo: acme/service-${i}, branch: main }`;
      if (i % 2 === 0) action = `    deploy: { cluster: web, service: svc-${i}, container: app, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-${i}:\${git.sha}" }`;
    } else {
      kind = "schedule";
      on = i % 3 === 0 ? `schedule: { rate: "${5 + (i % 55)} minutes" }` : `schedule: { cron: "${i % 60} ${i % 24} * * ? *", timezone: ${ZONES[i % ZONES.length]} }`;
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    lines.push(`  ${name}:`, `    on: { ${on} }`, action);
  }
  return { yaml: `${lines.join("\n")}\n`, jobs: n, kinds };
}
