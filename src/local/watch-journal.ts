/**
 * What the S3 folder announced, kept across restarts as an append-only
 * journal: one JSON line per change, so an announcement costs one short
 * append whatever the folder holds, and the file is rewritten (compacted) only
 * once it has grown past the objects it describes.
 *
 *   {"journal":"berth-s3-folder","version":2,"sequencer":"…"}   first line, written by compaction
 *   {"id":"bucket/key","size":…,"mtimeMs":…,"etag":"…","event":{…}}   an announcement, before it is emitted
 *   {"delivered":true}                                                every announcement above was emitted
 *   {"id":"bucket/key","forgotten":true}                              the object is gone (or its emit failed)
 *
 * An announcement is written before its event is emitted and followed by a
 * `delivered` line after, so a crash at any point neither loses nor doubles
 * it: a torn last line is dropped (that object was not emitted, so it is
 * examined again), and announcements with no `delivered` line after them are
 * emitted again with the same event, which the engine's idempotency key
 * (bucket, key, version id) turns into no second run — as S3's own
 * notifications are delivered at least once.
 */
import { randomBytes } from "node:crypto";
import { appendFile, mkdir, open, readFile, rename, rm, truncate } from "node:fs/promises";
import path from "node:path";
import { ConfigurationError } from "../core/errors.ts";

export interface Announced {
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
}

/** What identifies one announcement's event, so a redelivery is the same event. */
export interface EventIdentity {
  readonly id: string;
  readonly time: number;
  readonly versionId: string;
  readonly sequencer: string;
  readonly requestId: string;
}

export interface Announcement extends Announced {
  /** `<bucket>/<key>`. */
  readonly id: string;
  readonly event: EventIdentity;
}

export interface Replayed {
  readonly objects: Map<string, Announced>;
  /** The largest sequencer handed out, so sequencers keep increasing across restarts even if the clock does not. */
  readonly sequencer: bigint;
  /** Announcements written but not known to be emitted (a crash came between): to emit again, as they were. */
  readonly undelivered: Announcement[];
}

const JOURNAL = "berth-s3-folder";
const VERSION = 2;
/** Compaction happens once the lines appended since the last one exceed both this and the objects described. */
const MIN_LINES_BEFORE_COMPACTION = 1024;

export class AnnouncementJournal {
  /** Lines appended since the file was last written whole. */
  private appended = 0;
  private exists = false;

  /** @param tempPrefix names of temporary files, which the folder's watcher ignores */
  constructor(
    readonly file: string,
    private readonly tempPrefix: string,
  ) {}

  /** Replays the journal (or a version 1 state file, which it rewrites as a journal); undefined when there is none. */
  async load(): Promise<Replayed | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file);
    } catch (error) {
      if (isCode(error, "ENOENT")) return undefined;
      throw error;
    }
    const legacy = parseVersion1(bytes.toString("utf8"));
    if (legacy !== undefined) {
      await this.compact(legacy.objects, legacy.sequencer);
      return { ...legacy, undelivered: [] };
    }
    const replayed = this.replay(bytes);
    if (replayed.validBytes < bytes.length) await truncate(this.file, replayed.validBytes);
    this.exists = true;
    this.appended = replayed.lines;
    return replayed;
  }

  /** Appends announcements (before their events are emitted), `forgotten` lines, or a `delivered` line. */
  async append(lines: readonly JournalLine[]): Promise<void> {
    if (lines.length === 0) return;
    if (!this.exists) await this.compact(new Map(), 0n);
    await appendFile(this.file, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
    this.appended += lines.length;
  }

  /** Whether the journal has grown enough past `objects` live ones to be worth rewriting. */
  wantsCompaction(objects: number): boolean {
    return this.appended > Math.max(MIN_LINES_BEFORE_COMPACTION, objects);
  }

  /** Rewrites the journal as one line per live object, through a temporary file renamed into place (never half-written). */
  async compact(objects: ReadonlyMap<string, Announced>, sequencer: bigint): Promise<void> {
    const header = { journal: JOURNAL, version: VERSION, sequencer: formatSequencer(sequencer) };
    const lines = [JSON.stringify(header)];
    for (const [id, { size, mtimeMs, etag }] of objects) lines.push(JSON.stringify({ id, size, mtimeMs, etag }));
    const folder = path.dirname(this.file);
    const temp = path.join(folder, `${this.tempPrefix}${path.basename(this.file)}-${randomBytes(6).toString("hex")}`);
    await mkdir(folder, { recursive: true });
    try {
      const handle = await open(temp, "w");
      try {
        await handle.writeFile(`${lines.join("\n")}\n`);
        // The rename must not reach the disk before the content does.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    this.exists = true;
    this.appended = 0;
  }

  private replay(bytes: Buffer): Replayed & { readonly validBytes: number; readonly lines: number } {
    const objects = new Map<string, Announced>();
    let undelivered = new Map<string, Announcement>();
    let sequencer = 0n;
    let validBytes = 0;
    let lines = 0;
    // Every line is written with its newline in one append: an unterminated last line is torn (a crash mid-append).
    // Its object was not emitted yet, so dropping it has that object examined again; a torn `delivered` line has the
    // announcements before it emitted again as the same events.
    for (let start = 0; ; ) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline === -1) break;
      const line = parseLine(bytes.subarray(start, newline).toString("utf8"), lines === 0);
      if (line === undefined) {
        // Garbage in place of the last line is a torn append on a file system that extended the file before writing it.
        if (lines > 0 && bytes.indexOf(0x0a, newline + 1) === -1) break;
        throw this.notOurs(lines + 1);
      }
      lines += 1;
      validBytes = start = newline + 1;
      if ("journal" in line) {
        sequencer = maxOf(sequencer, BigInt(`0x${line.sequencer}`));
      } else if ("delivered" in line) {
        undelivered = new Map();
      } else if ("forgotten" in line) {
        objects.delete(line.id);
        undelivered.delete(line.id);
      } else {
        objects.set(line.id, { size: line.size, mtimeMs: line.mtimeMs, etag: line.etag });
        undelivered.delete(line.id);
        if (line.event !== undefined) {
          sequencer = maxOf(sequencer, BigInt(`0x${line.event.sequencer}`));
          undelivered.set(line.id, { id: line.id, size: line.size, mtimeMs: line.mtimeMs, etag: line.etag, event: line.event });
        }
      }
    }
    if (lines === 0) throw this.notOurs(1);
    return { objects, sequencer, undelivered: [...undelivered.values()], validBytes, lines: lines - 1 };
  }

  private notOurs(line: number): ConfigurationError {
    return new ConfigurationError(
      `the S3 folder state file ${this.file} is not one berth wrote (line ${line}); ` +
        "delete it to announce every object in the folder again, or restore it from a backup",
    );
  }
}

export type JournalLine =
  | { readonly journal: typeof JOURNAL; readonly version: typeof VERSION; readonly sequencer: string }
  | { readonly id: string; readonly size: number; readonly mtimeMs: number; readonly etag: string; readonly event?: EventIdentity }
  | { readonly delivered: true }
  | { readonly id: string; readonly forgotten: true };

export const announcedLine = (a: Announcement): JournalLine => ({ id: a.id, size: a.size, mtimeMs: a.mtimeMs, etag: a.etag, event: a.event });
export const forgottenLine = (id: string): JournalLine => ({ id, forgotten: true });
export const DELIVERED: JournalLine = { delivered: true };

/** 18 upper-case hex digits like S3's sequencers: fixed width, so plain string comparison orders them. */
export function formatSequencer(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(18, "0");
}

const SEQUENCER = /^[0-9A-F]{1,32}$/;

function parseObject(text: string): Record<string, unknown> | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof data === "object" && data !== null ? (data as Record<string, unknown>) : undefined;
}

function parseLine(text: string, first: boolean): JournalLine | undefined {
  const line = parseObject(text);
  if (line === undefined) return undefined;
  if (first) {
    return line.journal === JOURNAL && line.version === VERSION && typeof line.sequencer === "string" && SEQUENCER.test(line.sequencer)
      ? (line as JournalLine)
      : undefined;
  }
  if (line.delivered === true) return DELIVERED;
  if (typeof line.id !== "string") return undefined;
  if (line.forgotten === true) return forgottenLine(line.id);
  if (typeof line.size !== "number" || typeof line.mtimeMs !== "number" || typeof line.etag !== "string") return undefined;
  if (line.event !== undefined && !isIdentity(line.event)) return undefined;
  return line as JournalLine;
}

function isIdentity(value: unknown): value is EventIdentity {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return typeof e.id === "string" && typeof e.time === "number" && typeof e.versionId === "string" && typeof e.requestId === "string" && typeof e.sequencer === "string" && SEQUENCER.test(e.sequencer);
}

/** The state file berth wrote before the journal: one JSON object rewritten after every scan that changed anything. */
function parseVersion1(text: string): { objects: Map<string, Announced>; sequencer: bigint } | undefined {
  const state = parseObject(text);
  if (state === undefined) return undefined;
  if (state.version !== 1 || typeof state.sequencer !== "string" || !SEQUENCER.test(state.sequencer)) return undefined;
  if (typeof state.objects !== "object" || state.objects === null) return undefined;
  const objects = new Map<string, Announced>();
  for (const [id, entry] of Object.entries(state.objects as Record<string, unknown>)) {
    if (typeof entry !== "object" || entry === null) return undefined;
    const { size, mtimeMs, etag } = entry as Record<string, unknown>;
    if (typeof size !== "number" || typeof mtimeMs !== "number" || typeof etag !== "string") return undefined;
    objects.set(id, { size, mtimeMs, etag });
  }
  return { objects, sequencer: BigInt(`0x${state.sequencer}`) };
}

const maxOf = (a: bigint, b: bigint) => (a > b ? a : b);

function isCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === code;
}
