/**
 * The Publisher contract: what the engine relies on when it announces run
 * transitions, whichever bus carries them (EventBridge on AWS, the local bus
 * in `berth dev`). Every Publisher adapter runs this suite (publisher.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Publisher } from "../../src/core/ports.ts";
import type { RunStateChangeDetail } from "../../src/core/runs/effects.ts";

/** An event as a rule target receives it from the bus, reduced to the fields a publisher sets. */
export interface LandedEvent {
  readonly source: string;
  readonly "detail-type": string;
  readonly detail: unknown;
  readonly resources: readonly string[];
}

export type PickDetails = (detail: RunStateChangeDetail) => boolean;

export interface PublisherFixture {
  readonly publisher: Publisher;
  /** The events that reached the bus, in the order they did. */
  landed(): Promise<readonly LandedEvent[]>;
  /**
   * Makes the bus refuse, for good, the events of the details `pick` chooses.
   * Resolves with the choice the bus can really make: one that can only
   * refuse everything says so by picking every detail.
   */
  refuse(pick: PickDetails): Promise<PickDetails>;
  /** Makes the bus fail the events of the details `pick` chooses once each, with an error worth retrying. */
  failOnce?(pick: PickDetails): void;
  close(): Promise<void> | void;
}

export interface PublisherAdapter {
  readonly name: string;
  open(): Promise<PublisherFixture>;
  /** Why no event can fail for a moment on this bus; set exactly when the fixture has no `failOnce`. */
  readonly noTransientFailure?: string;
}

const TASK_ARN = (i: number) => `arn:aws:ecs:us-east-1:123456789012:task/jobs/${String(i).padStart(32, "0")}`;

export function runStateChange(i: number, extra: Partial<RunStateChangeDetail> = {}): RunStateChangeDetail {
  return {
    service: "media",
    job: "thumbnails",
    runId: `run-${String(i).padStart(3, "0")}`,
    attempt: 1,
    status: "RUNNING",
    taskArn: TASK_ARN(i),
    startedAt: "2026-11-26T00:00:00.000Z",
    trigger: { kind: "s3", summary: `s3://uploads/in/${i}.png` },
    ...extra,
  };
}

const many = (n: number) => Array.from({ length: n }, (_, i) => runStateChange(i));
const runIds = (events: readonly LandedEvent[]) => events.map((e) => (e.detail as RunStateChangeDetail).runId);

export function publisherContract(adapter: PublisherAdapter): void {
  describe(`Publisher contract: ${adapter.name}`, () => {
    let fixture: PublisherFixture;

    beforeEach(async () => {
      fixture = await adapter.open();
      expect(fixture.failOnce === undefined, "a fixture without failOnce must say why (noTransientFailure), and only then").toBe(adapter.noTransientFailure !== undefined);
    });
    afterEach(async () => {
      await fixture.close();
    });

    it("puts every detail on the bus once, as a Berth Run State Change from berth with the detail unchanged and its task as resource", async () => {
      const running = runStateChange(1, { exitCode: 0, reason: "a reason with ünïcode and \"quotes\"" });
      const { taskArn: _none, ...queued } = runStateChange(2, { status: "QUEUED" });
      await fixture.publisher.publish([running, queued]);
      expect(await fixture.landed()).toEqual([
        { source: "berth", "detail-type": "Berth Run State Change", detail: running, resources: [running.taskArn] },
        { source: "berth", "detail-type": "Berth Run State Change", detail: queued, resources: [] },
      ]);
    });

    it("lands more details than one PutEvents call takes (10), all of them, in order", async () => {
      const details = many(25);
      await fixture.publisher.publish(details);
      expect(runIds(await fixture.landed())).toEqual(details.map((d) => d.runId));
    });

    it("puts nothing on the bus for an empty publish", async () => {
      await fixture.publisher.publish([]);
      expect(await fixture.landed()).toEqual([]);
    });

    const transient = "sends again the events that failed for a moment, and each lands exactly once";
    if (adapter.noTransientFailure !== undefined) {
      it.skip(`${transient} — cannot arise: ${adapter.noTransientFailure}`, () => {});
    } else {
      it(transient, async () => {
        const details = many(12);
        fixture.failOnce!((d) => d.runId === "run-002" || d.runId === "run-011");
        await fixture.publisher.publish(details);
        const landed = runIds(await fixture.landed());
        expect([...landed].sort()).toEqual(details.map((d) => d.runId));
      });
    }

    it("throws, saying how many events were not delivered, when the bus refuses them; the others still land", async () => {
      const details = many(12);
      const refused = await fixture.refuse((d) => d.runId === "run-001");
      const lost = details.filter(refused);
      expect(lost.length).toBeGreaterThan(0);
      await expect(fixture.publisher.publish(details)).rejects.toThrow(`${lost.length} of ${details.length}`);
      expect(runIds(await fixture.landed())).toEqual(details.filter((d) => !refused(d)).map((d) => d.runId));
    });
  });
}
