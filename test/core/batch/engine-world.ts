/**
 * For the engine's batch tests (test/core/engine/batch*.test.ts): an engine whose catalog batches uploads, over memory stores, a recording timer, an in-memory manifest
 * writer and a manual clock; and S3 upload events for it.
 */
import { readFileSync } from "node:fs";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { buildRouter } from "../../../src/core/router.ts";
import { Engine, type EngineDeps } from "../../../src/core/engine/engine.ts";
import type { Run } from "../../../src/core/runs/model.ts";
import { MemoryBatchStore } from "../../support/memory-batch-store.ts";
import { MemoryManifestWriter, RecordingBatchTimer } from "../../support/memory-batching.ts";
import { MemoryRunStore } from "../../support/memory-run-store.ts";
import { ManualClock, MemoryLauncher, MemoryPublisher, countingBytes, sha256 } from "../../support/memory-shell.ts";

export const GRACE_MS = 30_000;
export const STAGE_BUCKET = "acme-manifests";

/** A job that batches the uploads to s3://media/`prefix`; `extra`: more of its fields, each line indented by four. */
export function batchedJob(name: string, prefix: string, batch: string, extra = ""): string {
  return `  ${name}:
    on: { s3: { bucket: media, key: { prefix: ${prefix} } } }
    run: { taskDefinition: ${name}, container: worker, command: [${name}, "\${batch.manifest}", "\${batch.count}"] }
    batch: ${batch}
${extra}`;
}

/** A catalog of `jobs` (YAML, indented by two) and the unbatched job `single`, which runs each upload to s3://media/in/both/. */
export function catalogOf(jobs: string): string {
  return `version: 1
service: studio
defaults: { network: { subnets: [subnet-9] } }
jobs:
${jobs}  single:
    on: { s3: { bucket: media, key: { prefix: in/both/ } } }
    run: { taskDefinition: one, container: w, command: [one, "\${s3.key}"] }
`;
}

/** A catalog with the batching job `thumbs` (uploads to s3://media/in/) and the unbatched job `single`. */
export const catalogYaml = (batch: string, extra = ""): string => catalogOf(batchedJob("thumbs", "in/", batch, extra));

export function loadYaml(yaml: string) {
  const loaded = loadCatalog(yaml, "berth.yml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error.issues));
  return loaded.catalog;
}

export function batchWorld(yaml: string, overrides: Partial<EngineDeps> = {}) {
  const catalog = loadYaml(yaml);
  const clock = new ManualClock();
  const store = new MemoryRunStore();
  const launcher = new MemoryLauncher();
  const publisher = new MemoryPublisher();
  const batchStore = new MemoryBatchStore();
  const manifests = new MemoryManifestWriter();
  const timer = new RecordingBatchTimer();
  const deps: EngineDeps = {
    router: buildRouter(catalog),
    store,
    launcher,
    publisher,
    clock,
    randomBytes: countingBytes,
    sha256,
    batches: { store: batchStore, manifests, timer, stageManifestBucket: STAGE_BUCKET, graceMs: GRACE_MS },
    ...overrides,
  };
  return { engine: new Engine(deps), deps, catalog, clock, store, launcher, publisher, batchStore, manifests, timer };
}

const s3Event = JSON.parse(readFileSync(new URL("../../../events/s3-object-created.json", import.meta.url), "utf8"));

/** The `Object Created` event of an upload to s3://media/`key` (unversioned: identified by its sequencer). */
export function upload(key: string, n: number, size = 1000): unknown {
  const sequencer = n.toString(16).toUpperCase().padStart(18, "0");
  return {
    ...s3Event,
    id: `evt-${n}`,
    detail: { ...s3Event.detail, bucket: { name: "media" }, object: { key, size, etag: `etag${n}`, sequencer } },
  };
}

export const keys = (n: number, prefix = "in/", from = 0): string[] => Array.from({ length: n }, (_, i) => `${prefix}f${String(from + i).padStart(5, "0")}.png`);

/** The job's runs, oldest first. */
export async function runsOf(store: MemoryRunStore, job = "thumbs"): Promise<Run[]> {
  return [...(await store.listRuns({ job, limit: 1000 }))].reverse();
}
