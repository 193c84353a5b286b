/** A rejection is always writable, whatever the rejected event is: too deep for JSON.stringify, it is named instead of kept. */
import { describe, expect, it } from "vitest";
import { rejectionEntry } from "../../src/aws/rejected-events.ts";

describe("the rejection of a hostile event", () => {
  it("carries a sentence instead of an event nested too deeply to write as JSON", () => {
    let event: unknown = "leaf";
    for (let i = 0; i < 200_000; i++) event = [event];
    const entry = rejectionEntry({ reason: "the event nests objects and arrays more than 32 levels deep", event }, "berth");
    expect(JSON.parse(entry.Detail!)).toEqual({ reason: "the event nests objects and arrays more than 32 levels deep", job: null, event: "(the event is not kept: it cannot be written as JSON, it nests too deeply)" });
  });

  it("keeps an ordinary event as it is", () => {
    const event = { source: "x", "detail-type": "y", detail: { a: [[1]] } };
    expect(JSON.parse(rejectionEntry({ reason: "r", job: "j", event }, "berth").Detail!)).toEqual({ reason: "r", job: "j", event });
  });
});
