/**
 * Where the stack generator switches strategy to stay within AWS's quotas, tested on the generator
 * itself (no osls: these catalogs only differ in size), and the checks the packaged-template tests use.
 */
import { describe, expect, it } from "vitest";
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { compilePattern, matchesPattern } from "../../src/core/match/compile.ts";
import type { EventPattern } from "../../src/core/match/types.ts";
import { ConfigurationError } from "../../src/core/errors.ts";
import { compileStack, type Stack } from "../../src/aws/stack/stack.ts";
import { unionPattern } from "../../src/aws/stack/routing.ts";
import { BUDGETS } from "../../src/aws/stack/quotas.ts";
import { isUnscoped, quotaReport, quotaViolations, resolve, unexplainedWildcards, wildcardViolations } from "./checks.ts";
import { eventMatching } from "./events.ts";
import { asTemplate } from "./generated.ts";
import { resourcesOf, roleStatements, type Template } from "./package.ts";

const HEAD = [
  "version: 1",
  "service: quota-test",
  "defaults:",
  "  network: { subnets: [subnet-0a1b2c3d4e5f60718] }",
  "  roles: { task: arn:aws:iam::123456789012:role/t }",
  "jobs:",
].join("\n");

/** `n` jobs made by `job(i)` (each the YAML of one job's body, one line). */
function catalogOf(n: number, job: (i: number) => string, extra = ""): string {
  const jobs = Array.from({ length: n }, (_, i) => `  j${i}: ${job(i)}`);
  return `${HEAD}\n${jobs.join("\n")}\n${extra}`;
}

function stackOf(yaml: string): Stack {
  const loaded = loadCatalog(yaml, "berth.yml");
  if (!loaded.ok) throw loaded.error;
  return compileStack(compileCatalog(loaded.catalog), { stage: "test" });
}

const s3Job = (i: number) => `{ on: { s3: { bucket: b${i % 7}, key: { prefix: "p${i}/" } } }, run: { taskDefinition: td${i % 5} } }`;
const manualJob = (i: number) => `{ on: { manual: true }, run: { taskDefinition: td${i % 5} } }`;

describe("rules per bus", () => {
  // The default bus also carries the track rule of the catalog's tasks.
  const atBudget = BUDGETS.rulesOnSharedBus - 1;

  it(`keeps one rule per trigger on the default bus up to ${BUDGETS.rulesOnSharedBus} rules`, () => {
    const s = stackOf(catalogOf(atBudget, s3Job));
    expect(s.summary.rulesByBus.default).toBe(BUDGETS.rulesOnSharedBus);
    expect(s.summary.grouped).toEqual({});
  });

  it("groups the default bus's triggers by event source one trigger later, with a pattern that still matches every trigger's events", () => {
    const s = stackOf(catalogOf(atBudget + 1, s3Job));
    expect(s.summary.grouped).toEqual({ default: "source+detail-type" });
    expect(s.summary.rulesByBus.default).toBe(2);
    const [route] = Object.entries(s.resources.Resources).filter(([id]) => id.startsWith("Route"));
    const pattern = compilePattern(route![1].Properties!.EventPattern as EventPattern);
    expect(route![1].Properties!.EventPattern).toMatchObject({ source: ["aws.s3"], "detail-type": ["Object Created"], detail: { bucket: { name: ["b0", "b1", "b2", "b3", "b4", "b5", "b6"] } } });
    // The event itself goes to dispatch, which fans it out with the core's matcher.
    expect((route![1].Properties!.Targets as { InputTransformer?: unknown }[])[0]!.InputTransformer).toBeUndefined();
    for (let i = 0; i <= atBudget; i++) {
      const event = eventMatching({ source: ["aws.s3"], "detail-type": ["Object Created"], detail: { bucket: { name: [`b${i % 7}`] }, object: { key: [{ prefix: `p${i}/` }] } } }, `e${i}`);
      expect(matchesPattern(pattern, event), `j${i}`).toBe(true);
    }
  });

  it(`keeps one rule per trigger on berth's own bus while the bus holds up to ${BUDGETS.rulesOnBerthBus} rules with the rejected-events rule, then groups`, () => {
    const fits = stackOf(catalogOf(BUDGETS.rulesOnBerthBus - 1, manualJob));
    expect(fits.summary.grouped).toEqual({});
    expect(fits.summary.rulesByBus.berth).toBe(BUDGETS.rulesOnBerthBus);
    const grouped = stackOf(catalogOf(BUDGETS.rulesOnBerthBus, manualJob));
    expect(grouped.summary.grouped).toEqual({ berth: "source+detail-type" });
    expect(grouped.summary.rulesByBus.berth).toBe(1 + 1);
  });

  it("groups by source alone when source and detail type still leave too many rules", () => {
    const s = stackOf(catalogOf(120, (i) => `{ on: { event: { pattern: { source: [app.${i % 3}], detail-type: [T${i}] } } }, run: { taskDefinition: td } }`));
    expect(s.summary.grouped).toEqual({ default: "source" });
    expect(s.summary.rulesByBus.default).toBe(3 + 1);
  });
});

describe("resources per stack", () => {
  it("groups a bus that fits its own budget when the stack as a whole would pass its resource budget", () => {
    // 240 manual jobs fit berth's bus (250), but with 200 schedules the stack would hold ~700 resources.
    const yaml = catalogOf(440, (i) => (i < 240 ? manualJob(i) : `{ on: { schedule: { rate: "${(i % 50) + 5} minutes" } }, run: { taskDefinition: td } }`));
    const s = stackOf(yaml);
    expect(s.summary.grouped.berth).toBe("source+detail-type");
    expect(s.summary.resources).toBeLessThanOrEqual(BUDGETS.resourcesPerStack);
    expect(s.summary.jobSchedules).toBe(200);
  });

  it("refuses a catalog whose schedules alone pass the budget, and says what to do", () => {
    const yaml = catalogOf(460, (i) => `{ on: { schedule: { cron: "${i % 60} ${i % 24} * * ? *" } }, run: { taskDefinition: td } }`);
    expect(() => stackOf(yaml)).toThrow(ConfigurationError);
    expect(() => stackOf(yaml)).toThrow(/460 schedules are one resource each/);
  });
});

describe("the functions' resource policies", () => {
  it(`give each of up to ${BUDGETS.exactInvokePermissions} rules its own invoke permission`, () => {
    const s = stackOf(catalogOf(BUDGETS.exactInvokePermissions, manualJob));
    const permissions = resourcesOf(asTemplate(s), "AWS::Lambda::Permission").filter(([, p]) => JSON.stringify(p.Properties!.FunctionName).includes("Dispatch"));
    expect(permissions).toHaveLength(BUDGETS.exactInvokePermissions);
    for (const [, p] of permissions) expect(p.Properties!.SourceArn).toMatchObject({ "Fn::GetAtt": [expect.stringMatching(/^Rule/), "Arn"] });
  });

  it("switch to one permission per bus, for the stack's rule names on it, past that", () => {
    const s = stackOf(catalogOf(BUDGETS.exactInvokePermissions + 1, manualJob));
    const t = asTemplate(s);
    const permissions = resourcesOf(t, "AWS::Lambda::Permission").filter(([, p]) => JSON.stringify(p.Properties!.FunctionName).includes("Dispatch"));
    expect(permissions.map(([id, p]) => [id, resolve(t, p.Properties!.SourceArn)])).toEqual([["DispatchPermissionBerthBus", "arn:aws:events:eu-west-1:123456789012:rule/quota-test-test/quota-test-test-*"]]);
    // Every rule on the bus is named so that the permission covers it.
    for (const [, r] of resourcesOf(t, "AWS::Events::Rule")) if (r.Properties!.EventBusName) expect(String(r.Properties!.Name)).toMatch(/^quota-test-test-/);
  });
});

describe("the rule dead-letter queue's policy", () => {
  it("lists the rules' ARNs while it fits SQS's policy quota, then the stack's rule names per bus", () => {
    const small = asTemplate(stackOf(catalogOf(10, manualJob)));
    const condition = (t: Template) => (resourcesOf(t, "AWS::SQS::QueuePolicy")[0]![1].Properties!.PolicyDocument as { Statement: { Condition: Record<string, unknown> }[] }).Statement[0]!.Condition;
    expect(Object.keys(condition(small))).toEqual(["ArnEquals"]);
    const large = asTemplate(stackOf(catalogOf(100, manualJob)));
    expect(resolve(large, condition(large))).toEqual({ ArnLike: { "aws:SourceArn": ["arn:aws:events:eu-west-1:123456789012:rule/quota-test-test-*", "arn:aws:events:eu-west-1:123456789012:rule/quota-test-test/quota-test-test-*"] } });
    expect(quotaViolations(quotaReport(large))).toEqual([]);
  });
});

describe("IAM policy size", () => {
  it("moves RunTask and PassRole to shared managed policies when a role's inline policy cannot list every family, and still names each one", () => {
    const yaml = catalogOf(300, (i) => `{ on: { manual: true }, run: { taskDefinition: family-with-a-long-name-${i}, roles: { task: arn:aws:iam::123456789012:role/task-role-${i} } } }`);
    const t = asTemplate(stackOf(yaml));
    const managed = resourcesOf(t, "AWS::IAM::ManagedPolicy");
    expect(managed.length).toBeGreaterThan(1);
    for (const [, m] of managed) expect(m.Properties!.Roles).toEqual([{ Ref: "DispatchRole" }, { Ref: "TrackRole" }, { Ref: "SweepRole" }]);
    const statements = roleStatements(t).map((s) => s.statement);
    const runTask = statements.filter((s) => s.Action.includes("ecs:RunTask")).flatMap((s) => (s.Resource as unknown[]).map((r) => resolve(t, r)));
    expect(new Set(runTask)).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/family-with-a-long-name-${i}:*`)));
    const passed = statements.filter((s) => s.Action.includes("iam:PassRole")).flatMap((s) => s.Resource as string[]);
    // Each job's own task role replaces the defaults' (the job's value wins).
    expect(new Set(passed)).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `arn:aws:iam::123456789012:role/task-role-${i}`)));
    expect(wildcardViolations(t)).toEqual([]);
    expect(quotaViolations(quotaReport(t))).toEqual([]);
  });
});

describe("the union of patterns of a group", () => {
  const patterns: EventPattern[] = [
    { source: ["a"], "detail-type": ["T"], detail: { k: ["1"], deep: { x: [{ prefix: "p/" }] } } },
    { source: ["a"], "detail-type": ["T"], detail: { k: ["2"], deep: { x: [{ suffix: ".png" }] }, only: ["here"] } },
    { source: ["a"], "detail-type": ["T"], detail: { k: [{ wildcard: "3*" }], deep: { x: ["exact"] } }, $or: [{ resources: ["r"] }, { region: ["eu-west-1"] }] },
  ];

  it("matches every event any member matches, keeping the constraints all members share", () => {
    const union = unionPattern(patterns);
    expect(union).toEqual({ source: ["a"], "detail-type": ["T"], detail: { k: ["1", "2", { wildcard: "3*" }], deep: { x: [{ prefix: "p/" }, { suffix: ".png" }, "exact"] } } });
    const compiled = compilePattern(union);
    patterns.forEach((p, i) => expect(matchesPattern(compiled, eventMatching(p, `e${i}`)), `member ${i}`).toBe(true));
    expect(matchesPattern(compiled, eventMatching({ source: ["a"], "detail-type": ["T"], detail: { k: ["4"], deep: { x: ["exact"] } } }, "other"))).toBe(false);
  });
});

describe("the least-privilege check", () => {
  it("finds a wildcard resource on each action the issue names, and accepts one scoped to a family or a cluster", () => {
    expect(isUnscoped("*")).toBe(true);
    expect(isUnscoped("arn:aws:ecs:eu-west-1:123456789012:task-definition/*")).toBe(true);
    expect(isUnscoped("arn:aws:dynamodb:eu-west-1:123456789012:table/*")).toBe(true);
    expect(isUnscoped("arn:aws:iam::123456789012:role/*")).toBe(true);
    expect(isUnscoped("arn:aws:ecs:eu-west-1:123456789012:task-definition/thumbnailer:*")).toBe(false);
    expect(isUnscoped("arn:aws:ecs:eu-west-1:123456789012:task/jobs/*")).toBe(false);
    const statement = (Action: string[], Resource: unknown[]) => ({ Effect: "Allow", Action, Resource });
    const template = {
      Resources: {
        R: {
          Type: "AWS::IAM::Role",
          Properties: {
            Policies: [
              {
                PolicyDocument: {
                  Statement: [
                    statement(["ecs:RunTask"], ["*"]),
                    statement(["ecs:StopTask"], [{ "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/*" }]),
                    statement(["ecs:UpdateService"], ["*"]),
                    statement(["iam:PassRole"], ["arn:aws:iam::123456789012:role/*"]),
                    statement(["events:PutEvents"], ["*"]),
                    statement(["dynamodb:Query"], ["*"]),
                    statement(["ecs:DescribeServices"], ["*"]),
                    statement(["ecs:StopServiceDeployment", "ecs:DescribeServiceDeployments"], ["arn:aws:ecs:eu-west-1:123456789012:service-deployment/*"]),
                    statement(["ecs:DescribeServiceRevisions"], ["*"]),
                    statement(["secretsmanager:GetSecretValue"], ["*"]),
                    // Every deployment of one service is scoped.
                    statement(["ecs:StopServiceDeployment"], ["arn:aws:ecs:eu-west-1:123456789012:service-deployment/web/web/*"]),
                    statement(["ecs:RegisterTaskDefinition"], ["*"]),
                  ],
                },
              },
            ],
          },
        },
      },
    } satisfies Template;
    expect(wildcardViolations(template)).toHaveLength(10);
  });

  it("finds a resource that names no particular resource whose role does not say why", () => {
    const template = {
      Resources: {
        R: {
          Type: "AWS::IAM::Role",
          Metadata: { "berth:unscoped-statements": { Explained: "no resource type in the Service Authorization Reference for this action" } },
          Properties: {
            Policies: [
              {
                PolicyDocument: {
                  Statement: [
                    { Sid: "Explained", Effect: "Allow", Action: ["ecs:ListTaskDefinitions"], Resource: ["*"] },
                    { Sid: "Unexplained", Effect: "Allow", Action: ["ecs:DescribeTaskDefinition"], Resource: ["*"] },
                    { Sid: "Scoped", Effect: "Allow", Action: ["ecs:StopTask"], Resource: ["arn:aws:ecs:eu-west-1:123456789012:task/jobs/*"] },
                  ],
                },
              },
            ],
          },
        },
      },
    } satisfies Template;
    expect(unexplainedWildcards(template)).toEqual(['R Unexplained: ecs:DescribeTaskDefinition on ["*"]']);
  });
});
