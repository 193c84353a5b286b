/**
 * The local shell's batch adapters: the manifest in the S3 folder, the timer that closes windows, the
 * redelivery of a dispatch that must wait, and a restart that closes a batch whose window passed meanwhile.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { formatIssue } from "../../src/core/catalog/issues.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { Engine } from "../../src/core/engine/engine.ts";
import { BatchWait } from "../../src/core/engine/batch.ts";
import { busEvent, type BusEvent } from "../../src/core/events/envelope.ts";
import { DETAIL_TYPE } from "../../src/core/events/berth-events.ts";
import { ValidationError } from "../../src/core/errors.ts";
import { buildRouter } from "../../src/core/router.ts";
import { isTerminal } from "../../src/core/runs/status.ts";
import { Redeliveries } from "../../src/local/redeliveries.ts";
import { FolderManifestWriter, LOCAL_MANIFEST_BUCKET } from "../../src/local/manifest-writer.ts";
import { LocalRuntime } from "../../src/local/runtime.ts";
import { S3FolderWatcher, TEMP_PREFIX } from "../../src/local/s3-folder.ts";
import { LocalBatchTimer } from "../../src/local/scheduler.ts";
import { SqliteBatchStore } from "../../src/local/sqlite-batch-store.ts";
import { SqliteRunStore } from "../../src/local/sqlite-run-store.ts";
import { until } from "../support/until.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-local-batch-"));
  dirs.push(dir);
  return dir;
}

/** A manual timer: what was armed, and firing it by hand. */
function manualTimers() {
  const armed = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  return {
    armed,
    setTimer: (fn: () => void, ms: number) => {
      armed.set(++next, { fn, ms });
      return next;
    },
    clearTimer: (handle: unknown) => armed.delete(handle as number),
    fireAll: () => {
      const due = [...armed.values()];
      armed.clear();
      for (const t of due) t.fn();
    },
  };
}

describe("FolderManifestWriter", () => {
  it("writes the manifest as <root>/<bucket>/<key>, the same bytes again on a repeat, leaving no temporary file", async () => {
    const root = tempDir();
    const writer = new FolderManifestWriter(root);
    const body = '{"bucket":"in","key":"a.csv","size":1,"etag":null,"versionId":null,"sequencer":null,"eventTime":"2026-12-02T05:00:01Z"}\n';
    await writer.putManifest(LOCAL_MANIFEST_BUCKET, "thumbs/0123.jsonl", body);
    await writer.putManifest(LOCAL_MANIFEST_BUCKET, "thumbs/0123.jsonl", body);
    const folder = join(root, LOCAL_MANIFEST_BUCKET, "thumbs");
    expect(readFileSync(join(folder, "0123.jsonl"), "utf8")).toBe(body);
    expect(readdirSync(folder)).toEqual(["0123.jsonl"]);
  });

  it("refuses a key that cannot be a file under the bucket folder", async () => {
    const writer = new FolderManifestWriter(tempDir());
    await expect(writer.putManifest(LOCAL_MANIFEST_BUCKET, "../escape.jsonl", "")).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("S3FolderWatcher silentBuckets", () => {
  it("announces no object of a silent bucket, and every object of the others", async () => {
    const root = tempDir();
    const events: BusEvent[] = [];
    const watcher = new S3FolderWatcher({ root, emit: (e) => events.push(e), notifications: false, warn: () => {}, silentBuckets: [LOCAL_MANIFEST_BUCKET] });
    await new FolderManifestWriter(root).putManifest(LOCAL_MANIFEST_BUCKET, "j/a.jsonl", "{}\n");
    await mkdir(join(root, "inbox"), { recursive: true });
    await writeFile(join(root, "inbox", "x.csv"), "x");
    for (let i = 0; i < 3; i++) await watcher.scanOnce();
    await watcher.stop();
    expect(events.map((e) => (e.detail as { bucket: { name: string } }).bucket.name)).toEqual(["inbox"]);
    expect(readdirSync(join(root, LOCAL_MANIFEST_BUCKET, "j")).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });
});

describe("LocalBatchTimer", () => {
  it("arms one reminder per batch, the earliest asked for, and settles the job once when it fires", async () => {
    const timers = manualTimers();
    const settled: string[] = [];
    const timer = new LocalBatchTimer({ settle: async (job) => void settled.push(job), now: () => 1_000, ...timers });
    await timer.settleAt("thumbs", "b1", 5_000);
    await timer.settleAt("thumbs", "b1", 9_000);
    await timer.settleAt("thumbs", "b1", 3_000);
    await timer.settleAt("report", "b7", 500);
    expect([...timers.armed.values()].map((t) => t.ms).sort((a, b) => a - b)).toEqual([0, 2_000]);
    expect(timer.pending).toBe(2);
    timers.fireAll();
    await timer.stop();
    expect(settled.sort()).toEqual(["report", "thumbs"]);
    expect(timer.pending).toBe(0);
  });

  it("clears its reminders on stop and arms none after, and reports a failed settle as a warning", async () => {
    const timers = manualTimers();
    const warnings: string[] = [];
    const timer = new LocalBatchTimer({ settle: () => Promise.reject(new Error("store closed")), now: () => 0, warn: (m) => warnings.push(m), ...timers });
    await timer.settleAt("thumbs", "b1", 10);
    timers.fireAll();
    await timer.settleAt("thumbs", "b2", 10);
    await timer.stop();
    expect(timers.armed.size).toBe(0);
    await timer.settleAt("thumbs", "b3", 10);
    expect(timers.armed.size).toBe(0);
    expect(warnings).toEqual(["settling the batch of thumbs failed: store closed; the sweep tries again"]);
  });
});

describe("Redeliveries", () => {
  const event = busEvent("aws.s3", DETAIL_TYPE.s3ObjectCreated, {}, { id: "e1", time: 0 });

  it("delivers a dispatch that must wait again, after the delay it asked for, until it goes through", async () => {
    let calls = 0;
    const redeliveries = new Redeliveries(async () => {
      calls += 1;
      if (calls < 3) throw new BatchWait("batch completing its slots", { retryAfterMs: 1 });
      return [];
    }, () => {});
    await expect(redeliveries.dispatch(event, "thumbs")).rejects.toBeInstanceOf(BatchWait);
    await until("the third delivery", () => (calls === 3 && redeliveries.pending === 0 ? true : undefined));
    expect(calls).toBe(3);
  });

  it("does not deliver again what failed for good, nor anything once stopped", async () => {
    let calls = 0;
    const failing = new Redeliveries(async () => {
      calls += 1;
      throw new Error("malformed");
    }, () => {});
    await expect(failing.dispatch(event, "thumbs")).rejects.toThrow("malformed");
    expect(failing.pending).toBe(0);
    const waiting = new Redeliveries(async () => {
      calls += 1;
      throw new BatchWait("wait", { retryAfterMs: 60_000 });
    }, () => {});
    await expect(waiting.dispatch(event, "thumbs")).rejects.toBeInstanceOf(BatchWait);
    expect(waiting.pending).toBe(1);
    waiting.stop();
    expect(waiting.pending).toBe(0);
    expect(calls).toBe(2);
  });
});

const countLines = "const u = process.argv[1].slice(5); console.log('lines ' + require('fs').readFileSync(require('path').join(process.env.BERTH_S3_ROOT, u), 'utf8').split(String.fromCharCode(10)).filter(Boolean).length)";
const catalogText = `version: 1
service: lb
defaults:
  network: { subnets: [subnet-1] }
  retry: { attempts: 1 }
jobs:
  gather:
    on: { s3: { bucket: inbox } }
    batch: { window: 1m, maxItems: 100 }
    run: { taskDefinition: count, container: app, command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(countLines)}, "\${batch.manifest}"] }
  daily:
    on: { s3: { bucket: daily-drops } }
    batch: { window: 1d }
    run: { taskDefinition: count, container: app, command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(countLines)}, "\${batch.manifest}"] }
local:
  taskDefinitions:
    count: { command: [${JSON.stringify(process.execPath)}] }
`;

function catalog(): Catalog {
  const loaded = loadCatalog(catalogText, "berth.yml");
  if (!loaded.ok) throw new Error(loaded.error.issues.map(formatIssue).join("\n"));
  return loaded.catalog;
}

function upload(key: string, time: number, bucket = "inbox"): BusEvent {
  return busEvent(
    "aws.s3",
    DETAIL_TYPE.s3ObjectCreated,
    { version: "0", bucket: { name: bucket }, object: { key, size: 3, etag: "0cc175b9c0f1b6a831c399e269772661", "version-id": "", sequencer: `00${time}` }, reason: "PutObject" },
    { id: `e-${key}`, time },
  );
}

describe("a restarted berth dev", () => {
  it("closes, as it starts, a batch whose window passed while it was not running (one run, whose task reads the manifest), and re-arms the reminder of one still open", async () => {
    const dir = tempDir();
    const stateDir = join(dir, ".berth");
    await mkdir(stateDir, { recursive: true });
    const cat = catalog();
    // Uploads joined a batch two minutes ago, in a berth dev that then went away (its reminder with it).
    const opened = Date.now() - 120_000;
    const runs = new SqliteRunStore(join(stateDir, "berth.db"));
    const reminders: string[] = [];
    const unused = () => Promise.reject(new Error("nothing launches while items join a batch"));
    const before = new Engine({
      router: buildRouter(cat),
      store: runs,
      launcher: { runTask: unused, stopTask: unused, describeTasks: unused },
      publisher: { publish: unused },
      clock: { now: () => opened },
      randomBytes: (n) => randomBytes(n),
      sha256: (data) => createHash("sha256").update(data).digest(),
      batches: {
        store: new SqliteBatchStore(runs.database),
        manifests: new FolderManifestWriter(join(stateDir, "s3")),
        timer: { settleAt: async (job) => void reminders.push(job) },
        stageManifestBucket: LOCAL_MANIFEST_BUCKET,
      },
    });
    for (const key of ["a.csv", "b.csv", "c.csv"]) expect((await before.dispatch(upload(key, opened)))[0]).toMatchObject({ kind: "batched", job: "gather" });
    expect((await before.dispatch(upload("d.csv", opened, "daily-drops")))[0]).toMatchObject({ kind: "batched", job: "daily", opened: true });
    expect(reminders).toEqual(["gather", "daily"]);
    runs.close();

    const rt = new LocalRuntime({ catalog: cat, rootDir: dir, stateDir });
    await rt.start();
    try {
      const run = await until("the batch's run to end", async () => {
        const [r] = await rt.shell.store.listRuns({ job: "gather", limit: 10 });
        return r !== undefined && isTerminal(r.status) ? r : undefined;
      });
      expect(await rt.shell.store.listRuns({ job: "gather", limit: 10 })).toHaveLength(1);
      expect(run, `${JSON.stringify(run)}\n${existsSync(join(rt.logDir, `${run.id}.log`)) ? readFileSync(join(rt.logDir, `${run.id}.log`), "utf8") : ""}`).toMatchObject({ status: "SUCCEEDED", context: { "batch.count": "3" } });
      const manifest = run.context["batch.manifest"]!;
      expect(manifest).toMatch(/^s3:\/\/berth-manifests\/gather\/[0-9a-f]{32}\.jsonl$/);
      expect(existsSync(join(stateDir, "s3", manifest.slice("s3://".length)))).toBe(true);
      const log = readFileSync(join(rt.logDir, `${run.id}.log`), "utf8");
      expect(log, log).toContain("lines 3");
      expect(rt.shell.batches?.timer.pending).toBe(1);
      expect(await rt.shell.store.listRuns({ job: "daily", limit: 10 })).toHaveLength(0);
    } finally {
      await rt.stop();
    }
  });
});

describe("berth dev's live table", () => {
  it("shows an open batch filling up: its uploads, bytes and the time until its window closes", async () => {
    const { DevUi } = await import("../../src/cli/dev-ui.ts");
    let written = "";
    const out = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const head = { job: "gather", batchId: "0123456789abcdef0123456789abcdef", state: "open" as const, opened: Date.now(), closesAt: Date.now() + 95_000, count: 12, bytes: 3456 };
    let reads = 0;
    const ui = new DevUi("live", ["berth dev"], out, async () => (reads++, [head]));
    ui.start();
    try {
      await until("the batch in the table", () => (/0123456789ab\s+gather\s+12\s+3456\s+\d+m\d\ds/.test(written) ? true : undefined));
    } finally {
      ui.stop();
    }
    expect(reads).toBeGreaterThan(0);
  });
});
