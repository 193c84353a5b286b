/** The rejected events through the real EventBridge client, over HTTP, against a local EventBridge endpoint. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { eventBridgeClient } from "../../src/aws/clients.ts";
import { MAX_CALL_BYTES, entrySize } from "../../src/aws/eventbridge-publisher.ts";
import { EventBridgeRejectedEvents, rejectionEntry } from "../../src/aws/rejected-events.ts";
import { TransientError } from "../../src/core/errors.ts";
import { startFakeEventBridge, type FakeEventBridge } from "../support/fake-eventbridge.ts";

const upload = JSON.parse(readFileSync(new URL("../../events/s3-object-created.json", import.meta.url), "utf8")) as Record<string, unknown>;
const BUS = "berth-dev";

let bus: FakeEventBridge;
beforeAll(async () => {
  bus = await startFakeEventBridge();
});
afterAll(async () => {
  await bus.close();
});
beforeEach(() => {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
  vi.stubEnv("AWS_ENDPOINT_URL_EVENTBRIDGE", bus.url);
  vi.stubEnv("AWS_MAX_ATTEMPTS", "");
  bus.failEntries(undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const rejected = () => new EventBridgeRejectedEvents(eventBridgeClient(process.env), BUS, { baseDelayMs: 1, maxDelayMs: 2 });
const detailOf = (entry: { Detail: string }) => JSON.parse(entry.Detail) as { reason: string; job: string | null; event: unknown };

describe("EventBridgeRejectedEvents", () => {
  it("puts a rejection as one Berth Event Rejected event on the bus, its detail the reason, the job and the event as received, and returns its event id", async () => {
    const calls = bus.calls.length;
    const eventId = await rejected().put({ reason: 'no job named "nope" in the catalog', job: "nope", event: upload });
    expect(bus.calls.slice(calls)).toHaveLength(1);
    const entry = bus.entries.at(-1)!;
    expect(entry).toMatchObject({ EventBusName: BUS, Source: "berth", DetailType: "Berth Event Rejected" });
    expect(detailOf(entry)).toEqual({ reason: 'no job named "nope" in the catalog', job: "nope", event: upload });
    expect(eventId).toMatch(/^evt-/);
  });

  it("a rejection of a bare event, or of input that is no event, has job null", async () => {
    await rejected().put({ reason: "an event is a JSON object (an EventBridge event envelope)", event: "garbage" });
    expect(detailOf(bus.entries.at(-1)!)).toEqual({ reason: "an event is a JSON object (an EventBridge event envelope)", job: null, event: "garbage" });
  });

  it("an event holding code points SQS refuses (U+FFFF) is written escaped and reads back as the same event", async () => {
    const event = { ...upload, detail: { object: { key: "incoming/\uFFFF\uFFFE.png" } } };
    await rejected().put({ reason: "bad key", job: "thumbnails", event });
    const entry = bus.entries.at(-1)!;
    expect(entry.Detail).not.toMatch(/[\uFFFE\uFFFF]/);
    expect(detailOf(entry).event).toEqual(event);
  });

  it("never puts the rejection of an event that is itself a rejection, so no rule can loop it", async () => {
    const calls = bus.calls.length;
    const rejection = { version: "0", id: "r-1", source: "berth", "detail-type": "Berth Event Rejected", detail: { reason: "r", job: "j", event: upload } };
    expect(await rejected().put({ reason: "the event does not match any trigger of job \"j\"", job: "j", event: rejection })).toBeUndefined();
    expect(bus.calls.length).toBe(calls);
  });

  it("an entry EventBridge keeps refusing is a TransientError naming the bus once the attempts are spent, for Lambda to retry", async () => {
    bus.failEntries(() => ({ ErrorCode: "InternalFailure", ErrorMessage: "internal" }));
    const calls = bus.calls.length;
    const thrown = await rejected().put({ reason: "r", job: "j", event: upload }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientError);
    expect((thrown as Error).message).toMatch(new RegExp(`Berth Event Rejected.*${BUS}.*InternalFailure`));
    expect(bus.calls.length - calls).toBe(4);
  });

  it("an EventBridge endpoint that cannot be reached is a TransientError", async () => {
    vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    vi.stubEnv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:1");
    await expect(rejected().put({ reason: "r", event: upload })).rejects.toBeInstanceOf(TransientError);
  });
});

describe("a rejection too large for one EventBridge entry", () => {
  const reason = "the event does not match any trigger of job \"thumbnails\"";

  it.each([
    ["ASCII, far past the limit", "x".repeat(400_000)],
    ["ASCII, just past the limit with the reason", "x".repeat(MAX_CALL_BYTES - 200)],
    ["quotes, which the string doubles", '"'.repeat(200_000)],
    ["two-byte characters", "é".repeat(150_000)],
    ["surrogate pairs", "😀".repeat(80_000)],
  ])("carries the start of the event's JSON as a string, cut to fit, and says so in the reason (%s)", (_what, key) => {
    const event = { ...upload, detail: { object: { key } } };
    const json = JSON.stringify(event);
    const entry = rejectionEntry({ reason, job: "thumbnails", event }, BUS);
    expect(entrySize(entry)).toBeLessThan(MAX_CALL_BYTES);
    // Close to the limit: the cut keeps as much of the event as fits.
    expect(entrySize(entry)).toBeGreaterThan(MAX_CALL_BYTES - 4 * 6);
    const detail = detailOf(entry as { Detail: string });
    expect(detail.job).toBe("thumbnails");
    expect(typeof detail.event).toBe("string");
    const kept = detail.event as string;
    expect(json.startsWith(kept)).toBe(true);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).not.toMatch(/[\uD800-\uDBFF]$/);
    expect(detail.reason.startsWith(reason)).toBe(true);
    expect(detail.reason).toContain(`"event" is the first ${kept.length} of the ${json.length} characters of the event's JSON`);
  });

  it("keeps an event that fits whole, and one just under the limit, as it is", () => {
    const fits = (n: number) => ({ ...upload, detail: { object: { key: "k".repeat(n) } } });
    const small = rejectionEntry({ reason, job: "thumbnails", event: upload }, BUS);
    expect(detailOf(small as { Detail: string }).event).toEqual(upload);
    const overhead = entrySize(rejectionEntry({ reason, job: "thumbnails", event: fits(0) }, BUS));
    const largest = fits(MAX_CALL_BYTES - 1 - overhead);
    const entry = rejectionEntry({ reason, job: "thumbnails", event: largest }, BUS);
    expect(entrySize(entry)).toBe(MAX_CALL_BYTES - 1);
    expect(detailOf(entry as { Detail: string })).toEqual({ reason, job: "thumbnails", event: largest });
    expect(typeof detailOf(rejectionEntry({ reason, job: "thumbnails", event: fits(MAX_CALL_BYTES - overhead) }, BUS) as { Detail: string }).event).toBe("string");
  });

  it("a reason too long for an entry is cut too, and the entry still fits", () => {
    const entry = rejectionEntry({ reason: "r".repeat(MAX_CALL_BYTES), job: "thumbnails", event: upload }, BUS);
    expect(entrySize(entry)).toBeLessThan(MAX_CALL_BYTES);
    expect(detailOf(entry as { Detail: string }).reason.length).toBeLessThan(5000);
  });
});
