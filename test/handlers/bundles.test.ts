/**
 * What each handler bundle leaves out (src/aws/compose.ts, scripts/build.mjs), read from the bundles the
 * functions deploy (built by the test setup): each marker is a string only that code holds, and
 * minifying keeps strings.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const HANDLERS = ["dispatch", "track", "sweep", "webhook"] as const;
const bundle = (fn: string) => readFileSync(new URL(`../../dist/handlers/${fn}.mjs`, import.meta.url), "utf8");

const LEFT_OUT: readonly (readonly [string, string])[] = [
  ["the SQS client: dispatch puts the events it rejects on berth's bus", "\"SQSClient\""],
  ["the DynamoDB document client: the run store marshals its own items", "@aws-sdk/lib-dynamodb"],
  ["the event-pattern validator: the compiled catalog's patterns were validated when it was compiled", "is an operator name"],
  ["DynamoDB endpoint discovery's cache, which no DynamoDB command uses", "mnemonist"],
];

/** A message only that flow of the engine holds. */
const FLOW: Readonly<Record<string, string>> = {
  dispatch: "does not match any trigger of job",
  track: "which this store does not know",
};

describe.each(HANDLERS)("the %s bundle", (fn) => {
  it.each(LEFT_OUT)("leaves out %s", (_what, marker) => {
    expect(bundle(fn)).not.toContain(marker);
  });

  it("holds its own flow of the engine and no other function's", () => {
    for (const [flow, marker] of Object.entries(FLOW)) expect(bundle(fn).includes(marker), `${flow}'s flow`).toBe(flow === fn);
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
    expect(bundle(fn).includes(SERVICE[service]!)).toBe(CLIENTS[fn].includes(service));
  });
});
