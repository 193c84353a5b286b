/**
 * A 1,000-job catalog packages within every quota, and still routes every job: past a bus's rule budget
 * berth groups the bus's triggers by event source, and dispatch fans the event out with the core's
 * matcher. Each trigger's own kind of event is sent through the packaged rules to prove it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileCatalog, type CompiledCatalog } from "../../src/core/catalog/compiled.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { compilePattern, matchesPattern } from "../../src/core/match/compile.ts";
import { buildRouter } from "../../src/core/router.ts";
import { busKey } from "../../src/aws/stack/routing.ts";
import { BUDGETS } from "../../src/aws/stack/quotas.ts";
import { largeCatalog, type LargeCatalog } from "./catalogs.ts";
import { deadLetterTargets, alarmedQueues, quotaReport, quotaViolations, resolve, wildcardViolations } from "./checks.ts";
import { eventMatching } from "./events.ts";
import { packageCatalog, removePackaged, resourcesOf, type Packaged } from "./package.ts";

let large: LargeCatalog;
let catalog: Catalog;
let compiled: CompiledCatalog;
let packaged: Packaged;

beforeAll(async () => {
  large = largeCatalog(1000);
  const loaded = loadCatalog(large.yaml, "berth.yml");
  if (!loaded.ok) throw loaded.error;
  catalog = loaded.catalog;
  compiled = compileCatalog(catalog);
  packaged = await packageCatalog(large.yaml, { stage: "prod" });
}, 90_000);

afterAll(removePackaged);

type Target = { Arn: unknown; InputTransformer?: { InputTemplate: string } };
const busOfRule = (props: Record<string, unknown> | undefined) => {
  const bus = props?.EventBusName;
  return bus === undefined ? "default" : typeof bus === "string" ? `named:${bus}` : "berth";
};

describe("a 1,000-job catalog", () => {
  it("packages within CloudFormation's, EventBridge's, Lambda's, SQS's and IAM's quotas", () => {
    const report = quotaReport(packaged.template);
    expect(quotaViolations(report)).toEqual([]);
    expect(report.resources).toBeLessThanOrEqual(BUDGETS.resourcesPerStack);
    expect(report.rulesPerBus.default).toBeLessThanOrEqual(BUDGETS.rulesOnSharedBus);
    expect(report.rulesPerBus["acme-events"]).toBeLessThanOrEqual(BUDGETS.rulesOnSharedBus);
    expect(report.rulesPerBus["big-platform-prod"]).toBeLessThanOrEqual(BUDGETS.rulesOnBerthBus);
  });

  it("says where it grouped rules by event source", () => {
    expect(packaged.output).toMatch(/on the default bus \(grouped by source/);
    expect(packaged.output).toMatch(/on berth's bus \(grouped by source\+detail-type\)/);
  });

  it("routes every trigger's event to dispatch, by the job's own rule or by a grouped rule dispatch fans out from", () => {
    const router = buildRouter(catalog);
    const rules = resourcesOf(packaged.template, "AWS::Events::Rule").map(([id, r]) => ({
      id,
      bus: busOfRule(r.Properties),
      pattern: compilePattern(resolve(packaged.template, r.Properties!.EventPattern) as Record<string, unknown>),
      target: (r.Properties!.Targets as Target[])[0]!,
    }));
    let grouped = 0;
    for (const rule of compiled.rules) {
      if (rule.target.kind !== "dispatch") continue;
      const job = rule.target.job;
      const event = eventMatching(rule.pattern, `${job}-${rule.target.triggerIndex}`);
      expect(matchesPattern(compilePattern(rule.pattern), event), `${job}: the event built for its trigger`).toBe(true);
      const delivered = rules.filter((r) => r.bus === busKey(rule.bus) && matchesPattern(r.pattern, event) && JSON.stringify(r.target.Arn).includes("DispatchLambdaFunction"));
      const direct = delivered.filter((r) => r.target.InputTransformer?.InputTemplate === `{"job": "${job}", "event": <aws.events.event.json>}`);
      const fanOut = delivered.filter((r) => r.target.InputTransformer === undefined);
      expect(direct.length + fanOut.length, `${job}: a rule delivers its event to dispatch`).toBeGreaterThanOrEqual(1);
      if (direct.length === 0) {
        grouped++;
        expect(router.match(event).map((route) => route.job.name), `${job}: dispatch's matcher picks it from the grouped event`).toContain(job);
      }
    }
    expect(grouped).toBeGreaterThan(900);
  });

  it("gives every schedule job its own schedule with its expression and time zone", () => {
    const schedules = resourcesOf(packaged.template, "AWS::Scheduler::Schedule").filter(([id]) => id !== "SweepSchedule");
    expect(schedules).toHaveLength(large.kinds.schedule!);
    const byJob = new Map(schedules.map(([, s]) => [JSON.parse((s.Properties!.Target as { Input: string }).Input).job as string, s.Properties!]));
    for (const job of Object.values(catalog.jobs)) {
      for (const t of job.triggers) {
        if (t.kind !== "schedule") continue;
        expect(byJob.get(job.name), job.name).toMatchObject({ ScheduleExpression: t.awsExpression, ScheduleExpressionTimezone: t.timezone });
      }
    }
  });

  it("tracks the deployments of every service it deploys", () => {
    const rule = packaged.template.Resources.TrackDeploymentStateRule!;
    const pattern = compilePattern(resolve(packaged.template, rule.Properties!.EventPattern) as Record<string, unknown>);
    for (const job of Object.values(catalog.jobs)) {
      if (job.action.kind !== "deploy") continue;
      const event = { source: "aws.ecs", "detail-type": "ECS Deployment State Change", resources: [`arn:aws:ecs:eu-west-1:123456789012:service/${job.action.cluster}/${job.action.service}`], detail: {} };
      expect(matchesPattern(pattern, event), job.name).toBe(true);
    }
  });

  it("keeps least privilege and a dead-letter queue with an alarm behind every target", () => {
    expect(wildcardViolations(packaged.template)).toEqual([]);
    const alarmed = alarmedQueues(packaged.template);
    for (const t of deadLetterTargets(packaged.template)) expect(t.queue !== undefined && alarmed.has(t.queue), t.what).toBe(true);
  });
});
