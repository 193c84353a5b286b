/**
 * The `ManifestWriter` port on S3: a closed batch's manifest is one PutObject of JSON Lines
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). The object is encrypted as the
 * bucket's default says (SSE-S3 on the stage's manifest bucket, whatever a catalog's own bucket sets): no
 * `ServerSideEncryption` is sent, so a bucket whose default is SSE-KMS keeps its key. A repeat after a
 * crash writes the same key with the same bytes, so it changes nothing a reader could see.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ConfigurationError } from "../core/errors.ts";
import type { ManifestWriter } from "../core/batch/port.ts";
import type { ClientPlace } from "./clients.ts";
import { translateAwsError } from "./errors.ts";
import { s3Client } from "./lazy-clients.ts";

/** The media type JSON Lines objects are stored with. */
export const MANIFEST_CONTENT_TYPE = "application/x-ndjson";

/** S3's answers that no retry fixes: the bucket is not there, or not in this region. */
const MISPLACED = new Set(["NoSuchBucket", "PermanentRedirect"]);

export class S3ManifestWriter implements ManifestWriter {
  readonly #client: Pick<S3Client, "send">;

  constructor(client: Pick<S3Client, "send">) {
    this.#client = client;
  }

  async putManifest(bucket: string, key: string, body: string): Promise<void> {
    try {
      await this.#client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: MANIFEST_CONTENT_TYPE }));
    } catch (error) {
      const action = `write the batch manifest s3://${bucket}/${key}`;
      if (error instanceof Error && MISPLACED.has(error.name)) {
        throw new ConfigurationError(`failed to ${action}: ${error.name}: ${error.message} (the manifest bucket must exist in the function's region: check batch.manifest, or BERTH_MANIFEST_BUCKET)`, { cause: error });
      }
      throw translateAwsError(error, action, { hint: "the function's role needs s3:PutObject on the manifest's bucket and prefix" }) ?? error;
    }
  }
}

/** The writer with its own S3 client (lazy-clients.ts). */
export function s3ManifestWriter(env: Readonly<Record<string, string | undefined>>, place?: ClientPlace): S3ManifestWriter {
  return new S3ManifestWriter(s3Client(env, place));
}
