/** The handlers' publisher: every run state change put on the bus is also a log line naming the run and its job. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { EventBridgePublisher } from "../../src/aws/eventbridge-publisher.ts";
import { loggingPublisher, type Log } from "../../src/aws/log.ts";
import { TransientError } from "../../src/core/errors.ts";
import type { RunStateChangeDetail } from "../../src/core/runs/effects.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";

let bus: FakeEventBridge;
beforeAll(async () => {
  bus = await startFakeEventBridge();
});
afterAll(async () => {
  await bus.close();
});

const client = () => new EventBridgeClient({ endpoint: bus.url, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const trigger = { kind: "s3", summary: "s3://uploads/incoming/cat.png" };
const started: RunStateChangeDetail = { service: "acme-jobs", job: "thumbnails", runId: "01JD0000000000000000000001", attempt: 1, status: "STARTING", trigger };
const failed: RunStateChangeDetail = {
  service: "acme-jobs",
  job: "reports",
  runId: "01JD0000000000000000000002",
  attempt: 2,
  status: "FAILED",
  reason: "Essential container in task exited",
  taskArn: "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123456789abcdef",
  exitCode: 3,
  trigger,
};

describe("loggingPublisher", () => {
  it("puts every change on the bus and then writes one line per change with its run id, job and status", async () => {
    const log = vi.fn<Log>();
    await loggingPublisher(new EventBridgePublisher(client(), "berth"), log).publish([started, failed]);
    expect(bus.entries.slice(-2).map((e) => JSON.parse(e.Detail) as RunStateChangeDetail)).toEqual([started, failed]);
    expect(log.mock.calls).toEqual([
      ["info", "run STARTING", { runId: started.runId, job: "thumbnails", status: "STARTING", attempt: 1 }],
      ["info", "run FAILED", { runId: failed.runId, job: "reports", status: "FAILED", attempt: 2, reason: failed.reason, taskArn: failed.taskArn, exitCode: 3 }],
    ]);
  });

  it("writes no line for changes the bus did not take: the error is thrown and logged by the handler", async () => {
    const log = vi.fn<Log>();
    bus.failEntries(() => ({ ErrorCode: "InternalFailure", ErrorMessage: "try again" }));
    try {
      const publisher = new EventBridgePublisher(client(), "berth", { maxAttempts: 1 });
      await expect(loggingPublisher(publisher, log).publish([started])).rejects.toBeInstanceOf(TransientError);
    } finally {
      bus.failEntries(undefined);
    }
    expect(log).not.toHaveBeenCalled();
  });
});
