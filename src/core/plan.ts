/**
 * One matched route + its event → the exact request berth sends to ECS.
 * Dispatch (AWS), the local runtime and `berth explain` all call this, so what
 * explain shows is what would run.
 */
import type { Route } from "./router.ts";
import type { BusEvent } from "./events.ts";
import { triggerContext, resolveEventPath, type TemplateContext } from "./context/index.ts";
import { buildRunTaskRequest, buildDeployPlan, type RunIdentity, type RunTaskRequest, type DeployPlan } from "./ecs/index.ts";

export type PlannedAction = { readonly kind: "run"; readonly request: RunTaskRequest } | { readonly kind: "deploy"; readonly plan: DeployPlan };

export type PlanResult =
  | { readonly ok: true; readonly context: TemplateContext; readonly action: PlannedAction }
  | { readonly ok: false; readonly context?: TemplateContext; readonly errors: readonly string[] };

/** Template lookup: the trigger's context first, then `${event.…}` paths for event triggers. */
export function contextLookup(context: TemplateContext, event: BusEvent): (name: string) => string | undefined {
  return (name) => context[name] ?? (name.startsWith("event.") ? resolveEventPath(event, name.slice("event.".length)) : undefined);
}

export function planLaunch(route: Route, event: BusEvent, id: RunIdentity): PlanResult {
  const ctx = triggerContext(route.trigger, event);
  if (!ctx.ok) return { ok: false, errors: [ctx.error] };
  const lookup = contextLookup(ctx.context, event);
  if (route.job.action.kind === "run") {
    const r = buildRunTaskRequest(route.job, lookup, id);
    return r.ok ? { ok: true, context: ctx.context, action: { kind: "run", request: r.request } } : { ok: false, context: ctx.context, errors: r.errors };
  }
  const d = buildDeployPlan(route.job, lookup, id);
  return d.ok ? { ok: true, context: ctx.context, action: { kind: "deploy", plan: d.plan } } : { ok: false, context: ctx.context, errors: d.errors };
}
