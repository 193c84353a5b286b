/**
 * berth.yml text → resolved, frozen Catalog, or every problem in the file at
 * once, each with file, line, column and field path. Pure: the caller reads
 * the file.
 */
import { LineCounter, parseDocument, isAlias, isMap, isPair, isSeq, isScalar, visit, type Document, type Node } from "yaml";
import type { z } from "zod";
import { catalogSchema, type RawCatalog } from "./schema.ts";
import { compareIssues, formatIssue, formatPath, type CatalogIssue, type PathSegment } from "./issues.ts";
import { resolveCatalog } from "./resolve.ts";
import type { Catalog } from "./types.ts";
import { ConfigurationError, failure, type Failure } from "../errors.ts";

/** A failure carries every problem in the file, in file order, as `error.issues`. */
export type LoadResult = { readonly ok: true; readonly catalog: Catalog } | Failure<ConfigurationError>;

/** Larger catalogs are a mistake (or an attack), not a workload. */
const MAX_CATALOG_BYTES = 1024 * 1024;
/**
 * A catalog is parsed once per process: zod's compiled fast path (built with `new Function` on first use) costs
 * more to build than one parse saves, so each parse skips it.
 */
const JITLESS = { jitless: true } as const;

/**
 * YAML syntax errors shown for one file: the first is the one to fix (the rest often follow from it, an
 * unclosed `[` yields one per later line), a few more help when they are independent.
 */
const MAX_SYNTAX_ERRORS = 3;

/** Aliases expanded when the document becomes data: more is a "billion laughs" file, not a catalog. */
const MAX_ALIAS_COUNT = 100;

export function loadCatalog(text: string, file: string): LoadResult {
  if (text.length > MAX_CATALOG_BYTES) {
    return fail([{ file, line: 0, col: 0, path: "", message: `the file is ${text.length} characters; berth.yml is limited to ${MAX_CATALOG_BYTES}` }]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const shown = doc.errors.slice(0, MAX_SYNTAX_ERRORS).map((e): CatalogIssue => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { file, line: pos.line, col: pos.col, path: "", message: yamlMessage(e.message) };
    });
    const hidden = doc.errors.length - shown.length;
    if (hidden > 0) {
      const last = shown[shown.length - 1]!;
      shown.push({ ...last, message: `${hidden} more YAML error${hidden === 1 ? "" : "s"} after this one, likely caused by the first; fix it and validate again` });
    }
    return fail(shown);
  }
  let data: unknown;
  try {
    const hostile = hostileStructure(doc, lineCounter, file);
    if (hostile !== undefined) return fail([hostile]);
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof ReferenceError) {
      // What the yaml library throws when expanding aliases would pass maxAliasCount.
      const pos = lineCounter.linePos(firstAliasOffset(doc));
      return fail([{ file, line: pos.line, col: pos.col, path: "", message: `invalid YAML: ${error.message}: its aliases (*name) expand past ${MAX_ALIAS_COUNT} nodes; write the values out instead` }]);
    }
    if (error instanceof RangeError) return fail([{ file, line: 0, col: 0, path: "", message: "invalid YAML: the document nests too deeply to read" }]);
    throw error;
  }
  if (data === null || data === undefined) {
    return fail([{ file, line: 0, col: 0, path: "", message: "the file is empty; start with `version: 1`, `service: <name>` and `jobs:`" }]);
  }
  const at = (path: readonly PathSegment[], onKey = false) => locate(doc, lineCounter, path, onKey);

  const toIssue = (i: { path: readonly PathSegment[]; message: string; onKey?: boolean }): CatalogIssue => ({
    file,
    ...at(i.path, i.onKey ?? false),
    path: formatPath(i.path),
    message: i.message,
  });

  const parsed = catalogSchema.safeParse(data, JITLESS);
  let valid: RawCatalog | undefined = parsed.success ? parsed.data : undefined;
  const schemaProblems = parsed.success ? [] : schemaIssues(parsed.error.issues, data);
  const jobsData = (data as { jobs?: unknown }).jobs;
  const allJobs = jobsData !== null && typeof jobsData === "object" ? Object.keys(jobsData) : [];
  if (!parsed.success) valid = checkableRest(data, parsed.error.issues, schemaProblems);
  const resolved = valid ? resolveCatalog(valid, file, allJobs) : undefined;
  const issues = [...schemaProblems.map(toIssue), ...(resolved && !resolved.ok ? resolved.error.issues.map(toIssue) : [])];
  if (issues.length > 0 || !resolved?.ok) return fail(issues);
  return { ok: true, catalog: resolved.catalog };
}

/**
 * A mapping key that is itself a mapping or a list (`? { a: 1 }: x`): berth.yml never needs one, and the
 * yaml library turns such keys into strings by serializing them, which nested or aliased keys make
 * exponential. Found on the syntax tree, before any value is built.
 */
function hostileStructure(doc: Document, lc: LineCounter, file: string): CatalogIssue | undefined {
  let found: CatalogIssue | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (!isPair(pair) || pair.key === null || isScalar(pair.key)) return undefined;
      const offset = (pair.key as Node).range?.[0] ?? 0;
      const pos = lc.linePos(offset);
      const what = isAlias(pair.key) ? "an alias" : isMap(pair.key) ? "a mapping" : "a list";
      found = { file, line: pos.line, col: pos.col, path: "", message: `invalid YAML: a mapping key is ${what}; keys in berth.yml are plain names` };
      return visit.BREAK;
    },
  });
  return found;
}

function firstAliasOffset(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/**
 * What of a catalog that failed its schema can still be checked, so the user sees every problem at once:
 * unknown fields dropped (they change nothing else), then jobs with other schema problems left out, when
 * every remaining problem sits inside some job. Undefined when nothing can be checked.
 */
function checkableRest(data: unknown, zodIssues: readonly z.core.$ZodIssue[], problems: readonly FlatIssue[]): RawCatalog | undefined {
  let rest = structuredClone(data) as Record<string, unknown>;
  for (const issue of zodIssues) {
    if (issue.code !== "unrecognized_keys") continue;
    const holder = valueAt(rest, issue.path as PathSegment[]);
    if (holder !== null && typeof holder === "object") for (const key of issue.keys) delete (holder as Record<string, unknown>)[key];
  }
  const remaining = problems.filter((i) => i.unknownField !== true);
  if (remaining.length > 0) {
    if (!remaining.every((i) => i.path[0] === "jobs" && i.path.length >= 2)) return undefined;
    const broken = new Set(remaining.map((i) => String(i.path[1])));
    const jobs = rest.jobs as Record<string, unknown>;
    rest = { ...rest, jobs: Object.fromEntries(Object.entries(jobs).filter(([k]) => !broken.has(k))) };
  }
  const again = catalogSchema.safeParse(rest, JITLESS);
  return again.success ? again.data : undefined;
}

function fail(issues: CatalogIssue[]): LoadResult {
  const sorted = [...issues].sort(compareIssues);
  return failure(new ConfigurationError(sorted.map(formatIssue).join("; "), { issues: sorted }));
}

/** The yaml library's first line is the useful part; the rest is a code frame we print ourselves. */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  // The parser reports running out of stack as an error of its own: the document nests too deeply.
  if (first.startsWith("Maximum call stack size exceeded")) return "invalid YAML: the document nests too deeply to read";
  return `invalid YAML: ${first.replace(/ at line \d+, column \d+:?$/, "")}`;
}

interface FlatIssue {
  readonly path: readonly PathSegment[];
  readonly message: string;
  readonly onKey: boolean;
  /** A field the schema does not know: dropping it leaves the rest checkable. */
  readonly unknownField?: boolean;
}

/** Zod issues → one message per problem, unions narrowed to the branch the user evidently meant. */
function schemaIssues(issues: readonly z.core.$ZodIssue[], data: unknown, prefix: readonly PathSegment[] = []): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: [...path, key], message: issue.message, onKey: true, unknownField: true });
      continue;
    }
    if ((issue.code === "invalid_type" || issue.code === "invalid_union") && valueAt(data, path) === undefined) {
      const field = path[path.length - 1];
      out.push({ path, message: `required field "${String(field)}" is missing`, onKey: false });
      continue;
    }
    if (issue.code === "invalid_union") {
      const value = valueAt(data, path);
      // Branches that accepted the value's type but failed inside it say more than "expected one of …".
      const sameType = issue.errors.filter((branch) => !branch.some((e) => e.code === "invalid_type" && e.path.length === 0));
      const closest = sameType.length === 1 ? sameType[0]! : undefined;
      if (closest && typeof value === "object" && value !== null) {
        out.push(...schemaIssues(closest, data, path));
        continue;
      }
    }
    if (issue.code === "invalid_key") {
      out.push({ path, message: humanize(issue.issues[0]?.message ?? issue.message), onKey: true });
      continue;
    }
    out.push({ path, message: humanize(issue.message), onKey: false });
  }
  return out;
}

function humanize(message: string): string {
  return message.replace(/^Invalid input: /, "").replace(/^Invalid option: /, "");
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/**
 * Position of the node at `path`: its key when the problem is the key itself
 * or the node is a mapping or list (`jobs.j:` reads better than its first
 * child); when the path does not exist (a missing field), the deepest
 * existing ancestor — that is where the field belongs.
 */
function locate(doc: Document, lc: LineCounter, path: readonly PathSegment[], onKey: boolean): { line: number; col: number } {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node | null;
      const valueNode = pair.value as Node | null;
      const collection = isMap(valueNode) || isSeq(valueNode);
      if (last && (onKey || collection) && keyNode?.range) {
        offset = keyNode.range[0];
        break;
      }
      offset = valueNode?.range?.[0] ?? keyNode?.range?.[0] ?? offset;
      node = valueNode;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined;
      if (!item?.range) break;
      offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  const pos = lc.linePos(offset);
  return { line: pos.line, col: pos.col };
}
