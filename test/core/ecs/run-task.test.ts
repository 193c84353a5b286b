import { describe, expect, it } from "vitest";
import type { Job, Launch, RunAction } from "../../../src/core/catalog/types.ts";
import { buildRunTaskRequest, withFallbackLaunch, type RunIdentity } from "../../../src/core/ecs/run-task.ts";
import type { RunTaskRequest } from "../../../src/core/ecs/types.ts";
import { newRunId } from "../../../src/core/ids.ts";

const RUN_ID = newRunId(1_700_000_000_000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
const ID: RunIdentity = { runId: RUN_ID, attempt: 1, jobName: "thumbnails" };
const NETWORK = { subnets: ["subnet-0a1", "subnet-0b2"], securityGroups: ["sg-0c3"], assignPublicIp: false };

const HOSTILE = "a b/$(rm -rf ~);'x'.png";
const UTF8_1024 = "aé€😀".repeat(100) + "x".repeat(24);

function job(run: Partial<RunAction> = {}, extra: Partial<Job> = {}): Job {
  return {
    name: "thumbnails",
    triggers: [{ kind: "s3", buckets: ["media-uploads"] }],
    action: {
      kind: "run",
      cluster: "jobs",
      taskDefinition: "thumbnailer",
      container: "worker",
      command: ["node", "thumb.js", "s3://${s3.bucket}/${s3.key}"],
      environment: { INPUT_KEY: "${s3.key}" },
      launch: { type: "fargate" },
      network: NETWORK,
      ...run,
    },
    retry: { attempts: 3, backoff: { initial: 30, factor: 2, max: 600 }, on: [] },
    concurrency: { overlap: "allow" },
    tags: {},
    roles: {},
    notify: [],
    ...extra,
  };
}

function context(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => (Object.hasOwn(values, name) ? values[name] : undefined);
}

const S3 = context({ "s3.bucket": "media-uploads", "s3.key": "incoming/cat.png" });

function build(j: Job, lookup = S3, id = ID): RunTaskRequest {
  const r = buildRunTaskRequest(j, lookup, id);
  if (!r.ok) throw new Error(r.error.problems.join("\n"));
  return r.request;
}

function errorsOf(j: Job, lookup = S3, id = ID): string[] {
  const r = buildRunTaskRequest(j, lookup, id);
  if (r.ok) throw new Error("expected errors");
  return [...r.error.problems];
}

describe("buildRunTaskRequest", () => {
  it("builds the full RunTask request for an S3-triggered Fargate job", () => {
    expect(build(job())).toEqual({
      cluster: "jobs",
      taskDefinition: "thumbnailer",
      launchType: "FARGATE",
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ["subnet-0a1", "subnet-0b2"], securityGroups: ["sg-0c3"], assignPublicIp: "DISABLED" },
      },
      overrides: {
        containerOverrides: [
          {
            name: "worker",
            command: ["node", "thumb.js", "s3://media-uploads/incoming/cat.png"],
            environment: [{ name: "INPUT_KEY", value: "incoming/cat.png" }],
          },
        ],
      },
      tags: [
        { key: "berth:job", value: "thumbnails" },
        { key: "berth:run", value: RUN_ID },
      ],
      startedBy: `berth/${RUN_ID}`,
      clientToken: `berth-${RUN_ID}-1`,
      count: 1,
      propagateTags: "TASK_DEFINITION",
      enableECSManagedTags: true,
    } satisfies RunTaskRequest);
  });

  it.each([
    { what: "a hostile S3 key", key: HOSTILE },
    { what: "a 1,024-byte UTF-8 key", key: UTF8_1024 },
    { what: "a key that looks like a template", key: "${run.id}/$${x}/${s3.key}" },
  ])("passes $what into command and environment byte-identically", ({ key }) => {
    const r = build(job({ command: ["${s3.key}"], environment: { INPUT_KEY: "${s3.key}" } }), context({ "s3.key": key }));
    const c = r.overrides?.containerOverrides?.[0];
    const encode = (s: string | undefined) => new TextEncoder().encode(s);
    expect(encode(c?.command?.[0])).toEqual(encode(key));
    expect(encode(c?.environment?.[0]?.value)).toEqual(encode(key));
  });

  it("provides run.id, run.attempt and job.name, over any same-named context value", () => {
    const lookup = context({ "run.id": "spoofed", "job.name": "spoofed" });
    const r = build(job({ command: ["${run.id}", "${run.attempt}", "${job.name}"], environment: {} }), lookup, { ...ID, attempt: 3 });
    expect(r.overrides?.containerOverrides?.[0]?.command).toEqual([RUN_ID, "3", "thumbnails"]);
    expect(r.clientToken).toBe(`berth-${RUN_ID}-3`);
  });

  it("orders environment variables by name, whatever the catalog order", () => {
    const r = build(job({ environment: { b: "2", B: "1", a: "3", _x: "4" } }));
    expect(r.overrides?.containerOverrides?.[0]?.environment?.map((e) => e.name)).toEqual(["B", "_x", "a", "b"]);
  });

  it("names each field whose variables the context lacks", () => {
    const errors = errorsOf(job({ environment: { A: "${params.a}", B: "ok" } }), context({ "s3.bucket": "b" }));
    expect(errors).toEqual([
      expect.stringMatching(/jobs\.thumbnails\.run\.command\[2\]: no value for \$\{s3\.key\}/),
      expect.stringMatching(/jobs\.thumbnails\.run\.environment\.A: no value for \$\{params\.a\}/),
    ]);
  });

  it("returns a template parse error instead of throwing", () => {
    const errors = errorsOf(job({ command: ["${s3.key"] }));
    expect(errors).toEqual([expect.stringMatching(/command\[0\]: unclosed/)]);
  });

  describe("overrides", () => {
    it("omits overrides when nothing is overridden", () => {
      const r = build(job({ container: undefined, command: undefined, environment: {} }));
      expect(r).not.toHaveProperty("overrides");
    });

    it("sends task cpu and memory as strings, without container overrides when only they are set", () => {
      const r = build(job({ container: undefined, command: undefined, environment: {}, cpu: 512, memory: 1024 }));
      expect(r.overrides).toEqual({ cpu: "512", memory: "1024" });
    });

    it("sends only the command when there is no environment", () => {
      const r = build(job({ command: ["true"], environment: {} }));
      expect(r.overrides?.containerOverrides).toEqual([{ name: "worker", command: ["true"] }]);
    });

    it("sends an empty command list when the catalog says command: []", () => {
      const r = build(job({ command: [], environment: {} }));
      expect(r.overrides?.containerOverrides).toEqual([{ name: "worker", command: [] }]);
    });

    it("sends only the environment when there is no command", () => {
      const r = build(job({ command: undefined, environment: { A: "1" } }));
      expect(r.overrides?.containerOverrides).toEqual([{ name: "worker", environment: [{ name: "A", value: "1" }] }]);
    });

    it("refuses command or environment without a container", () => {
      expect(errorsOf(job({ container: undefined }))).toEqual([expect.stringMatching(/need "container"/)]);
    });
  });

  describe("launch", () => {
    it.each<{ launch: Launch; expected: Partial<RunTaskRequest> }>([
      { launch: { type: "fargate" }, expected: { launchType: "FARGATE" } },
      { launch: { type: "fargate", platformVersion: "1.4.0" }, expected: { launchType: "FARGATE", platformVersion: "1.4.0" } },
      {
        launch: { type: "fargate-spot", fallback: "fargate" },
        expected: { capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT", weight: 1 }] },
      },
      {
        launch: { type: "fargate-spot", platformVersion: "LATEST" },
        expected: { capacityProviderStrategy: [{ capacityProvider: "FARGATE_SPOT", weight: 1 }], platformVersion: "LATEST" },
      },
      { launch: { type: "ec2" }, expected: { launchType: "EC2" } },
      {
        launch: {
          type: "capacity-providers",
          providers: [{ provider: "FARGATE", weight: 1, base: 2 }, { provider: "FARGATE_SPOT", weight: 4 }, { provider: "ASG" }],
        },
        expected: {
          capacityProviderStrategy: [
            { capacityProvider: "FARGATE", weight: 1, base: 2 },
            { capacityProvider: "FARGATE_SPOT", weight: 4 },
            { capacityProvider: "ASG" },
          ],
        },
      },
    ])("maps $launch.type to the RunTask launch fields", ({ launch, expected }) => {
      const r = build(job({ launch }));
      const launchFields = {
        launchType: r.launchType,
        capacityProviderStrategy: r.capacityProviderStrategy,
        platformVersion: r.platformVersion,
      };
      expect(JSON.parse(JSON.stringify(launchFields))).toEqual(expected);
    });

    it("runs EC2 tasks without a network configuration when none is given", () => {
      const r = build(job({ launch: { type: "ec2" }, network: undefined }));
      expect(r).not.toHaveProperty("networkConfiguration");
      expect(r.launchType).toBe("EC2");
    });

    it.each<Launch>([
      { type: "fargate" },
      { type: "fargate-spot" },
      { type: "capacity-providers", providers: [{ provider: "FARGATE_SPOT", weight: 1 }] },
    ])("requires a network for $type", (launch) => {
      expect(errorsOf(job({ launch, network: undefined }))).toEqual([expect.stringMatching(/need "network"/)]);
    });

    it("maps assignPublicIp true to ENABLED", () => {
      const r = build(job({ network: { ...NETWORK, assignPublicIp: true } }));
      expect(r.networkConfiguration?.awsvpcConfiguration.assignPublicIp).toBe("ENABLED");
    });

    it("falls back from Fargate Spot to on-demand Fargate keeping everything else", () => {
      const spot = build(job({ launch: { type: "fargate-spot", fallback: "fargate", platformVersion: "1.4.0" } }), S3, {
        ...ID,
        attempt: 2,
      });
      const fallback = withFallbackLaunch(spot, "fargate");
      expect(fallback).not.toHaveProperty("capacityProviderStrategy");
      const { capacityProviderStrategy: _a, ...spotRest } = spot;
      expect(fallback).toEqual({ ...spotRest, launchType: "FARGATE" });
      expect(fallback.platformVersion).toBe("1.4.0");
      expect(spot.capacityProviderStrategy).toEqual([{ capacityProvider: "FARGATE_SPOT", weight: 1 }]);
    });

    it("reports capacity-provider strategy limits with the job's path", () => {
      const errors = errorsOf(
        job({
          launch: { type: "capacity-providers", providers: [{ provider: "A", base: 1 }, { provider: "B", base: 1, weight: 1 }] },
        }),
      );
      expect(errors).toEqual([expect.stringMatching(/^jobs\.thumbnails: 2 capacity providers set a base/)]);
    });
  });

  describe("tags", () => {
    it("puts job tags, sorted by key, before berth's tags", () => {
      const r = build(job({}, { tags: { team: "data", "cost-center": "42" } }));
      expect(r.tags).toEqual([
        { key: "cost-center", value: "42" },
        { key: "team", value: "data" },
        { key: "berth:job", value: "thumbnails" },
        { key: "berth:run", value: RUN_ID },
      ]);
    });

    it("refuses job tags that take berth's own keys", () => {
      expect(errorsOf(job({}, { tags: { "berth:run": "mine" } }))).toEqual([expect.stringMatching(/tags\.berth:run: keys starting with "berth:" are reserved/)]);
    });

    it("accepts 48 job tags and refuses 49 (berth adds 2 of the 50)", () => {
      const tags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, "v"]));
      expect(build(job({}, { tags: tags(48) })).tags).toHaveLength(50);
      expect(errorsOf(job({}, { tags: tags(49) }))).toEqual([expect.stringMatching(/51 tags; ECS allows 50/)]);
    });
  });

  describe("overrides size", () => {
    /** A job whose overrides JSON is exactly `size` characters, padded through one env value. */
    function jobWithOverridesOf(size: number): { job: Job; lookup: (n: string) => string | undefined } {
      const base = build(job({ command: ["x"], environment: { K: "${s3.key}" } }), context({ "s3.key": "" }));
      const baseSize = JSON.stringify(base.overrides).length;
      return {
        job: job({ command: ["x"], environment: { K: "${s3.key}" } }),
        lookup: context({ "s3.key": "k".repeat(size - baseSize) }),
      };
    }

    it("accepts overrides of exactly 8,192 characters", () => {
      const { job: j, lookup } = jobWithOverridesOf(8192);
      expect(JSON.stringify(build(j, lookup).overrides).length).toBe(8192);
    });

    it("refuses 8,193 characters, naming the sizes and the way out", () => {
      const { job: j, lookup } = jobWithOverridesOf(8193);
      expect(errorsOf(j, lookup)).toEqual([
        expect.stringMatching(/container overrides are 8,193 characters; ECS allows 8,192 .*environment K.*Pass large inputs through S3/),
      ]);
    });

    it("refuses a huge S3 key in the environment with a clear message", () => {
      const key = `incoming/${"deep/".repeat(1800)}photo.png`;
      const errors = errorsOf(job(), context({ "s3.bucket": "media-uploads", "s3.key": key }));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^jobs\.thumbnails: container overrides are [\d,]+ characters; ECS allows 8,192/);
      expect(errors[0]).toMatch(/largest: .*(command\[2\]|environment INPUT_KEY)/);
      expect(errors[0]).toMatch(/manifest object/);
    });

    it("counts characters the JSON encoding adds (quotes, backslashes)", () => {
      const base = build(job({ command: ["x"], environment: { K: "${s3.key}" } }), context({ "s3.key": "" }));
      const room = 8192 - JSON.stringify(base.overrides).length;
      // Each `"` becomes `\"` in JSON: half the raw room is already too much.
      const quotes = '"'.repeat(Math.floor(room / 2) + 1);
      expect(errorsOf(job({ command: ["x"], environment: { K: "${s3.key}" } }), context({ "s3.key": quotes }))).toHaveLength(1);
    });
  });

  it("refuses a deploy job", () => {
    const deploy: Job = {
      ...job(),
      action: { kind: "deploy", cluster: "web", service: "web", container: "app", image: "x:1", environment: {}, rollback: true },
    };
    expect(errorsOf(deploy)).toEqual([expect.stringMatching(/deploys a service/)]);
  });

  it.each([
    { what: "another job's name", id: { ...ID, jobName: "other" }, error: /names job other/ },
    { what: "a malformed run id", id: { ...ID, runId: "nope" }, error: /not a berth run id/ },
    { what: "attempt 0", id: { ...ID, attempt: 0 }, error: /positive integer/ },
  ])("refuses an identity with $what", ({ id, error }) => {
    expect(errorsOf(job(), S3, id)).toEqual([expect.stringMatching(error)]);
  });
});
