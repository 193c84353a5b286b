import { describe, expect, it } from "vitest";
import { checkRunTaskLimits, ECS_LIMITS } from "../../../src/core/ecs/limits.ts";
import type { RunTaskRequest, Tag } from "../../../src/core/ecs/types.ts";

function request(over: Partial<RunTaskRequest> = {}): RunTaskRequest {
  return {
    cluster: "jobs",
    taskDefinition: "td",
    launchType: "FARGATE",
    networkConfiguration: { awsvpcConfiguration: { subnets: ["subnet-1"], securityGroups: ["sg-1"], assignPublicIp: "DISABLED" } },
    tags: [],
    startedBy: "berth/01ARYZ6S41TSV4RRFFQ69G5FAV",
    clientToken: "berth-01ARYZ6S41TSV4RRFFQ69G5FAV-1",
    count: 1,
    propagateTags: "TASK_DEFINITION",
    enableECSManagedTags: true,
    ...over,
  };
}

const list = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const tags = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: "v" }));
const strategy = (n: number) => list(n, "cp").map((capacityProvider) => ({ capacityProvider, weight: 1 }));
const vpc = (subnets: string[], securityGroups: string[]) => ({
  launchType: "FARGATE" as const,
  networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups } },
});
// "𠀀" (a CJK letter outside the BMP) is one character to the tag rules but two UTF-16 code units.
const wide = (n: number) => "𠀀".repeat(n);

describe("checkRunTaskLimits", () => {
  it("accepts a plain request", () => {
    expect(checkRunTaskLimits(request())).toEqual([]);
  });

  it.each<{ limit: string; under: Partial<RunTaskRequest>; over: Partial<RunTaskRequest>; error: RegExp }>([
    {
      limit: "overrides JSON characters",
      under: { overrides: { cpu: "1".repeat(ECS_LIMITS.overridesJsonChars - '{"cpu":""}'.length) } },
      over: { overrides: { cpu: "1".repeat(ECS_LIMITS.overridesJsonChars - '{"cpu":""}'.length + 1) } },
      error: /container overrides are 8,193 characters; ECS allows 8,192/,
    },
    { limit: "tags per task", under: { tags: tags(50) }, over: { tags: tags(51) }, error: /51 tags; ECS allows 50/ },
    {
      limit: "tag key length (Unicode characters)",
      under: { tags: [{ key: wide(128), value: "v" }] },
      over: { tags: [{ key: wide(129), value: "v" }] },
      error: /is 129 characters; ECS allows 1 to 128/,
    },
    {
      limit: "tag value length (Unicode characters)",
      under: { tags: [{ key: "k", value: wide(256) }] },
      over: { tags: [{ key: "k", value: wide(257) }] },
      error: /value of 257 characters; ECS allows 256/,
    },
    { limit: "subnets", under: vpc(list(16, "subnet"), []), over: vpc(list(17, "subnet"), []), error: /17 subnets; ECS allows 16/ },
    {
      limit: "security groups",
      under: vpc(["subnet-1"], list(5, "sg")),
      over: vpc(["subnet-1"], list(6, "sg")),
      error: /6 security groups; ECS allows 5/,
    },
    {
      limit: "capacity providers",
      under: { launchType: undefined, capacityProviderStrategy: strategy(20) },
      over: { launchType: undefined, capacityProviderStrategy: strategy(21) },
      error: /lists 21 providers; ECS allows 20/,
    },
    {
      limit: "capacity provider weight",
      under: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 1000 }] },
      over: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 1001 }] },
      error: /weight 1001; ECS allows whole numbers 0 to 1,000/,
    },
    {
      limit: "capacity provider base",
      under: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 1, base: 100_000 }] },
      over: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 1, base: 100_001 }] },
      error: /base 100001; ECS allows whole numbers 0 to 100,000/,
    },
    {
      limit: "startedBy length",
      under: { startedBy: "b".repeat(128) },
      over: { startedBy: "b".repeat(129) },
      error: /startedBy .* must be 1 to 128/,
    },
    {
      limit: "clientToken length",
      under: { clientToken: "c".repeat(64) },
      over: { clientToken: "c".repeat(65) },
      error: /clientToken .* must be 1 to 64/,
    },
  ])("$limit: accepts the limit, refuses one more", ({ under, over, error }) => {
    expect(checkRunTaskLimits(request(under))).toEqual([]);
    expect(checkRunTaskLimits(request(over))).toEqual([expect.stringMatching(error)]);
  });

  it.each<{ what: string; over: Partial<RunTaskRequest>; error: RegExp }>([
    { what: "a tag key with a forbidden character", over: { tags: [{ key: "a*b", value: "v" }] }, error: /tag key "a\*b" has characters/ },
    { what: "a tag value with a forbidden character", over: { tags: [{ key: "k", value: "x;y" }] }, error: /value with characters/ },
    { what: "an empty tag key", over: { tags: [{ key: "", value: "v" }] }, error: /is 0 characters; ECS allows 1 to 128/ },
    { what: "an aws: tag key", over: { tags: [{ key: "AWS:thing", value: "v" }] }, error: /"aws:" prefix is reserved/ },
    { what: "an aws: tag value", over: { tags: [{ key: "k", value: "aws:x" }] }, error: /"aws:" prefix is reserved/ },
    { what: "a duplicate tag key", over: { tags: [{ key: "k", value: "1" }, { key: "k", value: "2" }] }, error: /appears twice/ },
    { what: "no subnets", over: vpc([], []), error: /no subnets/ },
    {
      what: "launchType with a strategy",
      over: { launchType: "FARGATE", capacityProviderStrategy: [{ capacityProvider: "A", weight: 1 }] },
      error: /launchType and capacityProviderStrategy are both set/,
    },
    {
      what: "two providers with a base",
      over: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 1, base: 0 }, { capacityProvider: "B", base: 1 }] },
      error: /2 capacity providers set a base \(A, B\)/,
    },
    {
      what: "several providers without weight",
      over: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A" }, { capacityProvider: "B", weight: 0 }] },
      error: /no capacity provider has a weight above 0/,
    },
    {
      what: "a provider listed twice",
      over: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 1 }, { capacityProvider: "A", weight: 1 }] },
      error: /"A" is listed twice/,
    },
    { what: "a fractional weight", over: { launchType: undefined, capacityProviderStrategy: [{ capacityProvider: "A", weight: 0.5 }] }, error: /weight 0.5/ },
    { what: "a startedBy with a space", over: { startedBy: "berth run" }, error: /startedBy/ },
    { what: "a clientToken with a space", over: { clientToken: "a b" }, error: /clientToken/ },
    { what: "a clientToken with non-ASCII", over: { clientToken: "é" }, error: /clientToken/ },
  ])("refuses $what", ({ over, error }) => {
    expect(checkRunTaskLimits(request(over))).toEqual([expect.stringMatching(error)]);
  });

  it.each([
    { what: "a single provider without weight", s: [{ capacityProvider: "A" }] },
    { what: "tag characters from other scripts and the allowed symbols", s: undefined, tags: [{ key: "팀 name_.:/=+-@", value: "데이터 1" }] },
  ])("accepts $what", ({ s, tags: t }) => {
    expect(checkRunTaskLimits(request({ ...(s && { launchType: undefined, capacityProviderStrategy: s }), ...(t && { tags: t }) }))).toEqual([]);
  });

  it("does not count aws: tags toward the 50", () => {
    // The reserved prefix is itself an error, so only the count message must be absent.
    const errors = checkRunTaskLimits(request({ tags: [...tags(50), { key: "aws:x", value: "1" }] }));
    expect(errors.some((e) => /tags; ECS allows 50/.test(e))).toBe(false);
  });

  it("reports every broken limit at once", () => {
    const errors = checkRunTaskLimits(request({ tags: tags(51), ...vpc(list(17, "s"), list(6, "g")) }));
    expect(errors).toHaveLength(3);
  });
});
