/** A problem found in berth.yml, with enough position to jump to it in an editor. */
export interface CatalogIssue {
  readonly file: string;
  /** 1-based; 0 when the position is unknown (e.g. an empty file). */
  readonly line: number;
  readonly col: number;
  /** Field path such as `jobs.thumbnails.on.s3.bucket`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

export type PathSegment = string | number;

/** `jobs.a.on.s3[0].bucket`: keys joined by dots, list indexes in brackets. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/** `berth.yml:12:7 jobs.a.run.launch: launch must be …` — the form every command prints. */
export function formatIssue(issue: CatalogIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : issue.file;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

export function compareIssues(a: CatalogIssue, b: CatalogIssue): number {
  return a.line - b.line || a.col - b.col || a.path.localeCompare(b.path);
}
