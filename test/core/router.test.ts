import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { buildCompiledCatalogRouter, buildRouter } from "../../src/core/router.ts";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { triggerPattern } from "../../src/core/catalog/patterns.ts";
import { validatePattern } from "../../src/core/match/validate.ts";
import { compilePattern, explainMismatch, matchesPattern } from "../../src/core/match/compile.ts";
import { encodeS3EventKey } from "../../src/core/events/s3-key.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";

const root = new URL("../../", import.meta.url);
const loaded = loadCatalog(readFileSync(new URL("berth.yml", root), "utf8"), "berth.yml");
if (!loaded.ok) throw new Error("example catalog must load");
const catalog: Catalog = loaded.catalog;
const router = buildRouter(catalog);
// As the Lambda handlers read it: the file `berth compile` writes.
const compiledRouter = buildCompiledCatalogRouter(JSON.parse(JSON.stringify(compileCatalog(catalog))));
const event = (name: string): unknown => JSON.parse(readFileSync(new URL(`events/${name}`, root), "utf8"));

describe("routing the sample events through the example catalog", () => {
  const expected: Record<string, string[]> = {
    "s3-object-created.json": ["thumbnails"],
    "s3-object-created-hostile-key.json": ["thumbnails"],
    "s3-object-created-other-bucket.json": [],
    "git-push.json": ["migrate-web"],
    "codecommit-reference-updated.json": [],
    "schedule-fired.json": ["nightly-backup"],
    "manual-run.json": ["reindex"],
    "run-succeeded.json": ["backup-report"],
    "ecr-image-push.json": ["scan-image"],
  };
  const samples = readdirSync(new URL("events/", root)).filter((f) => f.endsWith(".json") && !/^(github|gitlab)-/.test(f));

  it.each(samples)("%s fires exactly the jobs that want it, through the catalog's router and the compiled catalog's alike", (file) => {
    expect(router.match(event(file)).map((r) => r.job.name)).toEqual(expected[file] ?? []);
    expect(compiledRouter.match(event(file)).map((r) => [r.job.name, r.trigger, r.triggerIndex])).toEqual(router.match(event(file)).map((r) => [r.job.name, r.trigger, r.triggerIndex]));
  });

  it("routes a compiled catalog with its dispatch rules' patterns, one route per trigger in catalog order", () => {
    const compiled = compileCatalog(catalog);
    const dispatchRules = compiled.rules.flatMap((r) => (r.target.kind === "dispatch" ? [{ job: r.target.job, triggerIndex: r.target.triggerIndex, pattern: r.pattern }] : []));
    expect(compiledRouter.routes.map((r) => ({ job: r.job.name, triggerIndex: r.triggerIndex, pattern: r.pattern }))).toEqual(JSON.parse(JSON.stringify(dispatchRules)));
    expect(compiledRouter.routes.map((r) => r.job.name)).toEqual(router.routes.map((r) => r.job.name));
  });

  it("says why a job did not fire", () => {
    const route = router.routes.find((r) => r.job.name === "thumbnails")!;
    expect(explainMismatch(route.compiled, event("s3-object-created-other-bucket.json"))).toMatch(/detail\.bucket\.name/);
    expect(explainMismatch(route.compiled, event("s3-object-created.json"))).toBeUndefined();
  });
});

describe("trigger patterns", () => {
  const cases: [string, Parameters<typeof triggerPattern>[0], object][] = [
    ["s3 prefix + suffix become one wildcard", { kind: "s3", buckets: ["b"], key: { prefix: "in/*", suffix: ".png" } }, { detail: { bucket: { name: ["b"] }, object: { key: [{ wildcard: "in/\\**.png" }] } } }],
    ["s3 prefix only", { kind: "s3", buckets: ["b", "c"], key: { prefix: "in/" } }, { detail: { bucket: { name: ["b", "c"] }, object: { key: [{ prefix: "in/" }] } } }],
    ["s3 exact key", { kind: "s3", buckets: ["b"], key: { equals: "a.csv" } }, { detail: { bucket: { name: ["b"] }, object: { key: ["a.csv"] } } }],
    ["git branch glob", { kind: "git", provider: "github", repo: "acme/web", branches: ["release/*"] }, { source: ["berth.git"], detail: { repo: ["acme/web"], branch: [{ wildcard: "release/*" }] } }],
    ["git every branch", { kind: "git", provider: "gitlab", repo: "acme/web" }, { detail: { provider: ["gitlab"], branch: [{ exists: true }] } }],
    ["git branches and tags", { kind: "git", provider: "github", repo: "a/b", branches: ["main"], tags: ["v*"] }, { detail: { $or: [{ branch: ["main"] }, { tag: [{ wildcard: "v*" }] }] } }],
    ["codecommit tags", { kind: "git", provider: "codecommit", repo: "web", tags: ["v*"] }, { source: ["aws.codecommit"], detail: { repositoryName: ["web"], referenceType: ["tag"], referenceName: [{ wildcard: "v*" }] } }],
    ["job chain", { kind: "job", job: "up", statuses: ["succeeded", "timed-out"] }, { detail: { service: ["svc"], job: ["up"], status: ["SUCCEEDED", "TIMED_OUT"] } }],
  ];
  it.each(cases)("%s", (_name, trigger, shape) => {
    const pattern = triggerPattern(trigger, "svc", "j");
    expect(pattern).toMatchObject(shape);
    expect(validatePattern(pattern)).toEqual([]);
  });

  it.each([
    ["a prefix with a space", { prefix: "raw uploads/" }, "raw uploads/a.csv", "raw uploads2/a.csv"],
    ["a suffix with a plus", { suffix: "+1.csv" }, "x/a+1.csv", "x/a 1.csv"],
    ["an exact key with a percent", { equals: "100%/ü.txt" }, "100%/ü.txt", "100%/u.txt"],
    ["a wildcard over encoded text", { wildcard: "in box/*/ö*.png" }, "in box/2024/öl 1.png", "in box/2024/ol.png"],
    ["a wildcard with a literal star", { wildcard: "a\\**" }, "a*b", "ab"],
    ["prefix and suffix", { prefix: "in box/", suffix: " final.png" }, "in box/x final.png", "in box/x-final.png"],
  ])("an S3 key filter on %s matches the URL-encoded key S3 sends", (_what, key, hit, miss) => {
    const trigger = { kind: "s3" as const, buckets: ["b"], key };
    const compiled = compilePattern(triggerPattern(trigger, "svc", "j"));
    const s3Event = (k: string) => ({ source: "aws.s3", "detail-type": "Object Created", detail: { bucket: { name: "b" }, object: { key: encodeS3EventKey(k) } } });
    expect(matchesPattern(compiled, s3Event(hit))).toBe(true);
    expect(matchesPattern(compiled, s3Event(miss))).toBe(false);
  });

  it("every route of the example catalog is a pattern AWS accepts", () => {
    for (const r of router.routes) expect(validatePattern(r.pattern)).toEqual([]);
  });
});
