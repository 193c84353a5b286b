/**
 * Changing berth.yml changes the stack, and serverless.yml stays as it is: the example with a job added
 * and with a bucket changed, each packaged by `berth package` from a folder that holds only berth.yml.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXAMPLE, withJob, withThumbnailsBucket } from "./catalogs.ts";
import { alarmedQueues, deadLetterTargets, quotaReport, quotaViolations, wildcardViolations } from "./checks.ts";
import { ROOT, packageCatalog, readZip, removePackaged, resourcesOf, type CfnResource, type Packaged } from "./package.ts";

const serverlessYml = () => readFileSync(join(ROOT, "serverless.yml"), "utf8");
const inputFor = (job: string) => `{"job": "${job}", "event": <aws.events.event.json>}`;
const ruleFor = (p: Packaged, job: string): [string, CfnResource] | undefined =>
  resourcesOf(p.template, "AWS::Events::Rule").find(([, r]) => (r.Properties?.Targets as { InputTransformer?: { InputTemplate: string } }[])[0]?.InputTransformer?.InputTemplate === inputFor(job));

const ADDED = `
description: Resize uploaded videos
on:
  s3: { bucket: media-uploads, key: { prefix: videos/ } }
run: { taskDefinition: video-resizer, container: worker, command: [resize, "\${s3.key}"] }
`;

let before: string;
let base: Packaged;
let added: Packaged;
let moved: Packaged;

beforeAll(async () => {
  before = serverlessYml();
  [base, added, moved] = await Promise.all([
    packageCatalog(EXAMPLE, { stage: "dev" }),
    packageCatalog(withJob("resize-videos", ADDED), { stage: "dev" }),
    packageCatalog(withThumbnailsBucket("media-inbox"), { stage: "dev" }),
  ]);
}, 90_000);

afterAll(removePackaged);

describe("a changed berth.yml", () => {
  it("packages from a folder with no serverless.yml, and leaves berth's serverless.yml untouched", () => {
    expect(serverlessYml()).toBe(before);
    expect(base.output).toContain("packaged acme-jobs-dev");
  });

  it("adds a rule, its permission and its task-definition family for an added job, and changes no existing resource", () => {
    const [id, rule] = ruleFor(added, "resize-videos")!;
    expect(rule.Properties?.EventPattern).toEqual({ source: ["aws.s3"], "detail-type": ["Object Created"], detail: { bucket: { name: ["media-uploads"] }, object: { key: [{ prefix: "videos/" }] } } });
    expect(rule.Properties?.EventBusName).toBeUndefined();
    expect(added.template.Resources[`${id}Permission`]?.Type).toBe("AWS::Lambda::Permission");
    expect(JSON.stringify(added.template.Resources.DispatchRole)).toContain("task-definition/video-resizer:*");
    expect(JSON.stringify(base.template.Resources.DispatchRole)).not.toContain("video-resizer");

    const baseIds = Object.keys(base.template.Resources);
    const newIds = Object.keys(added.template.Resources).filter((k) => !baseIds.includes(k));
    expect(newIds.sort()).toEqual([id, `${id}Permission`].sort());
    // Everything the job does not touch is byte for byte the same (the code's S3 key holds the package time).
    const touched = new Set(["DispatchRole", "TrackRole", "SweepRole", "RuleTargetsDeadLetterQueuePolicy", "DispatchLambdaFunction", "TrackLambdaFunction", "SweepLambdaFunction"]);
    for (const k of baseIds.filter((k) => !touched.has(k))) expect(added.template.Resources[k], k).toEqual(base.template.Resources[k]);
    // The new rule gets its dead-letter queue, which has its alarm.
    expect(deadLetterTargets(added.template).find((t) => t.what.startsWith(`rule ${id} `))?.queue).toBe("RuleTargetsDeadLetterQueue");
    expect(alarmedQueues(added.template).has("RuleTargetsDeadLetterQueue")).toBe(true);
  });

  it("packages the added job in every function's catalog", () => {
    for (const fn of ["dispatch", "track", "sweep"]) {
      const catalog = JSON.parse(readZip(join(added.packageDir, `${fn}.zip`)).get("dist/catalog.json")!.toString("utf8")) as { catalog: { jobs: Record<string, unknown> } };
      expect(Object.keys(catalog.catalog.jobs)).toContain("resize-videos");
    }
  });

  it("updates the rule of a job whose bucket changed in place: same logical id, new bucket", () => {
    const [baseId, baseRule] = ruleFor(base, "thumbnails")!;
    const [movedId, movedRule] = ruleFor(moved, "thumbnails")!;
    expect(movedId).toBe(baseId);
    expect((baseRule.Properties?.EventPattern as { detail: { bucket: unknown } }).detail.bucket).toEqual({ name: ["media-uploads"] });
    expect((movedRule.Properties?.EventPattern as { detail: { bucket: unknown } }).detail.bucket).toEqual({ name: ["media-inbox"] });
    expect(Object.keys(moved.template.Resources).sort()).toEqual(Object.keys(base.template.Resources).sort());
  });

  it("keeps least privilege and the quotas in every variant", () => {
    for (const p of [base, added, moved]) {
      expect(wildcardViolations(p.template)).toEqual([]);
      expect(quotaViolations(quotaReport(p.template))).toEqual([]);
    }
  });
});
