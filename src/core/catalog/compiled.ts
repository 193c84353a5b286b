/**
 * The compiled catalog: the resolved catalog plus one EventBridge rule per
 * trigger, as JSON. `berth compile` writes it; the Lambda handlers read it
 * at cold start (no YAML parsing or schema validation in the functions) and
 * the deployment template takes its rules from it.
 */
import type { Catalog } from "./types.ts";
import type { EventPattern } from "../match/types.ts";
import { triggerPattern } from "./patterns.ts";

export const COMPILED_FORMAT = "berth-catalog/1";

export interface CompiledRule {
  readonly job: string;
  readonly triggerIndex: number;
  readonly trigger: string;
  readonly pattern: EventPattern;
  /** Event bus of the rule; absent: the default bus. */
  readonly bus?: string;
}

export interface CompiledCatalog {
  readonly format: typeof COMPILED_FORMAT;
  readonly catalog: Catalog;
  readonly rules: readonly CompiledRule[];
}

export function compileCatalog(catalog: Catalog): CompiledCatalog {
  const rules: CompiledRule[] = [];
  for (const job of Object.values(catalog.jobs)) {
    job.triggers.forEach((t, triggerIndex) => {
      rules.push({ job: job.name, triggerIndex, trigger: t.kind, pattern: triggerPattern(t, catalog.service, job.name), ...(t.kind === "event" && t.bus ? { bus: t.bus } : {}) });
    });
  }
  return { format: COMPILED_FORMAT, catalog, rules };
}

export function readCompiledCatalog(value: unknown, source: string): { ok: true; catalog: Catalog } | { ok: false; error: string } {
  const v = value as Partial<CompiledCatalog> | null;
  if (v === null || typeof v !== "object" || v.format !== COMPILED_FORMAT) {
    return { ok: false, error: `${source} is not a compiled berth catalog (format ${COMPILED_FORMAT}); create it with \`berth compile -o ${source}\`` };
  }
  const c = v.catalog;
  if (!c || typeof c !== "object" || c.version !== 1 || typeof c.service !== "string" || !c.jobs || typeof c.jobs !== "object") {
    return { ok: false, error: `${source} has no valid catalog inside; compile it again with \`berth compile\`` };
  }
  return { ok: true, catalog: c };
}
