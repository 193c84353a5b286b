import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { formatIssue } from "../../../src/core/catalog/issues.ts";

/** The catalog `text` loads to; any issue fails the test, listing them all. */
export function load(text: string) {
  const r = loadCatalog(text, "berth.yml");
  if (!r.ok) throw new Error(r.error.issues.map(formatIssue).join("\n"));
  return r.catalog;
}

/** The issues `text` is rejected with, formatted as every command prints them. */
export function issuesOf(text: string): string[] {
  const r = loadCatalog(text, "berth.yml");
  if (r.ok) throw new Error("expected the catalog to be rejected");
  return r.error.issues.map(formatIssue);
}
