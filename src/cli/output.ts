/** Terminal output: colour on a TTY (never with NO_COLOR; always with FORCE_COLOR=1), plain text otherwise. */
import pc from "picocolors";
import { BerthError } from "../core/errors.ts";

const force = process.env.FORCE_COLOR;
const enabled =
  force !== undefined ? force !== "0" && force !== "false" : process.stdout.isTTY === true && !("NO_COLOR" in process.env) && process.env.TERM !== "dumb";
export const c = pc.createColors(enabled);

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * JSON for people: like JSON.stringify(v, null, 2), but arrays and objects
 * that fit on one line stay on one line.
 */
export function prettyJson(value: unknown, indent = "", width = 100): string {
  const flat = oneLine(value);
  if (typeof value !== "object" || value === null || indent.length + flat.length <= width) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + prettyJson(v, inner, width)).join(",\n")}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${prettyJson(v, inner, width)}`).join(",\n")}\n${indent}}`;
}

function oneLine(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
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

/**
 * A mistake on the command line, or a request the local runtime turned down: malformed input in
 * the taxonomy's terms (code VALIDATION). main prints the message (none when the command already
 * said why) and exits with `exitCode`, no stack trace.
 */
export class UsageError extends BerthError {
  override readonly name = "UsageError";
  readonly code = "VALIDATION";
  readonly retryable = false;

  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
