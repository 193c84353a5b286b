import { describe, expect, it } from "vitest";
import type { EventTrigger, GitTrigger, JobTrigger, ManualTrigger, S3Trigger, ScheduleTrigger, Trigger } from "../../../src/core/catalog/types.ts";
import { triggerContext } from "../../../src/core/context/trigger-context.ts";
import { triggerVariables } from "../../../src/core/catalog/variables.ts";
import type { BusEvent } from "../../../src/core/events/envelope.ts";
import { ConfigurationError, ValidationError } from "../../../src/core/errors.ts";
import { loadEvent, loadJson, sampleNames, setField, withField } from "./samples.ts";

// The example catalog's triggers (shared/CATALOG.md), plus the jobs README names for the other samples.
const thumbnails: S3Trigger = { kind: "s3", buckets: ["media-uploads"], key: { prefix: "incoming/", suffix: ".png" } };
const logs: S3Trigger = { kind: "s3", buckets: ["unrelated-logs"] };
const deployWeb: GitTrigger = { kind: "git", provider: "github", repo: "acme/web", branches: ["main"] };
const releaseTags: GitTrigger = { kind: "git", provider: "github", repo: "acme/web", tags: ["v*"] };
const codeCommitWeb: GitTrigger = { kind: "git", provider: "codecommit", repo: "web", branches: ["main"] };
const nightlySeoul: ScheduleTrigger = {
  kind: "schedule", expression: "0 3 * * ? *", awsExpression: "cron(0 3 * * ? *)", timezone: "Asia/Seoul",
};
const nightlyUtc: ScheduleTrigger = { ...nightlySeoul, timezone: "UTC" };
const reindex: ManualTrigger = {
  kind: "manual",
  params: {
    index: { required: true, description: "the search index to rebuild" },
    batchSize: { required: false, default: "500" },
    note: { required: false },
  },
};
const weeklyReport: JobTrigger = { kind: "job", job: "nightly-backup", statuses: ["succeeded"] };
const ecrPushes: EventTrigger = { kind: "event", pattern: { source: ["aws.ecr"], "detail-type": ["ECR Image Action"] } };
const ecsEvents: EventTrigger = { kind: "event", pattern: { source: ["aws.ecs"] } };

function ok(trigger: Trigger, event: BusEvent): Record<string, string> {
  const result = triggerContext(trigger, event);
  if (!result.ok) throw new Error(`expected a context, got error: ${result.error.message}`);
  return { ...result.context };
}

function error(trigger: Trigger, event: unknown): string {
  const result = triggerContext(trigger, event as BusEvent);
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.context)}`);
  return result.error.message;
}

function envelope(name: string): Record<string, string> {
  const event = loadJson(name) as Record<string, string>;
  return Object.fromEntries(
    ["id", "source", "detail-type", "time", "account", "region"].map((field) => [`event.${field}`, String(event[field])]),
  );
}

const ZERO = "0".repeat(40);

// Every sample in events/ with the trigger that consumes it and the exact context it yields.
const SAMPLES: Record<string, { trigger: Trigger; context: Record<string, string> } | { notAnEnvelope: true }> = {
  "s3-object-created.json": {
    trigger: thumbnails,
    context: {
      "s3.bucket": "media-uploads", "s3.key": "incoming/cat.png", "s3.size": "482133",
      "s3.etag": "9b2cf535f27731c974343645a3985328", "s3.versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
      "s3.sequencer": "006745919F2A7C3B51",
    },
  },
  "s3-object-created-other-bucket.json": {
    trigger: logs,
    context: {
      "s3.bucket": "unrelated-logs", "s3.key": "app/2024/11/26/web-1.log.gz", "s3.size": "18734",
      "s3.etag": "e4d909c290d0fb1ca068ffaddf22cbd0", "s3.versionId": "", "s3.sequencer": "00674591F6B3E0A912",
    },
  },
  "s3-object-created-hostile-key.json": {
    trigger: thumbnails,
    context: {
      "s3.bucket": "media-uploads", "s3.key": "incoming/a b/$(rm -rf ~);'x'.png", "s3.size": "1024",
      "s3.etag": "0f343b0931126a20f133d67c2b018a3b", "s3.versionId": "Xq9pT3mZ2cV7bN1kR5sW8yH4jL6dF0gA",
      "s3.sequencer": "0067459227C4D8E1F3",
    },
  },
  "git-push.json": {
    trigger: deployWeb,
    context: {
      "git.repo": "acme/web", "git.ref": "refs/heads/main", "git.branch": "main", "git.tag": "",
      "git.sha": "9fceb02d0ae598e95dc970b74767f19372d61af8", "git.shortSha": "9fceb02",
      "git.before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "git.pusher": "mona",
    },
  },
  "codecommit-reference-updated.json": {
    trigger: codeCommitWeb,
    context: {
      "git.repo": "web", "git.ref": "refs/heads/main", "git.branch": "main", "git.tag": "",
      "git.sha": "d3a1f5c7e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f1", "git.shortSha": "d3a1f5c",
      "git.before": "a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5", "git.pusher": "jane.doe",
    },
  },
  "schedule-fired.json": {
    trigger: nightlySeoul,
    // 18:00 UTC is 03:00 the next day in Seoul.
    context: { "schedule.time": "2024-11-26T18:00:00Z", "schedule.date": "2024-11-27", "schedule.timezone": "Asia/Seoul" },
  },
  "manual-run.json": {
    trigger: reindex,
    context: { "params.index": "products", "params.batchSize": "500", "params.note": "" },
  },
  "run-succeeded.json": {
    trigger: weeklyReport,
    context: {
      "upstream.job": "nightly-backup", "upstream.runId": "01JDRN4K8T2V6X0Z3B5D7F9H1K",
      "upstream.status": "succeeded", "upstream.exitCode": "0",
    },
  },
  "ecr-image-push.json": { trigger: ecrPushes, context: envelope("ecr-image-push.json") },
  "ecs-task-state-change-running.json": { trigger: ecsEvents, context: envelope("ecs-task-state-change-running.json") },
  "ecs-task-state-change-stopped-exit-0.json": { trigger: ecsEvents, context: envelope("ecs-task-state-change-stopped-exit-0.json") },
  "ecs-task-state-change-stopped-exit-1.json": { trigger: ecsEvents, context: envelope("ecs-task-state-change-stopped-exit-1.json") },
  "ecs-task-state-change-failed-to-start.json": { trigger: ecsEvents, context: envelope("ecs-task-state-change-failed-to-start.json") },
  "ecs-task-state-change-spot-interruption.json": { trigger: ecsEvents, context: envelope("ecs-task-state-change-spot-interruption.json") },
  "ecs-deployment-state-change.json": { trigger: ecsEvents, context: envelope("ecs-deployment-state-change.json") },
  "ecs-deployment-state-change-failed.json": { trigger: ecsEvents, context: envelope("ecs-deployment-state-change-failed.json") },
  // Raw webhook request bodies: the webhook turns github-push.json into git-push.json before anything matches.
  "github-push.json": { notAnEnvelope: true },
  "github-ping.json": { notAnEnvelope: true },
  "gitlab-push-hook.json": { notAnEnvelope: true },
  "gitlab-tag-push-hook.json": { notAnEnvelope: true },
};

describe("triggerContext on the sample events", () => {
  it("covers every file in events/", () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(sampleNames());
  });

  for (const [name, sample] of Object.entries(SAMPLES)) {
    if ("notAnEnvelope" in sample) {
      it(`${name} is a webhook body, not an event an event trigger accepts`, () => {
        expect(error(ecsEvents, loadJson(name))).toMatch(/^malformed EventBridge event: (id|source|detail-type|time|account|region) must be/);
      });
    } else {
      it(`${name} yields the exact context for a ${sample.trigger.kind} trigger`, () => {
        expect(ok(sample.trigger, loadEvent(name))).toEqual(sample.context);
      });
    }
  }

  it("git-push.json is the normalized form of github-push.json", () => {
    const body = loadJson("github-push.json") as {
      ref: string; before: string; after: string; repository: { full_name: string }; pusher: { name: string };
    };
    const context = ok(deployWeb, loadEvent("git-push.json"));
    expect(context).toMatchObject({
      "git.repo": body.repository.full_name, "git.ref": body.ref, "git.sha": body.after,
      "git.before": body.before, "git.pusher": body.pusher.name,
    });
  });

  it("returns a frozen context without inherited names", () => {
    const result = triggerContext(thumbnails, loadEvent("s3-object-created.json"));
    if (!result.ok) throw new Error(result.error.message);
    expect(Object.isFrozen(result.context)).toBe(true);
    expect(result.context["constructor"]).toBeUndefined();
    expect(result.context["toString"]).toBeUndefined();
  });

  it("gives every variable triggerVariables promises, and no others", () => {
    for (const sample of Object.values(SAMPLES)) {
      if ("notAnEnvelope" in sample) continue;
      const names = [...triggerVariables(sample.trigger).names].sort();
      expect(Object.keys(sample.context).sort()).toEqual(names);
    }
  });
});

describe("triggerContext for s3 triggers", () => {
  const sample = "s3-object-created.json";
  it.each([
    ["a key that is not URL-encoded the way S3 encodes", "detail.object.key", "incoming/100%.png", "not valid URL encoding"],
    ["a numeric key", "detail.object.key", 42, "detail.object.key must be a non-empty string, got number 42"],
    ["an empty key", "detail.object.key", "", "detail.object.key must be a non-empty string"],
    ["a missing bucket", "detail.bucket", undefined, "detail.bucket.name must be a non-empty string, got nothing"],
    ["a size sent as a string", "detail.object.size", "482133", 'detail.object.size must be a non-negative integer, got the string "482133"'],
    ["a negative size", "detail.object.size", -1, "detail.object.size must be a non-negative integer"],
    ["a fractional size", "detail.object.size", 1.5, "detail.object.size must be a non-negative integer"],
    ["a numeric etag", "detail.object.etag", 7, "detail.object.etag must be a string, got number 7"],
    ["a null version id", "detail.object.version-id", null, "detail.object.version-id must be a string, got null"],
    ["a detail that is not an object", "detail", "oops", "detail must be an object"],
    ["another event type", "detail-type", "Object Deleted", 'expected "Object Created" from aws.s3, got the string "Object Deleted"'],
  ])("rejects %s", (_name, path, value, message) => {
    expect(error(thumbnails, withField(sample, path, value))).toContain(message);
  });

  it("treats absent etag, version id and sequencer as empty", () => {
    const event = withField(sample, "detail.object", { key: "incoming/a.png", size: 0 });
    expect(ok(thumbnails, event)).toMatchObject({ "s3.size": "0", "s3.etag": "", "s3.versionId": "", "s3.sequencer": "" });
  });

  it("decodes a key with literal + and % to the real key", () => {
    const event = withField(sample, "detail.object.key", "incoming/c%2B%2B+100%25.png");
    expect(ok(thumbnails, event)["s3.key"]).toBe("incoming/c++ 100%.png");
  });
});

describe("triggerContext for git triggers", () => {
  it.each([
    ["a push that deleted the branch", "git-push.json", "detail.deleted", true],
    ["a push whose new sha is all zeros", "git-push.json", "detail.sha", ZERO],
    ["a deleted CodeCommit reference", "codecommit-reference-updated.json", "detail.event", "referenceDeleted"],
  ])("refuses %s: nothing to build", (_name, sample, path, value) => {
    const trigger = sample.startsWith("codecommit") ? codeCommitWeb : deployWeb;
    expect(error(trigger, withField(sample, path, value))).toBe("the ref was deleted; nothing to build");
  });

  it("fills git.tag and leaves git.branch empty for a tag push", () => {
    let event = withField("git-push.json", "detail.ref", "refs/tags/v1.2.0");
    event = setField(setField(event, "detail.branch", undefined), "detail.tag", "v1.2.0");
    expect(ok(releaseTags, event)).toMatchObject({ "git.ref": "refs/tags/v1.2.0", "git.branch": "", "git.tag": "v1.2.0" });
  });

  it("keeps slashes in branch names", () => {
    let event = withField("git-push.json", "detail.ref", "refs/heads/release/2024.11");
    event = setField(event, "detail.branch", "release/2024.11");
    expect(ok(deployWeb, event)).toMatchObject({ "git.branch": "release/2024.11", "git.tag": "" });
  });

  it.each([
    ["a ref that is neither branch nor tag", "detail.ref", "refs/pull/7/head", 'ref "refs/pull/7/head" is neither a branch'],
    ["a branch field that disagrees with the ref", "detail.branch", "develop", 'detail.branch "develop" disagrees with detail.ref'],
    ["an abbreviated sha", "detail.sha", "9fceb02", 'detail.sha must be a full lower-case hex commit id (40 or 64 characters), got the string "9fceb02"'],
    ["a missing before", "detail.before", undefined, "detail.before must be a full lower-case hex commit id"],
    ["a missing deleted flag", "detail.deleted", undefined, "detail.deleted must be a boolean"],
    ["a push from another provider", "detail.provider", "gitlab", 'a github git trigger got a push from provider the string "gitlab"'],
  ])("rejects a Git Push with %s", (_name, path, value, message) => {
    expect(error(deployWeb, withField("git-push.json", path, value))).toContain(message);
  });

  it("rejects a CodeCommit event that is not a reference change", () => {
    const event = withField("codecommit-reference-updated.json", "detail.event", "unreferencedMergeCommitCreated");
    expect(error(codeCommitWeb, event)).toContain("only referenceCreated and referenceUpdated carry a commit to build");
  });

  it("rejects a CodeCommit event for a github trigger and vice versa", () => {
    expect(error(deployWeb, loadEvent("codecommit-reference-updated.json"))).toContain('expected "Git Push" from berth.git');
    expect(error(codeCommitWeb, loadEvent("git-push.json"))).toContain('expected "CodeCommit Repository State Change" from aws.codecommit');
  });

  it("uses an all-zero before for a newly created CodeCommit branch", () => {
    let event = withField("codecommit-reference-updated.json", "detail.event", "referenceCreated");
    event = setField(event, "detail.oldCommitId", undefined);
    expect(ok(codeCommitWeb, event)["git.before"]).toBe(ZERO);
  });

  it.each([
    ["an IAM user", "arn:aws:iam::123456789012:user/jane.doe", "jane.doe"],
    ["an assumed role session", "arn:aws:sts::123456789012:assumed-role/Admin/Mary_Major", "Mary_Major"],
    ["a user under a path", "arn:aws:iam::123456789012:user/ci/deployer", "deployer"],
    ["the account root", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root"],
    ["no caller at all", undefined, ""],
  ])("takes git.pusher for %s from the caller ARN", (_name, arn, pusher) => {
    const event = withField("codecommit-reference-updated.json", "detail.callerUserArn", arn);
    expect(ok(codeCommitWeb, event)["git.pusher"]).toBe(pusher);
  });
});

describe("triggerContext for schedule triggers", () => {
  const at = (time: string): BusEvent => withField("schedule-fired.json", "detail.scheduledTime", time);
  const withZone = (timezone: string): ScheduleTrigger => ({ ...nightlySeoul, timezone });

  it.each([
    ["UTC", nightlyUtc, "2024-11-26T18:00:00Z", "2024-11-26"],
    ["Seoul, past local midnight", nightlySeoul, "2024-11-26T18:00:00Z", "2024-11-27"],
    ["New York, before the spring-forward midnight", withZone("America/New_York"), "2024-03-10T04:30:00Z", "2024-03-09"],
    ["New York, just after local midnight", withZone("America/New_York"), "2024-03-10T05:30:00Z", "2024-03-10"],
    ["Kiritimati (UTC+14)", withZone("Pacific/Kiritimati"), "2024-12-31T10:00:00Z", "2025-01-01"],
    ["a leap day", nightlyUtc, "2024-02-29T03:00:00Z", "2024-02-29"],
  ])("dates the run in the trigger's time zone: %s", (_name, trigger, time, date) => {
    expect(ok(trigger, at(time))).toEqual({ "schedule.time": time, "schedule.date": date, "schedule.timezone": trigger.timezone });
  });

  it("keeps milliseconds when the scheduled time has them", () => {
    expect(ok(nightlyUtc, at("2024-11-26T18:00:00.250Z"))["schedule.time"]).toBe("2024-11-26T18:00:00.250Z");
  });

  it.each([
    ["an impossible date", "2024-02-30T03:00:00Z"],
    ["a local time without a zone", "2024-11-26T18:00:00"],
    ["a non-UTC offset", "2024-11-27T03:00:00+09:00"],
    ["a space instead of T", "2024-11-26 18:00:00Z"],
    ["epoch seconds", "1732644000"],
  ])("rejects %s as scheduledTime", (_name, time) => {
    expect(error(nightlyUtc, at(time))).toContain("detail.scheduledTime must be an ISO-8601 UTC instant");
  });

  it("rejects a missing scheduledTime", () => {
    expect(error(nightlyUtc, withField("schedule-fired.json", "detail.scheduledTime", undefined))).toContain(
      "detail.scheduledTime must be a non-empty string, got nothing",
    );
  });

  it("reports an unknown time zone instead of throwing", () => {
    expect(error(withZone("Mars/Olympus_Mons"), loadEvent("schedule-fired.json"))).toContain(
      'timezone "Mars/Olympus_Mons" is not an IANA time zone',
    );
  });
});

describe("triggerContext for manual triggers", () => {
  const withParams = (params: unknown): BusEvent => withField("manual-run.json", "detail.params", params);

  it("applies defaults and leaves undeclared-default optional params empty", () => {
    expect(ok(reindex, withParams({ index: "orders", batchSize: "50", note: "" }))).toEqual({
      "params.index": "orders", "params.batchSize": "50", "params.note": "",
    });
  });

  it("names a missing required param", () => {
    expect(error(reindex, withParams({ batchSize: "50" }))).toBe(
      'missing required param "index" (the search index to rebuild); declared params: index, batchSize, note',
    );
  });

  it("treats absent params like an empty object", () => {
    expect(error(reindex, withParams(undefined))).toContain('missing required param "index"');
  });

  it("lists the declared params when given undeclared ones", () => {
    expect(error(reindex, withParams({ index: "x", indx: "y", force: "1" }))).toBe(
      'unknown params "indx", "force"; declared params: index, batchSize, note',
    );
  });

  it("rejects any param for a job that declares none", () => {
    expect(error({ kind: "manual", params: {} }, withParams({ index: "x" }))).toBe(
      'unknown param "index"; this job declares no params',
    );
  });

  it.each([
    ["a number", { index: 3 }, 'param "index" must be a string, got number 3'],
    ["an array of params", ["index"], "detail.params must be an object of strings, got an array"],
    ["null params", null, "detail.params must be an object of strings, got null"],
  ])("rejects %s", (_name, params, message) => {
    expect(error(reindex, withParams(params))).toContain(message);
  });

  it("does not mistake inherited object properties for given params", () => {
    const trigger: ManualTrigger = { kind: "manual", params: { constructor: { required: true } } };
    expect(error(trigger, withParams({}))).toContain('missing required param "constructor"');
  });
});

describe("triggerContext for job triggers", () => {
  const sample = "run-succeeded.json";
  it.each([
    ["TIMED_OUT", "timed-out"],
    ["FAILED", "failed"],
    ["CANCELLED", "cancelled"],
  ])("spells status %s as %s", (status, spelled) => {
    expect(ok(weeklyReport, withField(sample, "detail.status", status))["upstream.status"]).toBe(spelled);
  });

  it("leaves upstream.exitCode empty when the run has none", () => {
    expect(ok(weeklyReport, withField(sample, "detail.exitCode", undefined))["upstream.exitCode"]).toBe("");
  });

  it("reports negative exit codes as they are", () => {
    expect(ok(weeklyReport, withField(sample, "detail.exitCode", -1))["upstream.exitCode"]).toBe("-1");
  });

  it.each([
    ["an unknown status", "detail.status", "DONE", 'detail.status must be one of QUEUED, STARTING'],
    ["a lower-case status", "detail.status", "succeeded", "detail.status must be one of"],
    ["an exit code sent as a string", "detail.exitCode", "0", 'detail.exitCode must be an integer when present, got the string "0"'],
    ["a missing run id", "detail.runId", undefined, "detail.runId must be a non-empty string, got nothing"],
    ["a missing job", "detail.job", undefined, "detail.job must be a non-empty string"],
    ["another source", "source", "acme", 'expected "Berth Run State Change" from berth, got the string "Berth Run State Change" from the string "acme"'],
  ])("rejects %s", (_name, path, value, message) => {
    expect(error(weeklyReport, withField(sample, path, value))).toContain(message);
  });
});

describe("triggerContext for event triggers", () => {
  it.each(["id", "source", "detail-type", "time", "account", "region"])("requires the envelope's %s", (field) => {
    expect(error(ecrPushes, withField("ecr-image-push.json", field, undefined))).toBe(
      `malformed EventBridge event: ${field} must be a non-empty string, got nothing`,
    );
  });

  it("does not need a detail object", () => {
    expect(ok(ecrPushes, withField("ecr-image-push.json", "detail", undefined))).toEqual(envelope("ecr-image-push.json"));
  });
});

describe("triggerContext on input that is not an event", () => {
  it.each([
    ["null", null],
    ["an array", [loadJson("s3-object-created.json")]],
    ["a string", JSON.stringify(loadJson("s3-object-created.json"))],
    ["a number", 7],
  ])("returns an error for %s", (_name, input) => {
    for (const trigger of [thumbnails, deployWeb, nightlyUtc, reindex, weeklyReport, ecrPushes]) {
      expect(error(trigger, input)).toMatch(/^malformed event: expected an EventBridge envelope/);
    }
  });

  it("never throws on a hostile envelope", () => {
    const hostile = JSON.parse('{"__proto__": {"source": "aws.s3"}, "constructor": 1, "detail": {"__proto__": {}}}') as BusEvent;
    for (const trigger of [thumbnails, deployWeb, codeCommitWeb, nightlyUtc, reindex, weeklyReport, ecrPushes]) {
      expect(triggerContext(trigger, hostile).ok).toBe(false);
    }
  });
});

describe("triggerContext failures", () => {
  it("fails with a ValidationError naming the one field to blame", () => {
    const result = triggerContext(nightlyUtc, withField("schedule-fired.json", "detail.scheduledTime", undefined));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(ValidationError);
    expect((result.error as ValidationError).field).toBe("detail.scheduledTime");
  });

  it("fails with a ConfigurationError when this runtime does not know the trigger's time zone", () => {
    const result = triggerContext({ ...nightlySeoul, timezone: "Mars/Olympus_Mons" }, loadEvent("schedule-fired.json"));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(ConfigurationError);
  });
});

describe("triggerVariables", () => {
  it.each([
    [thumbnails, ["s3.bucket", "s3.etag", "s3.key", "s3.sequencer", "s3.size", "s3.versionId"], []],
    [deployWeb, ["git.before", "git.branch", "git.pusher", "git.ref", "git.repo", "git.sha", "git.shortSha", "git.tag"], []],
    [nightlySeoul, ["schedule.date", "schedule.time", "schedule.timezone"], []],
    [reindex, ["params.batchSize", "params.index", "params.note"], []],
    [weeklyReport, ["upstream.exitCode", "upstream.job", "upstream.runId", "upstream.status"], []],
    [ecrPushes, ["event.account", "event.detail-type", "event.id", "event.region", "event.source", "event.time"], ["event."]],
  ] as const)("lists what a %s trigger provides", (trigger, names, prefixes) => {
    const variables = triggerVariables(trigger as Trigger);
    expect([...variables.names].sort()).toEqual(names);
    expect(variables.prefixes).toEqual(prefixes);
  });

  it("offers no params for a manual trigger without declared params", () => {
    expect(triggerVariables({ kind: "manual", params: {} }).names.size).toBe(0);
  });
});
