import { describe, expect, it } from "vitest";
import {
  BerthError,
  ConfigurationError,
  ConflictError,
  InvalidTransitionError,
  NotFoundError,
  TransientError,
  ValidationError,
  isBerthError,
} from "../../src/core/errors.ts";

describe("error taxonomy", () => {
  it.each([
    { error: new ConfigurationError("bad catalog"), name: "ConfigurationError", code: "CONFIGURATION", retryable: false },
    { error: new ValidationError("bad event"), name: "ValidationError", code: "VALIDATION", retryable: false },
    { error: new ConflictError("taken"), name: "ConflictError", code: "CONFLICT", retryable: false },
    { error: new NotFoundError("no run"), name: "NotFoundError", code: "NOT_FOUND", retryable: false },
    { error: new InvalidTransitionError("RUNNING", "PENDING"), name: "InvalidTransitionError", code: "INVALID_TRANSITION", retryable: false },
    { error: new TransientError("throttled"), name: "TransientError", code: "TRANSIENT", retryable: true },
  ])("$name has code $code and retryable=$retryable", ({ error, name, code, retryable }) => {
    expect(error).toBeInstanceOf(BerthError);
    expect(error).toBeInstanceOf(Error);
    expect(isBerthError(error)).toBe(true);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(String(error)).toContain(name);
  });

  it("a conflict carries the record that won the write", () => {
    const existing = { id: "01J", status: "RUNNING" };
    const error = new ConflictError("run already exists", { existing });
    expect(error.existing).toBe(existing);
  });

  it("a transient error carries the retry hint and the cause", () => {
    const cause = new Error("ThrottlingException");
    const error = new TransientError("RunTask throttled", { retryAfterMs: 1500, cause });
    expect(error.retryAfterMs).toBe(1500);
    expect(error.cause).toBe(cause);
    expect(new TransientError("x").retryAfterMs).toBeUndefined();
  });

  it("an invalid transition names both statuses", () => {
    const error = new InvalidTransitionError("SUCCEEDED", "RUNNING");
    expect(error.from).toBe("SUCCEEDED");
    expect(error.to).toBe("RUNNING");
    expect(error.message).toBe("cannot move a run from SUCCEEDED to RUNNING");
  });

  it("configuration and validation errors keep where the problem is", () => {
    const issue = { file: "berth.yml", line: 3, col: 5, path: "jobs.a.on", message: "missing" };
    expect(new ConfigurationError("invalid berth.yml", { issues: [issue] }).issues).toEqual([issue]);
    expect(new ConfigurationError("invalid").issues).toEqual([]);
    expect(new ValidationError("bad", { field: "detail.object.key" }).field).toBe("detail.object.key");
  });

  it.each([new Error("plain"), "string", undefined, { code: "VALIDATION" }])("%s is not a berth error", (value) => {
    expect(isBerthError(value)).toBe(false);
  });
});
