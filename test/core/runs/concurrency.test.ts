import { describe, expect, it } from "vitest";
import type { ConcurrencyPolicy } from "../../../src/core/catalog/types.ts";
import { concurrencyCap, decideAdmission, decideQueueDrain, type Admission } from "../../../src/core/runs/concurrency.ts";
import { T0 } from "./fixtures.ts";

const active = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `run-${i}`, createdAt: T0 + (n - i) * 1000 }));

describe("decideAdmission", () => {
  it.each<{ policy: ConcurrencyPolicy; active: number; queued: number; decision: Admission["decision"] }>([
    // allow: unlimited without max; a max is a cap and excess runs queue
    { policy: { overlap: "allow" }, active: 0, queued: 0, decision: "start" },
    { policy: { overlap: "allow" }, active: 500, queued: 0, decision: "start" },
    { policy: { overlap: "allow", max: 2 }, active: 1, queued: 0, decision: "start" },
    { policy: { overlap: "allow", max: 2 }, active: 2, queued: 0, decision: "queue" },
    { policy: { overlap: "allow", max: 2 }, active: 1, queued: 1, decision: "queue" },
    // forbid: one at a time without max; at the cap the new run is skipped
    { policy: { overlap: "forbid" }, active: 0, queued: 0, decision: "start" },
    { policy: { overlap: "forbid" }, active: 1, queued: 0, decision: "skip" },
    { policy: { overlap: "forbid", max: 3 }, active: 2, queued: 0, decision: "start" },
    { policy: { overlap: "forbid", max: 3 }, active: 3, queued: 0, decision: "skip" },
    { policy: { overlap: "forbid", max: 3 }, active: 0, queued: 4, decision: "start" },
    // replace: at the cap the oldest runs are cancelled and the new one starts
    { policy: { overlap: "replace" }, active: 0, queued: 0, decision: "start" },
    { policy: { overlap: "replace" }, active: 1, queued: 0, decision: "replace" },
    { policy: { overlap: "replace", max: 2 }, active: 1, queued: 0, decision: "start" },
    { policy: { overlap: "replace", max: 2 }, active: 2, queued: 0, decision: "replace" },
    // queue: FIFO; a new run waits behind queued ones even when a slot is free
    { policy: { overlap: "queue" }, active: 0, queued: 0, decision: "start" },
    { policy: { overlap: "queue" }, active: 1, queued: 0, decision: "queue" },
    { policy: { overlap: "queue", max: 20 }, active: 19, queued: 0, decision: "start" },
    { policy: { overlap: "queue", max: 20 }, active: 20, queued: 0, decision: "queue" },
    { policy: { overlap: "queue", max: 20 }, active: 0, queued: 1, decision: "queue" },
  ])("$policy.overlap max=$policy.max with $active active, $queued queued → $decision", ({ policy, active: n, queued, decision }) => {
    expect(decideAdmission(policy, active(n), queued).decision).toBe(decision);
  });

  it("forbid says why the run was skipped", () => {
    const admission = decideAdmission({ overlap: "forbid", max: 1 }, [{ id: "01JOLD", createdAt: T0 }], 0);
    expect(admission).toEqual({ decision: "skip", reason: "overlap is forbid and 1 run(s) are active (max 1): 01JOLD" });
  });

  it("replace cancels the oldest runs, just enough to make room", () => {
    const runs = [
      { id: "c", createdAt: T0 + 3 },
      { id: "a", createdAt: T0 + 1 },
      { id: "b", createdAt: T0 + 2 },
    ];
    expect(decideAdmission({ overlap: "replace", max: 3 }, runs, 0)).toEqual({ decision: "replace", cancel: ["a"] });
    expect(decideAdmission({ overlap: "replace", max: 2 }, runs, 0)).toEqual({ decision: "replace", cancel: ["a", "b"] });
    expect(decideAdmission({ overlap: "replace", max: 1 }, runs, 0)).toEqual({ decision: "replace", cancel: ["a", "b", "c"] });
  });

  it.each<{ policy: ConcurrencyPolicy; cap: number }>([
    { policy: { overlap: "allow" }, cap: Number.POSITIVE_INFINITY },
    { policy: { overlap: "forbid" }, cap: 1 },
    { policy: { overlap: "replace" }, cap: 1 },
    { policy: { overlap: "queue" }, cap: 1 },
    { policy: { overlap: "allow", max: 5 }, cap: 5 },
    { policy: { overlap: "forbid", max: 4 }, cap: 4 },
  ])("$policy.overlap max=$policy.max caps at $cap", ({ policy, cap }) => {
    expect(concurrencyCap(policy)).toBe(cap);
  });
});

describe("decideQueueDrain", () => {
  const queued = [
    { id: "q3", queuedAt: T0 + 3 },
    { id: "q1", queuedAt: T0 + 1 },
    { id: "q2", queuedAt: T0 + 2 },
  ];

  it.each([
    { policy: { overlap: "queue", max: 2 } as ConcurrencyPolicy, activeCount: 2, start: [] },
    { policy: { overlap: "queue", max: 2 } as ConcurrencyPolicy, activeCount: 1, start: ["q1"] },
    { policy: { overlap: "queue", max: 2 } as ConcurrencyPolicy, activeCount: 0, start: ["q1", "q2"] },
    { policy: { overlap: "queue" } as ConcurrencyPolicy, activeCount: 0, start: ["q1"] },
    { policy: { overlap: "allow", max: 10 } as ConcurrencyPolicy, activeCount: 0, start: ["q1", "q2", "q3"] },
    { policy: { overlap: "queue", max: 2 } as ConcurrencyPolicy, activeCount: 5, start: [] },
  ])("$policy.overlap max=$policy.max with $activeCount active starts $start (oldest first)", ({ policy, activeCount, start }) => {
    expect(decideQueueDrain(policy, activeCount, queued)).toEqual(start);
  });
});
