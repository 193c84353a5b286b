import {
  EventBridgeClient,
  PutEventsCommand,
  ResourceNotFoundException,
  EventBridgeServiceException,
  type PutEventsCommandInput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { beforeEach, describe, expect, it } from "vitest";
import { EventBridgePublisher, MAX_CALL_BYTES, entrySize } from "../../src/aws/eventbridge-publisher.ts";
import { ConfigurationError, TransientError, ValidationError } from "../../src/core/errors.ts";
import type { RunStateChangeDetail } from "../../src/core/runs/effects.ts";

const BUS = "berth-prod";

function detail(i: number, extra: Partial<RunStateChangeDetail> = {}): RunStateChangeDetail {
  return {
    service: "media",
    job: "thumbnails",
    runId: `run-${String(i).padStart(3, "0")}`,
    attempt: 1,
    status: "RUNNING",
    taskArn: `arn:aws:ecs:us-east-1:123456789012:task/jobs/${String(i).padStart(32, "0")}`,
    trigger: { kind: "s3", summary: `s3://uploads/in/${i}.png` },
    ...extra,
  };
}

const accepted = (entries: readonly PutEventsRequestEntry[]): PutEventsResultEntry[] => entries.map((_, i) => ({ EventId: `event-${i}` }));

function runIdOf(entry: PutEventsRequestEntry): string {
  return (JSON.parse(entry.Detail ?? "{}") as RunStateChangeDetail).runId;
}

describe("EventBridgePublisher", () => {
  const client = new EventBridgeClient({ region: "us-east-1" });
  const eventBridge = mockClient(client);
  const publisher = new EventBridgePublisher(client, BUS, { maxAttempts: 3, baseDelayMs: 1 });

  const calls = () => eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);

  beforeEach(() => {
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({ FailedEntryCount: 0, Entries: accepted(input.Entries ?? []) }));
  });

  it("sends 25 details as 3 calls of at most 10 entries, in order", async () => {
    const details = Array.from({ length: 25 }, (_, i) => detail(i));
    await publisher.publish(details);
    expect(calls().map((entries) => entries.length)).toEqual([10, 10, 5]);
    expect(calls().flat().map(runIdOf)).toEqual(details.map((d) => d.runId));
  });

  it("each entry is a Berth Run State Change from source berth on the bus, with the task as resource", async () => {
    const withTask = detail(1);
    const queued = detail(2, { status: "QUEUED", taskArn: undefined });
    await publisher.publish([withTask, queued]);
    expect(eventBridge).toHaveReceivedCommandExactlyOnceWith(PutEventsCommand, {
      Entries: [
        { EventBusName: BUS, Source: "berth", DetailType: "Berth Run State Change", Detail: JSON.stringify(withTask), Resources: [withTask.taskArn as string] },
        { EventBusName: BUS, Source: "berth", DetailType: "Berth Run State Change", Detail: JSON.stringify(queued), Resources: [] },
      ],
    });
  });

  it("starts a new call before the entries of one call reach 256 KB", async () => {
    const big = (i: number) => detail(i, { reason: "é".repeat(30_000) }); // ~60 KB of UTF-8 each
    await publisher.publish([1, 2, 3, 4, 5, 6].map(big));
    const sizes = calls().map((entries) => entries.reduce((sum, entry) => sum + entrySize(entry), 0));
    expect(calls().map((entries) => entries.length)).toEqual([4, 2]);
    for (const size of sizes) expect(size).toBeLessThan(MAX_CALL_BYTES);
  });

  it("publishing nothing sends nothing", async () => {
    await publisher.publish([]);
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
  });

  it("sends again only the entries that came back with an error code", async () => {
    const failOnce = new Set(["run-002", "run-007"]);
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      const entries = input.Entries ?? [];
      const results = entries.map((entry, i): PutEventsResultEntry => {
        const runId = runIdOf(entry);
        if (!failOnce.delete(runId)) return { EventId: `event-${i}` };
        return { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" };
      });
      return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
    });
    await publisher.publish(Array.from({ length: 10 }, (_, i) => detail(i)));
    expect(calls().map((entries) => entries.map(runIdOf))).toEqual([
      Array.from({ length: 10 }, (_, i) => detail(i).runId),
      ["run-002", "run-007"],
    ]);
  });

  it("entries that keep failing throw a TransientError naming how many and why, after the other batches went out", async () => {
    eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => {
      const results = (input.Entries ?? []).map((entry, i): PutEventsResultEntry =>
        runIdOf(entry) === "run-001" ? { ErrorCode: "InternalFailure", ErrorMessage: "internal" } : { EventId: `event-${i}` },
      );
      return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
    });
    const thrown = await publisher.publish(Array.from({ length: 12 }, (_, i) => detail(i))).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientError);
    expect((thrown as TransientError).retryable).toBe(true);
    expect((thrown as Error).message).toContain("1 of 12");
    expect((thrown as Error).message).toContain("InternalFailure");
    // Batch 1: first send plus two retries of run-001; batch 2 still went out.
    expect(calls().map((entries) => entries.length)).toEqual([10, 1, 1, 2]);
  });

  it("a detail too large for EventBridge is a ValidationError and nothing is sent", async () => {
    const thrown = await publisher.publish([detail(1), detail(2, { reason: "x".repeat(MAX_CALL_BYTES) })]).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as Error).message).toContain("run-002");
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
  });

  it.each([
    {
      name: "a missing bus",
      error: new ResourceNotFoundException({ message: "Event bus berth-prod does not exist.", $metadata: { httpStatusCode: 400 } }),
      type: ConfigurationError,
    },
    {
      name: "throttling that outlasted the SDK's retries",
      error: new EventBridgeServiceException({ name: "ThrottlingException", message: "Rate exceeded", $fault: "client", $metadata: { httpStatusCode: 400 } }),
      type: TransientError,
    },
    {
      name: "a 500",
      error: new EventBridgeServiceException({ name: "InternalException", message: "internal error", $fault: "server", $metadata: { httpStatusCode: 500 } }),
      type: TransientError,
    },
  ])("a failed PutEvents call because of $name throws a typed error naming the bus", async ({ error, type }) => {
    eventBridge.on(PutEventsCommand).rejects(error);
    const thrown = await publisher.publish([detail(1)]).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toContain(BUS);
    expect((thrown as Error).message).toContain(error.message);
  });

  it("rejects a maxAttempts below 1 when built", () => {
    expect(() => new EventBridgePublisher(client, BUS, { maxAttempts: 0 })).toThrow(ConfigurationError);
  });
});
