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
 * Whatever is thrown is logged first, with the stack when it is a bug; an error that is answered
 * is logged too. The error is the line's `error` key: `{ name, code, message, retryable }` for
 * berth's classes (and `retryAfterMs`, `cause`), `{ name, location, message, stack }` for a bug.
 *
 * At cold start (`init`: compose reads the environment and the compiled catalog) any error is
 * logged and thrown: the function cannot start, and Lambda says so on every invocation until
 * the configuration, whose message names the variable to fix, is corrected.
 *
 * An invocation's waits on AWS end `INVOCATION_MARGIN_MS` before Lambda would stop it (invocation.ts).
 *
 * Every line of an invocation carries the Lambda context (request id, function name, cold start)
 * and the fields `describe` names the input by; the logger is the container's, its
 * per-invocation keys reset when the invocation ends (log.ts).
 */
import type { Context } from "aws-lambda";
import { ConflictError, InvalidTransitionError, NotFoundError, TransientError, ValidationError, type BerthError } from "../core/errors.ts";
import { asBerthError } from "./errors.ts";
import { lambdaDeadline, withDeadline } from "./invocation.ts";
import { createLogger, logTo, type Log, type LogLevel } from "./log.ts";

export interface HandlerSpec<D, I, O, F> {
  /** Builds what every invocation uses, once per container; `log` is the container's. */
  readonly init: (log: Log) => D;
  readonly handle: (deps: D, input: I, log: Log) => Promise<O>;
  /**
   * The answer to an invocation whose input can never succeed (malformed, stale, already done).
   * What it throws is thrown, logged like any error.
   */
  readonly answer: (error: BerthError, input: I, deps: D, log: Log) => F | Promise<F>;
  /** Fields that name the input in every log line of its invocation (event id, task ARN). */
  readonly describe?: (input: I) => Record<string, unknown>;
}

/** What the wrapper reads of Lambda's context; Lambda passes the whole of it. */
export type LambdaContext = Pick<Context, "awsRequestId" | "functionName"> & Partial<Context>;

/** Errors that settle the invocation: the input itself is the problem, or the work is already done. */
function settles(error: BerthError | undefined): error is BerthError {
  return error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError || error instanceof InvalidTransitionError;
}

function levelOf(error: BerthError | undefined): LogLevel {
  if (error instanceof TransientError || error instanceof NotFoundError) return "warn";
  if (error instanceof ConflictError || error instanceof InvalidTransitionError) return "info";
  return "error";
}

function errorFields(thrown: unknown, error: BerthError | undefined): Record<string, unknown> {
  if (error === undefined) return { error: thrown instanceof Error ? thrown : { name: typeof thrown, message: String(thrown) } };
  const wait = error instanceof TransientError ? error.retryAfterMs : undefined;
  const cause = error.cause instanceof Error ? { cause: { name: error.cause.name, message: error.cause.message } } : {};
  return { error: { name: error.name, code: error.code, message: error.message, retryable: error.retryable, ...(wait !== undefined ? { retryAfterMs: wait } : {}), ...cause } };
}

const messageOf = (thrown: unknown, error: BerthError | undefined): string =>
  error?.message ?? `unexpected error: ${thrown instanceof Error ? thrown.message : String(thrown)}`;

export function lambdaHandler<D, I, O, F>(spec: HandlerSpec<D, I, O, F>): (input: I, context?: LambdaContext) => Promise<O | F> {
  const logger = createLogger();
  const log = logTo(logger);
  let deps: D;
  try {
    deps = spec.init(log);
  } catch (thrown) {
    const error = asBerthError(thrown);
    log("error", messageOf(thrown, error), { function_name: process.env.AWS_LAMBDA_FUNCTION_NAME, ...errorFields(thrown, error) });
    throw thrown;
  }
  const settle = async (input: I): Promise<O | F> => {
    try {
      return await spec.handle(deps, input, log);
    } catch (thrown) {
      const error = asBerthError(thrown);
      if (!settles(error)) throw thrown;
      log(levelOf(error), messageOf(thrown, error), errorFields(thrown, error));
      return await spec.answer(error, input, deps, log);
    }
  };
  return async (input, context) => {
    if (context) logger.addContext(context as Context);
    logger.appendKeys(spec.describe?.(input) ?? {});
    // Waits on AWS (a throttled launch re-sent) end while the invocation still has time to store what came back.
    const deadline = lambdaDeadline(context, Date.now());
    try {
      return await (deadline === undefined ? settle(input) : withDeadline(deadline, () => settle(input)));
    } catch (thrown) {
      const error = asBerthError(thrown);
      log(levelOf(error), messageOf(thrown, error), errorFields(thrown, error));
      throw error ?? thrown;
    } finally {
      logger.resetKeys();
    }
  };
}
