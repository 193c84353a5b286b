import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { triggerPattern } from "../../src/core/catalog/patterns.ts";
import type { S3Trigger } from "../../src/core/catalog/types.ts";
import { decodeS3EventKey } from "../../src/core/events/s3-key.ts";
import { triggerContext } from "../../src/core/context/trigger-context.ts";
import { ValidationError } from "../../src/core/errors.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import { compilePattern, matchesPattern } from "../../src/core/match/compile.ts";
import { S3FolderWatcher, parseS3Url, putObject, s3BucketNameProblem } from "../../src/local/s3-folder.ts";
import type { S3FolderWatcherOptions, S3ObjectCreatedDetail } from "../../src/local/s3-folder.ts";

type Event = BusEvent<S3ObjectCreatedDetail>;

const BUCKET = "media-uploads";
const T0 = Date.UTC(2024, 10, 26, 9, 14, 7, 500);

let work: string;
let root: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "berth-s3-folder-"));
  root = path.join(work, "s3");
  await mkdir(root);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function watcher(options: Partial<S3FolderWatcherOptions> = {}) {
  const events: Event[] = [];
  const warnings: string[] = [];
  const w = new S3FolderWatcher({
    root,
    emit: (event) => events.push(event),
    now: () => T0,
    warn: (message) => warnings.push(message),
    ...options,
  });
  return { w, events, warnings };
}

async function write(relative: string, content: string | Buffer): Promise<string> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}

async function scans(w: S3FolderWatcher, n = 2): Promise<void> {
  for (let i = 0; i < n; i += 1) await w.scanOnce();
}

const md5 = (content: string | Buffer) => createHash("md5").update(content).digest("hex");
const realKey = (event: Event) => {
  const decoded = decodeS3EventKey(event.detail.object.key);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.key;
};

describe("S3FolderWatcher", () => {
  it("announces a new file once, in the shape S3 puts on EventBridge", async () => {
    const { w, events } = watcher({ region: "eu-west-1", account: "123456789012" });
    const content = "hello, berth\n";
    await write(`${BUCKET}/incoming/cat.png`, content);

    await w.scanOnce();
    expect(events).toHaveLength(0);
    await scans(w, 3);

    expect(events).toHaveLength(1);
    const [event] = events as [Event];
    expect(event).toMatchObject({
      version: "0",
      "detail-type": "Object Created",
      source: "aws.s3",
      account: "123456789012",
      region: "eu-west-1",
      time: "2024-11-26T09:14:07Z",
      resources: [`arn:aws:s3:::${BUCKET}`],
      detail: {
        version: "0",
        bucket: { name: BUCKET },
        object: { key: "incoming/cat.png", size: Buffer.byteLength(content), etag: md5(content) },
        requester: "123456789012",
        "source-ip-address": "127.0.0.1",
        reason: "PutObject",
      },
    });
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.detail.object.sequencer).toMatch(/^[0-9A-F]{16,}$/);
    expect(event.detail["request-id"]).toMatch(/^[0-9A-Z]{16}$/);
    expect(event.detail.object["version-id"]).not.toBe("");

    // Every field berth reads comes out of the event as the core reads it.
    const trigger: S3Trigger = { kind: "s3", buckets: [BUCKET] };
    expect(triggerContext(trigger, event)).toEqual({
      ok: true,
      context: {
        "s3.bucket": BUCKET,
        "s3.key": "incoming/cat.png",
        "s3.size": String(Buffer.byteLength(content)),
        "s3.etag": md5(content),
        "s3.versionId": event.detail.object["version-id"],
        "s3.sequencer": event.detail.object.sequencer,
      },
    });
  });

  it("announces a file in new nested folders with the key relative to the bucket folder", async () => {
    const { w, events } = watcher();
    await write(`${BUCKET}/a/b/c/d/report.csv`, "x,y\n1,2\n");
    await scans(w);
    expect(events.map(realKey)).toEqual(["a/b/c/d/report.csv"]);
  });

  const awkwardNames: ReadonlyArray<readonly [string, string]> = [
    ["spaces", "raw uploads/red flower.png"],
    ["plus and percent", "reports/c++ 100%.csv"],
    ["shell metacharacters", "incoming/a b $(x);'y'.png"],
    ["non-ASCII", "사진/고양이.png"],
    ["a 255-byte UTF-8 segment", `long/${"고".repeat(85)}`],
  ];

  it.each(awkwardNames)("a key with %s decodes back to the exact relative path", async (_label, key) => {
    const { w, events } = watcher();
    await write(path.join(BUCKET, ...key.split("/")), "content");
    await scans(w);
    expect(events).toHaveLength(1);
    expect(realKey(events[0] as Event)).toBe(key);
    const context = triggerContext({ kind: "s3", buckets: [BUCKET] }, events[0] as Event);
    expect(context.ok && context.context["s3.key"]).toBe(key);
  });

  it("emits keys the compiled rule of a job with a prefix filter matches", async () => {
    const { w, events } = watcher();
    await write(`${BUCKET}/raw uploads/a+b.csv`, "1");
    await write(`${BUCKET}/other/a.csv`, "2");
    await scans(w);
    const trigger: S3Trigger = { kind: "s3", buckets: [BUCKET], key: { prefix: "raw uploads/" } };
    const rule = compilePattern(triggerPattern(trigger, "berth", "ingest"));
    expect(events.filter((event) => matchesPattern(rule, event)).map(realKey)).toEqual(["raw uploads/a+b.csv"]);
  });

  it("announces a file still being written once, after it stopped changing", async () => {
    const { w, events } = watcher();
    const half = Buffer.alloc(64 * 1024, 1);
    const file = await write(`${BUCKET}/big.bin`, half);
    await w.scanOnce();
    await appendFile(file, half);
    await w.scanOnce();
    expect(events).toHaveLength(0);
    await w.scanOnce();
    await scans(w, 3);

    expect(events).toHaveLength(1);
    const full = Buffer.concat([half, half]);
    expect(events[0]?.detail.object).toMatchObject({ size: full.length, etag: md5(full) });
  });

  it("announces a rewritten file again as a new version", async () => {
    const { w, events } = watcher();
    const file = await write(`${BUCKET}/data.json`, "{}");
    await scans(w);
    await writeFile(file, '{"a":1}');
    await scans(w);
    // Same size, new content, a later mtime: still a new write.
    await writeFile(file, '{"b":2}');
    const later = new Date(T0 + 60_000);
    await utimes(file, later, later);
    await scans(w);

    expect(events.map((e) => e.detail.object.etag)).toEqual([md5("{}"), md5('{"a":1}'), md5('{"b":2}')]);
    expect(new Set(events.map((e) => e.detail.object["version-id"])).size).toBe(3);
  });

  it("forgets a deleted file without an event and announces it again when it comes back", async () => {
    const { w, events } = watcher();
    const file = await write(`${BUCKET}/again.txt`, "same");
    await scans(w);
    await rm(file);
    await scans(w);
    expect(events).toHaveLength(1);
    await write(`${BUCKET}/again.txt`, "same");
    await scans(w);
    expect(events.map(realKey)).toEqual(["again.txt", "again.txt"]);
  });

  it("hands out increasing sequencers, also when the clock stands still or goes back", async () => {
    let now = T0;
    const { w, events } = watcher({ now: () => now });
    for (let i = 0; i < 5; i += 1) {
      await write(`${BUCKET}/f${i}.txt`, String(i));
      if (i === 3) now = T0 - 86_400_000;
      await scans(w);
    }
    await write(`${BUCKET}/g1.txt`, "1");
    await write(`${BUCKET}/g2.txt`, "2");
    await scans(w);

    const sequencers = events.map((e) => e.detail.object.sequencer);
    expect(sequencers).toHaveLength(7);
    for (let i = 1; i < sequencers.length; i += 1) expect(sequencers[i]! > sequencers[i - 1]!).toBe(true);
  });

  it("ignores temp files, symbolic links and files outside bucket folders", async () => {
    const { w, events } = watcher();
    await write(`${BUCKET}/.berth-tmp-0123`, "half written");
    await write(`${BUCKET}/deep/.berth-tmp-x`, "half written");
    await write("loose.txt", "not in a bucket");
    const outside = path.join(work, "outside");
    await mkdir(outside);
    await writeFile(path.join(outside, "secret.txt"), "secret");
    await mkdir(path.join(root, BUCKET), { recursive: true });
    await symlink(path.join(outside, "secret.txt"), path.join(root, BUCKET, "link.txt"));
    await symlink(outside, path.join(root, BUCKET, "linked-folder"));
    await symlink(outside, path.join(root, "linked-bucket"));
    await scans(w, 3);
    expect(events).toEqual([]);
  });

  it("skips bucket folders with invalid names, warning once", async () => {
    const { w, events, warnings } = watcher();
    await write("Bad_Bucket/a.txt", "a");
    await write(`${BUCKET}/b.txt`, "b");
    await scans(w, 4);
    expect(events.map((e) => e.detail.bucket.name)).toEqual([BUCKET]);
    expect(warnings.filter((m) => m.includes("Bad_Bucket"))).toHaveLength(1);
  });

  it("does not announce files again after a restart, but announces those added or changed while stopped", async () => {
    const stateFile = path.join(work, "state", "s3.json");
    const first = watcher({ stateFile });
    const kept = await write(`${BUCKET}/kept.txt`, "kept");
    const changed = await write(`${BUCKET}/changed.txt`, "v1");
    await scans(first.w);
    expect(first.events.map(realKey).sort()).toEqual(["changed.txt", "kept.txt"]);
    expect(existsSync(stateFile)).toBe(true);
    expect(await readdir(path.dirname(stateFile))).toEqual(["s3.json"]);

    await writeFile(changed, "v2 is longer");
    await write(`${BUCKET}/new/added.txt`, "added");
    // The clock went back while berth was stopped: sequencers must still increase.
    const second = watcher({ stateFile, now: () => T0 - 3_600_000 });
    await scans(second.w, 3);

    expect(second.events.map(realKey).sort()).toEqual(["changed.txt", "new/added.txt"]);
    const before = first.events.map((e) => e.detail.object.sequencer).sort().at(-1)!;
    for (const event of second.events) expect(event.detail.object.sequencer > before).toBe(true);
    expect(await readFile(kept, "utf8")).toBe("kept");
  });

  it("records what was announced before an emit failed, so a restart announces only the rest", async () => {
    const stateFile = path.join(work, "s3.json");
    await write(`${BUCKET}/a.txt`, "a");
    await write(`${BUCKET}/b.txt`, "b");
    const delivered: string[] = [];
    const failing = new S3FolderWatcher({
      root,
      stateFile,
      emit: (event) => {
        if (delivered.length === 1) throw new Error("bus down");
        delivered.push(realKey(event as Event));
      },
    });
    await failing.scanOnce();
    await expect(failing.scanOnce()).rejects.toThrow("bus down");
    expect(delivered).toHaveLength(1);

    const { w, events } = watcher({ stateFile });
    await scans(w);
    expect([...delivered, ...events.map(realKey)].sort()).toEqual(["a.txt", "b.txt"]);
  });

  it("refuses a state file it did not write", async () => {
    const stateFile = path.join(work, "s3.json");
    await writeFile(stateFile, "{ not json");
    const { w } = watcher({ stateFile });
    await expect(w.scanOnce()).rejects.toThrow(/delete it to announce every object/);
  });

  it("start announces what is already there and keeps polling until stop", async () => {
    await write(`${BUCKET}/before.txt`, "before");
    const { w, events } = watcher({ intervalMs: 20 });
    await w.start();
    expect(events.map(realKey)).toEqual(["before.txt"]);

    await write(`${BUCKET}/during.txt`, "during");
    await expect.poll(() => events.map(realKey), { timeout: 5_000 }).toEqual(["before.txt", "during.txt"]);
    await w.stop();

    await write(`${BUCKET}/after.txt`, "after");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events).toHaveLength(2);
  });
});

describe("putObject", () => {
  it("stores the file under the bucket folder and the watcher announces it once, complete", async () => {
    const { w, events } = watcher();
    const source = path.join(work, "upload.bin");
    const content = Buffer.alloc(8 * 1024 * 1024, 7);
    await writeFile(source, content);

    // Scans race the copy: none of them may see the object half-written or under its temp name.
    const destination = path.join(root, BUCKET, "in coming", "é+%.bin");
    const sizesSeen = new Set<number>();
    let putting = true;
    const racing = (async () => {
      while (putting) {
        await w.scanOnce();
        const seen = await stat(destination).catch(() => undefined);
        if (seen !== undefined) sizesSeen.add(seen.size);
      }
    })();
    const stored = await putObject(root, source, BUCKET, "in coming/é+%.bin");
    putting = false;
    await racing;
    await scans(w);

    expect(stored).toBe(destination);
    expect([...sizesSeen].filter((size) => size !== content.length)).toEqual([]);
    expect(md5(await readFile(stored))).toBe(md5(content));
    expect(await readdir(path.join(root, BUCKET, "in coming"))).toEqual(["é+%.bin"]);
    expect(events.map(realKey)).toEqual(["in coming/é+%.bin"]);
    expect(events[0]?.detail.object).toMatchObject({ size: content.length, etag: md5(content) });
  });

  it("replaces an existing object", async () => {
    const source = path.join(work, "v.txt");
    await writeFile(source, "one");
    await putObject(root, source, BUCKET, "v.txt");
    await writeFile(source, "two");
    const stored = await putObject(root, source, BUCKET, "v.txt");
    expect(await readFile(stored, "utf8")).toBe("two");
  });

  const rejected: ReadonlyArray<readonly [string, string, string, RegExp]> = [
    ["a .. segment", BUCKET, "../escape.txt", /\.\. segment/],
    ["a .. segment in the middle", BUCKET, "a/../../escape.txt", /\.\. segment/],
    ["an empty key", BUCKET, "", /empty/],
    ["an absolute key", BUCKET, "/etc/passwd", /starts with \//],
    ["a NUL", BUCKET, "a\0b", /NUL/],
    ["a trailing /", BUCKET, "prefix/", /empty segment/],
    ["a key over 1,024 bytes", BUCKET, "é".repeat(513), /1026 bytes/],
    ["a temp-file name", BUCKET, "a/.berth-tmp-1", /reserves/],
    ["an upper-case bucket", "Media", "a.txt", /lower-case/],
    ["a bucket with a slash", "a/b", "a.txt", /lower-case/],
    ["a bucket of ..", "..", "a.txt", /3 to 63/],
    ["an empty bucket", "", "a.txt", /3 to 63/],
  ];

  it.each(rejected)("rejects %s and writes nothing", async (_label, bucket, key, message) => {
    const source = path.join(work, "f.txt");
    await writeFile(source, "f");
    const attempt = putObject(root, source, bucket, key);
    await expect(attempt).rejects.toThrow(ValidationError);
    await expect(attempt).rejects.toThrow(message);
    expect(await readdir(root)).toEqual([]);
    expect((await readdir(work)).sort()).toEqual(["f.txt", "s3"]);
  });

  it("rejects a missing source file", async () => {
    await expect(putObject(root, path.join(work, "nope.txt"), BUCKET, "a.txt")).rejects.toThrow(/ENOENT.*name an existing file/);
  });

  it("explains a key whose folder is already an object", async () => {
    const source = path.join(work, "f.txt");
    await writeFile(source, "f");
    await putObject(root, source, BUCKET, "a");
    await expect(putObject(root, source, BUCKET, "a/b")).rejects.toThrow(/already an object/);
    expect(await readdir(path.join(root, BUCKET))).toEqual(["a"]);
  });
});

describe("parseS3Url", () => {
  it.each([
    ["s3://media-uploads/incoming/cat.png", BUCKET, "incoming/cat.png"],
    ["s3://media-uploads/a b/c+d%20.png", BUCKET, "a b/c+d%20.png"],
    ["s3://my.bucket-1/x", "my.bucket-1", "x"],
  ])("splits %s", (url, bucket, key) => {
    expect(parseS3Url(url)).toEqual({ bucket, key });
  });

  it.each([
    ["media-uploads/cat.png", /not an S3 URL/],
    ["https://media-uploads.s3.amazonaws.com/cat.png", /not an S3 URL/],
    ["s3://", /names no bucket/],
    ["s3://media-uploads", /names no object key/],
    ["s3://media-uploads/", /names no object key/],
    ["s3://Media/cat.png", /lower-case/],
    ["s3://media-uploads/../cat.png", /\.\. segment/],
  ])("rejects %s", (url, message) => {
    expect(() => parseS3Url(url)).toThrow(ValidationError);
    expect(() => parseS3Url(url)).toThrow(message);
  });
});

describe("s3BucketNameProblem", () => {
  it.each(["abc", "media-uploads", "my.bucket.1", "a".repeat(63), "1-2"])("accepts %s", (name) => {
    expect(s3BucketNameProblem(name)).toBeUndefined();
  });

  it.each([
    ["ab", /3 to 63/],
    ["a".repeat(64), /3 to 63/],
    ["Media", /lower-case/],
    ["under_score", /lower-case/],
    ["-start", /begin and end/],
    ["end.", /begin and end/],
    ["two..dots", /two dots/],
    ["192.168.5.4", /IP address/],
    ["xn--bucket", /xn--/],
    ["sthree-bucket", /sthree-/],
    ["amzn-s3-demo-bucket", /amzn-s3-demo-/],
    ["bucket-s3alias", /-s3alias/],
    ["bucket--ol-s3", /--ol-s3/],
    ["bucket.mrap", /\.mrap/],
    ["bucket--x-s3", /--x-s3/],
  ])("rejects %s", (name, message) => {
    expect(s3BucketNameProblem(name)).toMatch(message);
  });
});
