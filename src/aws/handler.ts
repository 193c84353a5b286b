/**
 * The Lambda side of the error taxonomy, in one place: every function in handlers/ is a
 * `lambdaHandler`. What an invocation throws is sorted by class, AWS errors an adapter passed
 * on translated first (src/aws/errors.ts):
 *
 * | error                  | log line | Lambda gets                                                             |
 * |------------------------|----------|-------------------------------------------------------------------------|
 * | TransientError         | warn     | the error, thrown: Lambda retries it, then dead-letters the event       |
 * | ConfigurationError     | error    | the error, thrown: after Lambda's retries the event waits in the        |
 * |                        |          | dead-letter queue until the deployment is fixed and it is sent again    |
 * | anything else (a bug)  | error    | the error, thrown, with the stack in the log line: the event is kept in |
 * |                        |          | the dead-letter queue, not lost (a redelivery launches nothing twice)   |
 * | ValidationError        | error    | the handler's answer: the same input fails the same way every time      |
 * | NotFoundError          | warn     | the handler's answer                                                    |
 * | ConflictError          | info     | the handler's answer: another writer won, the work is done              |
 * | InvalidTransitionError | info     | the handler's answer: a stale event                                     |
 *
 * A malformed event is answered, never thrown: retrying it would only loop. Everything that may
 * succeed later, or after a fix, is thrown so that it ends in the function's dead-letter queue.
 *
 * At cold start (`init`: compose reads the environment and the compiled catalog) any error is
 * logged and thrown: the function cannot start, and Lambda says so on every invocation until
 * the configuration, whose message names the variable to fix, is corrected.
 */
import type { Context } from "aws-lambda";
import { ConflictError, InvalidTransitionError, NotFoundError, TransientError, ValidationError, type BerthError } from "../core/errors.ts";
import { asBerthError } from "./errors.ts";
import { logger, type Log, type LogLevel } from "./log.ts";

export interface HandlerSpec<D, I, O, F> {
  /** Builds what every invocation uses, once per container. */
  readonly init: () => D;
  readonly handle: (deps: D, input: I, log: Log) => Promise<O>;
  /** The answer to an invocation whose input can never succeed (malformed, stale, already done). */
  readonly answer: (error: Error, input: I) => F;
  /** Fields that name the input in every log line of its invocation (event id, task ARN). */
  readonly describe?: (input: I) => Record<string, unknown>;
}

export type LambdaContext = Pick<Context, "awsRequestId" | "functionName">;

/** Errors that settle the invocation: the input itself is the problem, or the work is already done. */
function settles(error: BerthError | undefined): boolean {
  return error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError || error instanceof InvalidTransitionError;
}

function levelOf(error: BerthError | undefined): LogLevel {
  if (error instanceof TransientError || error instanceof NotFoundError) return "warn";
  if (error instanceof ConflictError || error instanceof InvalidTransitionError) return "info";
  return "error";
}

function errorFields(thrown: unknown, error: BerthError | undefined): Record<string, unknown> {
  if (error === undefined) return { error: thrown instanceof Error ? thrown.name : typeof thrown, stack: thrown instanceof Error ? thrown.stack : String(thrown) };
  const wait = error instanceof TransientError ? error.retryAfterMs : undefined;
  return { error: error.name, code: error.code, retryable: error.retryable, ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
}

const asError = (thrown: unknown): Error => (thrown instanceof Error ? thrown : new Error(String(thrown)));

export function lambdaHandler<D, I, O, F>(spec: HandlerSpec<D, I, O, F>): (input: I, context?: LambdaContext) => Promise<O | F> {
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
  let deps: D;
  try {
    deps = spec.init();
  } catch (thrown) {
    logger({ function: functionName })("error", asError(thrown).message, errorFields(thrown, asBerthError(thrown)));
    throw thrown;
  }
  return async (input, context) => {
    const log = logger({ requestId: context?.awsRequestId, function: context?.functionName ?? functionName, ...spec.describe?.(input) });
    try {
      return await spec.handle(deps, input, log);
    } catch (thrown) {
      const error = asBerthError(thrown);
      log(levelOf(error), error?.message ?? `unexpected error: ${asError(thrown).message}`, errorFields(thrown, error));
      if (!settles(error)) throw error ?? thrown;
      return spec.answer(error as BerthError, input);
    }
  };
}
