import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../src/core/errors.ts";
import {
  MAX_IDEMPOTENCY_KEY_BYTES,
  boundKey,
  idempotencyKey,
  type TriggerOccurrence,
} from "../../../src/core/runs/idempotency.ts";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest();

const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

describe("idempotencyKey", () => {
  it.each<{ occurrence: TriggerOccurrence; key: string }>([
    {
      occurrence: { kind: "s3", bucket: "media", key: "incoming/a.png", versionId: "3HL4kqtJlcpXroDTDmJ", sequencer: "0062E99A88DC407460" },
      key: "thumbnails#s3:media:incoming/a.png:3HL4kqtJlcpXroDTDmJ",
    },
    {
      occurrence: { kind: "s3", bucket: "media", key: "incoming/a.png", sequencer: "0062E99A88DC407460" },
      key: "thumbnails#s3:media:incoming/a.png:0062E99A88DC407460",
    },
    {
      occurrence: { kind: "git", repo: "acme/web", ref: "refs/heads/main", sha: "1a2b3c4d" },
      key: "thumbnails#git:acme/web:refs/heads/main:1a2b3c4d",
    },
    { occurrence: { kind: "schedule", scheduledTime: "2025-03-01T03:00:00Z" }, key: "thumbnails#schedule:2025-03-01T03:00:00Z" },
    { occurrence: { kind: "manual", key: "deploy-42" }, key: "thumbnails#manual:deploy-42" },
    { occurrence: { kind: "job", upstreamRunId: "01JNABCDEF", status: "succeeded" }, key: "thumbnails#job:01JNABCDEF:succeeded" },
    { occurrence: { kind: "event", eventId: "6a7e8feb-b491-4cf7-a9f1-bf3703467718" }, key: "thumbnails#event:6a7e8feb-b491-4cf7-a9f1-bf3703467718" },
  ])("$occurrence.kind → $key", ({ occurrence, key }) => {
    expect(idempotencyKey("thumbnails", occurrence, sha256)).toBe(key);
  });

  it("one upload gives each job its own key", () => {
    const upload: TriggerOccurrence = { kind: "s3", bucket: "media", key: "a.png", sequencer: "01" };
    expect(idempotencyKey("thumbnails", upload, sha256)).not.toBe(idempotencyKey("virus-scan", upload, sha256));
  });

  it("a redelivered event gives the same key; a new upload of the same object a different one", () => {
    const first: TriggerOccurrence = { kind: "s3", bucket: "media", key: "a.png", sequencer: "0062E99A88DC407460" };
    const again: TriggerOccurrence = { ...first };
    const overwrite: TriggerOccurrence = { ...first, sequencer: "0062E99A88DC407461" };
    expect(idempotencyKey("j", again, sha256)).toBe(idempotencyKey("j", first, sha256));
    expect(idempotencyKey("j", overwrite, sha256)).not.toBe(idempotencyKey("j", first, sha256));
  });

  it("an S3 event without version-id or sequencer is rejected as malformed", () => {
    expect(() => idempotencyKey("j", { kind: "s3", bucket: "media", key: "a.png" }, sha256)).toThrow(ValidationError);
    expect(() => idempotencyKey("j", { kind: "s3", bucket: "media", key: "a.png", sequencer: "" }, sha256)).toThrow(/sequencer/);
  });

  describe("long keys", () => {
    const longKey = `incoming/${"deep/".repeat(203)}`.slice(0, 1020) + ".png";
    const long = (key: string): TriggerOccurrence => ({ kind: "s3", bucket: "media-uploads", key, sequencer: "0062E99A88DC407460" });

    it("a 1024-byte S3 key gives a key of at most 256 bytes", () => {
      const key = idempotencyKey("thumbnails", long(longKey), sha256);
      expect(bytes(longKey)).toBe(1024);
      expect(bytes(key)).toBeLessThanOrEqual(MAX_IDEMPOTENCY_KEY_BYTES);
      expect(key.startsWith("thumbnails#s3:media-uploads:incoming/deep/")).toBe(true);
      expect(key).toMatch(/~[0-9a-f]{64}$/);
    });

    it("long keys that differ only at the end stay distinct", () => {
      const a = idempotencyKey("thumbnails", long(`${longKey.slice(0, 1000)}a.png`), sha256);
      const b = idempotencyKey("thumbnails", long(`${longKey.slice(0, 1000)}b.png`), sha256);
      expect(a).not.toBe(b);
      expect(a.slice(0, 150)).toBe(b.slice(0, 150));
    });

    it("the shortened key ends in the SHA-256 of the whole key", () => {
      const full = `thumbnails#s3:media-uploads:${longKey}:0062E99A88DC407460`;
      const hash = createHash("sha256").update(full, "utf8").digest("hex");
      expect(idempotencyKey("thumbnails", long(longKey), sha256)).toBe(`${full.slice(0, 256 - 65)}~${hash}`);
    });

    it("multi-byte keys are cut on a character boundary and measured in UTF-8 bytes", () => {
      const key = idempotencyKey("j", long("사진/".repeat(100) + "😀".repeat(50)), sha256);
      expect(bytes(key)).toBeLessThanOrEqual(MAX_IDEMPOTENCY_KEY_BYTES);
      expect(key).not.toContain("\uFFFD");
      expect(Buffer.from(key, "utf8").toString("utf8")).toBe(key);
    });

    it.each([255, 256, 257])("a %i-byte key is shortened only past the limit", (n) => {
      const key = "k".repeat(n);
      const bounded = boundKey(key, sha256);
      expect(bounded === key).toBe(n <= 256);
      expect(bytes(bounded)).toBeLessThanOrEqual(256);
    });

    it("a key of 4-byte characters near the limit stays within it", () => {
      const key = "😀".repeat(70);
      const bounded = boundKey(key, sha256);
      expect(bytes(key)).toBe(280);
      expect(bytes(bounded)).toBeLessThanOrEqual(256);
      expect(bounded.startsWith("😀".repeat(47))).toBe(true);
    });
  });
});
