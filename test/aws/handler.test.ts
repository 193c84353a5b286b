/** The Lambda wrapper's table: which errors are thrown for Lambda to retry, which are answered, at which log level. */
import { ECSServiceException } from "@aws-sdk/client-ecs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AwsSetupError } from "../../src/aws/errors.ts";
import { lambdaHandler } from "../../src/aws/handler.ts";
import { ConfigurationError, ConflictError, InvalidTransitionError, NotFoundError, TransientError, ValidationError } from "../../src/core/errors.ts";

const context = { awsRequestId: "c0ffee00-0000-4000-8000-000000000001", functionName: "berth-prod-dispatch" };

let lines: { stream: string; line: Record<string, unknown> }[];
beforeEach(() => {
  lines = [];
  for (const stream of ["log", "warn", "error"] as const) {
    vi.spyOn(console, stream).mockImplementation((text: string) => lines.push({ stream, line: JSON.parse(text) as Record<string, unknown> }));
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

function failingWith(error: unknown) {
  return lambdaHandler({
    init: () => ({ calls: 0 }),
    describe: (input: { id: string }) => ({ eventId: input.id }),
    handle: async () => {
      throw error;
    },
    answer: (e) => ({ answered: e.message }),
  });
}

describe("lambdaHandler", () => {
  it("answers with the handler's result and logs through the invocation's logger", async () => {
    const handler = lambdaHandler({
      init: () => ({ greeting: "hello" }),
      describe: (input: { id: string }) => ({ eventId: input.id }),
      handle: async (deps, input, log) => {
        log("info", "handled", { extra: 1 });
        return `${deps.greeting} ${input.id}`;
      },
      answer: () => "failed",
    });
    expect(await handler({ id: "e-1" }, context)).toBe("hello e-1");
    expect(lines).toEqual([
      {
        stream: "log",
        line: { level: "info", message: "handled", requestId: context.awsRequestId, function: context.functionName, eventId: "e-1", extra: 1, time: expect.any(String) },
      },
    ]);
  });

  it("throws a TransientError so Lambda retries the event, logging a warning", async () => {
    const error = new TransientError("DynamoDB is throttling", { retryAfterMs: 2000 });
    await expect(failingWith(error)({ id: "e-1" }, context)).rejects.toBe(error);
    expect(lines).toEqual([
      {
        stream: "warn",
        line: expect.objectContaining({ level: "warn", error: "TransientError", code: "TRANSIENT", retryable: true, retryAfterMs: 2000, requestId: context.awsRequestId, eventId: "e-1" }),
      },
    ]);
  });

  it("translates an AWS error an adapter passed on: throttling is thrown as a TransientError", async () => {
    const throttled = new ECSServiceException({ name: "ThrottlingException", message: "Rate exceeded", $fault: "client", $metadata: { httpStatusCode: 400 } });
    const thrown = await failingWith(throttled)({ id: "e-1" }, context).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientError);
    expect((thrown as TransientError).cause).toBe(throttled);
  });

  it.each([
    { what: "a ValidationError (a malformed event)", error: new ValidationError("detail.taskArn must be a string"), level: "error", name: "ValidationError" },
    { what: "a NotFoundError", error: new NotFoundError("no run r1"), level: "warn", name: "NotFoundError" },
    { what: "a ConflictError", error: new ConflictError("run id taken"), level: "info", name: "ConflictError" },
    { what: "an InvalidTransitionError", error: new InvalidTransitionError("SUCCEEDED", "RUNNING"), level: "info", name: "InvalidTransitionError" },
  ])("answers $what instead of throwing it into Lambda's retries, logged at $level", async ({ error, level, name }) => {
    const answer = await failingWith(error)({ id: "e-1" }, context);
    expect(answer).toEqual({ answered: expect.stringContaining(error.message) });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.line).toMatchObject({ level, error: name, retryable: false, requestId: context.awsRequestId, function: context.functionName, eventId: "e-1" });
  });

  it.each([
    { what: "a ConfigurationError", error: new ConfigurationError("failed to publish to event bus berth: no such bus"), name: "ConfigurationError" },
    { what: "an AwsSetupError", error: new AwsSetupError("no AWS credentials were found", "credentials", undefined), name: "ConfigurationError" },
    {
      what: "an AWS refusal passed on untranslated (a missing table)",
      error: new ECSServiceException({ name: "ResourceNotFoundException", message: "Requested resource not found", $fault: "client", $metadata: { httpStatusCode: 400 } }),
      name: "ConfigurationError",
    },
  ])("throws $what, logged as an error, so the event ends in the dead-letter queue until the deployment is fixed", async ({ error, name }) => {
    const thrown = await failingWith(error)({ id: "e-1" }, context).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toContain(error.message);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.line).toMatchObject({ level: "error", error: name, retryable: false, requestId: context.awsRequestId, eventId: "e-1" });
  });

  it("throws a bug, logging it as an error with its stack, so the event is kept in the dead-letter queue", async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const thrown = await failingWith(bug)({ id: "e-1" }, context).catch((e: unknown) => e);
    expect(thrown).toBe(bug);
    expect(lines[0]).toMatchObject({
      stream: "error",
      line: { level: "error", message: "unexpected error: Cannot read properties of undefined (reading 'id')", error: "TypeError", stack: expect.stringContaining("TypeError") },
    });
  });

  it("builds its dependencies once, at cold start, not per invocation", async () => {
    let builds = 0;
    const handler = lambdaHandler({ init: () => ++builds, handle: async (n: number) => n, answer: () => 0 });
    expect([await handler(undefined), await handler(undefined)]).toEqual([1, 1]);
    expect(builds).toBe(1);
  });

  it("a cold start that fails is logged with the function's name and thrown, so the function does not start", () => {
    vi.stubEnv("AWS_LAMBDA_FUNCTION_NAME", "berth-prod-track");
    const error = new ConfigurationError("berth cannot start: BERTH_TABLE is not set: it names the DynamoDB table that holds berth's runs");
    expect(() => lambdaHandler({ init: () => { throw error; }, handle: async () => 0, answer: () => 0 })).toThrow(error);
    expect(lines).toEqual([
      { stream: "error", line: expect.objectContaining({ level: "error", message: error.message, error: "ConfigurationError", code: "CONFIGURATION", function: "berth-prod-track" }) },
    ]);
  });
});
