import { describe, expect, it } from "vitest";
import type { DeployAction, Job } from "../../../src/core/catalog/types.ts";
import {
  buildDeployPlan,
  buildUpdateServiceRequest,
  checkImage,
  REGISTER_TASK_DEFINITION_FIELDS,
  withContainerImage,
  type DeployPlan,
} from "../../../src/core/ecs/deploy-plan.ts";
import type { RunIdentity } from "../../../src/core/ecs/run-task.ts";
import { newRunId } from "../../../src/core/ids.ts";

const RUN_ID = newRunId(1_700_000_000_000, new Uint8Array(10).fill(7));
const ID: RunIdentity = { runId: RUN_ID, attempt: 1, jobName: "deploy-web" };
const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web";
const SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8";

function job(deploy: Partial<DeployAction> = {}): Job {
  return {
    name: "deploy-web",
    triggers: [{ kind: "git", provider: "github", repo: "acme/web", branches: ["main"] }],
    action: { kind: "deploy", cluster: "web", service: "web", container: "app", image: `${ECR}:\${git.sha}`, environment: {}, rollback: true, ...deploy },
    retry: { attempts: 1, backoff: { initial: 30, factor: 2, max: 600 }, on: [] },
    concurrency: { overlap: "queue" },
    tags: {},
    roles: {},
    notify: [],
  };
}

const git = (values: Record<string, string>) => (name: string) => (Object.hasOwn(values, name) ? values[name] : undefined);

describe("buildDeployPlan", () => {
  it("renders the image from the push and names the service, container and run", () => {
    const r = buildDeployPlan(job(), git({ "git.sha": SHA }), ID);
    expect(r).toEqual({
      ok: true,
      plan: {
        cluster: "web",
        service: "web",
        container: "app",
        image: `${ECR}:${SHA}`,
        rollback: true,
        tags: [
          { key: "berth:job", value: "deploy-web" },
          { key: "berth:run", value: RUN_ID },
        ],
      },
    } satisfies { ok: true; plan: DeployPlan });
  });

  it("renders deploy.environment, and reports every variable it cannot fill", () => {
    const r = buildDeployPlan(job({ environment: { RELEASE: "${git.sha}", STAGE: "prod" } }), git({ "git.sha": SHA }), ID);
    expect(r).toMatchObject({ ok: true, plan: { environment: { RELEASE: SHA, STAGE: "prod" } } });
    expect(buildDeployPlan(job(), git({ "git.sha": SHA }), ID)).not.toHaveProperty("plan.environment");
    const bad = buildDeployPlan(job({ environment: { A: "${git.tag}", B: "${git.branch}" } }), git({ "git.sha": SHA }), ID);
    expect(bad).toMatchObject({ ok: false, error: { problems: [expect.stringMatching(/environment\.A/), expect.stringMatching(/environment\.B/)] } });
  });

  it("can use run variables in the image", () => {
    const r = buildDeployPlan(job({ image: "web:${job.name}-${run.attempt}" }), git({}), { ...ID, attempt: 2 });
    expect(r.ok && r.plan.image).toBe("web:deploy-web-2");
  });

  it.each([
    { what: "a variable the trigger lacks", lookup: git({}), error: /deploy\.image: no value for \$\{git\.sha\}/ },
    { what: "an empty tag", lookup: git({ "git.sha": "" }), error: /deploy\.image: .*ends in ":"/ },
    { what: "a value with a space", lookup: git({ "git.sha": "a b" }), error: /characters ECS does not allow/ },
  ])("refuses an image with $what", ({ lookup, error }) => {
    const r = buildDeployPlan(job(), lookup, ID);
    expect(r).toMatchObject({ ok: false, error: { problems: [expect.stringMatching(error)] } });
  });

  it("refuses a run job and a mismatched identity", () => {
    const run: Job = { ...job(), action: { kind: "run", cluster: "c", taskDefinition: "t", environment: {}, launch: { type: "ec2" } } };
    expect(buildDeployPlan(run, git({}), ID)).toMatchObject({ ok: false, error: { problems: [expect.stringMatching(/runs a task/)] } });
    expect(buildDeployPlan(job(), git({ "git.sha": SHA }), { ...ID, jobName: "x" })).toMatchObject({
      ok: false,
      error: { problems: [expect.stringMatching(/names job x/)] },
    });
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses attempt %s, as a RunTask request does", (attempt) => {
    expect(buildDeployPlan(job(), git({ "git.sha": SHA }), { ...ID, attempt })).toMatchObject({
      ok: false,
      error: { problems: [expect.stringMatching(/attempt must be a positive integer/)] },
    });
  });
});

describe("checkImage", () => {
  const digest = `sha256:${"a".repeat(64)}`;
  it.each([
    ["nginx", undefined],
    [`${ECR}:v1.2.3`, undefined],
    ["registry.local:5000/team/app:build#7", undefined],
    [`${ECR}@${digest}`, undefined],
    ["a".repeat(255), undefined],
    [`${"a".repeat(255)}@${digest}`, undefined],
    ["a".repeat(256), /256 characters; ECS allows 255/],
    ["", /empty/],
    ["web:", /ends in ":"/],
    ["web/", /ends in "\/"/],
    ["web:$(id)", /does not allow/],
    [`web@sha256:${"a".repeat(63)}`, /64 hex/],
    [`web@md5:${"a".repeat(64)}`, /64 hex/],
  ] as const)("%s", (image, expected) => {
    const result = checkImage(image);
    if (expected === undefined) expect(result).toBeUndefined();
    else expect(result).toMatch(expected);
  });
});

describe("withContainerImage", () => {
  const plan = { service: "web", container: "app", image: "web:2" };
  const defs = [
    { name: "proxy", image: "envoy:1", essential: true },
    { name: "app", image: "web:1", portMappings: [{ containerPort: 8080 }] },
  ];

  it("replaces only the named container's image and keeps every other field", () => {
    const r = withContainerImage(defs, plan);
    expect(r).toEqual({
      ok: true,
      containerDefinitions: [defs[0], { name: "app", image: "web:2", portMappings: [{ containerPort: 8080 }] }],
    });
    expect(defs[1]?.image).toBe("web:1");
  });

  it("sets the plan's environment in the named container, replacing variables of the same name and keeping the others", () => {
    type Def = { name: string; image: string; environment?: { name: string; value: string }[] };
    const withEnv: Def[] = [defs[0]!, { ...defs[1]!, environment: [{ name: "RELEASE", value: "old" }, { name: "PORT", value: "8080" }] }];
    const r = withContainerImage(withEnv, { ...plan, environment: { RELEASE: "9fceb02", STAGE: "prod" } });
    expect(r).toMatchObject({ ok: true });
    if (!r.ok) return;
    expect(r.containerDefinitions[0]).toEqual(defs[0]);
    expect(r.containerDefinitions[1]?.environment).toEqual([
      { name: "PORT", value: "8080" },
      { name: "RELEASE", value: "9fceb02" },
      { name: "STAGE", value: "prod" },
    ]);
  });

  it("says which containers exist when the named one does not", () => {
    const r = withContainerImage(defs, { ...plan, container: "api" });
    expect(r).toMatchObject({ ok: false, error: { message: expect.stringMatching(/no container named api \(its task definition has: proxy, app\)/) } });
  });
});

describe("REGISTER_TASK_DEFINITION_FIELDS", () => {
  it("leaves out the read-only fields DescribeTaskDefinition adds", () => {
    for (const readOnly of ["taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt", "registeredBy"]) {
      expect(REGISTER_TASK_DEFINITION_FIELDS).not.toContain(readOnly);
    }
    expect(REGISTER_TASK_DEFINITION_FIELDS).toContain("containerDefinitions");
  });
});

describe("buildUpdateServiceRequest", () => {
  const plan: DeployPlan = { cluster: "web", service: "web", container: "app", image: "web:2", rollback: true, tags: [] };
  const arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:43";

  it("turns on the circuit breaker with rollback and keeps the service's other deployment settings", () => {
    const r = buildUpdateServiceRequest(plan, arn, { maximumPercent: 200, minimumHealthyPercent: 100 });
    expect(r).toEqual({
      cluster: "web",
      service: "web",
      taskDefinition: arn,
      deploymentConfiguration: {
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
    });
  });

  it("leaves the deployment configuration alone without rollback", () => {
    expect(buildUpdateServiceRequest({ ...plan, rollback: false }, arn, { maximumPercent: 200 })).toEqual({
      cluster: "web",
      service: "web",
      taskDefinition: arn,
    });
  });
});
