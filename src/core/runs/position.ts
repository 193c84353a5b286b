/**
 * Where a run's code stands in its job's history, for jobs whose runs
 * supersede one another (`overlap: supersede`, the default of deploy jobs):
 * a newer push replaces an older one, and an older one never follows a newer
 * one, however its delivery was delayed or reordered.
 *
 * "Older" is decided, in this order, by:
 * 1. the push chain: a push whose `before` is another push's `sha` came after
 *    it (exact for every fast-forward push, whatever the clocks say);
 * 2. the head commit's time when the push carries it (GitHub
 *    `head_commit.timestamp`, GitLab the commit `after` names), else when the
 *    event happened (a CodeCommit push or an ECR image push is timed by AWS);
 * 3. the order berth received them (run ids sort by creation time).
 * The same commit (or image digest) twice is neither older nor newer: "same".
 */
import type { Trigger } from "../catalog/types.ts";
import type { BusEvent } from "../events/envelope.ts";
import type { TemplateContext } from "../context/index.ts";

export interface Position {
  /** What the run carries, for reasons: `1a2b3c4`, `image web:v1.4.2`, an event id. */
  readonly label: string;
  /** The commit (or image digest): the same value twice is the same code. */
  readonly sha?: string;
  /** The commit the push moved the ref from. */
  readonly before?: string;
  /** Epoch ms (see the module comment, rule 2). */
  readonly at: number;
}

export type Order = "newer" | "older" | "same";

const ZERO_SHA = /^0+$/;

function epochMs(value: unknown): number | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

const detailOf = (event: BusEvent): Record<string, unknown> =>
  event.detail !== null && typeof event.detail === "object" && !Array.isArray(event.detail) ? (event.detail as Record<string, unknown>) : {};

/** The position of the run a trigger's occurrence asks for; `receivedAt` when the event says nothing of time. */
export function positionOf(trigger: Trigger, context: TemplateContext, event: BusEvent, receivedAt: number): Position {
  const detail = detailOf(event);
  const eventAt = epochMs(event.time) ?? receivedAt;
  // A chained run stands where the run before it stood: a deploy after migrations is ordered by their push.
  const upstream = trigger.kind === "job" ? readPosition(detail.position) : undefined;
  if (upstream) return upstream;
  if (trigger.kind === "git" || (trigger.kind === "job" && context["git.sha"])) {
    const sha = context["git.sha"] ?? "";
    const before = context["git.before"] ?? "";
    return {
      label: context["git.shortSha"] || sha.slice(0, 7) || event.id,
      ...(sha ? { sha } : {}),
      ...(before && !ZERO_SHA.test(before) ? { before } : {}),
      at: epochMs(detail.committedAt) ?? eventAt,
    };
  }
  // An ECR `Image Action` names the pushed image by tag and digest.
  const tag = typeof detail["image-tag"] === "string" ? detail["image-tag"] : undefined;
  const digest = typeof detail["image-digest"] === "string" ? detail["image-digest"] : undefined;
  if (tag !== undefined || digest !== undefined) {
    const repo = typeof detail["repository-name"] === "string" ? `${detail["repository-name"]}` : "image";
    return { label: tag !== undefined ? `${repo}:${tag}` : `${repo}@${digest!.slice(0, 19)}`, ...(digest ? { sha: digest } : {}), at: eventAt };
  }
  return { label: event.id || "event", at: eventAt };
}

/** A position published with a run state change (untrusted: every field checked). */
function readPosition(value: unknown): Position | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.label !== "string" || typeof v.at !== "number" || !Number.isFinite(v.at)) return undefined;
  if ((v.sha !== undefined && typeof v.sha !== "string") || (v.before !== undefined && typeof v.before !== "string")) return undefined;
  return { label: v.label, at: v.at, ...(typeof v.sha === "string" ? { sha: v.sha } : {}), ...(typeof v.before === "string" ? { before: v.before } : {}) };
}

export interface Positioned {
  readonly id: string;
  readonly position?: Position;
}

/**
 * The push chain the job's known runs spell out (each push's `sha` came after
 * its `before`), so that rule 1 also holds across pushes in between: a
 * redelivered push three commits behind the deployed one is older.
 */
export class PushChain {
  readonly #parent = new Map<string, string>();

  constructor(runs: Iterable<Positioned>) {
    for (const r of runs) if (r.position?.sha !== undefined && r.position.before !== undefined) this.#parent.set(r.position.sha, r.position.before);
  }

  /** Whether commit `ancestor` comes before `of` on the chain (bounded: a chain never loops, but input is untrusted). */
  precedes(ancestor: string, of: Position): boolean {
    let at = of.before;
    for (let steps = 0; at !== undefined && steps <= this.#parent.size; steps++) {
      if (at === ancestor) return true;
      at = this.#parent.get(at);
    }
    return false;
  }
}

/** How run `a`'s code relates to run `b`'s (a run without a position, from before positions were kept, is older). */
export function compareRuns(a: Positioned, b: Positioned, chain: PushChain = new PushChain([a, b])): Order {
  const pa = a.position;
  const pb = b.position;
  if (pa && pb) {
    if (pa.sha !== undefined && pa.sha === pb.sha) return "same";
    if (pb.sha !== undefined && chain.precedes(pb.sha, pa)) return "newer";
    if (pa.sha !== undefined && chain.precedes(pa.sha, pb)) return "older";
    if (pa.at !== pb.at) return pa.at > pb.at ? "newer" : "older";
  } else if (pa || pb) {
    return pa ? "newer" : "older";
  }
  if (a.id === b.id) return "same";
  return a.id > b.id ? "newer" : "older";
}

export const labelOf = (run: Positioned): string => run.position?.label ?? `run ${run.id}`;
