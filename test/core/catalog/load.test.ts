import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { issuesOf, load } from "./support.ts";
import { parseDuration, formatDuration } from "../../../src/core/catalog/duration.ts";

const example = readFileSync(new URL("../../../berth.yml", import.meta.url), "utf8");

const base = `version: 1
service: acme-jobs
defaults:
  network: { subnets: [subnet-1] }
jobs:
`;

describe("the example catalog", () => {
  it("loads with every job and the defaults merged", () => {
    const c = load(example);
    expect(Object.keys(c.jobs)).toEqual(["thumbnails", "migrate-web", "deploy-web", "deploy-api", "nightly-backup", "backup-report", "reindex", "scan-image"]);
    const thumbs = c.jobs.thumbnails!;
    expect(thumbs.timeout).toBe(15 * 60);
    expect(thumbs.tags).toEqual({ team: "data" });
    expect(thumbs.retry).toEqual({ attempts: 3, backoff: { initial: 30, factor: 2, max: 600 }, on: ["spot-interruption", "failed-to-start", "capacity", "exit:137"] });
    expect(thumbs.action).toMatchObject({ kind: "run", cluster: "jobs", launch: { type: "fargate" }, network: { subnets: ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"], assignPublicIp: false } });
    expect(c.jobs["nightly-backup"]!.timeout).toBe(2 * 3600);
    expect(c.jobs["nightly-backup"]!.triggers[0]).toEqual({ kind: "schedule", expression: "0 3 * * ? *", awsExpression: "cron(0 3 * * ? *)", timezone: "Asia/Seoul" });
    expect(c.jobs["deploy-web"]!.concurrency).toEqual({ max: 1, overlap: "supersede" });
    expect(c.jobs["backup-report"]!.triggers[0]).toEqual({ kind: "job", job: "nightly-backup", statuses: ["succeeded"] });
  });

  it("is frozen so no stage can change it", () => {
    const c = load(example);
    expect(Object.isFrozen(c.jobs.thumbnails!.action)).toBe(true);
  });
});

describe("a broken catalog", () => {
  it("reports every problem at once with file:line:col and the field path", () => {
    expect(issuesOf(readFileSync(new URL("../../fixtures/broken.yml", import.meta.url), "utf8"))).toEqual([
      expect.stringMatching(/^berth\.yml:7:5 jobs\.thumbnails\.run: Fargate tasks need an awsvpc network: set run\.network\.subnets/),
      expect.stringMatching(/^berth\.yml:10:33 jobs\.thumbnails\.run\.command\[2\]: unknown template variable \$\{s3\.kee\}: s3 provides \$\{s3\.bucket\} \$\{s3\.key\}/),
      expect.stringMatching(/^berth\.yml:13:25 jobs\.nightly\.on\.schedule\.cron: cron needs 6 fields/),
      "berth.yml:17:7 jobs.a.on.job: trigger cycle: a → b → a; remove one of these job triggers",
      'berth.yml:26:5 jobs.typo.retries: unknown field "retries"; allowed: description, on, run, deploy, batch, concurrency, retry, timeout, tags, notify',
    ]);
  });

  it("points an unknown field at its key", () => {
    expect(issuesOf(`${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t }\n    retries: 3\n`)).toEqual([
      'berth.yml:9:5 jobs.j.retries: unknown field "retries"; allowed: description, on, run, deploy, batch, concurrency, retry, timeout, tags, notify',
    ]);
  });

  it.each([
    ["a missing required field", `version: 1\njobs: {}\n`, 'berth.yml:1:1 service: required field "service" is missing'],
    ["a wrong version", `version: 2\nservice: s\njobs: {}\n`, "berth.yml:1:10 version: version must be 1"],
    ["invalid YAML", `version: 1\nservice: [\n`, /^berth\.yml:\d+:\d+: invalid YAML/],
    ["an empty file", ``, /^berth\.yml: the file is empty/],
    ["a duplicate key", `version: 1\nversion: 1\n`, /^berth\.yml:2:1: invalid YAML: Map keys must be unique/],
    ["an unknown launch", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t, launch: fargat }\n`, /^berth\.yml:8:39 jobs\.j\.run\.launch: launch must be fargate, fargate-spot, ec2/],
    ["a bad overlap", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t }\n    concurrency: { overlap: sometimes }\n`, "berth.yml:9:29 jobs.j.concurrency.overlap: overlap must be one of: allow, forbid, replace, queue, supersede"],
    ["a bad duration", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t }\n    timeout: 5 minutes\n`, /^berth\.yml:9:14 jobs\.j\.timeout: expected a duration such as "30s"/],
    ["an unknown upstream job", `${base}  j:\n    on: { job: { name: nope } }\n    run: { taskDefinition: t }\n`, 'berth.yml:7:24 jobs.j.on.job.name: no job named "nope"; jobs in this file: j'],
    ["a self trigger", `${base}  j:\n    on: { job: { name: j } }\n    run: { taskDefinition: t }\n`, "berth.yml:7:24 jobs.j.on.job.name: a job cannot trigger itself"],
    ["a bad time zone", `${base}  j:\n    on: { schedule: { rate: 1 hour, timezone: Mars/Olympus } }\n    run: { taskDefinition: t }\n`, /^berth\.yml:7:47 jobs\.j\.on\.schedule\.timezone: unknown time zone "Mars\/Olympus"/],
    ["no action", `${base}  j:\n    on: { manual: true }\n`, /^berth\.yml:6:3 jobs\.j: a job needs an action/],
    ["no trigger", `${base}  j:\n    on: {}\n    run: { taskDefinition: t }\n`, /^berth\.yml:7:5 jobs\.j\.on: a job needs at least one trigger/],
    ["overrides without a container", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t, command: [a] }\n`, /^berth\.yml:8:31 jobs\.j\.run\.command: command and environment override one container/],
    ["batch without an s3 trigger", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t }\n    batch: { window: 1m }\n`, /^berth\.yml:9:5 jobs\.j\.batch: batch gathers uploads into one run, so it needs an s3 trigger/],
    ["a reserved tag", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t }\n    tags: { "aws:x": y }\n`, /^berth\.yml:9:13 jobs\.j\.tags\.aws:x: tag keys starting with "aws:" are reserved/],
    ["a bad retry class", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t }\n    retry: { on: [sometimes] }\n`, /^berth\.yml:9:19 jobs\.j\.retry\.on\[0\]: retry classes are spot-interruption/],
    ["a bad job name", `${base}  "my job":\n    on: { manual: true }\n    run: { taskDefinition: t }\n`, /jobs\.my job: job names are 1-48 letters/],
    ["a github repo without owner", `${base}  j:\n    on: { git: { repo: web } }\n    run: { taskDefinition: t }\n`, /^berth\.yml:7:24 jobs\.j\.on\.git\.repo: a github repo is written owner\/name/],
    ["an unclosed template", `${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t, container: c, environment: { A: "\${params.x" } }\n`, /jobs\.j\.run\.environment\.A: .*write \$\$\{ for a literal/],
    ["an undeclared param", `${base}  j:\n    on: { manual: { params: { a: "1" } } }\n    run: { taskDefinition: t, container: c, environment: { B: "\${params.b}" } }\n`, /unknown template variable \$\{params\.b\}: manual provides \$\{params\.a\}/],
  ])("rejects %s", (_what, text, expected) => {
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    if (typeof expected === "string") expect(issues[0]).toBe(expected);
    else expect(issues[0]).toMatch(expected);
  });

  it("rejects an invalid event pattern as AWS would, pointing into the pattern", () => {
    const issues = issuesOf(`${base}  j:\n    on:\n      event:\n        pattern: { source: aws.ecr }\n    run: { taskDefinition: t }\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^berth\.yml:9:28 jobs\.j\.on\.event\.pattern\.source: /);
  });

  it("allows only the variables every trigger of a job provides", () => {
    const issues = issuesOf(`${base}  j:\n    on:\n      s3: { bucket: b }\n      manual: true\n    run: { taskDefinition: t, container: c, command: ["\${s3.key}", "\${run.id}"] }\n`);
    expect(issues).toEqual([expect.stringMatching(/command\[0\]: unknown template variable \$\{s3\.key\}: manual provides no variables/)]);
  });
});

describe("defaults", () => {
  it("does not give ec2 runs the default awsvpc network", () => {
    const c = load(`${base}  j:\n    on: { manual: true }\n    run: { taskDefinition: t, launch: ec2 }\n`);
    expect(c.jobs.j!.action).not.toHaveProperty("network");
  });

  it("merges tags and retry field by field, job values winning", () => {
    const c = load(`version: 1
service: s
defaults:
  network: { subnets: [n] }
  retry: { attempts: 5, backoff: { initial: 10s } }
  tags: { team: data, env: prod }
jobs:
  j:
    on: { manual: true }
    run: { taskDefinition: t }
    retry: { backoff: { max: 1h } }
    tags: { env: dev }
`);
    expect(c.jobs.j!.retry).toEqual({ attempts: 5, backoff: { initial: 10, factor: 2, max: 3600 }, on: ["spot-interruption", "failed-to-start", "capacity"] });
    expect(c.jobs.j!.tags).toEqual({ team: "data", env: "dev" });
  });

  it("parses a JSON event pattern", () => {
    const c = load(`${base}  j:\n    on:\n      event: { pattern: '{"source": ["my.app"]}', bus: orders }\n    run: { taskDefinition: t }\n`);
    expect(c.jobs.j!.triggers[0]).toEqual({ kind: "event", pattern: { source: ["my.app"] }, bus: "orders" });
  });
});

describe("durations", () => {
  it.each([
    ["30s", 30],
    ["15m", 900],
    ["2h", 7200],
    ["1d", 86400],
    ["90", 90],
    [45, 45],
  ] as const)("%s is %i seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });
  it.each([
    [5400, "90m"],
    [7200, "2h"],
    [61, "61s"],
  ])("%i seconds prints as %s", (s, text) => expect(formatDuration(s)).toBe(text));
});

describe("roles berth may pass to ECS", () => {
  const TASK = "arn:aws:iam::123456789012:role/jobs-task";
  const EXEC = "arn:aws:iam::123456789012:role/service-role/ecsTaskExecutionRole";

  it("merges defaults.roles into every job; a job's run.roles or deploy.roles wins field by field", () => {
    const c = load(`${base.replace("defaults:\n", `defaults:\n  roles: { task: ${TASK}, execution: ${EXEC} }\n`)}
  a: { on: { manual: true }, run: { taskDefinition: t } }
  b: { on: { manual: true }, run: { taskDefinition: t, roles: { task: "arn:aws:iam::123456789012:role/b-task" } } }
  c: { on: { git: { repo: acme/web } }, deploy: { service: web, container: app, image: "web:\${git.sha}", roles: { execution: "arn:aws-us-gov:iam::123456789012:role/gov-exec" } } }
`);
    expect(c.jobs.a!.roles).toEqual({ task: TASK, execution: EXEC });
    expect(c.jobs.b!.roles).toEqual({ task: "arn:aws:iam::123456789012:role/b-task", execution: EXEC });
    expect(c.jobs.c!.roles).toEqual({ task: TASK, execution: "arn:aws-us-gov:iam::123456789012:role/gov-exec" });
  });

  it("a job without roles anywhere may pass none", () => {
    expect(load(`${base}  a: { on: { manual: true }, run: { taskDefinition: t } }\n`).jobs.a!.roles).toEqual({});
  });

  it.each([
    ["a role name instead of an ARN", "jobs-task"],
    ["a user ARN", "arn:aws:iam::123456789012:user/alice"],
    ["a short account id", "arn:aws:iam::12345:role/jobs-task"],
  ])("rejects %s, naming the field", (_what, value) => {
    const issues = issuesOf(`${base}  a: { on: { manual: true }, run: { taskDefinition: t, roles: { task: "${value}" } } }\n`);
    expect(issues).toEqual([expect.stringMatching(/jobs\.a\.run\.roles\.task: roles\.task must be an IAM role ARN, e\.g\. arn:aws:iam::123456789012:role\/jobs-task/)]);
  });

  it("rejects an unknown role kind with the allowed ones", () => {
    expect(issuesOf(`${base}  a: { on: { manual: true }, run: { taskDefinition: t, roles: { instance: ${TASK} } } }\n`)).toEqual([
      expect.stringMatching(/jobs\.a\.run\.roles\.instance: unknown field "instance"; allowed: task, execution/),
    ]);
  });
});

describe("notify", () => {
  const ALERTS = "arn:aws:sns:us-east-1:123456789012:jobs-alerts";
  const DONE = "arn:aws:sns:eu-west-1:123456789012:done";

  it("applies defaults.notify to every job; a job's list replaces it, and [] turns it off", () => {
    const c = load(`${base.replace("defaults:\n", `defaults:\n  notify: [{ on: [failed, timed-out], sns: ${ALERTS} }]\n`)}
  a: { on: { manual: true }, run: { taskDefinition: t } }
  b: { on: { manual: true }, run: { taskDefinition: t }, notify: [{ on: succeeded, sns: ${DONE} }] }
  c: { on: { manual: true }, run: { taskDefinition: t }, notify: [] }
`);
    expect(c.jobs.a!.notify).toEqual([{ on: ["failed", "timed-out"], sns: ALERTS }]);
    expect(c.jobs.b!.notify).toEqual([{ on: ["succeeded"], sns: DONE }]);
    expect(c.jobs.c!.notify).toEqual([]);
  });

  it("lists a status once however often it is written", () => {
    const c = load(`${base}  a: { on: { manual: true }, run: { taskDefinition: t }, notify: [{ on: [failed, failed], sns: ${ALERTS} }] }\n`);
    expect(c.jobs.a!.notify).toEqual([{ on: ["failed"], sns: ALERTS }]);
  });

  it("rejects a status a run cannot end in", () => {
    expect(issuesOf(`${base}  a: { on: { manual: true }, run: { taskDefinition: t }, notify: [{ on: [exploded], sns: ${ALERTS} }] }\n`)).toEqual([
      expect.stringMatching(/jobs\.a\.notify\[0\]\.on: on must be one of: succeeded, failed, timed-out, cancelled \(or a list\)/),
    ]);
  });

  it.each([
    ["a FIFO topic (EventBridge needs a message group for it)", "arn:aws:sns:us-east-1:123456789012:alerts.fifo"],
    ["a queue ARN", "arn:aws:sqs:us-east-1:123456789012:alerts"],
    ["a topic name", "jobs-alerts"],
  ])("rejects %s", (_what, value) => {
    expect(issuesOf(`${base}  a: { on: { manual: true }, run: { taskDefinition: t }, notify: [{ on: failed, sns: "${value}" }] }\n`)).toEqual([
      expect.stringMatching(/jobs\.a\.notify\[0\]\.sns: sns must be the ARN of a standard SNS topic/),
    ]);
  });
});
