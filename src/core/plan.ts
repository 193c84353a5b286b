/**
 * From a matched route and its event to the exact request berth sends to ECS,
 * in two steps: `runContext` fixes every template value when the run is
 * created (stored with the run, so retries render the same request without
 * the event), and `buildAction` renders the job's action from that context.
 * Dispatch (AWS), the local runtime and `berth explain` all use these, so what
 * explain shows is what would run.
 */
import type { Route } from "./router.ts";
import type { Job } from "./catalog/types.ts";
import type { BusEvent } from "./events/envelope.ts";
import { triggerContext, resolveEventPath, type ContextResult, type TemplateContext } from "./context/index.ts";
import { parseTemplate } from "./template/template.ts";
import { buildRunTaskRequest, buildDeployPlan, type RunIdentity, type RunTaskRequest, type DeployPlan } from "./ecs/index.ts";
import { withFallbackLaunch } from "./ecs/run-task.ts";
import type { LaunchChoice } from "./runs/model.ts";
import type { Failure, ValidationError } from "./errors.ts";

export type PlannedAction = { readonly kind: "run"; readonly request: RunTaskRequest } | { readonly kind: "deploy"; readonly plan: DeployPlan };

/** A failure lists every problem found in `error.problems`. */
export type ActionResult = { readonly ok: true; readonly action: PlannedAction } | Failure<ValidationError>;

function templatesOf(job: Job): readonly string[] {
  const a = job.action;
  return a.kind === "run" ? [...(a.command ?? []), ...Object.values(a.environment)] : [a.image];
}

/**
 * The trigger's variables, plus the `${event.…}` paths the job's templates use
 * (resolved now: the event is not kept). A path the event lacks stays unset,
 * so rendering reports it by name.
 */
export function runContext(route: Route, event: BusEvent): ContextResult {
  const ctx = triggerContext(route.trigger, event);
  if (!ctx.ok) return ctx;
  if (route.trigger.kind !== "event") return ctx;
  const extra: Record<string, string> = {};
  for (const source of templatesOf(route.job)) {
    const parsed = parseTemplate(source);
    if (!parsed.ok) continue;
    for (const name of parsed.template.variables) {
      if (!name.startsWith("event.") || name in ctx.context) continue;
      const value = resolveEventPath(event, name.slice("event.".length));
      if (value !== undefined) extra[name] = value;
    }
  }
  return { ok: true, context: Object.freeze({ ...ctx.context, ...extra }) };
}

/**
 * The action of attempt `id.attempt`, on the launch it uses: an attempt on
 * the `fallback` launch (Fargate Spot → Fargate) gets the fallback's launch
 * fields, everything else unchanged.
 */
export function buildAction(job: Job, context: TemplateContext, id: RunIdentity, launch: LaunchChoice = "primary"): ActionResult {
  const lookup = (name: string): string | undefined => (Object.hasOwn(context, name) ? context[name] : undefined);
  const action = job.action;
  if (action.kind === "run") {
    const r = buildRunTaskRequest(job, lookup, id);
    if (!r.ok) return r;
    const fallback = launch === "fallback" && action.launch.type === "fargate-spot" ? action.launch.fallback : undefined;
    return { ok: true, action: { kind: "run", request: fallback ? withFallbackLaunch(r.request, fallback) : r.request } };
  }
  const d = buildDeployPlan(job, lookup, id);
  return d.ok ? { ok: true, action: { kind: "deploy", plan: d.plan } } : d;
}
