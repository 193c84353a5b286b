/**
 * The error taxonomy. Adapters translate SDK and IO errors into these classes;
 * handlers map class → behaviour (fail, dead-letter, ignore, retry) in one
 * place. `retryable` answers the only question a caller has to ask: will the
 * same call succeed later without anyone changing anything?
 *
 * Class names are set explicitly because bundlers rename classes and logs
 * must still say which kind of error happened.
 */
import type { CatalogIssue } from "./catalog/issues.ts";
import type { PatternIssue } from "./match/validate.ts";

export type BerthErrorCode =
  | "CONFIGURATION"
  | "VALIDATION"
  | "CONFLICT"
  | "NOT_FOUND"
  | "INVALID_TRANSITION"
  | "TRANSIENT";

export abstract class BerthError extends Error {
  abstract readonly code: BerthErrorCode;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * berth.yml or the deployment is wrong: fail at load, never retry. `issues`
 * are located problems: `CatalogIssue`s (file, line, column) from the loader,
 * path-only issues from the resolver, which sees no text.
 */
export class ConfigurationError<I = CatalogIssue> extends BerthError {
  override readonly name = "ConfigurationError";
  readonly code = "CONFIGURATION";
  readonly retryable = false;
  readonly issues: readonly I[];

  constructor(message: string, options?: { issues?: readonly I[]; cause?: unknown }) {
    super(message, options);
    this.issues = options?.issues ?? [];
  }
}

/** Malformed input (event, webhook, request, expression): log it, dead-letter it, do not retry. */
export class ValidationError extends BerthError {
  // `string`, not the literal: subclasses name themselves.
  override readonly name: string = "ValidationError";
  readonly code = "VALIDATION";
  readonly retryable = false;
  /** Dotted path of the offending field, when one field is to blame. */
  readonly field?: string;
  /** Every problem found, each saying where it is; just the message when there is one. */
  readonly problems: readonly string[];

  /** A list of problems (input checked as a whole) becomes the message joined with "; ". */
  constructor(message: string | readonly string[], options?: { field?: string; cause?: unknown }) {
    const problems = typeof message === "string" ? [message] : [...message];
    super(problems.join("; "), options);
    this.problems = Object.freeze(problems);
    if (options?.field !== undefined) this.field = options.field;
  }
}

/** A `${...}` template that does not parse. */
export class TemplateSyntaxError extends ValidationError {
  override readonly name = "TemplateSyntaxError";
  /** Where in the template's source (UTF-16 code units, as JavaScript strings count). */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/** A template rendered with no value for some of its variables. */
export class MissingVariablesError extends ValidationError {
  override readonly name = "MissingVariablesError";
  /** The variable names without a value, in order of first appearance. */
  readonly missing: readonly string[];

  constructor(missing: readonly string[]) {
    super(`no value for ${missing.map((n) => `\${${n}}`).join(", ")}`);
    this.missing = Object.freeze([...missing]);
  }
}

/** An event pattern EventBridge would reject; `issues` lists every problem. */
export class InvalidPatternError extends ValidationError {
  override readonly name = "InvalidPatternError";
  readonly issues: readonly PatternIssue[];

  constructor(issues: readonly PatternIssue[]) {
    super(`invalid event pattern:\n${issues.map((i) => `  - ${i.path === "" ? "(pattern)" : i.path}: ${i.message}`).join("\n")}`);
    this.issues = issues;
  }
}

/**
 * A conditional write lost: someone else wrote first. Carries what is stored
 * now so the caller can treat a duplicate delivery as an idempotent success.
 */
export class ConflictError<T = unknown> extends BerthError {
  override readonly name = "ConflictError";
  readonly code = "CONFLICT";
  readonly retryable = false;
  /** The stored record that won; absent when the store could not return it. */
  readonly existing?: T;

  constructor(message: string, options?: { existing?: T; cause?: unknown }) {
    super(message, options);
    if (options?.existing !== undefined) this.existing = options.existing;
  }
}

export class NotFoundError extends BerthError {
  override readonly name = "NotFoundError";
  readonly code = "NOT_FOUND";
  readonly retryable = false;
}

/** A stale or out-of-order event asked for a move the transition table forbids: ignore it, count it. */
export class InvalidTransitionError extends BerthError {
  override readonly name = "InvalidTransitionError";
  readonly code = "INVALID_TRANSITION";
  readonly retryable = false;
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string, message?: string) {
    super(message ?? `cannot move a run from ${from} to ${to}`);
    this.from = from;
    this.to = to;
  }
}

/** Throttling, 5xx, capacity: the same call may succeed later. */
export class TransientError extends BerthError {
  override readonly name = "TransientError";
  readonly code = "TRANSIENT";
  readonly retryable = true;
  /** The earliest useful retry, when the service said (Retry-After, throttling hints). */
  readonly retryAfterMs?: number;

  constructor(message: string, options?: { retryAfterMs?: number; cause?: unknown }) {
    super(message, options);
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function isBerthError(error: unknown): error is BerthError {
  return error instanceof BerthError;
}

/**
 * The one failure shape of core results: `{ ok: false, error }`, where the
 * error's class says what the caller does with it (its `code`, `retryable`
 * and, for validation errors, the `field` to blame).
 */
export interface Failure<E extends BerthError = BerthError> {
  readonly ok: false;
  readonly error: E;
}

export function failure<E extends BerthError>(error: E): Failure<E> {
  return { ok: false, error };
}
