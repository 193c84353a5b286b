/**
 * The EventBridge rules of the stack, planned from the compiled catalog:
 *
 * - one rule per trigger, on the trigger's bus, whose target input names the
 *   job: `{"job": "<name>", "event": <aws.events.event.json>}`;
 * - past a bus's rule budget (quotas.ts), that bus's triggers are grouped by
 *   event source and detail type: one rule per group, with a pattern that
 *   matches every event any of its triggers matches (a superset: constraints
 *   that cannot be merged are dropped), and the event itself as the input, so
 *   dispatch fans out with the core's matcher, which decides exactly as
 *   EventBridge does;
 * - the track rules: `ECS Task State Change` of berth's tasks on the catalog's
 *   clusters, and `ECS Deployment State Change` of the catalog's services;
 * - the notify rules: run state changes of the notifying jobs, as a readable
 *   message to each SNS topic;
 * - the rejected-events rule: the `Berth Event Rejected` events dispatch puts
 *   on berth's bus, their detail (`{ reason, job, event }`) to the
 *   rejected-events queue.
 */
import type { CompiledCatalog, CompiledRule, RuleBus } from "../../core/catalog/compiled.ts";
import { TRACK_PATTERN } from "../../core/catalog/compiled.ts";
import type { Catalog, UpstreamStatus } from "../../core/catalog/types.ts";
import type { EventPattern } from "../../core/match/types.ts";
import { BERTH_SOURCE, DETAIL_TYPE } from "../../core/events/berth-events.ts";
import { ConfigurationError } from "../../core/errors.ts";
import { resolvedSize, type Json } from "./cfn.ts";
import { clusterArn, digest, pascal, serviceArn, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";
import { BUDGETS, QUOTAS } from "./quotas.ts";

export type RuleInput =
  /** `{"job": "<name>", "event": <aws.events.event.json>}`: dispatch runs that job only. */
  | { readonly kind: "job"; readonly job: string }
  /** The event as it is: dispatch fans out over every job it matches; track reads it directly. */
  | { readonly kind: "event" }
  /** A readable line of text for an SNS subscriber. */
  | { readonly kind: "notify" }
  /** The event's detail alone. */
  | { readonly kind: "detail" };

export type RuleTarget =
  | { readonly kind: "function"; readonly fn: "dispatch" | "track" }
  | { readonly kind: "sns"; readonly topic: string }
  /** An SQS queue of the stack, by logical id. */
  | { readonly kind: "queue"; readonly queue: string };

export interface PlannedRule {
  readonly logicalId: string;
  readonly name: string;
  readonly bus: RuleBus;
  /** The event pattern, with CloudFormation intrinsics where an ARN depends on the account. */
  readonly pattern: Json;
  readonly target: RuleTarget;
  readonly input: RuleInput;
  /** The jobs the rule routes for. */
  readonly jobs: readonly string[];
  readonly description: string;
}

export type BusKey = string;

export function busKey(bus: RuleBus): BusKey {
  return bus.kind === "named" ? `named:${bus.name}` : bus.kind;
}

/** The bus's name as a rule's EventBusName takes it; undefined for the default bus. */
export function busName(bus: RuleBus, names: StackNames): string | undefined {
  return bus.kind === "default" ? undefined : bus.kind === "berth" ? names.bus : bus.name;
}

export interface RoutingPlan {
  readonly rules: readonly PlannedRule[];
  /** Buses whose triggers are grouped by event source, with the level reached. */
  readonly grouped: ReadonlyMap<BusKey, GroupLevel>;
}

/** `source+detail-type` groups first; `source` when that still leaves too many rules. */
export type GroupLevel = "source+detail-type" | "source";

export interface RoutingOptions {
  /** Buses to group whatever their rule count (the stack's resource budget asks for it). */
  readonly groupBuses?: ReadonlySet<BusKey>;
}

export function planRouting(compiled: CompiledCatalog, names: StackNames, options: RoutingOptions = {}): RoutingPlan {
  const catalog = compiled.catalog;
  const dispatchRules = compiled.rules.filter((r) => r.target.kind === "dispatch");
  const others = [...trackRules(catalog, names), ...notifyRules(catalog, names), rejectedEventsRule(names)];

  const byBus = new Map<BusKey, CompiledRule[]>();
  for (const rule of dispatchRules) {
    const key = busKey(rule.bus);
    byBus.set(key, [...(byBus.get(key) ?? []), rule]);
  }
  const othersOn = (key: BusKey) => others.filter((r) => busKey(r.bus) === key).length;

  const grouped = new Map<BusKey, GroupLevel>();
  const rules: PlannedRule[] = [];
  for (const [key, onBus] of byBus) {
    const budget = (key === "berth" ? BUDGETS.rulesOnBerthBus : BUDGETS.rulesOnSharedBus) - othersOn(key);
    const force = options.groupBuses?.has(key) ?? false;
    if (!force && onBus.length <= budget) {
      rules.push(...onBus.map((r) => jobRule(r, names)));
      continue;
    }
    const level: GroupLevel = groupRules(onBus, "source+detail-type", names).length <= budget ? "source+detail-type" : "source";
    const planned = groupRules(onBus, level, names);
    if (planned.length > budget) {
      throw new ConfigurationError(
        `${onBus.length} triggers on the ${describeBus(onBus[0]!.bus)} come from ${planned.length} different event sources; ` +
          `berth groups them by source, and ${planned.length} rules are more than the ${budget} it keeps on that bus ` +
          `(EventBridge allows ${QUOTAS.rulesPerBus} per bus). Put some of these triggers on another bus.`,
      );
    }
    grouped.set(key, level);
    rules.push(...planned);
  }
  rules.push(...others);
  for (const rule of rules) checkPatternSize(rule);
  return { rules, grouped };
}

function describeBus(bus: RuleBus): string {
  return bus.kind === "default" ? "default bus" : bus.kind === "berth" ? "berth bus" : `bus ${bus.name}`;
}

function checkPatternSize(rule: PlannedRule): void {
  const size = resolvedSize(rule.pattern);
  if (size > QUOTAS.eventPatternCharacters) {
    throw new ConfigurationError(
      `the EventBridge pattern for ${rule.description} is about ${size} characters; EventBridge accepts ${QUOTAS.eventPatternCharacters} ` +
        `(the event pattern size quota): split the trigger or shorten its lists`,
    );
  }
}

function jobRule(rule: CompiledRule, names: StackNames): PlannedRule {
  if (rule.target.kind !== "dispatch") throw new Error("jobRule takes dispatch rules");
  const { job, trigger, triggerIndex } = rule.target;
  const key = `${job}#${triggerIndex}`;
  return {
    logicalId: `Rule${pascal(job)}${pascal(trigger)}${digest(key)}`,
    name: names.scoped(`${job}-${trigger}`, key),
    bus: rule.bus,
    pattern: rule.pattern as Json,
    target: { kind: "function", fn: "dispatch" },
    input: { kind: "job", job },
    jobs: [job],
    description: `job ${job}, ${trigger} trigger ${triggerIndex + 1}`,
  };
}

const list = (v: unknown): readonly unknown[] | undefined => (Array.isArray(v) ? v : undefined);

function groupKey(pattern: EventPattern, level: GroupLevel): string {
  const sorted = (v: unknown) => (list(v) ? [...list(v)!].map((x) => JSON.stringify(x)).sort() : null);
  return JSON.stringify(level === "source" ? [sorted(pattern.source)] : [sorted(pattern.source), sorted(pattern["detail-type"])]);
}

function groupRules(onBus: readonly CompiledRule[], level: GroupLevel, names: StackNames): PlannedRule[] {
  const groups = new Map<string, CompiledRule[]>();
  for (const rule of onBus) {
    const key = groupKey(rule.pattern, level);
    groups.set(key, [...(groups.get(key) ?? []), rule]);
  }
  return [...groups.entries()].map(([key, members]) => {
    const jobs = [...new Set(members.map((m) => (m.target.kind === "dispatch" ? m.target.job : "")))];
    const bus = members[0]!.bus;
    const sources = (list(members[0]!.pattern.source) ?? ["any-source"]).map(String);
    const pattern = fitPattern(unionPattern(members.map((m) => m.pattern)), groupKeyPattern(members[0]!.pattern, level));
    const id = `${busKey(bus)}|${key}`;
    return {
      logicalId: `Route${pascal(sources.join("-")).slice(0, 60)}${digest(id)}`,
      name: names.scoped(`route-${sources.join("-")}`, id),
      bus,
      pattern: pattern as Json,
      target: { kind: "function", fn: "dispatch" } as const,
      input: { kind: "event" } as const,
      jobs,
      description: `${members.length} triggers from ${sources.join(", ")} (jobs ${jobs.slice(0, 5).join(", ")}${jobs.length > 5 ? ", …" : ""})`,
    };
  });
}

/** The part of a pattern a group is keyed on: every member has exactly these, so it is the widest safe pattern. */
function groupKeyPattern(pattern: EventPattern, level: GroupLevel): EventPattern {
  const out: Record<string, unknown> = {};
  if (list(pattern.source)) out.source = pattern.source;
  if (level === "source+detail-type" && list(pattern["detail-type"])) out["detail-type"] = pattern["detail-type"];
  // EventBridge needs some pattern; a prefix of "" on source matches every event (sources are never empty).
  return Object.keys(out).length > 0 ? out : { source: [{ prefix: "" }] };
}

/**
 * The union, shrunk to the pattern size quota by dropping its largest value lists first (key lists go
 * before bucket names, say); each drop only widens it. With nothing left to drop, the group's key.
 */
function fitPattern(union: EventPattern, fallback: EventPattern): EventPattern {
  let pattern = union;
  while (resolvedSize(pattern) > QUOTAS.eventPatternCharacters) {
    const largest = largestList(pattern);
    if (largest === undefined) return fallback;
    pattern = withoutPath(pattern, largest);
  }
  return Object.keys(pattern).length > 0 ? pattern : fallback;
}

function largestList(pattern: EventPattern, path: readonly string[] = []): { path: readonly string[]; size: number } | undefined {
  let best: { path: readonly string[]; size: number } | undefined;
  for (const [key, value] of Object.entries(pattern)) {
    // The source and detail type are what the group is keyed on: they stay.
    if (path.length === 0 && (key === "source" || key === "detail-type")) continue;
    const candidate = Array.isArray(value) ? { path: [...path, key], size: resolvedSize(value) } : isObject(value) ? largestList(value, [...path, key]) : undefined;
    if (candidate && (!best || candidate.size > best.size)) best = candidate;
  }
  return best;
}

function withoutPath(pattern: EventPattern, where: { path: readonly string[] }): EventPattern {
  const [head, ...rest] = where.path;
  const out: Record<string, unknown> = { ...pattern };
  if (head === undefined) return out;
  if (rest.length === 0) delete out[head];
  else {
    const inner = withoutPath(out[head] as EventPattern, { path: rest });
    if (Object.keys(inner).length > 0) out[head] = inner;
    else delete out[head];
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * A pattern every event matching any of `patterns` matches. A field is kept when every pattern
 * constrains it: value lists are alternatives, so their concatenation accepts what each accepts;
 * nested objects merge field by field. A field some pattern leaves open, `$or`, or a field that is a
 * list in one pattern and an object in another is dropped, which only widens the pattern.
 */
export function unionPattern(patterns: readonly EventPattern[]): EventPattern {
  const first = patterns[0];
  if (!first) return {};
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first)) {
    if (key.startsWith("$")) continue;
    const values = patterns.map((p) => p[key]);
    if (values.some((v) => v === undefined)) continue;
    if (values.every((v) => Array.isArray(v))) {
      const seen = new Map<string, unknown>();
      for (const v of values as unknown[][]) for (const item of v) seen.set(JSON.stringify(item), item);
      out[key] = [...seen.values()];
    } else if (values.every(isObject)) {
      const merged = unionPattern(values as EventPattern[]);
      if (Object.keys(merged).length > 0) out[key] = merged;
    }
  }
  return out;
}

/** Clusters berth starts tasks on, and the services it deploys. */
export function catalogEcs(catalog: Catalog): { readonly runClusters: readonly string[]; readonly services: readonly { cluster: string; service: string }[] } {
  const runClusters = new Set<string>();
  const services = new Map<string, { cluster: string; service: string }>();
  for (const job of Object.values(catalog.jobs)) {
    if (job.action.kind === "run") runClusters.add(job.action.cluster);
    else services.set(`${job.action.cluster}/${job.action.service}`, { cluster: job.action.cluster, service: job.action.service });
  }
  return { runClusters: [...runClusters].sort(), services: [...services.values()].sort((a, b) => `${a.cluster}/${a.service}`.localeCompare(`${b.cluster}/${b.service}`)) };
}

const DEFAULT_BUS: RuleBus = { kind: "default" };
const BERTH_BUS: RuleBus = { kind: "berth" };

function trackRules(catalog: Catalog, names: StackNames): PlannedRule[] {
  const { runClusters, services } = catalogEcs(catalog);
  const rules: PlannedRule[] = [];
  if (runClusters.length > 0) {
    const narrowed = { ...TRACK_PATTERN, detail: { ...(TRACK_PATTERN.detail as object), clusterArn: runClusters.map(clusterArn) } };
    rules.push({
      logicalId: "TrackTaskStateRule",
      name: names.scoped("track-tasks", "track-tasks"),
      bus: DEFAULT_BUS,
      // Dozens of clusters would not fit the pattern quota; the startedBy prefix alone still keeps other tasks out.
      pattern: (resolvedSize(narrowed) <= QUOTAS.eventPatternCharacters ? narrowed : TRACK_PATTERN) as Json,
      target: { kind: "function", fn: "track" },
      input: { kind: "event" },
      jobs: Object.values(catalog.jobs).filter((j) => j.action.kind === "run").map((j) => j.name),
      description: "ECS task state changes of berth's tasks",
    });
  }
  if (services.length > 0) {
    const exact = { source: ["aws.ecs"], "detail-type": [DETAIL_TYPE.ecsDeploymentStateChange], resources: services.map((s) => serviceArn(s.cluster, s.service)) };
    // Too many services for the pattern quota: every service of their clusters (CloudFormation resolves the Fn::Sub inside).
    const byCluster = { ...exact, resources: [...new Set(services.map((s) => s.cluster))].map((c) => ({ prefix: serviceArn(c, "") })) };
    rules.push({
      logicalId: "TrackDeploymentStateRule",
      name: names.scoped("track-deployments", "track-deployments"),
      bus: DEFAULT_BUS,
      pattern: (resolvedSize(exact) <= QUOTAS.eventPatternCharacters ? exact : byCluster) as Json,
      target: { kind: "function", fn: "track" },
      input: { kind: "event" },
      jobs: Object.values(catalog.jobs).filter((j) => j.action.kind === "deploy").map((j) => j.name),
      description: "ECS deployment state changes of the services berth deploys",
    });
  }
  return rules;
}

/** dispatch's rejections, to the queue the user reads them from (src/aws/rejected-events.ts). */
function rejectedEventsRule(names: StackNames): PlannedRule {
  return {
    logicalId: LOGICAL.rejectedEventsRule,
    name: names.scoped("rejected-events", "rejected-events"),
    bus: BERTH_BUS,
    pattern: { source: [BERTH_SOURCE], "detail-type": [DETAIL_TYPE.eventRejected] },
    target: { kind: "queue", queue: LOGICAL.rejectedQueue },
    input: { kind: "detail" },
    jobs: [],
    description: "events dispatch rejected, to the rejected-events queue",
  };
}

/** berth.yml spells statuses as job triggers do (`timed-out`); run state change events carry TIMED_OUT. */
const published = (s: UpstreamStatus) => s.toUpperCase().replaceAll("-", "_");

function notifyRules(catalog: Catalog, names: StackNames): PlannedRule[] {
  const groups = new Map<string, { topic: string; statuses: string[]; jobs: string[] }>();
  for (const job of Object.values(catalog.jobs)) {
    for (const n of job.notify) {
      const statuses = [...new Set(n.on.map(published))].sort();
      const key = `${n.sns}|${statuses.join(",")}`;
      const g = groups.get(key) ?? { topic: n.sns, statuses, jobs: [] };
      if (!g.jobs.includes(job.name)) g.jobs.push(job.name);
      groups.set(key, g);
    }
  }
  const allJobs = Object.keys(catalog.jobs).length;
  const rules: PlannedRule[] = [];
  for (const [key, g] of groups) {
    const pattern = (jobs: readonly string[] | undefined) => ({
      source: [BERTH_SOURCE],
      "detail-type": [DETAIL_TYPE.runStateChange],
      detail: { service: [catalog.service], ...(jobs ? { job: [...jobs] } : {}), status: g.statuses },
    });
    // Every job of the catalog (notify in defaults): the service alone selects them.
    const chunks = g.jobs.length === allJobs ? [undefined] : chunkToFit(g.jobs, pattern);
    chunks.forEach((jobs, i) => {
      const id = `notify|${key}|${i}`;
      const topicName = g.topic.slice(g.topic.lastIndexOf(":") + 1);
      rules.push({
        logicalId: `Notify${pascal(topicName).slice(0, 40)}${digest(id)}`,
        name: names.scoped(`notify-${topicName}`, id),
        bus: BERTH_BUS,
        pattern: pattern(jobs) as Json,
        target: { kind: "sns", topic: g.topic },
        input: { kind: "notify" },
        jobs: jobs ?? g.jobs,
        description: `notifications to ${g.topic} on ${g.statuses.join(", ").toLowerCase()}`,
      });
    });
  }
  return rules;
}

/** Splits the job list so each rule's pattern fits the pattern size quota. */
function chunkToFit(jobs: readonly string[], pattern: (jobs: readonly string[]) => unknown): (readonly string[])[] {
  const chunks: string[][] = [];
  let current: string[] = [];
  for (const job of jobs) {
    if (current.length > 0 && resolvedSize(pattern([...current, job])) > QUOTAS.eventPatternCharacters) {
      chunks.push(current);
      current = [];
    }
    current.push(job);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
