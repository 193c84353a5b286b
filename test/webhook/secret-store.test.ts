/**
 * The secret stores through the real SDK clients against the local SSM and Secrets Manager
 * endpoints, and the cache over them with a clock the test moves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { ConfigurationError, TransientError } from "../../src/core/errors.ts";
import { CachedSecret, SecretsManagerSecretStore, SsmSecretStore, type SecretStore } from "../../src/aws/webhook/secret-store.ts";
import { startFakeSecretsManager, type FakeSecretsManager } from "../support/fake-secrets-manager.ts";
import { startFakeSsm, type FakeSsm } from "../support/fake-ssm.ts";

const HOUR = 3_600_000;
const credentials = { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "local", sessionToken: "local" };
let ssm: FakeSsm;
let sm: FakeSecretsManager;
let ssmClient: SSMClient;
let smClient: SecretsManagerClient;
const signal = () => AbortSignal.timeout(30_000);

beforeAll(async () => {
  [ssm, sm] = await Promise.all([startFakeSsm(), startFakeSecretsManager()]);
  ssmClient = new SSMClient({ endpoint: ssm.url, region: "us-east-1", credentials, maxAttempts: 1 });
  smClient = new SecretsManagerClient({ endpoint: sm.url, region: "us-east-1", credentials, maxAttempts: 1 });
});
afterAll(async () => {
  ssmClient?.destroy();
  smClient?.destroy();
  await Promise.all([ssm?.close(), sm?.close()]);
});

describe("SsmSecretStore", () => {
  it("reads the current version decrypted, with the time it was stored, and version n-1 when it is in the window", async () => {
    const t0 = Date.parse("2026-03-01T10:00:00Z");
    ssm.putParameter("/s/two", "first", { at: new Date(t0) });
    ssm.putParameter("/s/two", "second", { at: new Date(t0 + HOUR) });
    const store = new SsmSecretStore(ssmClient, "/s/two");
    expect(await store.read(t0, signal())).toEqual({ current: "second", previous: "first", currentSince: t0 + HOUR });
    expect(ssm.calls.slice(-2).map((c) => [c.name, c.withDecryption])).toEqual([
      ["/s/two", true],
      ["/s/two:1", true],
    ]);
    // Stored before the window began: the previous version is not even read.
    const before = ssm.calls.length;
    expect(await store.read(t0 + 2 * HOUR, signal())).toEqual({ current: "second", currentSince: t0 + HOUR });
    expect(ssm.calls.length - before).toBe(1);
  });

  it("version 1 has no previous value", async () => {
    ssm.putParameter("/s/one", "only", { at: new Date(Date.parse("2026-03-01T10:00:00Z")) });
    expect(await new SsmSecretStore(ssmClient, "/s/one").read(0, signal())).toEqual({ current: "only", currentSince: Date.parse("2026-03-01T10:00:00Z") });
  });

  it("a previous version that was a String parameter is not used", async () => {
    ssm.putParameter("/s/was-plain", "plain", { type: "String", at: new Date(1000) });
    ssm.putParameter("/s/was-plain", "secure", { at: new Date(2000) });
    expect(await new SsmSecretStore(ssmClient, "/s/was-plain").read(0, signal())).toEqual({ current: "secure", currentSince: 2000 });
  });

  it.each([
    { name: "a missing parameter", setup: () => undefined, param: "/s/missing", error: ConfigurationError, says: "does not exist" },
    { name: "a String parameter", setup: () => ssm.putParameter("/s/plain", "x", { type: "String" }), param: "/s/plain", error: ConfigurationError, says: "not a SecureString" },
    { name: "access denied", setup: () => ssm.denyAccess(true), param: "/s/one", error: ConfigurationError, says: "ssm:GetParameter" },
    { name: "a server error", setup: () => ssm.failNext(1), param: "/s/one", error: TransientError, says: "InternalServerError" },
  ])("$name → $error.name", async ({ setup, param, error, says }) => {
    setup();
    try {
      const read = new SsmSecretStore(ssmClient, param).read(0, signal());
      await expect(read).rejects.toBeInstanceOf(error);
      await expect(read).rejects.toThrow(says);
    } finally {
      ssm.denyAccess(false);
    }
  });

  it("the delivery's deadline ends the read with a TransientError", async () => {
    ssm.putParameter("/s/deadline", "x");
    const read = new SsmSecretStore(ssmClient, "/s/deadline").read(0, AbortSignal.abort());
    await expect(read).rejects.toBeInstanceOf(TransientError);
  });
});

describe("SecretsManagerSecretStore", () => {
  it("reads AWSCURRENT with its CreatedDate, and AWSPREVIOUS when AWSCURRENT is in the window; by name, full ARN or partial ARN", async () => {
    const t0 = Date.parse("2026-03-01T10:00:00Z");
    sm.putSecretValue("s/two", "first", { at: new Date(t0) });
    const arn = sm.putSecretValue("s/two", "second", { at: new Date(t0 + HOUR) });
    for (const id of ["s/two", arn, arn.slice(0, -7)]) {
      expect(await new SecretsManagerSecretStore(smClient, id).read(t0, signal())).toEqual({ current: "second", previous: "first", currentSince: t0 + HOUR });
    }
    expect(sm.calls.slice(-2).map((c) => c.versionStage)).toEqual(["AWSCURRENT", "AWSPREVIOUS"]);
  });

  it("a secret never changed has no AWSPREVIOUS", async () => {
    sm.putSecretValue("s/one", "only", { at: new Date(5000) });
    expect(await new SecretsManagerSecretStore(smClient, "s/one").read(0, signal())).toEqual({ current: "only", currentSince: 5000 });
  });

  it.each([
    { name: "a missing secret", setup: () => undefined, id: "s/missing", says: "aws secretsmanager create-secret --name s/missing" },
    { name: "a binary secret", setup: () => sm.putSecretValue("s/binary", Uint8Array.from([1, 2, 3])), id: "s/binary", says: "has no SecretString" },
    { name: "access denied", setup: () => sm.denyAccess(true), id: "s/one", says: "secretsmanager:GetSecretValue" },
  ])("$name → ConfigurationError with the fix", async ({ setup, id, says }) => {
    setup();
    try {
      const read = new SecretsManagerSecretStore(smClient, id).read(0, signal());
      await expect(read).rejects.toBeInstanceOf(ConfigurationError);
      await expect(read).rejects.toThrow(says);
    } finally {
      sm.denyAccess(false);
    }
  });
});

describe("CachedSecret", () => {
  /** A store over the local SSM endpoint that counts its reads. */
  const counted = (name: string): SecretStore & { reads: number } => {
    const inner = new SsmSecretStore(ssmClient, name);
    const store = {
      reads: 0,
      description: inner.description,
      read: (after: number, s: AbortSignal) => {
        store.reads++;
        return inner.read(after, s);
      },
    };
    return store;
  };

  it("reads once per TTL", async () => {
    ssm.putParameter("/c/ttl", "v1");
    const store = counted("/c/ttl");
    const cache = new CachedSecret(store, { rotationSeconds: 3600, ttlMs: 60_000 });
    const t = 1_000_000;
    expect((await cache.versions(t, signal())).versions.current).toBe("v1");
    ssm.putParameter("/c/ttl", "v2");
    expect((await cache.versions(t + 59_999, signal())).versions.current).toBe("v1");
    expect(store.reads).toBe(1);
    expect((await cache.versions(t + 60_000, signal())).versions.current).toBe("v2");
    expect(store.reads).toBe(2);
  });

  it("keeps the last value read when a read fails, and says why; with no value read yet, throws", async () => {
    ssm.putParameter("/c/stale", "v1");
    const cache = new CachedSecret(counted("/c/stale"), { rotationSeconds: 3600, ttlMs: 1000 });
    await cache.versions(0, signal());
    ssm.denyAccess(true);
    try {
      const read = await cache.versions(5000, signal());
      expect(read.versions.current).toBe("v1");
      expect(read.stale).toBeInstanceOf(ConfigurationError);
      await expect(new CachedSecret(counted("/c/stale"), { rotationSeconds: 3600 }).versions(0, signal())).rejects.toBeInstanceOf(ConfigurationError);
    } finally {
      ssm.denyAccess(false);
    }
  });

  it("reads again after a mismatch at most once per interval, and says whether the secret changed", async () => {
    ssm.putParameter("/c/mismatch", "v1", { at: new Date(0) });
    const store = counted("/c/mismatch");
    const cache = new CachedSecret(store, { rotationSeconds: 3600, mismatchRefreshMs: 30_000 });
    const t = Date.now();
    await cache.versions(t, signal());
    expect(await cache.afterMismatch(t + 1, signal())).toBeUndefined();
    expect(store.reads).toBe(2);
    for (let i = 2; i < 50; i++) expect(await cache.afterMismatch(t + i, signal())).toBeUndefined();
    expect(store.reads).toBe(2);
    ssm.putParameter("/c/mismatch", "v2", { at: new Date(t) });
    expect(await cache.afterMismatch(t + 30_001, signal())).toEqual({ current: "v2", previous: "v1", currentSince: t });
    expect(store.reads).toBe(3);
    expect((await cache.versions(t + 30_002, signal())).versions.current).toBe("v2");
  });
});
