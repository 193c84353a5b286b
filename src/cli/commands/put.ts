import type { Command } from "commander";
import { join } from "node:path";
import { c, UsageError } from "../output.ts";
import { parseS3Url, putObject } from "../../local/s3-folder.ts";

export function registerPut(program: Command): void {
  program
    .command("put")
    .description("upload a file to the local S3 stand-in (.berth/s3/<bucket>/<key>); berth dev announces it as Object Created")
    .argument("<file>", "the file to upload")
    .argument("<s3-url>", "s3://bucket/key")
    .action(async (file: string, url: string) => {
      let target: { bucket: string; key: string };
      try {
        target = parseS3Url(url);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      try {
        const path = await putObject(join(".berth", "s3"), file, target.bucket, target.key);
        console.log(`${c.green("✔")} uploaded ${file} to s3://${target.bucket}/${target.key} (${path})`);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UsageError(code === "ENOENT" ? `${file}: no such file` : (e as Error).message);
      }
    });
}
