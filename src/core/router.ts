/**
 * The catalog compiled for routing: one route per (job, trigger), each with
 * its EventBridge pattern compiled once and indexed, so an event finds the
 * jobs it fires without testing every pattern.
 */
import type { Catalog, Job, Trigger } from "./catalog/types.ts";
import type { CompiledCatalog } from "./catalog/compiled.ts";
import type { EventPattern } from "./match/types.ts";
import { triggerPattern } from "./catalog/patterns.ts";
import { compilePattern, compileValidatedPattern, type CompiledPattern } from "./match/compile.ts";
import { CompiledPatternIndex } from "./match/index.ts";

export interface Route {
  readonly job: Job;
  readonly trigger: Trigger;
  /** Position of the trigger in the job's trigger list: names the EventBridge rule. */
  readonly triggerIndex: number;
  readonly pattern: EventPattern;
  readonly compiled: CompiledPattern;
}

export interface Router {
  readonly catalog: Catalog;
  readonly routes: readonly Route[];
  /** Routes whose pattern matches the event, in catalog order. */
  match(event: unknown): Route[];
}

/** The router of a catalog, each trigger's pattern made and checked as EventBridge checks it (InvalidPatternError). */
export function buildRouter(catalog: Catalog): Router {
  const routes: Route[] = [];
  for (const job of Object.values(catalog.jobs)) {
    job.triggers.forEach((trigger, triggerIndex) => {
      const pattern = triggerPattern(trigger, catalog.service, job.name);
      routes.push({ job, trigger, triggerIndex, pattern, compiled: compilePattern(pattern) });
    });
  }
  return routerOver(catalog, routes);
}

/**
 * The router of a compiled catalog (`berth compile`, read by the Lambda handlers), with the patterns of its
 * dispatch rules: the very patterns of the stack's EventBridge rules. They were made from the catalog, whose
 * event patterns were validated, when it was compiled, so they are compiled without the validator, which
 * then stays out of the handler bundles.
 */
export function buildCompiledCatalogRouter(compiled: CompiledCatalog): Router {
  const routes: Route[] = [];
  for (const rule of compiled.rules) {
    if (rule.target.kind !== "dispatch") continue;
    const job = compiled.catalog.jobs[rule.target.job]!;
    const { triggerIndex } = rule.target;
    routes.push({ job, trigger: job.triggers[triggerIndex]!, triggerIndex, pattern: rule.pattern, compiled: compileValidatedPattern(rule.pattern) });
  }
  return routerOver(compiled.catalog, routes);
}

function routerOver(catalog: Catalog, routes: readonly Route[]): Router {
  const index = new CompiledPatternIndex<Route>();
  for (const route of routes) index.addCompiled(route.compiled, route);
  return { catalog, routes, match: (event) => index.match(event) };
}
