/**
 * The catalog compiled for routing: one route per (job, trigger), each with
 * its EventBridge pattern compiled once and indexed, so an event finds the
 * jobs it fires without testing every pattern.
 */
import type { Catalog, Job, Trigger } from "./catalog/types.ts";
import type { EventPattern } from "./match/types.ts";
import { triggerPattern } from "./catalog/patterns.ts";
import { compilePattern, explainMismatch, type CompiledPattern } from "./match/compile.ts";
import { PatternIndex } from "./match/index.ts";

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
  /** Why `route` does not fire for `event`; undefined when it does. */
  whyNot(route: Route, event: unknown): string | undefined;
}

export function buildRouter(catalog: Catalog): Router {
  const routes: Route[] = [];
  const index = new PatternIndex<Route>();
  for (const job of Object.values(catalog.jobs)) {
    job.triggers.forEach((trigger, triggerIndex) => {
      const pattern = triggerPattern(trigger, catalog.service, job.name);
      const route: Route = { job, trigger, triggerIndex, pattern, compiled: compilePattern(pattern) };
      routes.push(route);
      index.add(pattern, route);
    });
  }
  return {
    catalog,
    routes,
    match: (event) => index.match(event),
    whyNot: (route, event) => explainMismatch(route.compiled, event),
  };
}
