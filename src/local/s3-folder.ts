/**
 * The local stand-in for S3: `<root>/<bucket>/<key…>` is an object, and every
 * object that is written, copied or moved in is announced once as an
 * `Object Created` event in the shape S3 puts on EventBridge, so the same rules
 * match and the same context (`s3.key`, `s3.size`, `s3.etag` …) comes out.
 *
 * Running (`start`), the folder is watched with file-system notifications
 * (watch.ts): a file is announced once no notification came for it during a
 * short settle (10 ms, longer for a file written to for long) and its size
 * and mtime did not change while it was read, so a large file still being
 * copied is announced once, after the copy. A writer that pauses longer than
 * the settle mid-file can still be caught half-way (and the rest announced as
 * a new version); `putObject` avoids that by renaming a finished file into place.
 *
 * Where notifications are not to be had (they fail, the watch limit is
 * reached, or `notifications: false`), the folder is polled instead: a file
 * is announced once its size and mtime were equal in two consecutive scans.
 * With notifications the whole tree is still scanned, rarely: after a burst
 * that may have overflowed the kernel's queue, every minute as a safety net,
 * and every interval on network file systems, whose notifications miss other
 * machines' writes.
 *
 * What was announced is kept in an append-only journal (watch-journal.ts), so
 * a restart announces exactly the files that appeared or changed while berth
 * was not running, and an announcement costs one short append.
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
import { FolderNotifier, burstThreshold, notificationsMissOthers } from "./watch.ts";
import { AnnouncementJournal, DELIVERED, announcedLine, formatSequencer, forgottenLine } from "./watch-journal.ts";
import type { Announced, Announcement, EventIdentity } from "./watch-journal.ts";

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
  /** Time between the end of one scan and the start of the next when the folder is polled. Default 250. */
  readonly intervalMs?: number;
  /** How long a file must go without a change notification before it is read and announced. Default 10. */
  readonly settleMs?: number;
  /** Watch with file-system notifications (default true); false polls every `intervalMs`, for file systems whose notifications cannot be trusted. */
  readonly notifications?: boolean;
  /** Where announced objects are remembered across restarts. Default: none (everything present at start is announced). */
  readonly stateFile?: string;
  /** Default `local`, as in every local event. */
  readonly region?: string;
  /** Default `000000000000`, as in every local event. */
  readonly account?: string;
  /** Told about skipped folders and files, once per path. Default `console.warn`. */
  readonly warn?: (message: string) => void;
  /**
   * Buckets whose objects are never announced: the stage's manifest bucket, which on AWS sends no events
   * (berth's stack turns on no EventBridge notifications for it). Default none.
   */
  readonly silentBuckets?: readonly string[];
}

/** Files with this prefix are writes in progress (see `putObject`) and never objects. */
export const TEMP_PREFIX = ".berth-tmp-";

const DEFAULT_INTERVAL_MS = 250;
const DEFAULT_SETTLE_MS = 10;
/** The longest quiet asked of a file that has been written to for long. */
const MAX_SETTLE_MS = 1_000;
/** With notifications, how often the whole tree is scanned anyway, for anything they missed. */
const RESCAN_MS = 60_000;
/** Files read at once when many settle together. */
const READ_CONCURRENCY = 32;
/** Up to this size a file is read whole to hash it; larger ones are streamed. */
const READ_WHOLE_BYTES = 1024 * 1024;
const MAX_KEY_BYTES = 1024;

interface Fingerprint {
  readonly size: number;
  readonly mtimeMs: number;
}

interface Seen extends Fingerprint {
  readonly bucket: string;
  readonly key: string;
  readonly file: string;
}

interface Confirmed extends Seen {
  readonly etag: string;
}

interface Dirty {
  /** The first notification since the file was last examined. */
  readonly first: number;
  readonly last: number;
  readonly due: number;
}

interface Listing {
  /** `<bucket>/<key>` → the file as this scan found it. */
  readonly files: Map<string, Seen>;
  /** `<bucket>/<key…>/` prefixes of folders that could not be read: what was under them is not forgotten. */
  readonly unreadable: string[];
}

/**
 * Watches `root` and emits one `Object Created` event per new or rewritten
 * object. Deleted files are forgotten without an event (berth acts on
 * `Object Created` only), so a file put back later is announced again.
 */
export class S3FolderWatcher {
  private readonly root: string;
  private readonly emit: (event: BusEvent<S3ObjectCreatedDetail>) => void;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly settleMs: number;
  private readonly notifications: boolean;
  private readonly stateFile: string | undefined;
  private readonly journal: AnnouncementJournal | undefined;
  private readonly region: string;
  private readonly account: string;
  private readonly warn: (message: string) => void;
  private readonly silentBuckets: ReadonlySet<string>;

  private announced = new Map<string, Announced>();
  /** Files whose current size and mtime are not announced yet, as the previous scan saw them: an equal second sighting announces them. */
  private readonly pending = new Map<string, Fingerprint>();
  private lastSequencer = 0n;
  private readonly warned = new Set<string>();
  private loaded = false;
  /** Scans, settles and state changes run one at a time, in this chain. */
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;

  /** Set while notifications are trusted. */
  private notifier: FolderNotifier | undefined;
  /**
   * Folders (absolute paths) the notifier watches → which folder (inode and birth time), so a removal that names one
   * forgets what was under it, and a scan finds a folder made again under the same name (the old watch went with the
   * old folder).
   */
  private readonly folders = new Map<string, string>();
  /**
   * Paths a notification named, and when (`performance.now()` ms). Every notification moves its path to the end,
   * so the map is in the order of the last notification and a settle only looks at its head.
   */
  private readonly dirty = new Map<string, Dirty>();
  private settleTimer: NodeJS.Timeout | undefined;
  /** When the armed settle fires. */
  private settleAt = Infinity;
  private rescanMs = RESCAN_MS;
  /** The root went away while watched: notifications start again once it is back. */
  private rewatch = false;
  private readonly burst = burstThreshold();
  /** `notifier.events` when the last scan began. */
  private eventsAtScan = 0;

  constructor(options: S3FolderWatcherOptions) {
    this.root = options.root;
    this.emit = options.emit;
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
    this.notifications = options.notifications ?? true;
    this.stateFile = options.stateFile === undefined ? undefined : path.resolve(options.stateFile);
    this.journal = this.stateFile === undefined ? undefined : new AnnouncementJournal(this.stateFile, TEMP_PREFIX);
    this.region = options.region ?? "local";
    this.account = options.account ?? "000000000000";
    this.warn = options.warn ?? ((message) => console.warn(message));
    this.silentBuckets = new Set(options.silentBuckets ?? []);
    if (!Number.isFinite(this.intervalMs) || this.intervalMs <= 0) {
      throw new ConfigurationError(`intervalMs must be a positive number of milliseconds, got ${this.intervalMs}`);
    }
    if (!Number.isFinite(this.settleMs) || this.settleMs < 0) {
      throw new ConfigurationError(`settleMs must be zero or a positive number of milliseconds, got ${this.settleMs}`);
    }
  }

  /**
   * Loads the state, starts watching and scans, so that every finished file
   * present at start (or changed while berth was stopped) has been announced
   * when this resolves; then keeps watching (or polling) until `stop()`.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await mkdir(this.root, { recursive: true });
      // Watching begins before the scan, so nothing written between the two goes unseen.
      if (this.notifications) await this.startNotifier();
      await this.scanOnce();
    } catch (error) {
      this.started = false;
      this.closeNotifier();
      throw error;
    }
    if (this.notifier !== undefined) {
      await this.settledThrough(performance.now() + this.settleMs);
    } else {
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
      if (!this.started) return;
      await this.scanOnce();
    }
    this.schedule();
  }

  /** Stops watching and polling and waits for a scan in progress to finish. */
  async stop(): Promise<void> {
    this.started = false;
    this.rewatch = false;
    this.closeNotifier();
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.timer = this.settleTimer = undefined;
    this.settleAt = Infinity;
    await this.running.catch(() => undefined);
  }

  /** One scan: announce files that are stable since the previous scan, forget deleted ones. Scans never overlap. */
  scanOnce(): Promise<void> {
    return this.serially(() => this.scan());
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const next = this.running.catch(() => undefined).then(task);
    this.running = next;
    return next;
  }

  private schedule(): void {
    if (!this.started) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const wait = this.notifier === undefined ? this.intervalMs : this.rescanMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.scanOnce()
        .catch((error: unknown) => this.warnOnce(`scan: ${String(error)}`, `scanning ${this.root} for S3 objects failed: ${String(error)}; retrying every ${wait} ms`))
        .finally(() => this.schedule());
    }, wait);
  }

  private async startNotifier(): Promise<void> {
    const notifier = new FolderNotifier({
      root: this.root,
      onChange: (folder, name) => this.notified(folder, name),
      onError: (error) => this.fallBackToPolling(error),
    });
    try {
      notifier.start();
    } catch (error) {
      this.warnOnce("notifications", `cannot watch ${this.root} for changes (${codeOf(error)}); polling it every ${this.intervalMs} ms instead`);
      return;
    }
    this.notifier = notifier;
    this.folders.set(this.root, identityOf(await lstat(this.root)));
    const kind = await notificationsMissOthers(this.root);
    if (kind !== undefined) {
      this.rescanMs = this.intervalMs;
      this.warnOnce("remote", `${this.root} is on ${kind}, whose change notifications miss writes made elsewhere; it is also scanned every ${this.intervalMs} ms`);
    }
  }

  private closeNotifier(): void {
    this.notifier?.close();
    this.notifier = undefined;
    this.folders.clear();
  }

  private fallBackToPolling(error: unknown): void {
    if (this.notifier === undefined) return;
    this.closeNotifier();
    this.warnOnce("notifications", `watching ${this.root} for changes failed (${codeOf(error)}); polling it every ${this.intervalMs} ms instead`);
    if (this.started) this.schedule();
  }

  /**
   * Adds a folder met in a scan or a notification to the watched ones (before it is read); false when it already
   * was. `again` watches it anew whatever it looks like: its parent said it was made, moved or removed.
   */
  private async watchFolder(folder: string, again = false): Promise<boolean> {
    if (this.notifier === undefined) return false;
    const stats = await lstat(folder).catch(() => undefined);
    if (stats === undefined) return false;
    const identity = identityOf(stats);
    if (!again && this.folders.get(folder) === identity) return false;
    if (this.folders.has(folder)) this.unwatchFolder(folder);
    try {
      this.notifier.add(folder);
      this.folders.set(folder, identity);
    } catch (error) {
      this.fallBackToPolling(error);
    }
    return true;
  }

  private unwatchFolder(folder: string): void {
    this.notifier?.remove(folder);
    const below = folder + path.sep;
    for (const known of this.folders.keys()) if (known === folder || known.startsWith(below)) this.folders.delete(known);
  }

  private notified(folder: string, name: string | undefined): void {
    if (!this.started) return;
    if (name === undefined || (folder === this.root && name === path.basename(this.root))) {
      // Nothing says what changed, or the root itself was removed or renamed: look at everything.
      void this.scanOnce().catch(() => undefined);
      return;
    }
    this.markDirty(path.join(folder, name));
  }

  /**
   * Notes a notification for `file`. The quiet that says a file is finished
   * grows with how long it has been written to (a quarter of that, up to a
   * second), so a long copy that stalls for a moment is not taken for done.
   */
  private markDirty(file: string, since?: number): void {
    const now = performance.now();
    const first = since ?? this.dirty.get(file)?.first ?? now;
    const due = now + Math.max(this.settleMs, Math.min(MAX_SETTLE_MS, (now - first) / 4));
    this.dirty.delete(file);
    this.dirty.set(file, { first, last: now, due });
    this.armSettle(due);
  }

  private armSettle(at: number): void {
    if (!this.started || at >= this.settleAt) return;
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer);
    this.settleAt = at;
    this.settleTimer = setTimeout(
      () => {
        this.settleTimer = undefined;
        this.settleAt = Infinity;
        this.serially(() => this.settle())
          .catch((error: unknown) => this.warnOnce(`settle: ${String(error)}`, `announcing objects in ${this.root} failed: ${String(error)}; retrying`))
          .finally(() => this.afterSettle());
      },
      Math.max(0, at - performance.now()),
    );
  }

  /** When the next path may be due: the earliest due among those already looked at, else the head's earliest. */
  private nextDue(): number {
    let next = Infinity;
    for (const entry of this.dirty.values()) {
      next = Math.min(next, entry.due);
      if (entry.last + this.settleMs > next) break;
    }
    return next;
  }

  private afterSettle(): void {
    this.armSettle(this.nextDue());
    // The kernel drops notifications when its queue overflows and says nothing: after a burst that big, look at everything.
    if (this.notifier !== undefined && this.dirty.size === 0 && this.notifier.events - this.eventsAtScan >= this.burst) {
      void this.scanOnce().catch((error: unknown) => this.warnOnce(`scan: ${String(error)}`, `scanning ${this.root} for S3 objects failed: ${String(error)}`));
    }
  }

  /** Resolves once every path due by `deadline` has been settled (paths changing again since then do not hold it up). */
  private async settledThrough(deadline: number): Promise<void> {
    for (;;) {
      await this.running.catch(() => undefined);
      const next = this.nextDue();
      if (!this.started || next > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, next - performance.now())));
    }
  }

  /** Examines the paths whose settle is over: announces finished files, watches new folders, forgets removed ones. */
  private async settle(): Promise<void> {
    if (!this.loaded) await this.loadState();
    const now = performance.now();
    const due: string[] = [];
    const since = new Map<string, number>();
    for (const [file, entry] of this.dirty) {
      // Later entries were notified later still: none of them can be due.
      if (entry.last + this.settleMs > now) break;
      if (entry.due > now) continue;
      due.push(file);
      since.set(file, entry.first);
      this.dirty.delete(file);
    }
    const confirmed: Confirmed[] = [];
    const forgotten: string[] = [];
    for (let i = 0; i < due.length; i += READ_CONCURRENCY) {
      await Promise.all(due.slice(i, i + READ_CONCURRENCY).map((file) => this.examine(file, since.get(file), confirmed, forgotten)));
    }
    await this.forget(forgotten);
    await this.announce(confirmed);
  }

  private async examine(file: string, since: number | undefined, confirmed: Confirmed[], forgotten: string[]): Promise<void> {
    const relative = path.relative(this.root, file);
    if (relative === "" || relative.startsWith("..") || file === this.stateFile) return;
    const segments = relative.split(path.sep);
    if (segments.some((segment) => segment.startsWith(TEMP_PREFIX))) return;
    const [bucket = "", ...rest] = segments;
    if (this.silentBuckets.has(bucket)) return;
    const key = rest.join("/");
    const id = `${bucket}/${key}`;
    if (rest.length > 0 && s3BucketNameProblem(bucket) !== undefined) return;
    let stats;
    try {
      stats = await lstat(file);
    } catch (error) {
      if (!isCode(error, "ENOENT")) return this.warnOnce(file, `cannot read ${file} (${codeOf(error)}); it is announced once it is readable`);
      if (this.folders.has(file)) forgotten.push(...this.forgetFolder(file, rest.length === 0 ? `${bucket}/` : `${id}/`));
      else if (this.announced.has(id)) forgotten.push(id);
      this.pending.delete(id);
      return;
    }
    if (rest.length === 0) {
      if (!stats.isDirectory() || stats.isSymbolicLink()) return this.warnRootEntry(file, stats);
      const problem = s3BucketNameProblem(bucket);
      if (problem !== undefined) return this.warnOnce(file, `ignored the folder ${file}: ${problem}; rename the folder to a valid S3 bucket name`);
      return this.addFolder(file, true);
    }
    if (stats.isDirectory()) return this.addFolder(file, true);
    if (!stats.isFile()) {
      // A symbolic link (or socket, fifo …) in place of an object: not an object.
      if (this.announced.has(id)) forgotten.push(id);
      return;
    }
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > MAX_KEY_BYTES) return this.warnOnce(file, `ignored ${file}: its key is ${bytes} bytes of UTF-8 and S3 keys are at most ${MAX_KEY_BYTES}`);
    const seen: Seen = { bucket, key, file, size: stats.size, mtimeMs: stats.mtimeMs };
    const before = this.announced.get(id);
    if (before !== undefined && sameFingerprint(before, seen)) return;
    const hashed = await this.hash(seen);
    if (hashed === undefined) return;
    // Written to while being read: not finished after all.
    if (!sameFingerprint(hashed, seen)) return this.markDirty(file, since);
    confirmed.push({ ...seen, etag: hashed.etag });
  }

  /**
   * Watches a folder its parent told of (made, moved in, or made again) and looks at everything already in it
   * (written before the watch began): a notification that names a folder is rare, and its files are only read
   * where they differ from what was announced.
   */
  private async addFolder(folder: string, again = false): Promise<void> {
    if (!(await this.watchFolder(folder, again))) return;
    const entries = await this.readFolder(folder);
    for (const entry of entries ?? []) {
      if (entry.name.startsWith(TEMP_PREFIX)) continue;
      const where = path.join(folder, entry.name);
      if (entry.isDirectory()) await this.addFolder(where);
      else if (entry.isFile()) this.markDirty(where);
    }
  }

  /** Stops watching a folder that is gone; returns the announced objects that were under it (`prefix` is `<bucket>/<key…>/`). */
  private forgetFolder(folder: string, prefix: string): string[] {
    this.unwatchFolder(folder);
    return [...this.announced.keys()].filter((id) => id.startsWith(prefix));
  }

  private warnRootEntry(where: string, stats: { isSymbolicLink(): boolean; isFile(): boolean }): void {
    if (stats.isSymbolicLink()) {
      this.warnOnce(where, `ignored ${where}: symbolic links are not followed; make the bucket a real folder`);
    } else if (stats.isFile()) {
      this.warnOnce(where, `ignored ${where}: objects go inside a bucket folder, ${path.join(this.root, "<bucket>", path.basename(where))}`);
    }
  }

  private async scan(): Promise<void> {
    if (!this.loaded) await this.loadState();
    if (this.notifier !== undefined && !(await isFolder(this.root))) {
      // The root's watch went with the root: poll until it is back, then watch again.
      this.closeNotifier();
      this.rewatch = true;
      this.schedule();
    } else if (this.rewatch && this.started && (await isFolder(this.root))) {
      this.rewatch = false;
      await this.startNotifier();
      this.schedule();
    }
    if (this.notifier !== undefined) this.eventsAtScan = this.notifier.events;
    const listing = await this.list();
    const confirmed: Confirmed[] = [];
    try {
      await this.stableSince(listing, confirmed);
    } finally {
      // Also after a failed read or emit: what was announced before it must not be announced again after a restart.
      const keep = (id: string) => listing.files.has(id) || listing.unreadable.some((prefix) => id.startsWith(prefix));
      for (const id of this.pending.keys()) if (!keep(id)) this.pending.delete(id);
      await this.forget([...this.announced.keys()].filter((id) => !keep(id)));
      await this.announce(confirmed);
    }
  }

  /**
   * Collects the files seen unchanged in this scan and the previous one. With
   * notifications, a new or changed file is also handed to the settle, which
   * announces it sooner than the next scan would.
   */
  private async stableSince(listing: Listing, confirmed: Confirmed[]): Promise<void> {
    for (const [id, seen] of listing.files) {
      const before = this.announced.get(id);
      if (before !== undefined && sameFingerprint(before, seen)) {
        this.pending.delete(id);
        continue;
      }
      const previous = this.pending.get(id);
      if (previous === undefined || !sameFingerprint(previous, seen)) {
        this.pending.set(id, fingerprint(seen));
        if (this.notifier !== undefined) this.markDirty(seen.file);
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
      confirmed.push({ ...seen, etag: hashed.etag });
    }
  }

  /**
   * Announces confirmed files: their announcements are journaled first, then
   * emitted, then marked delivered (watch-journal.ts says why this order).
   * An emit that fails leaves it and the rest unannounced, to be tried again.
   */
  private async announce(confirmed: readonly Confirmed[]): Promise<void> {
    if (confirmed.length === 0) return;
    const announcements = confirmed.map((c) => ({
      seen: c,
      announcement: { id: `${c.bucket}/${c.key}`, size: c.size, mtimeMs: c.mtimeMs, etag: c.etag, event: this.nextIdentity() } satisfies Announcement,
    }));
    await this.journal?.append(announcements.map(({ announcement }) => announcedLine(announcement)));
    let emitted = 0;
    try {
      for (const { seen, announcement } of announcements) {
        this.emit(this.objectCreated(seen.bucket, seen.key, announcement));
        this.announced.set(announcement.id, { size: seen.size, mtimeMs: seen.mtimeMs, etag: announcement.etag });
        this.pending.delete(announcement.id);
        emitted += 1;
      }
    } finally {
      const failed = announcements.slice(emitted);
      for (const { seen } of failed) if (this.notifier !== undefined) this.markDirty(seen.file);
      await this.journal?.append([...failed.map(({ announcement }) => forgottenLine(announcement.id)), DELIVERED]);
      await this.compactIfDue();
    }
  }

  /** Forgets objects whose files are gone. */
  private async forget(ids: readonly string[]): Promise<void> {
    const gone = ids.filter((id) => this.announced.delete(id));
    await this.journal?.append(gone.map(forgottenLine));
    if (gone.length > 0) await this.compactIfDue();
  }

  private async compactIfDue(): Promise<void> {
    if (this.journal?.wantsCompaction(this.announced.size)) await this.journal.compact(this.announced, this.lastSequencer);
  }

  private nextIdentity(): EventIdentity {
    const time = this.now();
    return {
      id: randomUUID(),
      time,
      // Every announcement is a new version of the object, as in a versioned bucket.
      versionId: randomBytes(24).toString("base64url"),
      sequencer: this.nextSequencer(time),
      requestId: randomBytes(8).toString("hex").toUpperCase(),
    };
  }

  private objectCreated(bucket: string, key: string, announcement: Announcement): BusEvent<S3ObjectCreatedDetail> {
    const { event } = announcement;
    const detail: S3ObjectCreatedDetail = {
      version: "0",
      bucket: { name: bucket },
      object: {
        key: encodeS3EventKey(key),
        size: announcement.size,
        etag: announcement.etag,
        "version-id": event.versionId,
        sequencer: event.sequencer,
      },
      "request-id": event.requestId,
      requester: this.account,
      "source-ip-address": "127.0.0.1",
      reason: "PutObject",
    };
    return busEvent("aws.s3", DETAIL_TYPE.s3ObjectCreated, detail, {
      id: event.id,
      time: event.time,
      region: this.region,
      account: this.account,
      resources: [`arn:aws:s3:::${bucket}`],
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
      if (seen.size <= READ_WHOLE_BYTES) md5.update(await readFile(seen.file));
      else for await (const chunk of createReadStream(seen.file)) md5.update(chunk as Buffer);
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
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_PREFIX)) continue;
      const where = path.join(this.root, entry.name);
      if (path.resolve(where) === this.stateFile) continue;
      if (entry.isDirectory() && this.silentBuckets.has(entry.name)) continue;
      if (entry.isDirectory()) {
        const problem = s3BucketNameProblem(entry.name);
        if (problem !== undefined) {
          this.warnOnce(where, `ignored the folder ${where}: ${problem}; rename the folder to a valid S3 bucket name`);
          continue;
        }
        await this.walk(listing, entry.name, where, "");
      } else {
        this.warnRootEntry(where, entry);
      }
    }
    return listing;
  }

  private async walk(listing: Listing, bucket: string, folder: string, prefix: string): Promise<void> {
    await this.watchFolder(folder);
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

  /** Replays the journal; announcements a crash kept from being emitted are emitted now, as the same events. */
  private async loadState(): Promise<void> {
    this.loaded = true;
    const replayed = await this.journal?.load();
    if (replayed === undefined) return;
    this.announced = replayed.objects;
    this.lastSequencer = replayed.sequencer;
    if (replayed.undelivered.length === 0) return;
    for (const announcement of replayed.undelivered) {
      const slash = announcement.id.indexOf("/");
      const bucket = announcement.id.slice(0, slash);
      const key = announcement.id.slice(slash + 1);
      const now = await lstat(path.join(this.root, bucket, ...key.split("/"))).catch(() => undefined);
      // A file changed or gone since is examined as it is now, as any other.
      if (now?.isFile() === true && sameFingerprint(now, announcement)) this.emit(this.objectCreated(bucket, key, announcement));
    }
    await this.journal?.append([DELIVERED]);
  }
}

/**
 * Stores `file` as object `key` of `bucket` under `root` (`berth put`): the
 * content is copied to a temporary name in the destination folder and renamed
 * into place, so the watcher never sees a half-written object. Returns the
 * path of the stored object.
 */
export async function putObject(root: string, file: string, bucket: string, key: string): Promise<string> {
  checkObjectName(bucket, key);
  let source;
  try {
    source = await stat(file);
  } catch (error) {
    throw new ValidationError(`cannot read ${file} (${codeOf(error)}); name an existing file to upload`, { field: "file", cause: error });
  }
  if (!source.isFile()) throw new ValidationError(`${file} is not a regular file; name a file to upload`, { field: "file" });
  return placeObject(root, bucket, key, (temp) => copyFile(file, temp));
}

/** Stores `body` as object `key` of `bucket` under `root`, renamed into place as `putObject` does. Returns the path of the stored object. */
export async function writeObject(root: string, bucket: string, key: string, body: string | Uint8Array): Promise<string> {
  checkObjectName(bucket, key);
  return placeObject(root, bucket, key, (temp) => writeFile(temp, body));
}

function checkObjectName(bucket: string, key: string): void {
  const bucketProblem = s3BucketNameProblem(bucket);
  if (bucketProblem !== undefined) throw new ValidationError(`cannot put to bucket ${JSON.stringify(bucket)}: ${bucketProblem}`, { field: "bucket" });
  const keyProblem = s3KeyProblem(key);
  if (keyProblem !== undefined) throw new ValidationError(`cannot put object ${JSON.stringify(key)}: ${keyProblem}`, { field: "key" });
}

/** Fills a temporary file beside the object's path, then renames it into place: readers and the watcher see the whole object or none. */
async function placeObject(root: string, bucket: string, key: string, fill: (temp: string) => Promise<void>): Promise<string> {
  const destination = path.join(root, bucket, ...key.split("/"));
  const folder = path.dirname(destination);
  const temp = path.join(folder, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
  try {
    await mkdir(folder, { recursive: true });
    await fill(temp);
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


/** What tells a folder from another made under the same name: the inode alone may be reused at once. */
function identityOf(stats: { readonly ino: number; readonly birthtimeMs: number }): string {
  return `${stats.ino}:${stats.birthtimeMs}`;
}

async function isFolder(folder: string): Promise<boolean> {
  return (await lstat(folder).catch(() => undefined))?.isDirectory() === true;
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
