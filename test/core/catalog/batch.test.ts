import { describe, expect, it } from "vitest";
import { issuesOf, load } from "./support.ts";
import { compileCatalog, readCompiledCatalog } from "../../../src/core/catalog/compiled.ts";
import { catalogJsonSchema, manifestLocationProblem } from "../../../src/core/catalog/schema.ts";
import { parseSize, formatSize } from "../../../src/core/catalog/size.ts";

const base = `version: 1
service: acme-jobs
defaults:
  network: { subnets: [subnet-1] }
jobs:
  j:
    on: { s3: { bucket: media-uploads, key: { prefix: incoming/ } } }
`;
const run = `    run: { taskDefinition: t, container: c, command: [process, "\${batch.manifest}"] }\n`;

describe("batch: on a job with s3 triggers", () => {
  it.each([
    ["a window and the default maxItems", "{ window: 1m }", { window: 60, maxItems: 1000 }],
    ["a window in whole seconds", "{ window: 90 }", { window: 90, maxItems: 1000 }],
    ["the shortest window", "{ window: 1s }", { window: 1, maxItems: 1000 }],
    ["the longest window", "{ window: 1d }", { window: 86400, maxItems: 1000 }],
    ["maxItems", "{ window: 60s, maxItems: 500 }", { window: 60, maxItems: 500 }],
    ["the largest maxItems", "{ window: 60s, maxItems: 10000 }", { window: 60, maxItems: 10000 }],
    ["maxBytes in decimal units", "{ window: 60s, maxItems: 1, maxBytes: 500MB }", { window: 60, maxItems: 1, maxBytes: 500_000_000 }],
    ["maxBytes in binary units", "{ window: 60s, maxBytes: 2GiB }", { window: 60, maxItems: 1000, maxBytes: 2 * 2 ** 30 }],
    ["maxBytes in bytes", "{ window: 60s, maxBytes: 4096 }", { window: 60, maxItems: 1000, maxBytes: 4096 }],
    ["a manifest folder", "{ window: 60s, manifest: s3://media-uploads-manifests/thumbnails/ }", { window: 60, maxItems: 1000, manifest: { bucket: "media-uploads-manifests", prefix: "thumbnails/" } }],
    ["a manifest bucket", "{ window: 60s, manifest: s3://media-manifests }", { window: 60, maxItems: 1000, manifest: { bucket: "media-manifests", prefix: "" } }],
    ["manifests in the trigger's bucket, outside its prefix", "{ window: 60s, manifest: s3://media-uploads/manifests/ }", { window: 60, maxItems: 1000, manifest: { bucket: "media-uploads", prefix: "manifests/" } }],
  ])("loads %s", (_what, batch, expected) => {
    expect(load(`${base}${run}    batch: ${batch}\n`).jobs.j!.batch).toEqual(expected);
  });

  it("gives the batch variables to templates", () => {
    const c = load(`${base}    run:\n      taskDefinition: t\n      container: c\n      command: [process, "\${batch.manifest}", "\${batch.count}", "\${batch.bytes}", "\${batch.opened}", "\${run.id}"]\n    batch: { window: 1m }\n`);
    expect(c.jobs.j!.action).toMatchObject({ command: ["process", "${batch.manifest}", "${batch.count}", "${batch.bytes}", "${batch.opened}", "${run.id}"] });
  });

  it("keeps the policy in the compiled catalog the handlers read", () => {
    const c = load(`${base}${run}    batch: { window: 5m, maxItems: 200, maxBytes: 1GiB, manifest: s3://media-manifests/j/ }\n`);
    const read = readCompiledCatalog(JSON.parse(JSON.stringify(compileCatalog(c))), "catalog.json");
    if (!read.ok) throw read.error;
    expect(read.compiled.catalog.jobs.j!.batch).toEqual({ window: 300, maxItems: 200, maxBytes: 2 ** 30, manifest: { bucket: "media-manifests", prefix: "j/" } });
  });

  it("leaves a job without batch: unbatched", () => {
    expect(load(`${base}    run: { taskDefinition: t }\n`).jobs.j).not.toHaveProperty("batch");
  });
});

describe("a wrong batch:", () => {
  it.each([
    ["without an s3 trigger", `${base.replace("s3: { bucket: media-uploads, key: { prefix: incoming/ } }", "schedule: { rate: 1 hour }")}    run: { taskDefinition: t }\n    batch: { window: 1m }\n`, "berth.yml:9:5 jobs.j.batch: batch gathers uploads into one run, so it needs an s3 trigger (on.s3); this job's triggers are schedule: add an s3 trigger or remove batch"],
    ["on a deploy", `${base}    deploy: { service: web, container: app, image: "x:1" }\n    batch: { window: 1m }\n`, "berth.yml:9:5 jobs.j.batch: a batch's run reads its manifest (${batch.manifest}): batch needs a run: action, not deploy:"],
    ["without a window", `${base}${run}    batch: { maxItems: 5 }\n`, 'berth.yml:9:12 jobs.j.batch.window: required field "window" is missing'],
    ["with a window of 0", `${base}${run}    batch: { window: 0 }\n`, "berth.yml:9:22 jobs.j.batch.window: window must be from 1s to 1d (got 0s): a batch closes that long after its first upload"],
    ["with a window longer than a day", `${base}${run}    batch: { window: 25h }\n`, "berth.yml:9:22 jobs.j.batch.window: window must be from 1s to 1d (got 25h): a batch closes that long after its first upload"],
    ["with a window that is no duration", `${base}${run}    batch: { window: 1 minute }\n`, /^berth\.yml:9:22 jobs\.j\.batch\.window: expected a duration such as "30s"/],
    ["with maxItems 0", `${base}${run}    batch: { window: 1m, maxItems: 0 }\n`, "berth.yml:9:36 jobs.j.batch.maxItems: maxItems must be at least 1"],
    ["with maxItems past the limit", `${base}${run}    batch: { window: 1m, maxItems: 10001 }\n`, "berth.yml:9:36 jobs.j.batch.maxItems: maxItems is at most 10000 (closing a batch reads every item and writes its manifest in one go)"],
    ["with a fractional maxItems", `${base}${run}    batch: { window: 1m, maxItems: 2.5 }\n`, "berth.yml:9:36 jobs.j.batch.maxItems: maxItems must be a whole number"],
    ["with maxBytes in an unknown unit", `${base}${run}    batch: { window: 1m, maxBytes: 5mb }\n`, /^berth\.yml:9:36 jobs\.j\.batch\.maxBytes: expected a size such as "500MB", "2GiB" or "10KB" \(KB = 1000 bytes, KiB = 1024\)/],
    ["with maxBytes 0", `${base}${run}    batch: { window: 1m, maxBytes: 0 }\n`, "berth.yml:9:36 jobs.j.batch.maxBytes: maxBytes must be from 1 byte to 1000TB (got 0B); leave it out to close batches by window and maxItems only"],
    ["with maxBytes past 1 PB", `${base}${run}    batch: { window: 1m, maxBytes: 2000TB }\n`, "berth.yml:9:36 jobs.j.batch.maxBytes: maxBytes must be from 1 byte to 1000TB (got 2000TB); leave it out to close batches by window and maxItems only"],
    ["with a manifest that is no S3 URL", `${base}${run}    batch: { window: 1m, manifest: "https://example.com/x/" }\n`, 'berth.yml:9:36 jobs.j.batch.manifest: manifest must be an S3 folder such as s3://media-uploads-manifests/thumbnails/'],
    ["with a manifest folder without its /", `${base}${run}    batch: { window: 1m, manifest: s3://media-manifests/thumbs }\n`, 'berth.yml:9:36 jobs.j.batch.manifest: manifest names a folder: end it with "/" (s3://media-manifests/thumbs/); each batch\'s manifest is written inside it'],
    ["with a manifest where the job's own trigger listens", `${base}${run}    batch: { window: 1m, manifest: s3://media-uploads/incoming/manifests/ }\n`, "berth.yml:9:36 jobs.j.batch.manifest: manifests written to s3://media-uploads/incoming/manifests/ would match this job's own s3 trigger, so each batch's manifest would join the next batch: write them to another bucket or folder"],
    ["with an unknown field", `${base}${run}    batch: { window: 1m, size: 3 }\n`, 'berth.yml:9:26 jobs.j.batch.size: unknown field "size"; allowed: window, maxItems, maxBytes, manifest'],
  ])("is rejected %s", (_what, text, expected) => {
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    if (typeof expected === "string") expect(issues[0]).toBe(expected);
    else expect(issues[0]).toMatch(expected);
  });

  it("reports every problem of a batch at once", () => {
    expect(issuesOf(`${base}${run}    batch: { window: 2d, maxBytes: 0 }\n`)).toEqual([
      expect.stringMatching(/^berth\.yml:9:22 jobs\.j\.batch\.window: window must be from 1s to 1d \(got 2d\)/),
      expect.stringMatching(/^berth\.yml:9:36 jobs\.j\.batch\.maxBytes: maxBytes must be from 1 byte/),
    ]);
  });
});

describe("templates of a batched job", () => {
  it.each(["s3.key", "s3.bucket", "s3.size", "s3.etag", "s3.versionId", "s3.sequencer"])("reject ${%s}, saying why and what to use", (name) => {
    const issues = issuesOf(`${base}    run: { taskDefinition: t, container: c, environment: { X: "\${${name}}" } }\n    batch: { window: 1m }\n`);
    expect(issues).toEqual([
      `berth.yml:8:63 jobs.j.run.environment.X: \${${name}} is not available in a batched job: its run covers many uploads, not one; the task reads them from the manifest, \${batch.manifest} (one JSON line per object: bucket, key, size, etag, versionId, sequencer, eventTime), and \${batch.count} \${batch.bytes} \${batch.opened} describe the batch`,
    ]);
  });

  it("reject ${batch.*} in a job that is not batched", () => {
    const issues = issuesOf(`${base}    run: { taskDefinition: t, container: c, command: ["\${batch.manifest}"] }\n`);
    expect(issues).toEqual([expect.stringMatching(/^berth\.yml:8:55 jobs\.j\.run\.command\[0\]: unknown template variable \$\{batch\.manifest\}: s3 provides \$\{s3\.bucket\}/)]);
  });

  it("reject ${batch.*} when another trigger of the job cannot provide it", () => {
    const text = `${base.replace("s3: { bucket: media-uploads, key: { prefix: incoming/ } }", "s3: { bucket: media-uploads }, manual: true")}${run}    batch: { window: 1m }\n`;
    expect(issuesOf(text)).toEqual([expect.stringMatching(/jobs\.j\.run\.command\[1\]: unknown template variable \$\{batch\.manifest\}: manual provides no variables/)]);
  });
});

describe("the manifest location", () => {
  it.each([
    ["s3://media-manifests/a/b/", undefined],
    ["s3://media.manifests/", undefined],
    ["s3://ab/", /is not an S3 bucket name/],
    ["s3://Media/", /is not an S3 bucket name/],
    ["s3://a..b/", /is not an S3 bucket name/],
    ["s3://192.168.0.1/", /is not an S3 bucket name/],
    ["s3://xn--media/", /"xn--" is reserved by S3/],
    ["s3://media--ol-s3/", /"--ol-s3" is reserved by S3/],
    ["s3://media-manifests//a/", /empty segment/],
    ["s3://media-manifests/a//b/", /empty segment/],
    [`s3://media-manifests/${"a".repeat(990)}/`, /longer than 986 bytes/],
    ["media-manifests/a/", /manifest must be an S3 folder/],
  ])("%s", (value, problem) => {
    const found = manifestLocationProblem(value);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});

describe("sizes", () => {
  it.each([
    ["1", 1],
    [1, 1],
    ["1B", 1],
    ["10KB", 10_000],
    ["10KiB", 10_240],
    ["5MB", 5_000_000],
    ["5MiB", 5 * 2 ** 20],
    ["2GB", 2e9],
    ["2GiB", 2 ** 31],
    ["1TB", 1e12],
    ["1TiB", 2 ** 40],
  ] as const)("%s is %d bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    [1e15, "1000TB"],
    [1536, "1536B"],
    [2 ** 31, "2GiB"],
    [0, "0B"],
  ])("%d is written %s", (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

describe("the JSON Schema", () => {
  it("describes batch: with its fields, window required", () => {
    const schema = catalogJsonSchema() as { properties: { jobs: { additionalProperties: { properties: { batch: { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean } } } } } };
    const batch = schema.properties.jobs.additionalProperties.properties.batch;
    expect(Object.keys(batch.properties)).toEqual(["window", "maxItems", "maxBytes", "manifest"]);
    expect(batch.required).toEqual(["window"]);
    expect(batch.additionalProperties).toBe(false);
    expect(batch.properties.maxItems).toMatchObject({ type: "integer", minimum: 1, maximum: 10000 });
  });
});
