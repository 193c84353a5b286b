/**
 * `${name}` templates for berth.yml strings (command items, environment
 * values, deploy images).
 *
 * Syntax, scanned left to right:
 * - `${name}` is a reference; `name` is one or more segments of letters,
 *   digits, `_` and `-`, joined by `.` (`s3.key`, `event.detail.repository-name`).
 * - `$${` is a literal `${`.
 * - any other `$` is literal.
 *
 * Rendering substitutes values verbatim: a value is never re-scanned for
 * `${`, never quoted, never passed through a shell. That is what makes a
 * hostile S3 key (`a b/$(rm -rf ~);'x'.png`) harmless: it arrives in argv or
 * the environment as exactly those bytes.
 */
import { failure, MissingVariablesError, TemplateSyntaxError, type Failure } from "../errors.ts";

export type TemplatePart =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "var"; readonly name: string };

export interface Template {
  readonly source: string;
  /** Distinct variable names, in order of first appearance. */
  readonly variables: readonly string[];
  readonly parts: readonly TemplatePart[];
}

export type ParseTemplateResult = { readonly ok: true; readonly template: Template } | Failure<TemplateSyntaxError>;

export type RenderTemplateResult = { readonly ok: true; readonly value: string } | Failure<MissingVariablesError>;

const NAME_CHAR = /[A-Za-z0-9_-]/;
const NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Whether `name` is a valid variable name (the part between `${` and `}`). */
export function isVariableName(name: string): boolean {
  return NAME.test(name);
}

export function parseTemplate(source: string): ParseTemplateResult {
  const parts: TemplatePart[] = [];
  const variables: string[] = [];
  let text = "";
  let i = 0;

  while (i < source.length) {
    if (source.startsWith("$${", i)) {
      text += "${";
      i += 3;
      continue;
    }
    if (!source.startsWith("${", i)) {
      text += source[i];
      i += 1;
      continue;
    }

    const start = i;
    const close = source.indexOf("}", start + 2);
    if (close === -1) {
      return fail(
        start,
        `unclosed "\${" at offset ${start}: add the closing "}", or write "$\${" for a literal "\${"`,
      );
    }
    const name = source.slice(start + 2, close);
    const problem = checkName(name, start + 2);
    if (problem) return failure(problem);

    if (text !== "") parts.push({ kind: "text", text });
    text = "";
    parts.push({ kind: "var", name });
    if (!variables.includes(name)) variables.push(name);
    i = close + 1;
  }
  if (text !== "") parts.push({ kind: "text", text });

  return { ok: true, template: { source, variables, parts } };
}

function checkName(name: string, nameOffset: number): TemplateSyntaxError | undefined {
  const refOffset = nameOffset - 2;
  if (name === "") {
    return new TemplateSyntaxError(
      `empty variable reference "\${}" at offset ${refOffset}: name a variable such as \${s3.key}, or write "$\${" for a literal "\${"`,
      refOffset,
    );
  }
  for (let j = 0; j < name.length; j += 1) {
    const ch = name[j] as string;
    const at = nameOffset + j;
    if (ch === ".") {
      if (j === 0 || j === name.length - 1 || name[j + 1] === ".") {
        return new TemplateSyntaxError(
          `invalid variable name "${name}" at offset ${refOffset}: empty segment at offset ${at}; names are segments of letters, digits, "_" and "-" separated by single dots (e.g. s3.key)`,
          at,
        );
      }
      continue;
    }
    if (!NAME_CHAR.test(ch)) {
      return new TemplateSyntaxError(
        `invalid variable name "${name}" at offset ${refOffset}: character ${JSON.stringify(ch)} at offset ${at} is not allowed; names use letters, digits, "_", "-" and "." (e.g. params.index)`,
        at,
      );
    }
  }
  return undefined;
}

function fail(offset: number, message: string): ParseTemplateResult {
  return failure(new TemplateSyntaxError(message, offset));
}

export function renderTemplate(
  t: Template,
  lookup: (name: string) => string | undefined,
): RenderTemplateResult {
  const missing: string[] = [];
  let value = "";
  for (const part of t.parts) {
    if (part.kind === "text") {
      value += part.text;
      continue;
    }
    const v = lookup(part.name);
    if (v === undefined) {
      if (!missing.includes(part.name)) missing.push(part.name);
      continue;
    }
    value += v;
  }
  return missing.length > 0 ? failure(new MissingVariablesError(missing)) : { ok: true, value };
}
