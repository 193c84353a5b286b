import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { doctorTargets, mayPass } from "../../src/cli/doctor/targets.ts";
import { formatResults, runChecks, type Check, type Outcome } from "../../src/cli/doctor/report.ts";

function catalog(jobs: string, defaults = ""): Catalog {
  const loaded = loadCatalog(`version: 1\nservice: t\ndefaults:\n  network: { subnets: [subnet-1] }\n${defaults}jobs:\n${jobs}`, "berth.yml");
  if (!loaded.ok) throw new Error(loaded.error.message);
  return loaded.catalog;
}

const manual = "on: { manual: {} }";

describe("what berth doctor looks at in the catalog", () => {
  it.each([
    { launch: "fargate", providers: [] },
    { launch: "ec2", providers: [] },
    { launch: "fargate-spot", providers: ["FARGATE_SPOT"] },
    // The fallback attempt runs with the FARGATE launch type, which needs no capacity provider.
    { launch: "{ type: fargate-spot, fallback: fargate }", providers: ["FARGATE_SPOT"] },
    { launch: "{ capacityProviders: [{ provider: FARGATE, base: 1 }, { provider: my-asg, weight: 3 }] }", providers: ["FARGATE", "my-asg"] },
  ])("a job launched as $launch needs the cluster to have $providers", ({ launch, providers }) => {
    const targets = doctorTargets(catalog(`  a:\n    ${manual}\n    run: { cluster: c, taskDefinition: td, launch: ${launch} }\n`));
    expect(targets.clusters).toEqual([{ cluster: "c", jobs: ["a"], providers: providers.map((provider) => ({ provider, jobs: ["a"] })) }]);
  });

  it("groups jobs by bucket, cluster, task definition and service, and passes the union of every job's roles", () => {
    const targets = doctorTargets(
      catalog(
        [
          "  a:",
          "    on: { s3: { bucket: [in, shared] } }",
          "    run: { cluster: c, taskDefinition: td, container: w, command: [x], launch: fargate-spot }",
          "  b:",
          "    on: { s3: { bucket: shared } }",
          "    run: { cluster: c, taskDefinition: td, launch: fargate-spot, roles: { task: arn:aws:iam::123456789012:role/b-task } }",
          "  d:",
          "    on: { git: { repo: o/r, branch: main } }",
          '    deploy: { cluster: web, service: site, container: app, image: "r/site:${git.sha}" }',
          "",
        ].join("\n"),
        "  roles: { execution: arn:aws:iam::123456789012:role/exec }\n",
      ),
    );
    expect(targets.buckets).toEqual([
      { bucket: "in", jobs: ["a"] },
      { bucket: "shared", jobs: ["a", "b"] },
    ]);
    expect(targets.clusters).toEqual([
      { cluster: "c", jobs: ["a", "b"], providers: [{ provider: "FARGATE_SPOT", jobs: ["a", "b"] }] },
      { cluster: "web", jobs: ["d"], providers: [] },
    ]);
    expect(targets.taskDefinitions).toEqual([{ taskDefinition: "td", uses: [{ job: "a", container: "w" }, { job: "b" }] }]);
    expect(targets.services).toEqual([{ cluster: "web", service: "site", uses: [{ job: "d", container: "app" }] }]);
    expect(targets.passableRoles).toEqual(["arn:aws:iam::123456789012:role/b-task", "arn:aws:iam::123456789012:role/exec"]);
  });

  it("looks at the webhook only when the stack has one: the GitHub and GitLab repositories pushes come from, and their jobs", () => {
    const jobs = [
      "  gh:",
      "    on: { git: { repo: acme/web, branch: main } }",
      '    deploy: { cluster: web, service: site, container: app, image: "r/site:${git.sha}" }',
      "  gl:",
      "    on: { git: { provider: gitlab, repo: acme/api, branch: main } }",
      "    run: { cluster: c, taskDefinition: migrate }",
      "  cc:",
      "    on: { git: { provider: codecommit, repo: infra, branch: main } }",
      "    run: { cluster: c, taskDefinition: plan }",
      "",
    ].join("\n");
    expect(doctorTargets(catalog(jobs)).webhook).toEqual({ repos: { github: ["acme/web"], gitlab: ["acme/api"] }, jobs: ["gh", "gl"] });
    // CodeCommit pushes arrive natively: no webhook, nothing to look at.
    expect(doctorTargets(catalog(jobs.split("  gh:")[0] + jobs.slice(jobs.indexOf("  cc:")))).webhook).toBeUndefined();
  });

  it.each([
    { role: "arn:aws:iam::1:role/app", may: true },
    { role: "arn:aws:iam::1:role/other", may: false },
    // A task definition may name a role by name: it is the last segment of an ARN berth may pass, path or not.
    { role: "app", may: true },
    { role: "job-runner", may: true },
    { role: "runner", may: false },
  ])("a task definition's role $role may be passed: $may", ({ role, may }) => {
    expect(mayPass(role, ["arn:aws:iam::1:role/app", "arn:aws:iam::1:role/service/job-runner"])).toBe(may);
  });
});

const context = { region: "eu-west-1", principal: "arn:aws:iam::1:user/ci", timeLimitMs: 5_000 };

function check(name: string, run: (signal: AbortSignal) => Promise<Outcome>): Check {
  return { name, service: "ECS", permission: `ecs:Describe on ${name}`, run };
}

const pass = (detail: string): Promise<Outcome> => Promise.resolve({ ok: true, detail });

/** An error shaped as the SDK raises a service's answer. */
function serviceError(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status } });
}

describe("running the checks", () => {
  it("one check that never answers fails alone, at its own time limit, and its call is aborted", async () => {
    let aborted = false;
    const never = check("cluster slow", (signal) => new Promise<Outcome>(() => signal.addEventListener("abort", () => (aborted = true))));
    const results = await runChecks([never, check("cluster fast", () => pass("ACTIVE"))], { ...context, timeLimitMs: 50 });
    expect(results).toEqual([
      { check: "cluster slow", ok: false, detail: "no answer from ECS within 50 ms", fix: expect.stringMatching(/^run berth doctor again; if it keeps timing out, check that this machine reaches ECS in eu-west-1/) },
      { check: "cluster fast", ok: true, detail: "ACTIVE", fix: null },
    ]);
    expect(aborted).toBe(true);
  });

  it.each([
    {
      what: "an access-denied answer names the permission and the caller",
      error: serviceError("AccessDeniedException", "User: arn:aws:iam::1:user/ci is not authorized to perform: ecs:Describe", 400),
      detail: "access denied (AccessDeniedException: User: arn:aws:iam::1:user/ci is not authorized to perform: ecs:Describe)",
      fix: "allow ecs:Describe on cluster x to arn:aws:iam::1:user/ci (berth doctor only reads)",
    },
    {
      what: "throttling that outlasted the SDK's retries asks to run again",
      error: serviceError("ThrottlingException", "Rate exceeded", 400),
      detail: "ECS did not answer (ThrottlingException: Rate exceeded)",
      fix: expect.stringMatching(/^run berth doctor again/),
    },
    {
      what: "a connection refused says where the service could not be reached",
      error: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      detail: "ECS did not answer (connect ECONNREFUSED 127.0.0.1:1)",
      fix: expect.stringMatching(/reaches ECS in eu-west-1/),
    },
    { what: "a bug in a check is reported as one", error: new TypeError("x is undefined"), detail: "unexpected error: TypeError: x is undefined", fix: expect.stringMatching(/bug in berth doctor/) },
  ])("$what, without hiding the other checks", async ({ error, detail, fix }) => {
    const results = await runChecks([check("cluster x", () => Promise.reject(error)), check("cluster y", () => pass("ACTIVE"))], context);
    expect(results).toEqual([
      { check: "cluster x", ok: false, detail, fix },
      { check: "cluster y", ok: true, detail: "ACTIVE", fix: null },
    ]);
  });

  it("the checks a check opens print under it, in order, even when it failed", async () => {
    const parent = check("stack s", () =>
      Promise.resolve<Outcome>({ ok: false, detail: "ROLLBACK_COMPLETE", fix: "remove it", then: [check("table t", () => pass("ACTIVE")), check("bus b", () => pass("arn"))] }),
    );
    const results = await runChecks([parent, check("bucket m", () => pass("on"))], context);
    expect(results.map((r) => `${r.ok ? "✔" : "✖"} ${r.check}`)).toEqual(["✖ stack s", "✔ table t", "✔ bus b", "✔ bucket m"]);
  });
});

describe("the report", () => {
  const plain = { green: (s: string) => s, red: (s: string) => s, dim: (s: string) => s };

  it("is one line per check, the fix under each failed one, and a count", () => {
    const text = formatResults(
      [
        { check: "credentials", ok: true, detail: "account 1", fix: null },
        { check: "bucket m", ok: false, detail: "EventBridge notifications are off", fix: "turn them on" },
      ],
      plain,
    );
    expect(text).toBe("✔ credentials: account 1\n✖ bucket m: EventBridge notifications are off\n    fix: turn them on\n1 of 2 checks failed");
    expect(formatResults([{ check: "credentials", ok: true, detail: "account 1", fix: null }], plain)).toBe("✔ credentials: account 1\nall 1 check passed");
  });
});
