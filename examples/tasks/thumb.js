// Stands in for the thumbnailer container: reads the uploaded object and "makes a thumbnail".
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const [url] = process.argv.slice(2);
const bucket = process.env.INPUT_BUCKET;
const key = process.env.INPUT_KEY;
console.log(`thumbnailing ${url}`);
if (process.env.BERTH_S3_ROOT && bucket && key) {
  const file = join(process.env.BERTH_S3_ROOT, bucket, key);
  const bytes = readFileSync(file);
  console.log(`read ${statSync(file).size} bytes of ${key}; first byte 0x${(bytes[0] ?? 0).toString(16)}`);
}
await new Promise((r) => setTimeout(r, 300));
console.log("thumbnail written");
