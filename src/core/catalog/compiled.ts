/**
 * The compiled catalog: the resolved catalog plus the EventBridge rules that
 * route events to berth, as JSON. `berth compile` writes it; the Lambda
 * handlers read it at cold start (no YAML parsing or schema validation in the
 * functions), the deployment template takes its rules from it and the local
 * bus routes with the very same rules.
 *
 * A rule is a pattern on a bus and a target: one dispatch rule per trigger
 * (its target names the job), and the track rule, which hands the state
 * changes of berth's own ECS tasks to tracking.
 */
import type { Catalog, Trigger } from "./types.ts";
import type { EventPattern } from "../match/types.ts";
import { triggerPattern } from "./patterns.ts";
import { DETAIL_TYPE } from "../events/berth-events.ts";
import { STARTED_BY_PREFIX } from "../ids.ts";
import { ConfigurationError, failure, type Failure } from "../errors.ts";

export const COMPILED_FORMAT = "berth-catalog/2";

/**
 * Where the rule listens. AWS services (S3, ECS, CodeCommit) put their events
 * on the account's default bus; berth puts its own (normalized pushes, fired
 * schedules, manual runs, run state changes) on the berth bus of the stage,
 * whose name is only known when a stage is deployed; `event` triggers may
 * name a bus of their own.
 */
export type RuleBus = { readonly kind: "default" } | { readonly kind: "berth" } | { readonly kind: "named"; readonly name: string };

export type RuleTarget =
  /** `dispatch` with the job: the rule's input is `{"job": <job>, "event": <the event>}`. */
  | { readonly kind: "dispatch"; readonly job: string; readonly trigger: Trigger["kind"]; readonly triggerIndex: number }
  /** `track` with the event itself. */
  | { readonly kind: "track" };

export interface CompiledRule {
  readonly target: RuleTarget;
  readonly pattern: EventPattern;
  readonly bus: RuleBus;
}

export interface CompiledCatalog {
  readonly format: typeof COMPILED_FORMAT;
  readonly catalog: Catalog;
  readonly rules: readonly CompiledRule[];
}

/**
 * The state changes of the ECS tasks (and local deployments, which report as
 * tasks) that berth started: the rule filters on their `startedBy`
 * (src/core/ids.ts `startedByFor`), so tasks started by anyone else never reach `track`.
 */
export const TRACK_PATTERN: EventPattern = {
  source: ["aws.ecs"],
  "detail-type": [DETAIL_TYPE.ecsTaskStateChange],
  detail: { startedBy: [{ prefix: STARTED_BY_PREFIX }] },
};

const DEFAULT_BUS: RuleBus = { kind: "default" };
const BERTH_BUS: RuleBus = { kind: "berth" };

function triggerBus(trigger: Trigger): RuleBus {
  switch (trigger.kind) {
    case "s3":
      return DEFAULT_BUS;
    case "git":
      // CodeCommit emits natively; GitHub and GitLab pushes arrive through berth's webhook, which puts them on the berth bus.
      return trigger.provider === "codecommit" ? DEFAULT_BUS : BERTH_BUS;
    case "schedule":
    case "manual":
    case "job":
      return BERTH_BUS;
    case "event":
      return trigger.bus !== undefined ? { kind: "named", name: trigger.bus } : DEFAULT_BUS;
  }
}

export function compileRules(catalog: Catalog): CompiledRule[] {
  const rules: CompiledRule[] = [];
  for (const job of Object.values(catalog.jobs)) {
    job.triggers.forEach((trigger, triggerIndex) => {
      rules.push({
        target: { kind: "dispatch", job: job.name, trigger: trigger.kind, triggerIndex },
        pattern: triggerPattern(trigger, catalog.service, job.name),
        bus: triggerBus(trigger),
      });
    });
  }
  rules.push({ target: { kind: "track" }, pattern: TRACK_PATTERN, bus: DEFAULT_BUS });
  return rules;
}

export function compileCatalog(catalog: Catalog): CompiledCatalog {
  return { format: COMPILED_FORMAT, catalog, rules: compileRules(catalog) };
}

/**
 * A compiled catalog read back from its file. Its content is trusted as `berth compile` wrote it (the catalog was
 * validated then); what is checked is that it is one, and that every dispatch rule names a trigger of the catalog.
 */
export function readCompiledCatalog(value: unknown, source: string): { ok: true; compiled: CompiledCatalog } | Failure<ConfigurationError> {
  const v = value as Partial<CompiledCatalog> | null;
  if (v === null || typeof v !== "object" || v.format !== COMPILED_FORMAT) {
    return failure(new ConfigurationError(`${source} is not a compiled berth catalog (format ${COMPILED_FORMAT}); create it with \`berth compile -o ${source}\``));
  }
  const c = v.catalog;
  const rules = v.rules;
  const valid =
    !!c &&
    typeof c === "object" &&
    c.version === 1 &&
    typeof c.service === "string" &&
    !!c.jobs &&
    typeof c.jobs === "object" &&
    Array.isArray(rules) &&
    rules.every((r) => r?.target?.kind !== "dispatch" || (Object.hasOwn(c.jobs, r.target.job) && c.jobs[r.target.job]!.triggers[r.target.triggerIndex] !== undefined));
  if (!valid) return failure(new ConfigurationError(`${source} has no valid catalog inside; compile it again with \`berth compile\``));
  return { ok: true, compiled: { format: COMPILED_FORMAT, catalog: c, rules } };
}
