/** Terminal output: colour on a TTY (never with NO_COLOR; always with FORCE_COLOR=1), plain text otherwise. */
import pc from "picocolors";

const force = process.env.FORCE_COLOR;
const enabled =
  force !== undefined ? force !== "0" && force !== "false" : process.stdout.isTTY === true && !("NO_COLOR" in process.env) && process.env.TERM !== "dumb";
export const c = pc.createColors(enabled);

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Visible width, ignoring colour escapes. */
function width(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** Aligned columns; the last column is not padded. */
export function table(rows: readonly (readonly string[])[], indent = ""): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, width(cell))));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - width(cell)))).join("  "))
    .join("\n");
}

export function indentLines(text: string, indent: string): string {
  return text
    .split("\n")
    .map((l) => indent + l)
    .join("\n");
}

/** A user mistake: print what to do, exit with `code`, no stack trace. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
