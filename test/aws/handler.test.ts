/**
 * The Lambda wrapper: which errors are thrown for Lambda to retry and which are answered, at which
 * log level, and the Powertools log lines every invocation writes.
 */
import { ECSServiceException } from "@aws-sdk/client-ecs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AwsSetupError } from "../../src/aws/errors.ts";
import { lambdaHandler, type LambdaContext } from "../../src/aws/handler.ts";
import { ConfigurationError, ConflictError, InvalidTransitionError, NotFoundError, TransientError, ValidationError } from "../../src/core/errors.ts";

const context: LambdaContext = {
  awsRequestId: "c0ffee00-0000-4000-8000-000000000001",
  functionName: "berth-prod-dispatch",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:berth-prod-dispatch",
  memoryLimitInMB: "1024",
  functionVersion: "$LATEST",
};
const TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793";

type Line = { stream: "stdout" | "stderr"; line: Record<string, unknown> };
let lines: Line[];
beforeEach(() => {
  lines = [];
  for (const stream of ["stdout", "stderr"] as const) {
    vi.spyOn(process[stream], "write").mockImplementation((chunk: string | Uint8Array) => {
      for (const text of String(chunk).split("\n").filter(Boolean)) lines.push({ stream, line: JSON.parse(text) as Record<string, unknown> });
      return true;
    });
  }
  vi.stubEnv("POWERTOOLS_SERVICE_NAME", "berth-acme-jobs");
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "");
  vi.stubEnv("LOG_LEVEL", "");
  vi.stubEnv("AWS_LAMBDA_LOG_LEVEL", "");
  vi.stubEnv("POWERTOOLS_DEV", "");
  vi.stubEnv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
  vi.stubEnv("_X_AMZN_TRACE_ID", `Root=${TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1`);
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

function logging(level: "debug" | "info") {
  return lambdaHandler({
    init: () => ({}),
    describe: (input: { id: string }) => ({ eventId: input.id }),
    handle: async (_deps, input, log) => {
      log(level, "handled", { runId: "01JD0000000000000000000000", job: "thumbnails" });
      return input.id;
    },
    answer: () => "failed",
  });
}

describe("lambdaHandler's log lines", () => {
  it("carry what Powertools adds (level, timestamp, service, Lambda context, X-Ray trace id), the input's fields and the line's own", async () => {
    expect(await logging("info")({ id: "e-1" }, context)).toBe("e-1");
    expect(lines).toEqual([
      {
        stream: "stdout",
        line: {
          level: "INFO",
          message: "handled",
          timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          service: "berth-acme-jobs",
          cold_start: true,
          function_arn: context.invokedFunctionArn,
          function_memory_size: "1024",
          function_name: context.functionName,
          function_request_id: context.awsRequestId,
          sampling_rate: 0,
          xray_trace_id: TRACE_ROOT,
          eventId: "e-1",
          runId: "01JD0000000000000000000000",
          job: "thumbnails",
        },
      },
    ]);
  });

  it("say cold_start only on the container's first invocation, and keep no input's fields for the next", async () => {
    const handler = lambdaHandler({
      init: () => ({}),
      describe: (input: { id?: string }) => (input.id ? { eventId: input.id } : {}),
      handle: async (_deps, _input, log) => log("info", "handled"),
      answer: () => undefined,
    });
    await handler({ id: "e-1" }, context);
    await handler({}, { ...context, awsRequestId: "c0ffee00-0000-4000-8000-000000000002" });
    expect(lines.map((l) => [l.line.cold_start, l.line.function_request_id, l.line.eventId])).toEqual([
      [true, context.awsRequestId, "e-1"],
      [false, "c0ffee00-0000-4000-8000-000000000002", undefined],
    ]);
  });

  it("name the service berth when POWERTOOLS_SERVICE_NAME is not set", async () => {
    vi.stubEnv("POWERTOOLS_SERVICE_NAME", "");
    await logging("info")({ id: "e-1" }, context);
    expect(lines[0]?.line.service).toBe("berth");
  });

  it("leave debug out at the default level, INFO", async () => {
    await logging("debug")({ id: "e-1" }, context);
    expect(lines).toEqual([]);
  });

  it.each(["POWERTOOLS_LOG_LEVEL", "LOG_LEVEL"])("include debug with %s=DEBUG", async (variable) => {
    vi.stubEnv(variable, "DEBUG");
    await logging("debug")({ id: "e-1" }, context);
    expect(lines.map((l) => l.line)).toEqual([expect.objectContaining({ level: "DEBUG", message: "handled" })]);
  });

  it("follow POWERTOOLS_LOG_LEVEL over LOG_LEVEL", async () => {
    vi.stubEnv("POWERTOOLS_LOG_LEVEL", "WARN");
    vi.stubEnv("LOG_LEVEL", "DEBUG");
    await logging("info")({ id: "e-1" }, context);
    expect(lines).toEqual([]);
  });
});

describe("lambdaHandler's error table", () => {
  it("throws a TransientError so Lambda retries the event, logging a warning first", async () => {
    const error = new TransientError("DynamoDB is throttling", { retryAfterMs: 2000 });
    await expect(failingWith(error)({ id: "e-1" }, context)).rejects.toBe(error);
    expect(lines).toEqual([
      {
        stream: "stderr",
        line: expect.objectContaining({
          level: "WARN",
          message: "DynamoDB is throttling",
          error: { name: "TransientError", code: "TRANSIENT", message: "DynamoDB is throttling", retryable: true, retryAfterMs: 2000 },
          function_request_id: context.awsRequestId,
          eventId: "e-1",
        }),
      },
    ]);
  });

  it("translates an AWS error an adapter passed on: throttling is thrown as a TransientError", async () => {
    const throttled = new ECSServiceException({ name: "ThrottlingException", message: "Rate exceeded", $fault: "client", $metadata: { httpStatusCode: 400 } });
    const thrown = await failingWith(throttled)({ id: "e-1" }, context).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientError);
    expect((thrown as TransientError).cause).toBe(throttled);
    expect(lines[0]?.line.error).toMatchObject({ name: "TransientError", cause: { name: "ThrottlingException", message: "Rate exceeded" } });
  });

  it.each([
    { what: "a ValidationError (a malformed event)", error: new ValidationError("detail.taskArn must be a string"), level: "ERROR", name: "ValidationError" },
    { what: "a NotFoundError", error: new NotFoundError("no run r1"), level: "WARN", name: "NotFoundError" },
    { what: "a ConflictError", error: new ConflictError("run id taken"), level: "INFO", name: "ConflictError" },
    { what: "an InvalidTransitionError", error: new InvalidTransitionError("SUCCEEDED", "RUNNING"), level: "INFO", name: "InvalidTransitionError" },
  ])("answers $what instead of throwing it into Lambda's retries, logged at $level", async ({ error, level, name }) => {
    const answer = await failingWith(error)({ id: "e-1" }, context);
    expect(answer).toEqual({ answered: expect.stringContaining(error.message) });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.line).toMatchObject({ level, error: { name, retryable: false }, function_request_id: context.awsRequestId, function_name: context.functionName, eventId: "e-1" });
  });

  it.each([
    { what: "a ConfigurationError", error: new ConfigurationError("failed to publish to event bus berth: no such bus"), name: "ConfigurationError" },
    { what: "an AwsSetupError", error: new AwsSetupError("no AWS credentials were found", "credentials", undefined), name: "ConfigurationError" },
    {
      what: "an AWS refusal passed on untranslated (a missing table)",
      error: new ECSServiceException({ name: "ResourceNotFoundException", message: "Requested resource not found", $fault: "client", $metadata: { httpStatusCode: 400 } }),
      name: "ConfigurationError",
    },
  ])("throws $what, logged as an error first, so the event ends in the dead-letter queue until the deployment is fixed", async ({ error, name }) => {
    const thrown = await failingWith(error)({ id: "e-1" }, context).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toContain(error.message);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ stream: "stderr", line: { level: "ERROR", error: { name, retryable: false }, function_request_id: context.awsRequestId, eventId: "e-1" } });
  });

  it("throws a bug, logging it first as an error with its stack, so the event is kept in the dead-letter queue", async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const thrown = await failingWith(bug)({ id: "e-1" }, context).catch((e: unknown) => e);
    expect(thrown).toBe(bug);
    expect(lines).toEqual([
      {
        stream: "stderr",
        line: expect.objectContaining({
          level: "ERROR",
          message: "unexpected error: Cannot read properties of undefined (reading 'id')",
          error: expect.objectContaining({ name: "TypeError", message: bug.message, stack: expect.stringContaining("TypeError"), location: expect.any(String) }),
        }),
      },
    ]);
  });

  it("throws what the answer throws (the rejected-events queue cannot be reached), logging both errors", async () => {
    const unreachable = new TransientError("failed to send the rejected event to https://sqs.us-east-1.amazonaws.com/1/rejected: ECONNRESET");
    const handler = lambdaHandler({
      init: () => ({}),
      handle: async () => {
        throw new ValidationError("no job named \"nope\" in the catalog");
      },
      answer: async () => {
        throw unreachable;
      },
    });
    await expect(handler({ id: "e-1" }, context)).rejects.toBe(unreachable);
    expect(lines.map((l) => [l.line.level, (l.line.error as { name: string }).name])).toEqual([
      ["ERROR", "ValidationError"],
      ["WARN", "TransientError"],
    ]);
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
      {
        stream: "stderr",
        line: expect.objectContaining({ level: "ERROR", message: error.message, service: "berth-acme-jobs", function_name: "berth-prod-track", error: expect.objectContaining({ name: "ConfigurationError", code: "CONFIGURATION" }) }),
      },
    ]);
  });
});
