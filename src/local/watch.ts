/**
 * File-system notifications for a folder tree, reported as "something in
 * `folder` named `name` may have changed" (appeared, was written, was renamed
 * or removed). What changed is for the caller to find out with a stat.
 *
 * On Linux, Node's recursive `fs.watch` puts an inotify watch on every file
 * and stats synchronously on every event; here each folder gets one
 * non-recursive watch instead (the caller adds folders as it finds them), so
 * 10,000 files in a few folders cost a few watches. macOS and Windows watch a
 * whole tree natively, so there the root's recursive watch is all.
 *
 * Notifications can be lost without a word: inotify drops events when its
 * queue overflows (libuv does not report IN_Q_OVERFLOW), so `events` counts
 * what arrived and the caller rescans after a burst that could have overflowed.
 */
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { statfs } from "node:fs/promises";
import path from "node:path";

export interface FolderNotifierOptions {
  readonly root: string;
  /** `name` in `folder` may have changed; `name` undefined: anything in `folder` may have (the platform gave no name). */
  readonly onChange: (folder: string, name: string | undefined) => void;
  /** Notifications stopped working: the caller must not rely on them any more. */
  readonly onError: (error: unknown) => void;
}

/** Whether one watch on the root sees the whole tree (macOS FSEvents, Windows ReadDirectoryChangesW). */
const NATIVE_RECURSIVE = process.platform === "darwin" || process.platform === "win32";

export class FolderNotifier {
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;
  /** Notifications received so far. */
  events = 0;

  constructor(private readonly options: FolderNotifierOptions) {}

  /** Watches the root. Throws when notifications are not available here (the caller polls instead). */
  start(): void {
    this.closed = false;
    this.open(this.options.root, NATIVE_RECURSIVE);
  }

  /**
   * Watches `folder` (inside the root) as well. Call it before reading the
   * folder, so nothing created in between goes unseen. Throws when no watch
   * can be added (inotify's watch limit, too many open files).
   */
  add(folder: string): void {
    if (NATIVE_RECURSIVE || this.closed) return;
    this.open(folder, false);
  }

  /** Stops watching `folder` and everything below it (it is gone). */
  remove(folder: string): void {
    if (folder === this.options.root) return;
    const below = folder + path.sep;
    for (const [watched, watcher] of this.watchers) {
      if (watched === folder || watched.startsWith(below)) {
        watcher.close();
        this.watchers.delete(watched);
      }
    }
  }

  /** Whether `folder` has a watch of its own (always false below the root where the root's watch is recursive). */
  watches(folder: string): boolean {
    return this.watchers.has(folder);
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private open(folder: string, recursive: boolean): void {
    if (this.watchers.has(folder)) return;
    // Not persistent: the watcher's own timers keep the process up while it runs.
    const watcher = watch(folder, { recursive, persistent: false }, (_type, filename) => {
      if (this.closed) return;
      this.events += 1;
      if (filename === null) return this.options.onChange(folder, undefined);
      if (!recursive) return this.options.onChange(folder, filename);
      const where = path.join(folder, filename);
      this.options.onChange(path.dirname(where), path.basename(where));
    });
    watcher.on("error", (error) => {
      if (this.closed) return;
      // A watched folder that was removed can report an error instead of an event (Windows); its parent reports the removal.
      if (folder !== this.options.root && isCode(error, "ENOENT", "EPERM")) return this.remove(folder);
      this.options.onError(error);
    });
    this.watchers.set(folder, watcher);
  }
}

/** Linux `statfs` magic numbers of file systems whose notifications miss changes made elsewhere (another machine, a VM's host). */
const NOTIFICATIONS_MISS_OTHERS = new Map<number, string>([
  [0x6969, "NFS"],
  [0x517b, "SMB"],
  [0xff534d42, "CIFS"],
  [0xfe534d42, "SMB2"],
  [0x01021997, "9p (WSL's Windows drives, VM shared folders)"],
  [0x65735546, "FUSE (sshfs, virtiofs, Docker Desktop shares)"],
  [0x786f4256, "VirtualBox shared folder"],
  [0x00c36400, "Ceph"],
  [0x5346414f, "AFS"],
]);

/**
 * The kind of file system `folder` is on when notifications there only see
 * this machine's own writes, else undefined (also when it cannot be told).
 */
export async function notificationsMissOthers(folder: string): Promise<string | undefined> {
  if (process.platform !== "linux") return undefined;
  try {
    const { type } = await statfs(folder);
    return NOTIFICATIONS_MISS_OTHERS.get(type >>> 0);
  } catch {
    return undefined;
  }
}

/**
 * How many notifications arriving between two scans could mean some were
 * dropped: half of inotify's queue, so a queue that overflowed is always
 * followed by at least this many before the next scan.
 */
export function burstThreshold(): number {
  const fallback = 16_384;
  if (process.platform !== "linux") return fallback / 2;
  try {
    const queued = Number(readFileSync("/proc/sys/fs/inotify/max_queued_events", "utf8").trim());
    return Number.isInteger(queued) && queued > 0 ? Math.max(1, Math.floor(queued / 2)) : fallback / 2;
  } catch {
    return fallback / 2;
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === "object" && error !== null && "code" in error && codes.includes(String(error.code));
}
