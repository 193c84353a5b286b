/**
 * The Publisher contract run against every adapter: EventBridgePublisher through the real SDK v3
 * client over HTTP (test/support/fake-eventbridge.ts answers PutEvents, partial failures included),
 * and the local bus publisher on a real LocalBus.
 */
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { EventBridgePublisher } from "../../src/aws/eventbridge-publisher.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import type { RunStateChangeDetail } from "../../src/core/runs/effects.ts";
import { LocalBus, LocalBusPublisher } from "../../src/local/bus.ts";
import { startFakeEventBridge, type PutEntry } from "../support/fake-eventbridge.ts";
import { publisherContract, type LandedEvent } from "./publisher.contract.ts";

const BUS = "berth-test";

publisherContract({
  name: "EventBridgePublisher (SDK v3 client over HTTP against a PutEvents endpoint)",
  async open() {
    const eventBridge = await startFakeEventBridge();
    const client = new EventBridgeClient({
      endpoint: eventBridge.url,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
      // Failed entries are the publisher's to retry; the SDK's own retries cover whole calls only.
      maxAttempts: 1,
    });
    const detailOf = (entry: PutEntry) => JSON.parse(entry.Detail) as RunStateChangeDetail;
    return {
      publisher: new EventBridgePublisher(client, BUS, { maxAttempts: 3, baseDelayMs: 1 }),
      landed: async () =>
        eventBridge.entries
          .filter((e) => e.EventBusName === BUS)
          .map((e): LandedEvent => ({ source: e.Source, "detail-type": e.DetailType, detail: JSON.parse(e.Detail), resources: e.Resources ?? [] })),
      refuse: async (pick) => {
        eventBridge.failEntries((entry) => (pick(detailOf(entry)) ? { ErrorCode: "InternalFailure", ErrorMessage: "the bus is having a bad day" } : undefined));
        return pick;
      },
      failOnce: (pick) => {
        const failed = new Set<string>();
        eventBridge.failEntries((entry) => {
          const detail = detailOf(entry);
          if (!pick(detail) || failed.has(detail.runId)) return undefined;
          failed.add(detail.runId);
          return { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" };
        });
      },
      close: async () => {
        client.destroy();
        await eventBridge.close();
      },
    };
  },
});

publisherContract({
  name: "LocalBusPublisher (the local bus, an archive rule taking every run state change)",
  noTransientFailure: "the local bus takes or refuses an event within the call, in memory; nothing can fail for a moment and succeed when sent again",
  async open() {
    const archived: BusEvent[] = [];
    const bus = new LocalBus({
      rules: [
        {
          target: { kind: "dispatch", job: "archive", trigger: "job", triggerIndex: 0 },
          pattern: { source: ["berth"], "detail-type": ["Berth Run State Change"] },
          bus: { kind: "berth" },
        },
      ],
      targets: {
        dispatch: async (event) => {
          archived.push(event);
          return [];
        },
        recordTaskEvent: async () => {
          throw new Error("the archive rule takes no task events");
        },
      },
    });
    let ids = 0;
    return {
      publisher: new LocalBusPublisher(bus, { clock: { now: () => Date.UTC(2026, 10, 26) }, newId: () => `event-${++ids}` }),
      landed: async () => {
        await bus.settled();
        return archived.map(({ source, "detail-type": detailType, detail, resources }): LandedEvent => ({ source, "detail-type": detailType, detail, resources }));
      },
      // A stopped bus is the local bus refusing events; it cannot refuse only some.
      refuse: async () => {
        await bus.stop();
        return () => true;
      },
      close: () => bus.stop(),
    };
  },
});
