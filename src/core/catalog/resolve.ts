/**
 * Schema-valid raw catalog → resolved Catalog: defaults merged, durations in
 * seconds, triggers normalized, and every rule that spans fields checked
 * (cross references, cycles, schedules, patterns, templates, launch needs).
 * All problems are collected, never just the first.
 */
import { formatDuration, parseDuration } from "./duration.ts";
import { formatSize, parseSize } from "./size.ts";
import { formatPath, type PathSegment } from "./issues.ts";
import type { RawBatch, RawCatalog, RawJob, RawLaunch, RawNetwork, RawRetry } from "./schema.ts";
import { BATCH_LIMITS, UPSTREAM_STATUSES } from "./schema.ts";
import { MANIFEST_SUFFIX } from "./types.ts";
import type { Action, BatchPolicy, Catalog, ConcurrencyPolicy, Job, Launch, LocalConfig, ManifestLocation, ManualParam, Network, RetryClass, RetryPolicy, S3KeyFilter, S3Trigger, Trigger, UpstreamStatus, WebhookConfig } from "./types.ts";
import { DEFAULT_ROTATION_SECONDS } from "../webhook/secrets.ts";
import type { EventPattern } from "../match/types.ts";
import { parseSchedule, toAwsExpression, isValidTimeZone } from "../schedule/index.ts";
import { validatePattern } from "../match/validate.ts";
import { parseTemplate } from "../template/template.ts";
import { triggerVariables } from "./variables.ts";
import { ConfigurationError, failure, type Failure } from "../errors.ts";

export interface PathIssue {
  readonly path: readonly PathSegment[];
  readonly message: string;
  readonly onKey?: boolean;
}

/** A failure carries every problem as `error.issues`, located by path only (loadCatalog adds file, line and column). */
export type ResolveResult = { readonly ok: true; readonly catalog: Catalog } | Failure<ConfigurationError<PathIssue>>;

/** Every default berth applies, in one place (README "Defaults" mirrors this). */
export const DEFAULTS = {
  cluster: "default",
  launch: { type: "fargate" } as Launch,
  retry: {
    attempts: 3,
    backoff: { initial: 30, factor: 2, max: 600 },
    on: ["spot-interruption", "failed-to-start", "capacity"] as RetryClass[],
  },
  runConcurrency: { overlap: "allow" } as ConcurrencyPolicy,
  /** One deployment of a service at a time; a newer push supersedes an older one, an older one never follows a newer (runs/supersede.ts). */
  deployConcurrency: { max: 1, overlap: "supersede" } as ConcurrencyPolicy,
  gitProvider: "github" as const,
  timezone: "UTC",
  healthTimeout: 30,
  /** `batch.maxItems` (README "Defaults"). */
  batchMaxItems: 1000,
  /** `webhook.rotation`: the previous webhook secret verifies for an hour after it was replaced. */
  webhookRotation: DEFAULT_ROTATION_SECONDS,
} as const;

/** berth adds `berth:job` and `berth:run` to every task; ECS allows 50 tags. */
const MAX_USER_TAGS = 48;

const asList = <T>(v: T | readonly T[] | undefined): readonly T[] => (v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T]);
const str = (v: string | number | boolean): string => String(v);
const strRecord = (r: Record<string, string | number | boolean> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [k, str(v)]));

/** `allJobs`: every job name in the file, including jobs left out for schema errors (for cross references). */
export function resolveCatalog(raw: RawCatalog, file: string, allJobs: readonly string[] = Object.keys(raw.jobs)): ResolveResult {
  const issues: PathIssue[] = [];
  const report = (path: readonly PathSegment[], message: string, onKey = false) => issues.push({ path, message, onKey });
  const d = raw.defaults ?? {};

  const jobs: Record<string, Job> = {};
  for (const [name, rawJob] of Object.entries(raw.jobs)) {
    const job = resolveJob(name, rawJob, raw, (p, m, k) => report(["jobs", name, ...p], m, k));
    if (job) jobs[name] = job;
  }
  if (allJobs.length === 0) report(["jobs"], "no jobs defined; add at least one under jobs:");

  checkJobReferences(raw, allJobs, report);
  const local = resolveLocal(raw);
  checkTags(d.tags, ["defaults", "tags"], report);

  if (issues.length > 0) {
    const message = issues.map((i) => (i.path.length > 0 ? `${formatPath(i.path)}: ${i.message}` : i.message)).join("; ");
    return failure(new ConfigurationError(message, { issues }));
  }
  return {
    ok: true,
    catalog: deepFreeze({ version: 1, service: raw.service, ...(raw.region ? { region: raw.region } : {}), ...(raw.webhook ? { webhook: resolveWebhook(raw.webhook) } : {}), jobs, local, file }),
  };
}

type Report = (path: readonly PathSegment[], message: string, onKey?: boolean) => void;

function resolveJob(name: string, raw: RawJob, catalog: RawCatalog, report: Report): Job | undefined {
  const d = catalog.defaults ?? {};
  const triggers = resolveTriggers(name, raw, report);
  if (!raw.run && !raw.deploy) report([], "a job needs an action: add run: (an ECS task) or deploy: (a service deployment)");
  if (raw.run && raw.deploy) report(["deploy"], "a job has one action: keep either run: or deploy:, not both");

  let action: Action | undefined;
  if (raw.run) {
    const r = raw.run;
    const launch = resolveLaunch(r.launch ?? d.launch) ?? DEFAULTS.launch;
    // Default networks apply to Fargate and capacity providers; EC2 tasks use awsvpc only when
    // their task definition says so, so an EC2 run gets a network only when it names one itself.
    const networkRaw = r.network ?? (launch.type === "ec2" ? undefined : d.network);
    const network = networkRaw ? resolveNetwork(networkRaw) : undefined;
    if (!network && needsNetwork(launch)) {
      report(["run"], `${launchName(launch)} tasks need an awsvpc network: set run.network.subnets (or defaults.network.subnets)`);
    }
    if ((r.command || r.environment) && !r.container) {
      report(["run", r.command ? "command" : "environment"], "command and environment override one container: name it with run.container");
    }
    action = {
      kind: "run",
      cluster: r.cluster ?? d.cluster ?? DEFAULTS.cluster,
      taskDefinition: r.taskDefinition,
      ...(r.container ? { container: r.container } : {}),
      ...(r.command ? { command: r.command.map(String) } : {}),
      environment: strRecord(r.environment),
      ...(r.cpu !== undefined ? { cpu: r.cpu } : {}),
      ...(r.memory !== undefined ? { memory: r.memory } : {}),
      launch,
      ...(network ? { network } : {}),
    };
  } else if (raw.deploy) {
    const dep = raw.deploy;
    action = {
      kind: "deploy",
      cluster: dep.cluster ?? d.cluster ?? DEFAULTS.cluster,
      service: dep.service,
      container: dep.container,
      image: dep.image,
      environment: strRecord(dep.environment),
      rollback: dep.rollback ?? true,
    };
  }

  const batch = raw.batch ? resolveBatch(raw.batch, raw, triggers, (p, m) => report(["batch", ...p], m)) : undefined;
  const retry = resolveRetry(d.retry, raw.retry);
  const concurrency: ConcurrencyPolicy = {
    ...(action?.kind === "deploy" ? DEFAULTS.deployConcurrency : DEFAULTS.runConcurrency),
    ...stripUndefined(d.concurrency ?? {}),
    ...stripUndefined(raw.concurrency ?? {}),
  };
  if (concurrency.overlap === "supersede" && concurrency.max !== undefined && concurrency.max !== 1) {
    report(["concurrency", "max"], `overlap: supersede keeps one run in flight, so max must be 1 (got ${concurrency.max}); remove max or choose another overlap`);
  }
  const timeoutRaw = raw.timeout ?? d.timeout;
  const tags = { ...strRecord(d.tags), ...strRecord(raw.tags) };
  checkTags(raw.tags, ["tags"], report);
  if (Object.keys(tags).length > MAX_USER_TAGS) {
    report(["tags"], `${Object.keys(tags).length} tags with the defaults merged; ECS allows 50 per task and berth adds 2, so at most ${MAX_USER_TAGS}`);
  }

  // A deploy registers a new revision of the service's task definition, whose roles berth must pass too.
  const rawRoles = (raw.run ?? raw.deploy)?.roles;
  const roles = stripUndefined({ ...(d.roles ?? {}), ...(rawRoles ?? {}) });
  const notify = (raw.notify ?? d.notify ?? []).map((n) => ({ on: [...new Set(asList(n.on))] as UpstreamStatus[], sns: n.sns }));

  if (action) checkTemplates(action, triggers, raw.batch !== undefined, report, (upstream) => upstreamHasGit(upstream, catalog));
  if (!action) return undefined;
  return {
    name,
    ...(raw.description ? { description: raw.description } : {}),
    triggers,
    action,
    retry,
    ...(timeoutRaw !== undefined && parseDuration(timeoutRaw) > 0 ? { timeout: parseDuration(timeoutRaw) } : {}),
    concurrency,
    tags,
    roles,
    notify,
    ...(batch ? { batch } : {}),
  };
}

/** `batch:` checked against the job it belongs to; every problem is reported, the policy returned as far as it resolves. */
function resolveBatch(raw: RawBatch, job: RawJob, triggers: readonly Trigger[], report: Report): BatchPolicy {
  const s3 = triggers.filter((t): t is S3Trigger => t.kind === "s3");
  if (s3.length === 0) {
    const kinds = Object.keys(job.on);
    report([], `batch gathers uploads into one run, so it needs an s3 trigger (on.s3)${kinds.length > 0 ? `; this job's triggers are ${kinds.join(", ")}` : ""}: add an s3 trigger or remove batch`);
  }
  if (job.deploy && !job.run) report([], "a batch's run reads its manifest (${batch.manifest}): batch needs a run: action, not deploy:");
  const window = parseDuration(raw.window);
  if (window < BATCH_LIMITS.minWindow || window > BATCH_LIMITS.maxWindow) {
    report(["window"], `window must be from ${formatDuration(BATCH_LIMITS.minWindow)} to ${formatDuration(BATCH_LIMITS.maxWindow)} (got ${formatDuration(window)}): a batch closes that long after its first upload`);
  }
  const maxBytes = raw.maxBytes !== undefined ? parseSize(raw.maxBytes) : undefined;
  if (maxBytes !== undefined && (maxBytes < 1 || maxBytes > BATCH_LIMITS.maxBytes)) {
    report(["maxBytes"], `maxBytes must be from 1 byte to ${formatSize(BATCH_LIMITS.maxBytes)} (got ${formatSize(maxBytes)}); leave it out to close batches by window and maxItems only`);
  }
  let manifest: ManifestLocation | undefined;
  if (raw.manifest !== undefined) {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw.manifest)!;
    manifest = { bucket: m[1]!, prefix: m[2] ?? "" };
    if (s3.some((t) => manifestFeedsTrigger(t, manifest!))) {
      report(["manifest"], `manifests written to ${raw.manifest} would match this job's own s3 trigger, so each batch's manifest would join the next batch: write them to another bucket or folder`);
    }
  }
  return {
    window,
    maxItems: raw.maxItems ?? DEFAULTS.batchMaxItems,
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(manifest ? { manifest } : {}),
  };
}

/**
 * Whether a manifest (`<prefix><hex batch id>.jsonl`) could match the s3 trigger. Errs towards yes: a
 * batch whose manifest starts the next batch never ends.
 */
function manifestFeedsTrigger(trigger: S3Trigger, location: ManifestLocation): boolean {
  if (!trigger.buckets.includes(location.bucket)) return false;
  const key = trigger.key;
  if (key === undefined) return true;
  const overlaps = (prefix: string) => prefix.startsWith(location.prefix) || location.prefix.startsWith(prefix);
  const fits = (suffix: string) => MANIFEST_SUFFIX.endsWith(suffix) || suffix.endsWith(MANIFEST_SUFFIX);
  if (key.equals !== undefined) return key.equals.startsWith(location.prefix) && key.equals.endsWith(MANIFEST_SUFFIX);
  if (key.wildcard !== undefined) {
    const parts = key.wildcard.split("*");
    if (parts.length === 1) return key.wildcard.startsWith(location.prefix) && key.wildcard.endsWith(MANIFEST_SUFFIX);
    return overlaps(parts[0]!) && fits(parts[parts.length - 1]!);
  }
  return (key.prefix === undefined || overlaps(key.prefix)) && (key.suffix === undefined || fits(key.suffix));
}

function resolveTriggers(job: string, raw: RawJob, report: Report): Trigger[] {
  const on = raw.on;
  const out: Trigger[] = [];
  const each = <T>(v: T | readonly T[] | undefined, kind: string, fn: (t: T, path: PathSegment[]) => void) => {
    const list = asList(v);
    list.forEach((t, i) => fn(t, Array.isArray(v) ? ["on", kind, i] : ["on", kind]));
  };
  each(on.s3, "s3", (t, path) => {
    const key: S3KeyFilter | undefined = typeof t.key === "string" ? { equals: t.key } : t.key;
    if (key && key.wildcard && (key.prefix || key.suffix)) {
      report([...path, "key", "wildcard"], "use either wildcard or prefix/suffix, not both");
    }
    out.push({ kind: "s3", buckets: asList(t.bucket), ...(key && Object.keys(key).length > 0 ? { key } : {}) });
  });
  each(on.git, "git", (t, path) => {
    const provider = t.provider ?? DEFAULTS.gitProvider;
    if (provider !== "codecommit" && !/^[^/\s]+(\/[^/\s]+)+$/.test(t.repo)) {
      report([...path, "repo"], `a ${provider} repo is written owner/name, e.g. acme/web`);
    }
    out.push({
      kind: "git",
      provider,
      repo: t.repo,
      ...(t.branch !== undefined ? { branches: asList(t.branch) } : {}),
      ...(t.tag !== undefined ? { tags: asList(t.tag) } : {}),
    });
  });
  each(on.schedule, "schedule", (t, path) => {
    const given = [t.cron !== undefined ? "cron" : undefined, t.rate !== undefined ? "rate" : undefined].filter(Boolean);
    if (given.length !== 1) {
      report(path, given.length === 0 ? "a schedule needs cron: or rate:" : "a schedule has either cron: or rate:, not both");
      return;
    }
    const field = given[0] as "cron" | "rate";
    const text = (field === "cron" ? t.cron : t.rate) as string;
    const expression = field === "rate" && !text.startsWith("rate(") ? `rate(${text})` : text;
    const parsed = parseSchedule(expression);
    if (!parsed.ok) report([...path, field], parsed.error.message);
    const timezone = t.timezone ?? DEFAULTS.timezone;
    if (!isValidTimeZone(timezone)) report([...path, "timezone"], `unknown time zone "${timezone}": use an IANA name such as UTC, Europe/Berlin or Asia/Seoul`);
    if (parsed.ok) out.push({ kind: "schedule", expression: text, awsExpression: toAwsExpression(parsed.schedule), timezone });
  });
  if (on.manual !== undefined) {
    const params: Record<string, ManualParam> = {};
    const rawParams = on.manual === true ? {} : (on.manual.params ?? {});
    for (const [p, v] of Object.entries(rawParams)) {
      if (typeof v === "object") {
        if (v.required && v.default !== undefined) report(["on", "manual", "params", p, "default"], "a required param has no default: drop one of required/default");
        params[p] = { required: v.required ?? false, ...(v.default !== undefined ? { default: str(v.default) } : {}), ...(v.description ? { description: v.description } : {}) };
      } else {
        params[p] = { required: false, default: str(v) };
      }
    }
    out.push({ kind: "manual", params });
  }
  each(on.job, "job", (t, path) => {
    if (t.name === job) report([...path, "name"], "a job cannot trigger itself");
    const statuses = asList(t.status ?? "succeeded") as UpstreamStatus[];
    out.push({ kind: "job", job: t.name, statuses: statuses.filter((s) => (UPSTREAM_STATUSES as readonly string[]).includes(s)) });
  });
  each(on.event, "event", (t, path) => {
    let pattern: unknown = t.pattern;
    if (typeof pattern === "string") {
      try {
        pattern = JSON.parse(pattern);
      } catch (e) {
        report([...path, "pattern"], `pattern is not valid JSON (${(e as Error).message}); write it as YAML or as a JSON object`);
        return;
      }
    }
    const problems = validatePattern(pattern);
    for (const p of problems) report([...path, "pattern", ...splitPatternPath(p.path)], p.message);
    if (problems.length === 0) out.push({ kind: "event", pattern: pattern as EventPattern, ...(t.bus ? { bus: t.bus } : {}) });
  });
  if (out.length === 0 && Object.keys(on).length === 0) {
    report(["on"], "a job needs at least one trigger: s3, git, schedule, manual, job or event");
  }
  return out;
}

/** `detail.object.key[0].prefix` → ["detail", "object", "key", 0, "prefix"] so issues point into the YAML. */
function splitPatternPath(path: string): PathSegment[] {
  if (!path) return [];
  const out: PathSegment[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[]*)((\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of (m[2] ?? "").matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function resolveLaunch(raw: RawLaunch | undefined): Launch | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === "string") return { type: raw };
  if ("capacityProviders" in raw) {
    return {
      type: "capacity-providers",
      providers: raw.capacityProviders.map((p) => ({ provider: p.provider, ...(p.weight !== undefined ? { weight: p.weight } : {}), ...(p.base !== undefined ? { base: p.base } : {}) })),
    };
  }
  const pv = raw.platformVersion ? { platformVersion: raw.platformVersion } : {};
  if (raw.type === "fargate-spot") return { type: "fargate-spot", ...(raw.fallback ? { fallback: raw.fallback } : {}), ...pv };
  if (raw.type === "fargate") return { type: "fargate", ...pv };
  return { type: "ec2" };
}

function needsNetwork(launch: Launch): boolean {
  if (launch.type === "fargate" || launch.type === "fargate-spot") return true;
  if (launch.type === "capacity-providers") return launch.providers.some((p) => p.provider === "FARGATE" || p.provider === "FARGATE_SPOT");
  return false;
}

function launchName(launch: Launch): string {
  return launch.type === "capacity-providers" ? "Fargate capacity-provider" : launch.type === "fargate-spot" ? "Fargate Spot" : "Fargate";
}

function resolveNetwork(raw: RawNetwork): Network {
  return { subnets: raw.subnets, securityGroups: raw.securityGroups ?? [], assignPublicIp: raw.assignPublicIp ?? false };
}

function resolveRetry(defaults: RawRetry | undefined, job: RawRetry | undefined): RetryPolicy {
  const pick = <K extends keyof RawRetry>(k: K) => job?.[k] ?? defaults?.[k];
  const backoff = { ...stripUndefined(defaults?.backoff ?? {}), ...stripUndefined(job?.backoff ?? {}) };
  return {
    attempts: pick("attempts") ?? DEFAULTS.retry.attempts,
    backoff: {
      initial: backoff.initial !== undefined ? parseDuration(backoff.initial) : DEFAULTS.retry.backoff.initial,
      factor: backoff.factor ?? DEFAULTS.retry.backoff.factor,
      max: backoff.max !== undefined ? parseDuration(backoff.max) : DEFAULTS.retry.backoff.max,
    },
    on: (pick("on") as RetryClass[] | undefined) ?? DEFAULTS.retry.on,
  };
}

function checkTags(tags: Record<string, unknown> | undefined, path: PathSegment[], report: Report): void {
  for (const [k, v] of Object.entries(tags ?? {})) {
    if (k.toLowerCase().startsWith("aws:")) report([...path, k], 'tag keys starting with "aws:" are reserved by AWS', true);
    else if (k.toLowerCase().startsWith("berth:")) report([...path, k], 'tag keys starting with "berth:" are set by berth itself', true);
    else if (k.length > 128) report([...path, k], `tag keys are at most 128 characters (this one has ${k.length})`, true);
    else if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(k)) report([...path, k], "tag keys may hold letters, digits, spaces and _ . : / = + - @", true);
    if (String(v).length > 256) report([...path, k], `tag values are at most 256 characters (this one has ${String(v).length})`);
  }
}

/** Every template must resolve for every trigger of its job, so only variables all triggers provide are allowed. */
function checkTemplates(action: Action, triggers: readonly Trigger[], batched: boolean, report: Report, hasGit: (upstream: string) => boolean): void {
  const providers = triggers.map((t) => ({ kind: t.kind, ...triggerVariables(t, { upstreamHasGit: t.kind === "job" && hasGit(t.job), batched }) }));
  const s3Batched = batched && triggers.some((t) => t.kind === "s3");
  const always = new Set(["run.id", "run.attempt", "job.name"]);
  const check = (source: string, path: PathSegment[]) => {
    const parsed = parseTemplate(source);
    if (!parsed.ok) {
      report(path, `${parsed.error.message} (at character ${parsed.error.offset + 1}); write $\${ for a literal \${`);
      return;
    }
    for (const v of parsed.template.variables) {
      if (always.has(v)) continue;
      if (s3Batched && v.startsWith("s3.")) {
        report(path, `\${${v}} is not available in a batched job: its run covers many uploads, not one; the task reads them from the manifest, \${batch.manifest} (one JSON line per object: bucket, key, size, etag, versionId, sequencer, eventTime), and \${batch.count} \${batch.bytes} \${batch.opened} describe the batch`);
        continue;
      }
      const missing = providers.filter((p) => !p.names.has(v) && !p.prefixes.some((pre) => v.startsWith(pre)));
      if (missing.length === 0 && providers.length > 0) continue;
      if (providers.length === 0) continue; // trigger problems are already reported
      const offer = missing
        .map((p) => `${p.kind} provides ${[...p.names].map((n) => `\${${n}}`).join(" ") || "no variables"}${p.prefixes.length ? ` and \${${p.prefixes[0]}…}` : ""}`)
        .join("; ");
      report(path, `unknown template variable \${${v}}: ${offer}; every job also has \${run.id} \${run.attempt} \${job.name}`);
    }
  };
  if (action.kind === "run") {
    action.command?.forEach((c, i) => check(c, ["run", "command", i]));
    for (const [k, v] of Object.entries(action.environment)) check(v, ["run", "environment", k]);
  } else {
    check(action.image, ["deploy", "image"]);
    for (const [k, v] of Object.entries(action.environment)) check(v, ["deploy", "environment", k]);
  }
}

/**
 * Whether every run of `job` carries a push (git.* in its context), so jobs chained after it can read
 * `${git.sha}`: all its triggers are git triggers, or job triggers on jobs that carry one.
 */
function upstreamHasGit(job: string, catalog: RawCatalog, seen: ReadonlySet<string> = new Set()): boolean {
  const raw = Object.hasOwn(catalog.jobs, job) ? catalog.jobs[job] : undefined;
  if (raw === undefined || seen.has(job)) return false;
  const triggers = resolveTriggers(job, raw, () => {});
  const next = new Set([...seen, job]);
  return triggers.length > 0 && triggers.every((t) => t.kind === "git" || (t.kind === "job" && upstreamHasGit(t.job, catalog, next)));
}

/** `job` triggers must name existing jobs and must not form a cycle (a → b → a would run forever). */
function checkJobReferences(raw: RawCatalog, allJobs: readonly string[], report: Report): void {
  const edges = new Map<string, string[]>();
  for (const [name, job] of Object.entries(raw.jobs)) {
    const ups = asList(job.on.job);
    ups.forEach((t, i) => {
      const path = Array.isArray(job.on.job) ? ["jobs", name, "on", "job", i, "name"] : ["jobs", name, "on", "job", "name"];
      if (!allJobs.includes(t.name)) {
        const known = allJobs.join(", ");
        report(path, `no job named "${t.name}"; jobs in this file: ${known}`);
      } else if (t.name !== name && t.name in raw.jobs) {
        // Edge upstream → downstream: the upstream finishing starts the downstream.
        edges.set(t.name, [...(edges.get(t.name) ?? []), name]);
      }
    });
  }
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    state.set(n, "visiting");
    stack.push(n);
    for (const next of edges.get(n) ?? []) {
      if (state.get(next) === "visiting") {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...cycle].slice(0, -1).sort().join(",");
        if (!seen.has(key)) {
          seen.add(key);
          report(["jobs", next, "on", "job"], `trigger cycle: ${cycle.join(" → ")}; remove one of these job triggers`);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of Object.keys(raw.jobs)) if (!state.has(n)) visit(n);
}

/** `secret: "ssm:/name"` → `{ source: "ssm", name: "/name" }` (schema.ts checked the form); rotation in seconds. */
function resolveWebhook(raw: NonNullable<RawCatalog["webhook"]>): WebhookConfig {
  const source = raw.secret.startsWith("ssm:") ? "ssm" : "secretsmanager";
  return {
    secret: { source, name: raw.secret.slice(source.length + 1) },
    rotation: raw.rotation !== undefined ? parseDuration(raw.rotation) : DEFAULTS.webhookRotation,
  };
}

function resolveLocal(raw: RawCatalog): LocalConfig {
  const l = raw.local ?? {};
  return {
    engine: l.engine ?? "process",
    taskDefinitions: Object.fromEntries(
      Object.entries(l.taskDefinitions ?? {}).map(([k, v]) => [
        k,
        { command: v.command, ...(v.cwd ? { cwd: v.cwd } : {}), environment: strRecord(v.environment), ...(v.image ? { image: v.image } : {}) },
      ]),
    ),
    services: Object.fromEntries(
      Object.entries(l.services ?? {}).map(([k, v]) => [
        k,
        {
          command: v.command,
          ...(v.cwd ? { cwd: v.cwd } : {}),
          environment: strRecord(v.environment),
          ...(v.port !== undefined ? { port: v.port } : {}),
          ...(v.health
            ? {
                health: {
                  ...(v.health.command ? { command: v.health.command } : {}),
                  timeout: v.health.timeout !== undefined ? parseDuration(v.health.timeout) : DEFAULTS.healthTimeout,
                },
              }
            : {}),
        },
      ]),
    ),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
