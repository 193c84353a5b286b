/**
 * Which jobs watch a push: the catalog's git triggers, matched through the very router dispatch
 * routes with (core/router.ts), so the webhook puts on the bus exactly the pushes a rule of the
 * stack (or the local bus) would deliver to a job, and answers the others 200 with the reason.
 */
import type { Router } from "../router.ts";
import type { PushWatchers } from "./request.ts";

export function gitPushWatchers(router: Pick<Router, "match">): PushWatchers {
  return (event) => router.match(event).flatMap((route) => (route.trigger.kind === "git" ? [route.job.name] : []));
}
