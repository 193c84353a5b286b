/**
 * The local stand-in for S3: `<root>/<bucket>/<key…>` is an object, and every
 * object that is written, copied or moved in is announced once as an
 * `Object Created` event in the shape S3 puts on EventBridge, so the same rules
 * match and the same context (`s3.key`, `s3.size`, `s3.etag` …) comes out.
 *
 * The folder is polled rather than watched: `fs.watch` misses events on some
 * platforms and file systems and says nothing about whether a writer is done.
 * A file is announced once its size and mtime were equal in two consecutive
 * scans, so a large file still being copied is announced once, after the copy.
 * A writer that pauses longer than one interval mid-file can still be caught
 * half-way; `putObject` avoids that by renaming a finished file into place.
 *
 * What was announced is kept in a state file, so a restart announces exactly
 * the files that appeared or changed while berth was not running.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodeS3EventKey } from "../core/events/s3-key.ts";
import { busEvent } from "../core/events/envelope.ts";
import { ConfigurationError, ValidationError } from "../core/errors.ts";
import { DETAIL_TYPE } from "../core/events/berth-events.ts";
import type { BusEvent } from "../core/events/envelope.ts";

/** The `detail` of an S3 `Object Created` event on EventBridge. */
export interface S3ObjectCreatedDetail {
  readonly version: "0";
  readonly bucket: { readonly name: string };
  readonly object: {
    /** Form-URL-encoded, as S3 sends it (docs/s3-keys.md). */
    readonly key: string;
    readonly size: number;
    readonly etag: string;
    readonly "version-id": string;
    readonly sequencer: string;
  };
  readonly "request-id": string;
  readonly requester: string;
  readonly "source-ip-address": string;
  readonly reason: "PutObject";
}

export interface S3FolderWatcherOptions {
  /** The folder holding one sub-folder per bucket (`.berth/s3`). Created by `start()` if missing. */
  readonly root: string;
  readonly emit: (event: BusEvent<S3ObjectCreatedDetail>) => void;
  /** Epoch ms for event times and sequencers. Default `Date.now`. */
  readonly now?: () => number;
  /** Time between the end of one scan and the start of the next. Default 250. */
  readonly intervalMs?: number;
  /** Where announced objects are remembered across restarts. Default: none (everything present at start is announced). */
  readonly stateFile?: string;
  /** Default `local`, as in every local event. */
  readonly region?: string;
  /** Default `000000000000`, as in every local event. */
  readonly account?: string;
  /** Told about skipped folders and files, once per path. Default `console.warn`. */
  readonly warn?: (message: string) => void;
}

/** Files with this prefix are writes in progress (see `putObject`) and never objects. */
export const TEMP_PREFIX = ".berth-tmp-";

const DEFAULT_INTERVAL_MS = 250;
const MAX_KEY_BYTES = 1024;
const STATE_VERSION = 1;

interface Fingerprint {
  readonly size: number;
  readonly mtimeMs: number;
}

interface Announced extends Fingerprint {
  readonly etag: string;
}

interface StateFile {
  readonly version: typeof STATE_VERSION;
  /** The last sequencer handed out, so sequencers keep increasing across restarts even if the clock does not. */
  readonly sequencer: string;
  /** `<bucket>/<key>` → what was announced for it. */
  readonly objects: Readonly<Record<string, Announced>>;
}

interface Seen extends Fingerprint {
  readonly bucket: string;
  readonly key: string;
  readonly file: string;
}

interface Listing {
  /** `<bucket>/<key>` → the file as this scan found it. */
  readonly files: Map<string, Seen>;
  /** `<bucket>/<key…>/` prefixes of folders that could not be read: what was under them is not forgotten. */
  readonly unreadable: string[];
}

/**
 * Polls `root` and emits one `Object Created` event per new or rewritten
 * object. Deleted files are forgotten without an event (berth acts on
 * `Object Created` only), so a file put back later is announced again.
 */
export class S3FolderWatcher {
  private readonly root: string;
  private readonly emit: (event: BusEvent<S3ObjectCreatedDetail>) => void;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly stateFile: string | undefined;
  private readonly region: string;
  private readonly account: string;
  private readonly warn: (message: string) => void;

  private announced = new Map<string, Announced>();
  /** Files whose current size and mtime are not announced yet, as the previous scan saw them: an equal second sighting announces them. */
  private pending = new Map<string, Fingerprint>();
  private lastSequencer = 0n;
  private readonly warned = new Set<string>();
  private loaded = false;
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(options: S3FolderWatcherOptions) {
    this.root = options.root;
    this.emit = options.emit;
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.stateFile = options.stateFile;
    this.region = options.region ?? "local";
    this.account = options.account ?? "000000000000";
    this.warn = options.warn ?? ((message) => console.warn(message));
    if (!Number.isFinite(this.intervalMs) || this.intervalMs <= 0) {
      throw new ConfigurationError(`intervalMs must be a positive number of milliseconds, got ${this.intervalMs}`);
    }
  }

  /**
   * Loads the state file, then scans twice one interval apart so that every
   * finished file present at start (or changed while berth was stopped) has
   * been announced when this resolves; then keeps polling until `stop()`.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await mkdir(this.root, { recursive: true });
      await this.scanOnce();
    } catch (error) {
      this.started = false;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    if (!this.started) return;
    await this.scanOnce();
    this.schedule();
  }

  /** Stops polling and waits for a scan in progress to finish. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running.catch(() => undefined);
  }

  /** One scan: announce files that are stable since the previous scan, forget deleted ones. Scans never overlap. */
  scanOnce(): Promise<void> {
    const next = this.running.catch(() => undefined).then(() => this.scan());
    this.running = next;
    return next;
  }

  private schedule(): void {
    if (!this.started) return;
    this.timer = setTimeout(() => {
      this.scanOnce()
        .catch((error: unknown) => this.warnOnce(`scan: ${String(error)}`, `scanning ${this.root} for S3 objects failed: ${String(error)}; retrying every ${this.intervalMs} ms`))
        .finally(() => this.schedule());
    }, this.intervalMs);
  }

  private async scan(): Promise<void> {
    if (!this.loaded) await this.loadState();
    const listing = await this.list();
    const changes = { count: 0 };
    try {
      await this.announceStable(listing, changes);
    } finally {
      // Also after a failed emit: what was announced before it must not be announced again after a restart.
      const keep = (id: string) => listing.files.has(id) || listing.unreadable.some((prefix) => id.startsWith(prefix));
      for (const id of this.announced.keys()) {
        if (!keep(id)) {
          this.announced.delete(id);
          changes.count += 1;
        }
      }
      for (const id of this.pending.keys()) if (!keep(id)) this.pending.delete(id);
      if (changes.count > 0) await this.saveState();
    }
  }

  /** Emits events for files seen unchanged in this scan and the previous one, counting them as it goes. */
  private async announceStable(listing: Listing, changes: { count: number }): Promise<void> {
    for (const [id, seen] of listing.files) {
      const before = this.announced.get(id);
      if (before !== undefined && sameFingerprint(before, seen)) {
        this.pending.delete(id);
        continue;
      }
      const previous = this.pending.get(id);
      if (previous === undefined || !sameFingerprint(previous, seen)) {
        this.pending.set(id, fingerprint(seen));
        continue;
      }
      const hashed = await this.hash(seen);
      if (hashed === undefined) {
        this.pending.delete(id);
        continue;
      }
      if (!sameFingerprint(hashed, seen)) {
        // Written to while being hashed: not finished after all.
        this.pending.set(id, fingerprint(hashed));
        continue;
      }
      this.emit(this.objectCreated(seen, hashed.etag));
      this.announced.set(id, { size: seen.size, mtimeMs: seen.mtimeMs, etag: hashed.etag });
      this.pending.delete(id);
      changes.count += 1;
    }
  }

  private objectCreated(seen: Seen, etag: string): BusEvent<S3ObjectCreatedDetail> {
    const time = this.now();
    const detail: S3ObjectCreatedDetail = {
      version: "0",
      bucket: { name: seen.bucket },
      object: {
        key: encodeS3EventKey(seen.key),
        size: seen.size,
        etag,
        // Every announcement is a new version of the object, as in a versioned bucket.
        "version-id": randomBytes(24).toString("base64url"),
        sequencer: this.nextSequencer(time),
      },
      "request-id": randomBytes(8).toString("hex").toUpperCase(),
      requester: this.account,
      "source-ip-address": "127.0.0.1",
      reason: "PutObject",
    };
    return busEvent("aws.s3", DETAIL_TYPE.s3ObjectCreated, detail, {
      id: randomUUID(),
      time,
      region: this.region,
      account: this.account,
      resources: [`arn:aws:s3:::${seen.bucket}`],
    });
  }

  /**
   * 18 upper-case hex digits like S3's: 12 of epoch ms, then 6 of a counter.
   * Fixed width makes plain string comparison order them, and taking the
   * larger of "now" and "last + 1" keeps them increasing when the clock
   * stands still or goes back.
   */
  private nextSequencer(time: number): string {
    const fromClock = BigInt(Math.max(0, Math.floor(time))) << 24n;
    this.lastSequencer = fromClock > this.lastSequencer ? fromClock : this.lastSequencer + 1n;
    return formatSequencer(this.lastSequencer);
  }

  /** MD5 of the content (S3's ETag for a single-part upload) and what the file looked like after reading it. */
  private async hash(seen: Seen): Promise<(Fingerprint & { readonly etag: string }) | undefined> {
    try {
      const md5 = createHash("md5");
      for await (const chunk of createReadStream(seen.file)) md5.update(chunk as Buffer);
      const after = await lstat(seen.file);
      return { size: after.size, mtimeMs: after.mtimeMs, etag: md5.digest("hex") };
    } catch (error) {
      if (!isCode(error, "ENOENT")) this.warnOnce(seen.file, `cannot read ${seen.file} (${codeOf(error)}); it is announced once it is readable`);
      return undefined;
    }
  }

  private async list(): Promise<Listing> {
    const listing: Listing = { files: new Map(), unreadable: [] };
    const entries = await this.readFolder(this.root);
    if (entries === undefined) {
      listing.unreadable.push("");
      return listing;
    }
    const stateFile = this.stateFile === undefined ? undefined : path.resolve(this.stateFile);
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_PREFIX)) continue;
      const where = path.join(this.root, entry.name);
      if (path.resolve(where) === stateFile) continue;
      if (entry.isSymbolicLink()) {
        this.warnOnce(where, `ignored ${where}: symbolic links are not followed; make the bucket a real folder`);
      } else if (entry.isDirectory()) {
        const problem = s3BucketNameProblem(entry.name);
        if (problem !== undefined) {
          this.warnOnce(where, `ignored the folder ${where}: ${problem}; rename the folder to a valid S3 bucket name`);
          continue;
        }
        await this.walk(listing, entry.name, where, "");
      } else if (entry.isFile()) {
        this.warnOnce(where, `ignored ${where}: objects go inside a bucket folder, ${path.join(this.root, "<bucket>", entry.name)}`);
      }
    }
    return listing;
  }

  private async walk(listing: Listing, bucket: string, folder: string, prefix: string): Promise<void> {
    const entries = await this.readFolder(folder);
    if (entries === undefined) {
      listing.unreadable.push(`${bucket}/${prefix}`);
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_PREFIX)) continue;
      const where = path.join(folder, entry.name);
      const key = prefix + entry.name;
      if (entry.isDirectory()) {
        await this.walk(listing, bucket, where, `${key}/`);
      } else if (entry.isFile()) {
        const bytes = Buffer.byteLength(key, "utf8");
        if (bytes > MAX_KEY_BYTES) {
          this.warnOnce(where, `ignored ${where}: its key is ${bytes} bytes of UTF-8 and S3 keys are at most ${MAX_KEY_BYTES}`);
          continue;
        }
        const stats = await this.lstatFile(where);
        if (stats === undefined) continue;
        listing.files.set(`${bucket}/${key}`, { bucket, key, file: where, size: stats.size, mtimeMs: stats.mtimeMs });
      }
      // Symbolic links (and sockets, fifos …) are not objects: following links could leave the bucket or loop.
    }
  }

  /** The folder's entries; none when it does not exist; undefined when it cannot be read. */
  private async readFolder(folder: string) {
    try {
      return await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, "ENOENT")) return [];
      this.warnOnce(folder, `cannot read ${folder} (${codeOf(error)}); objects under it are not announced until it is readable`);
      return undefined;
    }
  }

  private async lstatFile(file: string) {
    try {
      return await lstat(file);
    } catch (error) {
      if (!isCode(error, "ENOENT")) {
        this.warnOnce(file, `cannot read ${file} (${codeOf(error)}); it is announced once it is readable`);
        return undefined;
      }
      // Names that are not UTF-8 come back from readdir with U+FFFD and then cannot be found; S3 keys are UTF-8.
      if (path.basename(file).includes("\uFFFD")) {
        this.warnOnce(file, `ignored a file in ${path.dirname(file)}: its name is not valid UTF-8, and S3 keys are UTF-8; rename it`);
      }
      return undefined;
    }
  }

  private warnOnce(where: string, message: string): void {
    if (this.warned.has(where)) return;
    this.warned.add(where);
    this.warn(message);
  }

  private async loadState(): Promise<void> {
    this.loaded = true;
    if (this.stateFile === undefined) return;
    let text: string;
    try {
      text = await readFile(this.stateFile, "utf8");
    } catch (error) {
      if (isCode(error, "ENOENT")) return;
      throw error;
    }
    const state = parseState(text);
    if (state === undefined) {
      throw new ConfigurationError(
        `the S3 folder state file ${this.stateFile} is not one berth wrote; ` +
          "delete it to announce every object in the folder again, or restore it from a backup",
      );
    }
    this.announced = new Map(Object.entries(state.objects));
    this.lastSequencer = BigInt(`0x${state.sequencer}`);
  }

  private async saveState(): Promise<void> {
    if (this.stateFile === undefined) return;
    const state: StateFile = {
      version: STATE_VERSION,
      sequencer: formatSequencer(this.lastSequencer),
      objects: Object.fromEntries(this.announced),
    };
    const temp = path.join(path.dirname(this.stateFile), `${TEMP_PREFIX}${path.basename(this.stateFile)}-${randomBytes(6).toString("hex")}`);
    await mkdir(path.dirname(this.stateFile), { recursive: true });
    try {
      await writeFile(temp, JSON.stringify(state));
      // A crash mid-write must not leave a truncated state file, which would re-announce or lose objects.
      await rename(temp, this.stateFile);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}

/**
 * Stores `file` as object `key` of `bucket` under `root` (`berth put`): the
 * content is copied to a temporary name in the destination folder and renamed
 * into place, so the watcher never sees a half-written object. Returns the
 * path of the stored object.
 */
export async function putObject(root: string, file: string, bucket: string, key: string): Promise<string> {
  const bucketProblem = s3BucketNameProblem(bucket);
  if (bucketProblem !== undefined) throw new ValidationError(`cannot put to bucket ${JSON.stringify(bucket)}: ${bucketProblem}`, { field: "bucket" });
  const keyProblem = s3KeyProblem(key);
  if (keyProblem !== undefined) throw new ValidationError(`cannot put object ${JSON.stringify(key)}: ${keyProblem}`, { field: "key" });

  let source;
  try {
    source = await stat(file);
  } catch (error) {
    throw new ValidationError(`cannot read ${file} (${codeOf(error)}); name an existing file to upload`, { field: "file", cause: error });
  }
  if (!source.isFile()) throw new ValidationError(`${file} is not a regular file; name a file to upload`, { field: "file" });

  const destination = path.join(root, bucket, ...key.split("/"));
  const folder = path.dirname(destination);
  const temp = path.join(folder, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
  try {
    await mkdir(folder, { recursive: true });
    await copyFile(file, temp);
    await rename(temp, destination);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new ValidationError(`cannot store s3://${bucket}/${key} at ${destination}: ${explainStoreFailure(error)}`, { field: "key", cause: error });
  }
  return destination;
}

function explainStoreFailure(error: unknown): string {
  switch (codeOf(error)) {
    case "ENOTDIR":
    case "EEXIST":
      return "part of the key is already an object, and the local folder cannot hold both `a` and `a/b`; choose another key";
    case "EISDIR":
    case "ENOTEMPTY":
      return "the key is already a folder of other objects; choose another key";
    case "ENAMETOOLONG":
      return "a part of the key is longer than this file system allows (usually 255 bytes per segment); shorten it";
    default:
      return String(error);
  }
}

/** Splits `s3://bucket/key` into its parts; the key is taken literally (no URL decoding), as the AWS CLI does. */
export function parseS3Url(url: string): { readonly bucket: string; readonly key: string } {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(url);
  if (match === null) {
    throw new ValidationError(`${JSON.stringify(url)} is not an S3 URL; write it as s3://<bucket>/<key>, e.g. s3://media-uploads/incoming/cat.png`, {
      field: "url",
    });
  }
  const bucket = match[1] ?? "";
  const key = match[2] ?? "";
  if (bucket === "") throw new ValidationError(`${JSON.stringify(url)} names no bucket; write it as s3://<bucket>/<key>`, { field: "bucket" });
  const bucketProblem = s3BucketNameProblem(bucket);
  if (bucketProblem !== undefined) throw new ValidationError(`${JSON.stringify(url)}: ${bucketProblem}`, { field: "bucket" });
  if (key === "") {
    throw new ValidationError(`${JSON.stringify(url)} names no object key; write it as s3://${bucket}/<key>, e.g. s3://${bucket}/incoming/file.csv`, {
      field: "key",
    });
  }
  const keyProblem = s3KeyProblem(key);
  if (keyProblem !== undefined) throw new ValidationError(`${JSON.stringify(url)}: ${keyProblem}`, { field: "key" });
  return { bucket, key };
}

const IP_ADDRESS = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/** Why `name` is not a valid S3 general purpose bucket name, or undefined when it is. */
export function s3BucketNameProblem(name: string): string | undefined {
  const quoted = JSON.stringify(name);
  if (name.length < 3 || name.length > 63) return `the bucket name ${quoted} must be 3 to 63 characters long`;
  if (!/^[a-z0-9.-]+$/.test(name)) return `the bucket name ${quoted} may contain only lower-case letters, digits, dots and hyphens`;
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return `the bucket name ${quoted} must begin and end with a letter or digit`;
  if (name.includes("..")) return `the bucket name ${quoted} must not contain two dots in a row`;
  if (IP_ADDRESS.test(name)) return `the bucket name ${quoted} must not look like an IP address`;
  const prefix = RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix !== undefined) return `the bucket name ${quoted} must not start with ${prefix}, which S3 reserves`;
  const suffix = RESERVED_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix !== undefined) return `the bucket name ${quoted} must not end with ${suffix}, which S3 reserves`;
  return undefined;
}

/**
 * Why `key` cannot be stored as a file under the bucket folder, or undefined.
 * Beyond S3's own limits (not empty, at most 1,024 UTF-8 bytes) a key here is
 * a relative path: it must stay inside the bucket folder and map back to the
 * same key when the folder is read.
 */
export function s3KeyProblem(key: string): string | undefined {
  if (key === "") return "the object key is empty; name the object";
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_KEY_BYTES) return `the object key is ${bytes} bytes of UTF-8; S3 keys are at most ${MAX_KEY_BYTES}`;
  if (key.includes("\0")) return "the object key contains a NUL character, which no file name can hold";
  if (key.startsWith("/")) return "the object key starts with /; keys are relative to the bucket, drop the leading /";
  const segments = key.split("/");
  if (segments.includes("..")) return "the object key has a .. segment, which would leave the bucket folder";
  if (segments.includes(".")) return "the object key has a . segment, which a folder cannot keep; remove it";
  if (segments.includes("")) return "the object key has an empty segment (// or a trailing /); name the object, e.g. prefix/file.csv";
  if (segments.some((segment) => segment.startsWith(TEMP_PREFIX))) return `the object key has a segment starting with ${TEMP_PREFIX}, which berth reserves for writes in progress`;
  if (path.sep === "\\" && key.includes("\\")) return "the object key contains \\, which is a folder separator on Windows; use /";
  return undefined;
}

function formatSequencer(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(18, "0");
}

function parseState(text: string): StateFile | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null) return undefined;
  const state = data as Partial<StateFile>;
  if (state.version !== STATE_VERSION || typeof state.sequencer !== "string" || !/^[0-9A-F]{1,32}$/.test(state.sequencer)) return undefined;
  if (typeof state.objects !== "object" || state.objects === null) return undefined;
  for (const entry of Object.values(state.objects as Record<string, unknown>)) {
    if (typeof entry !== "object" || entry === null) return undefined;
    const { size, mtimeMs, etag } = entry as Record<string, unknown>;
    if (typeof size !== "number" || typeof mtimeMs !== "number" || typeof etag !== "string") return undefined;
  }
  return state as StateFile;
}

function fingerprint(f: Fingerprint): Fingerprint {
  return { size: f.size, mtimeMs: f.mtimeMs };
}

function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function codeOf(error: unknown): string {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : String(error);
}

function isCode(error: unknown, code: string): boolean {
  return codeOf(error) === code;
}
