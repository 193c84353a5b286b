/**
 * An event a pattern matches, built from the pattern itself: for every field, its first alternative
 * (a prefix, a suffix or a wildcard made concrete). The stack tests use it to send each trigger's own
 * kind of event through the packaged rules.
 */
import type { EventPattern } from "../../src/core/match/types.ts";

/** A `*` matches anything, "x" included; a backslash makes the character after it literal. */
function concreteWildcard(wildcard: string): string {
  let out = "";
  for (let i = 0; i < wildcard.length; i++) {
    const ch = wildcard[i]!;
    if (ch === "\\" && i + 1 < wildcard.length) out += wildcard[++i];
    else out += ch === "*" ? "x" : ch;
  }
  return out;
}

/** A value `matcher` (a literal, or a prefix, suffix, wildcard or exists matcher) matches. */
export function concrete(matcher: unknown): unknown {
  if (matcher === null || typeof matcher !== "object") return matcher;
  const m = matcher as Record<string, unknown>;
  if (typeof m.prefix === "string") return `${m.prefix}x`;
  if (typeof m.suffix === "string") return `x${m.suffix}`;
  if (typeof m.wildcard === "string") return concreteWildcard(m.wildcard);
  if (m.exists === true) return "x";
  throw new Error(`no concrete value for matcher ${JSON.stringify(matcher)}`);
}

function fill(pattern: EventPattern): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    if (key === "$or") Object.assign(out, fill((value as EventPattern[])[0]!));
    else if (Array.isArray(value)) out[key] = concrete(value[0]);
    else out[key] = fill(value as EventPattern);
  }
  return out;
}

/** A full EventBridge envelope matching `pattern`. */
export function eventMatching(pattern: EventPattern, id: string): Record<string, unknown> {
  const filled = fill(pattern);
  return {
    version: "0",
    id,
    account: "123456789012",
    time: "2024-11-26T18:00:00Z",
    region: "eu-west-1",
    resources: [],
    ...filled,
    detail: filled.detail ?? {},
  };
}
