import { describe, expect, it } from "vitest";
import {
  BerthError,
  ConfigurationError,
  ConflictError,
  InvalidPatternError,
  InvalidTransitionError,
  MissingVariablesError,
  NotFoundError,
  TemplateSyntaxError,
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

  it("a validation error of several problems says them all, joined with \"; \"", () => {
    const error = new ValidationError(["detail.taskArn must be a non-empty string", "detail.version must be an integer"]);
    expect(error.message).toBe("detail.taskArn must be a non-empty string; detail.version must be an integer");
    expect(error.problems).toEqual(["detail.taskArn must be a non-empty string", "detail.version must be an integer"]);
    expect(new ValidationError("bad").problems).toEqual(["bad"]);
  });

  it.each([
    { error: new TemplateSyntaxError("unclosed", 4), name: "TemplateSyntaxError" },
    { error: new MissingVariablesError(["s3.key", "git.sha"]), name: "MissingVariablesError" },
    { error: new InvalidPatternError([{ path: "source", message: "must be a list" }]), name: "InvalidPatternError" },
  ])("$name is a validation error with its own name", ({ error, name }) => {
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.name).toBe(name);
    expect(error.code).toBe("VALIDATION");
    expect(error.retryable).toBe(false);
  });

  it("template errors keep where and what", () => {
    expect(new TemplateSyntaxError("unclosed", 4).offset).toBe(4);
    const missing = new MissingVariablesError(["s3.key", "git.sha"]);
    expect(missing.missing).toEqual(["s3.key", "git.sha"]);
    expect(missing.message).toBe("no value for ${s3.key}, ${git.sha}");
  });

  it.each([new Error("plain"), "string", undefined, { code: "VALIDATION" }])("%s is not a berth error", (value) => {
    expect(isBerthError(value)).toBe(false);
  });
});
