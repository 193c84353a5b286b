/**
 * Changing berth.yml changes the stack, and serverless.yml stays as it is: the example with a job added
 * and with a bucket changed, each packaged by `berth package` from a folder that holds only berth.yml.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EXAMPLE, withJob, withoutGitTriggers, withoutWebhook, withThumbnailsBucket, withWebhook } from "./catalogs.ts";
import { checkTemplate } from "../support/cfn-spec.ts";
import { alarmedQueues, deadLetterTargets, quotaReport, quotaViolations, resolve, unexplainedWildcards, wildcardViolations } from "./checks.ts";
import { handlerFiles, packagePath } from "../support/bundle-files.ts";
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
let noPushes: Packaged;
let secretOf: Packaged;

beforeAll(async () => {
  before = serverlessYml();
  [base, added, moved, noPushes, secretOf] = await Promise.all([
    packageCatalog(EXAMPLE, { stage: "dev" }),
    packageCatalog(withJob("resize-videos", ADDED), { stage: "dev" }),
    packageCatalog(withThumbnailsBucket("media-inbox"), { stage: "dev" }),
    packageCatalog(withoutWebhook(withoutGitTriggers()), { stage: "dev" }),
    packageCatalog(withWebhook('secret: "secretsmanager:acme/github-webhook"', "rotation: 10m"), { stage: "dev" }),
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
    const touched = new Set(["DispatchRole", "TrackRole", "SweepRole", "RuleTargetsDeadLetterQueuePolicy", "DispatchLambdaFunction", "TrackLambdaFunction", "SweepLambdaFunction", "WebhookLambdaFunction"]);
    for (const k of baseIds.filter((k) => !touched.has(k))) expect(added.template.Resources[k], k).toEqual(base.template.Resources[k]);
    // The new rule gets its dead-letter queue, which has its alarm.
    expect(deadLetterTargets(added.template).find((t) => t.what.startsWith(`rule ${id} `))?.queue).toBe("RuleTargetsDeadLetterQueue");
    expect(alarmedQueues(added.template).has("RuleTargetsDeadLetterQueue")).toBe(true);
  });

  it("packages each function from berth's own package with its bundle and every chunk that bundle imports, as they were built", () => {
    for (const fn of ["dispatch", "track", "sweep", "webhook"]) {
      const entries = readZip(join(base.packageDir, `${fn}.zip`));
      const bundle = handlerFiles(join(ROOT, "dist", "handlers"), fn);
      const loaded = [...bundle.coldStart, ...bundle.onFirstUse].map((file) => packagePath(ROOT, file));
      expect([...entries.keys()].sort()).toEqual(["dist/catalog.json", ...loaded].sort());
      for (const file of loaded) expect(entries.get(file)!.equals(readFileSync(join(ROOT, file))), file).toBe(true);
    }
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

  it("has no webhook, function URL or webhook output when no job is triggered by a GitHub or GitLab push and berth.yml has no webhook: block, and still deploys", () => {
    const webhookIds = (p: Packaged) => Object.keys(p.template.Resources).filter((id) => id.startsWith("Webhook"));
    expect(webhookIds(base).sort()).toEqual(["WebhookLambdaFunction", "WebhookLambdaFunctionUrl", "WebhookLambdaPermissionFn", "WebhookLambdaPermissionFnUrl", "WebhookLogGroup", "WebhookRole"]);
    expect(webhookIds(noPushes)).toEqual([]);
    expect(resourcesOf(noPushes.template, "AWS::Lambda::Url")).toEqual([]);
    expect(Object.keys(noPushes.template.Outputs ?? {}).filter((o) => /webhook/i.test(o))).toEqual([]);
    expect(readdirSync(noPushes.packageDir).filter((f) => f.endsWith(".zip")).sort()).toEqual(["dispatch.zip", "sweep.zip", "track.zip"]);
    // The deploy jobs, deploy-web now run by hand, keep their deployer permissions and their deployment-state rule.
    expect(JSON.stringify(noPushes.template.Resources.DispatchRole)).toContain("ecs:UpdateService");
    expect(noPushes.template.Resources.TrackDeploymentStateRule?.Type).toBe("AWS::Events::Rule");
    // Everything else is the example's, less the webhook's six resources.
    expect(Object.keys(noPushes.template.Resources).length).toBe(Object.keys(base.template.Resources).length - 6);
  });

  it("gives the webhook the secret berth.yml's webhook: names, and a role that reads exactly that secret", () => {
    const env = (secretOf.template.Resources.WebhookLambdaFunction!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env).toMatchObject({ BERTH_WEBHOOK_SECRET_SOURCE: "secretsmanager", BERTH_WEBHOOK_SECRET_NAME: "acme/github-webhook", BERTH_WEBHOOK_ROTATION_SECONDS: "600" });
    const policy = resolve(secretOf.template, (secretOf.template.Resources.WebhookRole!.Properties!.Policies as { PolicyDocument: unknown }[])[0]!.PolicyDocument) as { Statement: { Sid: string; Action: string[]; Resource: string[]; Condition?: unknown }[] };
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/github-webhook-??????";
    expect(policy.Statement.map((s) => s.Sid)).toEqual(["WriteOwnLogs", "PublishGitPushesToBerthBus", "ReadWebhookSecret", "DecryptWebhookSecretOnly"]);
    expect(policy.Statement[2]).toMatchObject({ Action: ["secretsmanager:GetSecretValue"], Resource: [arn] });
    expect(policy.Statement[3]).toMatchObject({
      Action: ["kms:Decrypt"],
      Resource: ["arn:aws:kms:eu-west-1:123456789012:key/*"],
      Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" }, StringLike: { "kms:EncryptionContext:SecretARN": arn } },
    });
    // Only the webhook's role changed: the engine's roles read no secret.
    for (const role of ["DispatchRole", "TrackRole", "SweepRole"]) expect(secretOf.template.Resources[role]).toEqual(base.template.Resources[role]);
    expect(checkTemplate(secretOf.template)).toEqual([]);
  });

  it("keeps least privilege and the quotas in every variant", () => {
    for (const p of [base, added, moved, noPushes, secretOf]) {
      expect(wildcardViolations(p.template)).toEqual([]);
      expect(unexplainedWildcards(p.template)).toEqual([]);
      expect(quotaViolations(quotaReport(p.template))).toEqual([]);
    }
  });
});
