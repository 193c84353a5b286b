/**
 * The S3 folder while running (`start`): notifications, the settle, the
 * polling fallback and the journal across restarts. Every test counts
 * announcements and waits on conditions, never on time.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { lstat, mkdir, mkdtemp, open, readFile, rename, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeS3EventKey } from "../../src/core/events/s3-key.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import { S3FolderWatcher } from "../../src/local/s3-folder.ts";
import type { S3FolderWatcherOptions, S3ObjectCreatedDetail } from "../../src/local/s3-folder.ts";

type Event = BusEvent<S3ObjectCreatedDetail>;

const BUCKET = "media-uploads";
const DEADLINE = { timeout: 60_000, interval: 20 };

let work: string;
let root: string;
let stateFile: string;
const running: S3FolderWatcher[] = [];

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), "berth-s3-watch-"));
  root = path.join(work, "s3");
  stateFile = path.join(work, "state", "s3-state.json");
  await mkdir(root);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
  await rm(work, { recursive: true, force: true });
});

/** A started watcher, and how many times each key was announced. */
async function started(options: Partial<S3FolderWatcherOptions> = {}) {
  const events: Event[] = [];
  const w = new S3FolderWatcher({ root, stateFile, emit: (event) => events.push(event), warn: () => undefined, ...options });
  running.push(w);
  await w.start();
  const counts = () => {
    const byKey = new Map<string, number>();
    for (const event of events) byKey.set(keyOf(event), (byKey.get(keyOf(event)) ?? 0) + 1);
    return byKey;
  };
  const stop = async () => {
    await w.stop();
    running.splice(running.indexOf(w), 1);
  };
  return { w, events, counts, stop };
}

function keyOf(event: Event): string {
  const decoded = decodeS3EventKey(event.detail.object.key);
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.key;
}

async function put(key: string, content: string | Buffer): Promise<string> {
  const file = path.join(root, BUCKET, ...key.split("/"));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}

/** Makes the watcher look at everything twice: an announcement still owed, or one too many, shows after it. */
async function rescan(w: S3FolderWatcher): Promise<void> {
  await w.scanOnce();
  await w.scanOnce();
}

/** A run that announced a.txt, then b.txt, and stopped; `bLine` is where b's announcement starts in the journal. */
async function announceAThenB() {
  const run = await started();
  await put("a.txt", "a");
  await expect.poll(() => run.events.length, DEADLINE).toBe(1);
  await put("b.txt", "b");
  await expect.poll(() => run.events.length, DEADLINE).toBe(2);
  await run.stop();
  const text = await readFile(stateFile, "utf8");
  const bLine = text.indexOf(`{"id":"${BUCKET}/b.txt"`);
  expect(bLine).toBeGreaterThan(0);
  return { ...run, text, bLine };
}

const md5 = (content: string | Buffer) => createHash("md5").update(content).digest("hex");
const journalLines = async () => (await readFile(stateFile, "utf8")).split("\n").filter((line) => line !== "");

describe("S3FolderWatcher, running", () => {
  it("announces each of 10,000 files dropped at once exactly once", async () => {
    const { w, counts } = await started();
    const n = 10_000;
    const folders = 50;
    // The folders are watched first (their first file announced), then the files written without yielding: the kernel's
    // notification queue overflows (20,000 notifications for 16,384 places), and the ones it drops must not lose files.
    for (let f = 0; f < folders; f += 1) await put(`in/f${f}/first.txt`, "first");
    await expect.poll(() => counts().size, DEADLINE).toBe(folders);
    for (let i = 0; i < n; i += 1) writeFileSync(path.join(root, BUCKET, "in", `f${i % folders}`, `file-${i}.txt`), `payload ${i}`);

    await expect.poll(() => counts().size, DEADLINE).toBe(folders + n);
    await rescan(w);
    const announced = counts();
    expect(announced.size).toBe(folders + n);
    expect([...announced.values()].filter((count) => count !== 1)).toEqual([]);
  });

  it("announces a file written in several chunks once, complete", async () => {
    // A settle far longer than the gaps between the writes: a file written in one go is never taken for finished early.
    const { w, events } = await started({ settleMs: 500 });
    const chunk = Buffer.alloc(256 * 1024, 3);
    const file = path.join(root, BUCKET, "big.bin");
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(file, "w");
    for (let i = 0; i < 8; i += 1) await handle.write(chunk);
    await handle.close();

    await expect.poll(() => events.length, DEADLINE).toBe(1);
    await rescan(w);
    expect(events).toHaveLength(1);
    const full = Buffer.concat(Array.from({ length: 8 }, () => chunk));
    expect(events[0]?.detail.object).toMatchObject({ size: full.length, etag: md5(full) });
  });

  it("announces what is renamed into place, folders included, once each", async () => {
    const { w, counts } = await started();
    await mkdir(path.join(root, BUCKET));
    const outside = path.join(work, "outside");
    await mkdir(path.join(outside, "deep"), { recursive: true });
    await writeFile(path.join(outside, "a.txt"), "a");
    await writeFile(path.join(outside, "deep", "b.txt"), "b");
    await rename(outside, path.join(root, BUCKET, "moved"));
    const single = path.join(work, "single.txt");
    await writeFile(single, "single");
    await rename(single, path.join(root, BUCKET, "single.txt"));

    await expect.poll(() => counts().size, DEADLINE).toBe(3);
    await rescan(w);
    expect(Object.fromEntries(counts())).toEqual({ "moved/a.txt": 1, "moved/deep/b.txt": 1, "single.txt": 1 });
  });

  it("forgets deleted files and folders without an event and announces them again when they come back", async () => {
    const { counts } = await started();
    const file = await put("again.txt", "same");
    await put("folder/inside.txt", "inside");
    await expect.poll(() => counts().size, DEADLINE).toBe(2);

    await rm(file);
    await rm(path.join(root, BUCKET, "folder"), { recursive: true });
    // Put back only once the watcher has seen both go: the journal then says they are gone.
    await expect.poll(async () => (await journalLines()).filter((line) => line.includes('"forgotten":true')).length, DEADLINE).toBe(2);
    await put("again.txt", "same");
    await put("folder/inside.txt", "inside");

    await expect.poll(() => Object.fromEntries(counts()), DEADLINE).toEqual({ "again.txt": 2, "folder/inside.txt": 2 });
  });

  it("keeps watching a folder removed and made again at once", async () => {
    const { counts } = await started();
    await put("remade/a.txt", "a");
    await expect.poll(() => counts().size, DEADLINE).toBe(1);
    await rm(path.join(root, BUCKET, "remade"), { recursive: true });
    await put("remade/b.txt", "b");
    await expect.poll(() => counts().get("remade/b.txt"), DEADLINE).toBe(1);
    // Written after the new folder was seen: only a watch on the new folder tells of it.
    await put("remade/c.txt", "c");
    await expect.poll(() => Object.fromEntries(counts()), DEADLINE).toEqual({ "remade/a.txt": 1, "remade/b.txt": 1, "remade/c.txt": 1 });
  });

  it("polls when notifications are off, announcing each file once", async () => {
    const { w, counts } = await started({ notifications: false, intervalMs: 20 });
    await put("polled/a.txt", "a");
    await put("polled/b.txt", "b");
    await expect.poll(() => counts().size, DEADLINE).toBe(2);
    await rescan(w);
    expect(Object.fromEntries(counts())).toEqual({ "polled/a.txt": 1, "polled/b.txt": 1 });
  });

  it("after a restart announces only what appeared or changed while stopped", async () => {
    const first = await started();
    await put("kept.txt", "kept");
    const changed = await put("changed.txt", "v1");
    await expect.poll(() => first.counts().size, DEADLINE).toBe(2);
    await first.stop();

    await writeFile(changed, "v2, longer");
    await put("added.txt", "added");
    const second = await started();
    await rescan(second.w);
    expect(Object.fromEntries(second.counts())).toEqual({ "changed.txt": 1, "added.txt": 1 });
    const lastBefore = first.events.map((e) => e.detail.object.sequencer).sort().at(-1)!;
    for (const event of second.events) expect(event.detail.object.sequencer > lastBefore).toBe(true);
  });

  it("appends one line per announcement and rewrites nothing", async () => {
    const { counts } = await started();
    for (let i = 0; i < 5; i += 1) {
      await put(`one-by-one/${i}.txt`, String(i));
      await expect.poll(() => counts().size, DEADLINE).toBe(i + 1);
    }
    const lines = await journalLines();
    expect(lines.filter((line) => line.includes('"event":')).length).toBe(5);
    // One header, written when the journal was created, and nothing written twice.
    expect(lines.filter((line) => line.includes('"journal":')).length).toBe(1);
  });

  it("ignores a torn last line and announces its object once", async () => {
    const first = await announceAThenB();

    // A crash in the middle of appending b's announcement.
    await truncate(stateFile, Buffer.byteLength(first.text.slice(0, first.bLine + 20)));

    const second = await started();
    await rescan(second.w);
    expect(Object.fromEntries(second.counts())).toEqual({ "b.txt": 1 });
    expect(second.events[0]?.detail.object["version-id"]).not.toBe(first.events[1]?.detail.object["version-id"]);
    await second.stop();

    // The torn line is gone from the journal: a third start announces nothing.
    const third = await started();
    await rescan(third.w);
    expect(third.events).toEqual([]);
  });

  it("emits again, as the same event, an announcement a crash kept from being emitted", async () => {
    const first = await announceAThenB();

    // A crash after b's announcement was written and before it was marked delivered.
    await truncate(stateFile, Buffer.byteLength(first.text.slice(0, first.text.indexOf("\n", first.bLine) + 1)));

    const second = await started();
    await rescan(second.w);
    expect(Object.fromEntries(second.counts())).toEqual({ "b.txt": 1 });
    // The same event: the engine's idempotency key (bucket, key, version id) makes it one run, as with S3's at-least-once delivery.
    expect(second.events[0]?.id).toBe(first.events[1]?.id);
    expect(second.events[0]?.detail.object).toEqual(first.events[1]?.detail.object);
    await second.stop();

    const third = await started();
    await rescan(third.w);
    expect(third.events).toEqual([]);
  });

  it("reads the state file of earlier versions, announcing nothing it lists", async () => {
    const file = await put("old.txt", "old");
    const { size, mtimeMs } = await lstat(file);
    await mkdir(path.dirname(stateFile), { recursive: true });
    const sequencer = "FF0000000000000005"; // ahead of the clock: only the state keeps the next one above it
    await writeFile(stateFile, JSON.stringify({ version: 1, sequencer, objects: { [`${BUCKET}/old.txt`]: { size, mtimeMs, etag: md5("old") } } }));

    const { w, events } = await started();
    await put("new.txt", "new");
    await expect.poll(() => events.length, DEADLINE).toBe(1);
    await rescan(w);
    expect(events.map(keyOf)).toEqual(["new.txt"]);
    expect(events[0]!.detail.object.sequencer > sequencer).toBe(true);
    expect(JSON.parse((await journalLines())[0]!)).toMatchObject({ journal: "berth-s3-folder", version: 2 });
  });
});
