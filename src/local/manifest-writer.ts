/**
 * The `ManifestWriter` port on the local S3 folder: a closed batch's manifest is the file
 * `<root>/<bucket>/<key>`, written to a temporary name and renamed into place, so a task (or the folder
 * watcher) reads the whole manifest or none. A repeat after a crash writes the same bytes again.
 *
 * The stage's manifest bucket is one of the watcher's silent buckets (compose.ts): as on AWS, where that
 * bucket sends no events, its manifests start nothing. A manifest in a catalog's own `batch.manifest`
 * folder is announced like any object written there; the catalog refuses a folder under the job's own trigger.
 */
import type { ManifestWriter } from "../core/batch/port.ts";
import { writeObject } from "./s3-folder.ts";

/** The stage's manifest bucket in `berth dev`: `.berth/s3/berth-manifests/<job>/<batch id>.jsonl`. */
export const LOCAL_MANIFEST_BUCKET = "berth-manifests";

export class FolderManifestWriter implements ManifestWriter {
  readonly #root: string;

  /** `root`: the folder standing in for S3 (`.berth/s3`). */
  constructor(root: string) {
    this.#root = root;
  }

  async putManifest(bucket: string, key: string, body: string): Promise<void> {
    await writeObject(this.#root, bucket, key, body);
  }
}
