/**
 * The local bus routes by the compiled catalog's rules, as EventBridge does:
 * a recording stand-in for the engine shows which target got which event.
 */
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { formatIssue } from "../../src/core/catalog/issues.ts";
import { compileRules } from "../../src/core/catalog/compiled.ts";
import { busEvent, type BusEvent } from "../../src/core/events/envelope.ts";
import { newRunId, startedByFor } from "../../src/core/ids.ts";
import type { DispatchOutcome, TrackOutcome } from "../../src/core/engine/engine.ts";
import { LocalBus, LocalBusPublisher, type Activity, type BusTargets } from "../../src/local/bus.ts";
import { runStateChange } from "../contract/publisher.contract.ts";

const catalogText = `version: 1
service: svc
defaults:
  network: { subnets: [subnet-1] }
jobs:
  resize:
    on: { s3: { bucket: media } }
    run: { taskDefinition: t }
  scan:
    on: { s3: { bucket: media, key: { suffix: .png } } }
    run: { taskDefinition: t }
  logs:
    on: { s3: { bucket: logs } }
    run: { taskDefinition: t }
  report:
    on: { job: { name: resize } }
    run: { taskDefinition: t }
`;

function rules() {
  const r = loadCatalog(catalogText, "berth.yml");
  if (!r.ok) throw new Error(r.error.issues.map(formatIssue).join("\n"));
  return compileRules(r.catalog);
}

let seq = 0;
const s3Event = (bucket: string, key: string) =>
  busEvent("aws.s3", "Object Created", { bucket: { name: bucket }, object: { key, size: 1, etag: "e", sequencer: "01" } }, { id: `s3-${++seq}`, time: Date.UTC(2026, 10, 26) });
const taskEvent = (startedBy: string) =>
  busEvent("aws.ecs", "ECS Task State Change", { taskArn: "arn:aws:ecs:local:000000000000:task/default/abc", lastStatus: "RUNNING", startedBy }, { id: `ecs-${++seq}`, time: Date.UTC(2026, 10, 26) });
const berthTask = () => taskEvent(startedByFor(newRunId(Date.UTC(2026, 10, 26), new Uint8Array(10))));

interface Delivery {
  readonly target: string;
  readonly id: string;
}

/** A stand-in for the engine that records every delivery and answers as `answer` says. */
function recording(answer: { dispatch?: (event: BusEvent, job: string) => DispatchOutcome[] | Promise<DispatchOutcome[]>; track?: (event: BusEvent) => TrackOutcome } = {}) {
  const deliveries: Delivery[] = [];
  const targets: BusTargets = {
    dispatch: async (event, job) => {
      deliveries.push({ target: `dispatch ${job}`, id: event.id });
      return answer.dispatch ? answer.dispatch(event, job) : [{ kind: "accepted", job, runId: `run-of-${job}`, status: "STARTING" }];
    },
    recordTaskEvent: async (event) => {
      deliveries.push({ target: "track", id: event.id });
      return answer.track ? answer.track(event) : { kind: "updated", runId: "r", job: "j", status: "RUNNING" };
    },
  };
  return { deliveries, targets };
}

function busWith(targets: BusTargets) {
  const activity: Activity[] = [];
  const bus = new LocalBus({ rules: rules(), targets, onActivity: (a) => activity.push(a) });
  return { bus, activity };
}

describe("LocalBus", () => {
  it("hands an event to every dispatch rule it matches, in catalog order, and resolves with their outcomes", async () => {
    const { deliveries, targets } = recording();
    const { bus } = busWith(targets);
    const event = s3Event("media", "in/cat.png");
    expect(await bus.send(event)).toEqual({
      dispatched: [
        { kind: "accepted", job: "resize", runId: "run-of-resize", status: "STARTING" },
        { kind: "accepted", job: "scan", runId: "run-of-scan", status: "STARTING" },
      ],
    });
    expect(deliveries).toEqual([
      { target: "dispatch resize", id: event.id },
      { target: "dispatch scan", id: event.id },
    ]);
  });

  it("delivers an event no rule matches to no one", async () => {
    const { deliveries, targets } = recording();
    const { bus } = busWith(targets);
    expect(await bus.send(s3Event("unwatched", "in/cat.png"))).toEqual({ dispatched: [] });
    expect(deliveries).toEqual([]);
  });

  it("hands the state changes of berth's tasks to tracking, and those of other tasks to no one", async () => {
    const { deliveries, targets } = recording();
    const { bus } = busWith(targets);
    const ours = berthTask();
    expect(await bus.send(ours)).toEqual({ dispatched: [], tracked: { kind: "updated", runId: "r", job: "j", status: "RUNNING" } });
    expect(await bus.send(taskEvent("ecs-svc/123"))).toEqual({ dispatched: [] });
    expect(deliveries).toEqual([{ target: "track", id: ours.id }]);
  });

  it("handles events put without waiting one after another, in arrival order, follow-on events after those already waiting", async () => {
    const first = s3Event("logs", "a");
    const second = berthTask();
    const third = s3Event("logs", "c");
    const followOn = s3Event("logs", "follow-on");
    const { deliveries, targets } = recording({
      // As the engine does: the follow-on is put after the handler has awaited something, when the other events are waiting.
      dispatch: async (event, job) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (event.id === first.id) bus.put(followOn);
        return [{ kind: "accepted", job, runId: event.id, status: "STARTING" }];
      },
    });
    const { bus } = busWith(targets);
    for (const event of [first, second, third]) expect(bus.put(event)).toBe(true);
    await bus.settled();
    expect(deliveries).toEqual([
      { target: "dispatch logs", id: first.id },
      { target: "track", id: second.id },
      { target: "dispatch logs", id: third.id },
      { target: "dispatch logs", id: followOn.id },
    ]);
  });

  it("rejects what is not an EventBridge envelope before any rule sees it, and tells the UI", async () => {
    const { deliveries, targets } = recording();
    const { bus, activity } = busWith(targets);
    expect(await bus.send({ source: "aws.s3", detail: {} })).toEqual({
      dispatched: [{ kind: "rejected", reason: expect.stringContaining('no "detail-type" string') }],
    });
    expect(deliveries).toEqual([]);
    expect(activity).toEqual([{ type: "rejected", source: "aws.s3", detailType: "undefined", reason: expect.stringContaining('no "detail-type"') }]);
  });

  it("tells the UI about every event a target rejected", async () => {
    const { targets } = recording({
      dispatch: (_event, job) => [{ kind: "rejected", job, reason: `${job} says no` }],
      track: () => ({ kind: "rejected", reason: "not a task event" }),
    });
    const { bus, activity } = busWith(targets);
    await bus.send(s3Event("logs", "a"));
    await bus.send(berthTask());
    expect(activity).toEqual([
      { type: "rejected", source: "aws.s3", detailType: "Object Created", reason: "logs says no" },
      { type: "rejected", source: "aws.ecs", detailType: "ECS Task State Change", reason: "not a task event" },
    ]);
  });

  it("when a target fails, still delivers to the other rules and the later events, warns the UI and rejects the send", async () => {
    const { deliveries, targets } = recording({
      dispatch: (_event, job) => {
        if (job === "resize") throw new Error("the store is locked");
        return [{ kind: "accepted", job, runId: "r", status: "STARTING" }];
      },
    });
    const { bus, activity } = busWith(targets);
    const failing = s3Event("media", "x.png");
    const later = s3Event("logs", "later");
    const sent = bus.send(failing);
    bus.put(later);
    await expect(sent).rejects.toThrow("the store is locked");
    await bus.settled();
    expect(deliveries.map((d) => d.target)).toEqual(["dispatch resize", "dispatch scan", "dispatch logs"]);
    expect(activity).toEqual([{ type: "warning", message: "handling Object Created failed: the store is locked" }]);
  });

  it("with dispatch rules disabled, starts nothing but still tracks tasks", async () => {
    const { deliveries, targets } = recording();
    const { bus } = busWith(targets);
    bus.disable("dispatch");
    expect(await bus.send(s3Event("media", "cat.png"))).toEqual({ dispatched: [] });
    const task = berthTask();
    await bus.send(task);
    expect(deliveries).toEqual([{ target: "track", id: task.id }]);
  });

  it("once stopped, has handled what was on it and refuses every later event", async () => {
    const { deliveries, targets } = recording();
    const { bus } = busWith(targets);
    const waiting = s3Event("logs", "waiting");
    bus.put(waiting);
    await bus.stop();
    expect(deliveries).toEqual([{ target: "dispatch logs", id: waiting.id }]);
    expect(bus.put(s3Event("logs", "late"))).toBe(false);
    await expect(bus.send(s3Event("logs", "late"))).rejects.toThrow("the local bus is stopped");
    expect(deliveries).toHaveLength(1);
  });
});

describe("LocalBusPublisher", () => {
  it("shows every run transition to the UI and puts it on the bus, where job triggers pick it up", async () => {
    const { deliveries, targets } = recording();
    const { bus, activity } = busWith(targets);
    const ids = ["event-1", "event-2"];
    const publisher = new LocalBusPublisher(bus, { clock: { now: () => Date.UTC(2026, 10, 26, 3, 0, 0, 500) }, newId: () => ids.shift()!, onActivity: (a) => activity.push(a) });
    const resized = runStateChange(1, { service: "svc", job: "resize", status: "SUCCEEDED" });
    const scanned = runStateChange(2, { service: "svc", job: "scan", status: "SUCCEEDED" });
    await publisher.publish([resized, scanned]);
    await bus.settled();
    expect(activity).toEqual([
      { type: "run", detail: resized },
      { type: "run", detail: scanned },
    ]);
    // Only `report` follows `resize`; the scan's transition lands on the bus but fires nothing.
    expect(deliveries).toEqual([{ target: "dispatch report", id: "event-1" }]);
  });
});
