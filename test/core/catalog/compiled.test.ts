/** The rules `berth compile` writes, which both the AWS stack and the local bus route with; checked against the sample events. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { formatIssue } from "../../../src/core/catalog/issues.ts";
import { compileCatalog, compileRules, readCompiledCatalog, type CompiledRule } from "../../../src/core/catalog/compiled.ts";
import { compilePattern, matchesPattern } from "../../../src/core/match/compile.ts";
import { newRunId, startedByFor } from "../../../src/core/ids.ts";
import type { Catalog } from "../../../src/core/catalog/types.ts";

const root = new URL("../../../", import.meta.url);

function load(text: string): Catalog {
  const r = loadCatalog(text, "berth.yml");
  if (!r.ok) throw new Error(r.error.issues.map(formatIssue).join("\n"));
  return r.catalog;
}

const example = load(readFileSync(new URL("berth.yml", root), "utf8"));
const sample = (file: string): unknown => JSON.parse(readFileSync(new URL(`events/${file}`, root), "utf8"));

/** What a rule delivers to, in a form a table can hold: "track" or "dispatch <job>". */
const targetOf = (rule: CompiledRule): string => (rule.target.kind === "track" ? "track" : `dispatch ${rule.target.job}`);

function targetsFor(rules: readonly CompiledRule[], event: unknown): string[] {
  return rules.filter((rule) => matchesPattern(compilePattern(rule.pattern), event)).map(targetOf);
}

const base = `version: 1
service: svc
defaults:
  network: { subnets: [subnet-1] }
jobs:
`;

describe("compiled rules", () => {
  it("has one dispatch rule per trigger, in catalog order, then the track rule", () => {
    const rules = compileRules(
      load(`${base}  a:
    on: { s3: { bucket: in }, manual: true }
    run: { taskDefinition: t }
  b:
    on: { schedule: { rate: 1 hour } }
    run: { taskDefinition: t }
`),
    );
    expect(rules.map((r) => r.target)).toEqual([
      { kind: "dispatch", job: "a", trigger: "s3", triggerIndex: 0 },
      { kind: "dispatch", job: "a", trigger: "manual", triggerIndex: 1 },
      { kind: "dispatch", job: "b", trigger: "schedule", triggerIndex: 0 },
      { kind: "track" },
    ]);
  });

  it.each([
    ["s3", "s3: { bucket: in }", { kind: "default" }],
    ["a GitHub push (the webhook puts it on the berth bus)", "git: { repo: acme/web }", { kind: "berth" }],
    ["a CodeCommit push (AWS emits it)", "git: { provider: codecommit, repo: web }", { kind: "default" }],
    ["schedule", "schedule: { rate: 1 hour }", { kind: "berth" }],
    ["manual", "manual: true", { kind: "berth" }],
    ["job", "job: { name: up }", { kind: "berth" }],
    ["an event on the default bus", "event: { pattern: { source: [aws.ecr] } }", { kind: "default" }],
    ["an event on a named bus", "event: { pattern: { source: [partner] }, bus: partner-bus }", { kind: "named", name: "partner-bus" }],
  ])("puts the rule of %s on its bus", (_what, trigger, bus) => {
    const catalog = load(`${base}  up:
    on: { manual: true }
    run: { taskDefinition: t }
  j:
    on: { ${trigger} }
    run: { taskDefinition: t }
`);
    const rule = compileRules(catalog).find((r) => r.target.kind === "dispatch" && r.target.job === "j");
    expect(rule?.bus).toEqual(bus);
  });

  it("listens for task state changes on the default bus, where ECS puts them", () => {
    expect(compileRules(example).at(-1)).toEqual({
      target: { kind: "track" },
      bus: { kind: "default" },
      pattern: { source: ["aws.ecs"], "detail-type": ["ECS Task State Change"], detail: { startedBy: [{ prefix: "berth/" }] } },
    });
  });

  const task = (startedBy: string | undefined) => ({
    source: "aws.ecs",
    "detail-type": "ECS Task State Change",
    detail: { taskArn: "arn:aws:ecs:us-east-1:123456789012:task/jobs/abc", lastStatus: "RUNNING", ...(startedBy === undefined ? {} : { startedBy }) },
  });

  it.each([
    ["a task berth started", startedByFor(newRunId(1_700_000_000_000, new Uint8Array(10))), ["track"]],
    ["a task a service started", "ecs-svc/1234567890123456789", []],
    ["a task started by a look-alike tool", "berthold/run-1", []],
    ["a task started without startedBy", undefined, []],
  ])("delivers %s to: %j", (_what, startedBy, targets) => {
    expect(targetsFor(compileRules(example), task(startedBy))).toEqual(targets);
  });

  // The sample events and the jobs of the example catalog they fire (events/README.md).
  it.each([
    ["s3-object-created.json", ["dispatch thumbnails"]],
    ["s3-object-created-hostile-key.json", ["dispatch thumbnails"]],
    ["s3-object-created-other-bucket.json", []],
    ["git-push.json", ["dispatch migrate-web"]],
    ["codecommit-reference-updated.json", []],
    ["schedule-fired.json", ["dispatch nightly-backup"]],
    ["manual-run.json", ["dispatch reindex"]],
    ["run-succeeded.json", ["dispatch backup-report"]],
    ["ecr-image-push.json", ["dispatch scan-image"]],
    ["ecs-task-state-change-running.json", ["track"]],
    ["ecs-task-state-change-stopped-exit-0.json", ["track"]],
    ["ecs-task-state-change-stopped-exit-1.json", ["track"]],
    ["ecs-task-state-change-failed-to-start.json", ["track"]],
    ["ecs-task-state-change-spot-interruption.json", ["track"]],
    ["ecs-deployment-state-change.json", []],
  ])("routes the sample %s to: %j", (file, targets) => {
    expect(targetsFor(compileRules(example), sample(file))).toEqual(targets);
  });
});

describe("the compiled catalog file", () => {
  it("reads back, through JSON, as the catalog it was compiled from", () => {
    const compiled = JSON.parse(JSON.stringify(compileCatalog(example))) as unknown;
    expect(readCompiledCatalog(compiled, "catalog.json")).toEqual({ ok: true, compiled: JSON.parse(JSON.stringify(compileCatalog(example))) });
  });

  it.each([
    ["no rules", (c: Record<string, unknown>) => ({ ...c, rules: undefined })],
    ["a dispatch rule for a job it does not have", (c: Record<string, unknown>) => ({ ...c, rules: [{ target: { kind: "dispatch", job: "nope", trigger: "s3", triggerIndex: 0 }, pattern: {}, bus: { kind: "default" } }] })],
    ["a dispatch rule for a trigger its job does not have", (c: Record<string, unknown>) => ({ ...c, rules: [{ target: { kind: "dispatch", job: "thumbnails", trigger: "s3", triggerIndex: 7 }, pattern: {}, bus: { kind: "default" } }] })],
  ])("refuses a file with %s, saying to compile it again", (_what, spoil) => {
    const compiled = JSON.parse(JSON.stringify(compileCatalog(example))) as Record<string, unknown>;
    expect(readCompiledCatalog(spoil(compiled), "catalog.json")).toMatchObject({ ok: false, error: { message: "catalog.json has no valid catalog inside; compile it again with `berth compile`" } });
  });

  it("carries its rules, each with target, pattern and bus", () => {
    const compiled = compileCatalog(example);
    expect(compiled.rules).toEqual(compileRules(example));
    for (const rule of compiled.rules) expect(Object.keys(rule).sort()).toEqual(["bus", "pattern", "target"]);
  });

  it("refuses a file compiled in the earlier rule format, saying how to make a new one", () => {
    expect(readCompiledCatalog({ format: "berth-catalog/1", catalog: example, rules: [] }, "catalog.json")).toMatchObject({
      ok: false,
      error: { message: "catalog.json is not a compiled berth catalog (format berth-catalog/2); create it with `berth compile -o catalog.json`" },
    });
  });
});
