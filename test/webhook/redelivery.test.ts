/**
 * From a GitHub delivery to an ECS task, through the built bundles: the webhook function behind
 * its function URL puts the Git Push event on the bus; each event is routed as the stack's rules
 * route it (the compiled catalog's dispatch rules on berth's bus, input `{ job, event }`, a new
 * event id per PutEvents as EventBridge gives one) to the dispatch bundle, against dynalite and the
 * local ECS endpoint. A redelivery is answered with the same event id and launches nothing new;
 * a push to a branch no job watches is answered 200 and launches nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { runTableDefinition } from "../../src/aws/dynamo-run-store.ts";
import type { CompiledCatalog } from "../../src/core/catalog/compiled.ts";
import { compilePattern, matchesPattern } from "../../src/core/match/compile.ts";
import { createTable, startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { functionPackage, type FunctionPackage } from "../handlers/lambda.ts";
import { startFakeEcs, type FakeEcs } from "../support/fake-ecs.ts";
import { startFakeEventBridge, type FakeEventBridge, type PutEntry } from "../support/fake-eventbridge.ts";
import { startFakeSsm, type FakeSsm } from "../support/fake-ssm.ts";
import type { FunctionUrl } from "../support/function-url.ts";
import { BASE_ENV, compiledCatalogJson, github, sample, webhookFunction } from "./support.ts";

const SECRET = "redelivery-secret-5b1c";
const pushBody = sample("github-push.json");
const catalogJson = compiledCatalogJson();
const compiled = JSON.parse(catalogJson) as CompiledCatalog;

let dynamo: LocalDynamo;
let ecs: FakeEcs;
let bus: FakeEventBridge;
let ssm: FakeSsm;
let webhook: FunctionUrl;
let pkg: FunctionPackage;

beforeAll(async () => {
  [dynamo, ecs, bus, ssm] = await Promise.all([startDynalite(), startFakeEcs(), startFakeEventBridge(), startFakeSsm()]);
  await createTable(dynamo.client(), runTableDefinition("berth-hooks-runs"));
  ssm.putParameter("/berth/hooks/secret", SECRET, { at: new Date(Date.now() - 86_400_000) });
  webhook = await webhookFunction({ eventbridge: bus.url, ssm: ssm.url }, { BERTH_WEBHOOK_SECRET_SOURCE: "ssm", BERTH_WEBHOOK_SECRET_NAME: "/berth/hooks/secret" }, catalogJson);
  pkg = functionPackage(compiled);
});
afterAll(async () => {
  await webhook?.close();
  await Promise.all([dynamo?.close(), ecs?.close(), bus?.close(), ssm?.close()]);
});

/** What EventBridge delivers to dispatch for a Git Push entry: one input per dispatch rule on berth's bus that matches. */
function dispatchInputs(entry: PutEntry): { job: string; event: Record<string, unknown> }[] {
  const event = {
    version: "0",
    id: randomUUID(),
    "detail-type": entry.DetailType,
    source: entry.Source,
    account: "123456789012",
    time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: "us-east-1",
    resources: entry.Resources ?? [],
    detail: JSON.parse(entry.Detail) as unknown,
  };
  return compiled.rules.flatMap((rule) =>
    rule.target.kind === "dispatch" && rule.bus.kind === "berth" && matchesPattern(compilePattern(rule.pattern), event) ? [{ job: rule.target.job, event }] : [],
  );
}

describe("a GitHub push from the webhook to dispatch", () => {
  it("a delivery and its redelivery: the same event id, two events on the bus, one run and one task", async () => {
    const before = bus.entries.length;
    const delivery = "4e5f6a7b-0d55-11f0-8b1e-6b5f1d3c9a77";
    const first = await github(webhook, { body: pushBody, secret: SECRET, delivery });
    const redelivered = await github(webhook, { body: pushBody, secret: SECRET, delivery });
    expect([first.status, redelivered.status]).toEqual([202, 202]);
    expect(redelivered.body.eventId).toBe(first.body.eventId);

    const pushes = bus.entries.slice(before).filter((e) => e.DetailType === "Git Push");
    expect(pushes).toHaveLength(2);
    const inputs = pushes.flatMap(dispatchInputs);
    expect(inputs.map((i) => i.job)).toEqual(["deploy-web", "deploy-web"]);
    expect(inputs[0]!.event.id).not.toBe(inputs[1]!.event.id);

    const launched = ecs.stats.tasksLaunched;
    const dispatched = await pkg.run("dispatch", inputs, {
      ...BASE_ENV,
      BERTH_TABLE: "berth-hooks-runs",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_ECS: ecs.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
    });
    expect(dispatched.invocations).toMatchObject([
      { ok: true, value: { outcomes: [{ kind: "accepted", job: "deploy-web" }] } },
      { ok: true, value: { outcomes: [{ kind: "duplicate", job: "deploy-web" }] } },
    ]);
    expect(ecs.stats.tasksLaunched - launched).toBe(1);
    const [task] = [...ecs.tasks.values()].slice(-1);
    expect(task?.overrides).toMatchObject({ containerOverrides: [{ name: "app", command: ["deploy", "9fceb02d0ae598e95dc970b74767f19372d61af8"] }] });
  });

  it("a push to a branch no job watches is answered 200 with the reason, and nothing reaches the bus or ECS", async () => {
    const before = bus.entries.length;
    const launched = ecs.stats.tasksLaunched;
    const body = Buffer.from(JSON.stringify({ ...JSON.parse(pushBody.toString("utf8")), ref: "refs/heads/experiment" }));
    const answer = await github(webhook, { body, secret: SECRET, delivery: "5f6a7b8c-0d55-11f0-8b1e-6b5f1d3c9a77" });
    expect(answer).toMatchObject({ status: 200, body: { message: "ignored: no job watches github pushes to acme/web refs/heads/experiment" } });
    expect(bus.entries.slice(before)).toEqual([]);
    expect(ecs.stats.tasksLaunched).toBe(launched);
  });
});
