/**
 * What each handler bundle holds and leaves out (src/aws/compose.ts, scripts/build.mjs), read from the bundles the
 * functions deploy (built by the test setup): its entry, the chunks a cold start loads with it, and the chunk of the
 * ECS service deployer, which only `import()` reaches (test/support/bundle-files.ts). Each marker is a string only
 * that code holds, and minifying keeps strings.
 */
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { handlerFiles, packagePath } from "../support/bundle-files.ts";

const HANDLERS = ["dispatch", "track", "sweep", "webhook"] as const;
const DEPLOYING = ["dispatch", "track", "sweep"] as const;
const BUILT = fileURLToPath(new URL("../../dist/handlers/", import.meta.url));
const files = (fn: string) => handlerFiles(BUILT, fn);
const text = (list: readonly string[]) => list.map((f) => readFileSync(f, "utf8")).join("\n");
/** What a cold start of `fn` loads. */
const coldStart = (fn: string) => text(files(fn).coldStart);
const bytes = (list: readonly string[]) => list.reduce((n, f) => n + statSync(f).size, 0);
const KiB = 1024;

const LEFT_OUT: readonly (readonly [string, string])[] = [
  ["the DynamoDB document client: the run store marshals its own items", "@aws-sdk/lib-dynamodb"],
  ["the event-pattern validator: the compiled catalog's patterns were validated when it was compiled", "is an operator name"],
  ["DynamoDB endpoint discovery's cache, which no DynamoDB command uses", "mnemonist"],
  ["the browser's user-agent parser", "bowser"],
];

/** A message only that flow of the engine holds. */
const FLOW: Readonly<Record<string, string>> = {
  dispatch: "does not match any trigger of job",
  track: "which this store does not know",
};

/** A message only the ECS service deployer (src/aws/ecs-service-deployer.ts) holds. */
const DEPLOYER = "which ECS cannot describe: fix the service";
/** The ECS operations only the deployer calls: their names are strings of their commands and schemas alone. */
const DEPLOYER_OPERATIONS = [
  "DescribeServices",
  "RegisterTaskDefinition",
  "ListTaskDefinitions",
  "DeregisterTaskDefinition",
  "UpdateService",
  "ListServiceDeployments",
  "DescribeServiceDeployments",
  "DescribeServiceRevisions",
  "StopServiceDeployment",
];

describe.each(HANDLERS)("the %s bundle", (fn) => {
  it.each(LEFT_OUT)("leaves out %s", (_what, marker) => {
    const f = files(fn);
    expect(text([...f.coldStart, ...f.onFirstUse])).not.toContain(marker);
  });

  it("leaves the SQS client out of its cold start: dispatch puts the events it rejects on berth's bus, and only a batch's reminder (first use) sends to SQS", () => {
    expect(coldStart(fn)).not.toContain('"SQSClient"');
  });

  it("holds its own flow of the engine and no other function's", () => {
    for (const [flow, marker] of Object.entries(FLOW)) expect(coldStart(fn).includes(marker), `${flow}'s flow`).toBe(flow === fn);
  });

  it("loads no chunk it does not use: every file of its chunk folder is imported at cold start or at first use", () => {
    const f = files(fn);
    expect([...f.chunkFolder].sort()).toEqual([...f.coldStart, ...f.onFirstUse].filter((file) => file !== f.entry).sort());
  });

  it("reads the compiled catalog in its entry file, whose place the catalog's path is relative to", () => {
    expect(readFileSync(files(fn).entry, "utf8")).toContain("); package the output of");
  });
});

describe.each(DEPLOYING)("the %s bundle's service deployer", (fn) => {
  it("is a chunk of its own that only import() reaches, so no cold start evaluates it", () => {
    const f = files(fn);
    // One chunk for everything loaded on first use (the deployer, and a batch's manifest writer and reminder).
    expect(f.onFirstUse.map((file) => packagePath(BUILT, file))).toEqual([`chunks/${fn}/on-first-use.mjs`]);
    expect(text(f.onFirstUse)).toContain(DEPLOYER);
    expect(coldStart(fn)).not.toContain(DEPLOYER);
  });

  it.each(DEPLOYER_OPERATIONS)("takes %s, its command and its schemas, into its chunk, out of the cold start", (operation) => {
    expect(text(files(fn).onFirstUse)).toContain(`"${operation}"`);
    expect(coldStart(fn)).not.toContain(`"${operation}"`);
  });
});

describe("the webhook bundle", () => {
  it("has no chunks and no deployer: it starts no task and deploys nothing", () => {
    const f = files("webhook");
    expect(f.coldStart).toEqual([f.entry]);
    expect(f.onFirstUse).toEqual([]);
    expect(coldStart("webhook")).not.toContain(DEPLOYER);
  });
});

/** The JSON protocol target prefix of each service, a string only its client holds. */
const SERVICE: Readonly<Record<string, string>> = {
  DynamoDB: "DynamoDB_20120810",
  ECS: "AmazonEC2ContainerServiceV20141113",
  EventBridge: "AWSEvents",
  SSM: "AmazonSSM",
  "Secrets Manager": "secretsmanager",
};
const CLIENTS: Readonly<Record<(typeof HANDLERS)[number], readonly string[]>> = {
  dispatch: ["DynamoDB", "ECS", "EventBridge"],
  track: ["DynamoDB", "ECS", "EventBridge"],
  sweep: ["DynamoDB", "ECS", "EventBridge"],
  // The webhook reads no run and starts no task: the bus, and the secret's store.
  webhook: ["EventBridge", "SSM", "Secrets Manager"],
};

describe.each(HANDLERS)("the %s bundle's SDK clients", (fn) => {
  it.each(Object.keys(SERVICE))("%s: held only where the function calls it", (service) => {
    expect(coldStart(fn).includes(SERVICE[service]!)).toBe(CLIENTS[fn].includes(service));
  });
});

// The targets of issue 8, kept as functions grew (BENCHMARKS.md has the sizes and their import times).
describe("bundle sizes", () => {
  it("dispatch's entry file is at most 300 KiB", () => {
    expect(statSync(files("dispatch").entry).size).toBeLessThanOrEqual(300 * KiB);
  });

  it.each(["track", "sweep", "webhook"])("%s's cold start loads fewer bytes than dispatch's", (fn) => {
    expect(bytes(files(fn).coldStart)).toBeLessThan(bytes(files("dispatch").coldStart));
  });
});
