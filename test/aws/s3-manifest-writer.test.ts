/**
 * The S3 manifest writer through the real SDK S3 client (its endpoint rules, SigV4, flexible checksums, XML
 * errors) against the local S3 endpoint (test/support/fake-s3.ts), as the Lambda handlers make it
 * (`s3ManifestWriter`, from the environment).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { manifestBody, manifestObject } from "../../src/core/batch/manifest.ts";
import type { BatchItem } from "../../src/core/batch/model.ts";
import { ConfigurationError, TransientError } from "../../src/core/errors.ts";
import { MANIFEST_CONTENT_TYPE, s3ManifestWriter } from "../../src/aws/s3-manifest-writer.ts";
import { startFakeS3, type FakeS3 } from "../support/fake-s3.ts";

let s3: FakeS3;
beforeAll(async () => {
  s3 = await startFakeS3({ manifests: {}, "eu-manifests": { region: "eu-west-1" } });
});
afterAll(async () => {
  await s3.close();
});
beforeEach(() => {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIDBATCH");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
  vi.stubEnv("AWS_ENDPOINT_URL_S3", s3.url);
  // One attempt: a fault injected once is not hidden by the SDK's own retries.
  vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const item = (i: number): BatchItem => ({
  itemKey: `gather#s3:media:in/${i}.png:seq${i}`,
  bucket: "media",
  key: `in/${String(i).padStart(4, "0")} é\n.png`,
  size: 100 + i,
  etag: `etag${i}`,
  versionId: "",
  sequencer: `00${i}`,
  eventTime: "2026-12-02T05:00:01Z",
});

describe("S3ManifestWriter", () => {
  it("writes a 1,000-line manifest as one PutObject of exactly its bytes, as JSON Lines, encrypted by the bucket default", async () => {
    const body = manifestBody(Array.from({ length: 1000 }, (_, i) => item(i)));
    const { bucket, key } = manifestObject({ bucket: "manifests", prefix: "gather/" }, "0123456789abcdef0123456789abcdef");
    const before = s3.calls.length;
    await s3ManifestWriter(process.env).putManifest(bucket, key, body);
    expect(s3.calls.slice(before)).toEqual([{ bucket: "manifests", key, accessKeyId: "AKIDBATCH", region: "us-east-1" }]);
    const stored = s3.objects.get(`manifests/${key}`)!;
    expect(stored.body.toString("utf8")).toBe(body);
    expect(stored.body.toString("utf8").split("\n")).toHaveLength(1001);
    expect(stored.contentType).toBe(MANIFEST_CONTENT_TYPE);
    // No SSE header: S3 applies the bucket's default encryption (SSE-S3 on berth's bucket, whatever a user's bucket sets).
    expect(stored.serverSideEncryption).toBeUndefined();
  });

  it("writes the same key with the same bytes again when a hand-off repeats after a crash", async () => {
    const body = manifestBody([item(1), item(2)]);
    const writer = s3ManifestWriter(process.env);
    await writer.putManifest("manifests", "again/b.jsonl", body);
    await writer.putManifest("manifests", "again/b.jsonl", body);
    expect(s3.calls.filter((c) => c.key === "again/b.jsonl")).toHaveLength(2);
    expect(s3.objects.get("manifests/again/b.jsonl")!.body.toString("utf8")).toBe(body);
  });

  it("says the bucket is missing as a configuration problem naming the manifest, never as a bad event", async () => {
    const failure = s3ManifestWriter(process.env).putManifest("no-such-bucket", "gather/x.jsonl", "{}\n");
    await expect(failure).rejects.toBeInstanceOf(ConfigurationError);
    await expect(failure).rejects.toThrow(/s3:\/\/no-such-bucket\/gather\/x\.jsonl.*NoSuchBucket.*batch\.manifest/);
  });

  it("says a bucket in another region is a configuration problem", async () => {
    await expect(s3ManifestWriter(process.env).putManifest("eu-manifests", "gather/x.jsonl", "{}\n")).rejects.toBeInstanceOf(ConfigurationError);
  });

  it("passes a refused write on as a configuration problem that names the permission", async () => {
    const denied = await startFakeS3({ manifests: { denied: true } });
    try {
      vi.stubEnv("AWS_ENDPOINT_URL_S3", denied.url);
      await expect(s3ManifestWriter(process.env).putManifest("manifests", "gather/x.jsonl", "{}\n")).rejects.toThrow(ConfigurationError);
      await expect(s3ManifestWriter(process.env).putManifest("manifests", "gather/x.jsonl", "{}\n")).rejects.toThrow(/s3:PutObject/);
    } finally {
      await denied.close();
    }
  });

  it("passes a failure S3 may get over on as transient, so the hand-off is tried again", async () => {
    // Nothing listens there: the connection is refused, as when S3 cannot be reached.
    vi.stubEnv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9");
    await expect(s3ManifestWriter(process.env).putManifest("manifests", "gather/x.jsonl", "{}\n")).rejects.toBeInstanceOf(TransientError);
  });
});
