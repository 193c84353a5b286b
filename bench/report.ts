/**
 * Benchmarks print their numbers and record them in BENCHMARKS.md, each in its
 * own section between markers, so running one benchmark leaves the others' numbers intact.
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus } from "node:os";

const FILE = new URL("../BENCHMARKS.md", import.meta.url);
const HEADER = "# Benchmarks\n\nNumbers measured by `npm run bench` (each `bench/*.ts` rewrites its own section).\n";

export function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `Node ${process.version}, ${cpus().length} × ${cpu.trim()}`;
}

/** Replace (or append) the section `name` of BENCHMARKS.md with `markdown`. */
export function recordBenchmark(name: string, markdown: string): void {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${markdown.trim()}\n\n_Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}._\n${end}`;
  let text = existsSync(FILE) ? readFileSync(FILE, "utf8") : HEADER;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + block + text.slice(to + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(FILE, text);
}

/** Percentile of an ascending-sorted array (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}
