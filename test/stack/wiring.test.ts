/**
 * The packaged stack, wired end to end: each rule and schedule of the
 * template that the real `serverless package` makes of the example catalog,
 * given a real-shaped event (events/*.json adapted to the catalog's buckets,
 * repos and jobs), delivered with its target input applied exactly as
 * EventBridge and EventBridge Scheduler document it
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html,
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html;
 * test/support/event-inputs.ts) to the built handler bundle in the function's
 * own deployment package, with the environment the template gives that
 * function, against dynalite, the local ECS endpoint and the local
 * EventBridge endpoint (test/support/stack-harness.ts). Push to deploy goes
 * the whole way: a signed GitHub delivery to the webhook function behind its
 * function URL, the migrations task it starts, the deploy chained after it,
 * and the ECS deployment followed by its own state change events to its end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog, Trigger } from "../../src/core/catalog/types.ts";
import type { BusEvent } from "../../src/core/events/envelope.ts";
import { buildAction, runContext } from "../../src/core/plan.ts";
import { buildRouter } from "../../src/core/router.ts";
import { nextFireTimes, parseSchedule } from "../../src/core/schedule/index.ts";
import { schedulerTime } from "../support/event-inputs.ts";
import type { FakeTask } from "../support/fake-ecs.ts";
import { deepMerge, WiredStack, type Invocation, type RunCost, type Template } from "../support/stack-harness.ts";
import { github, sample } from "../webhook/support.ts";
import { packageCatalog } from "./package.ts";

const root = new URL("../../", import.meta.url);
const catalogText = readFileSync(new URL("berth.yml", root), "utf8");
const STAGE = "dev";

const loaded = loadCatalog(catalogText, "berth.yml");
if (!loaded.ok) throw new Error(`the example catalog must load: ${loaded.error.message}`);
const catalog: Catalog = loaded.catalog;
let wired: WiredStack;

beforeAll(async () => {
  const { template, packageDir } = await packageCatalog(catalogText, { stage: STAGE });
  wired = await WiredStack.start({ template: template as Template, artifacts: packageDir, catalog, stage: STAGE, samples: new URL("events/", root) });
}, 120_000);

afterAll(async () => {
  await wired?.close();
});

const functionOf = (i: Invocation) => wired.stack.functions.get(i.functionId)?.name ?? i.functionId;
const handlerOf = (i: Invocation) => wired.stack.functions.get(i.functionId)?.handler;

/** Fails with the function's own log lines when an invocation threw. */
function expectNoFailures(invocations: readonly Invocation[]): void {
  expect(invocations.filter((i) => i.error !== undefined).map((i) => `${functionOf(i)} (${i.cause}) threw ${String(i.error)}\n${i.logs}`)).toEqual([]);
}

async function newInvocations(action: () => Promise<unknown>): Promise<Invocation[]> {
  const before = wired.cloud.invocations.length;
  await action();
  return wired.cloud.invocations.slice(before);
}

const ruleTriggers = Object.values(catalog.jobs).flatMap((job) => job.triggers.filter((t) => t.kind !== "schedule").map((trigger) => ({ job, trigger })));

describe("the packaged example stack, wired", () => {
  it("has dispatch, track and sweep, and each starts from its own package with the environment its template gives it", async () => {
    const handlers = [...wired.stack.functions.values()].map((f) => f.handler);
    expect(handlers).toEqual(expect.arrayContaining(["dist/handlers/dispatch.handler", "dist/handlers/track.handler", "dist/handlers/sweep.handler"]));
    const sweep = [...wired.stack.functions.values()].find((f) => f.handler === "dist/handlers/sweep.handler")!;
    const invocation = await wired.cloud.invoke(sweep.logicalId, {}, "a direct call");
    expectNoFailures([invocation]);
    expect(invocation.result).toMatchObject({ open: expect.any(Number) });
  });

  it.each(ruleTriggers.map(({ job, trigger }) => [job.name, trigger.kind, job, trigger] as const))(
    "%s: its %s event fires its rule, and that job's run starts (a run record for it, RunTask for a run job; for a deploy job, the image it renders from the event deployed, followed to SUCCEEDED)",
    async (_name, _kind, job, trigger) => {
      const built = wired.eventFor(job.name, trigger)!;
      const bus = wired.busNamed(built.bus);
      expect(wired.stack.matchingRules(bus, built.event).map((r) => r.name), `a ${trigger.kind} event on bus ${bus} fires a rule`).not.toEqual([]);
      const before = await wired.runs();
      const launched = wired.ecs.stats.tasksLaunched;
      const invocations = await newInvocations(() => wired.cloud.putEvent(bus, built.event, `${trigger.kind} event`));
      expectNoFailures(invocations);
      // The rules it fires are those of every job the catalog routes it to (an image push of api is deployed and scanned).
      const routed = buildRouter(catalog).match(built.event);
      expect(routed.map((r) => r.job.name), "the catalog routes the event to the job").toContain(job.name);
      const dispatched = invocations.filter((i) => i.cause.endsWith(`(${trigger.kind} event)`));
      expect(dispatched.map((i) => [handlerOf(i), (i.payload as { job?: string }).job]), "what the event invoked").toEqual(routed.map((r) => ["dist/handlers/dispatch.handler", r.job.name]));
      const own = dispatched.find((i) => (i.payload as { job?: string }).job === job.name)!;
      expect(own.result, "dispatch's answer").toMatchObject({ outcomes: [expect.objectContaining({ kind: "accepted", job: job.name })] });
      const started = (await wired.runs()).filter((r) => !before.some((b) => b.id === r.id) && r.job === job.name);
      expect(started.map((r) => r.trigger.kind), "one new run of the job").toEqual([trigger.kind]);
      if (job.action.kind === "run") {
        expect(wired.ecs.stats.tasksLaunched, "RunTask started a task for each run job the event fired").toBe(launched + routed.filter((r) => r.job.action.kind === "run").length);
        const task = wired.ecs.tasks.get(started[0]!.attempts[0]!.taskArn!) as FakeTask;
        expect(task.startedBy).toBe(`berth/${started[0]!.id}`);
        expect(task.taskDefinitionArn).toContain(`task-definition/${job.action.taskDefinition}:`);
      } else {
        const { cluster, service, container } = job.action;
        const run = started[0]!;
        const revision = run.attempts[0]?.taskArn;
        expect(revision, "the revision berth registered is the attempt's task ARN").toMatch(new RegExp(`^arn:aws:ecs:us-east-1:123456789012:task-definition/${service}:\\d+$`));
        expect(wired.ecs.revisions(service).find((r) => r.arn === revision)?.tags).toEqual(expect.arrayContaining([{ key: "berth:job", value: job.name }, { key: "berth:run", value: run.id }]));
        // What the job's deploy renders from the event, as `berth explain` shows it.
        const route = routed.find((r) => r.job.name === job.name)!;
        const context = runContext(route, built.event as BusEvent);
        if (!context.ok) throw context.error;
        const planned = buildAction(job, context.context, { runId: run.id, attempt: 1, jobName: job.name });
        if (!planned.ok || planned.action.kind !== "deploy") throw new Error(`${job.name}: no deploy plan`);
        expect((await wired.followDeployment(run.id)).status).toBe("SUCCEEDED");
        expect(wired.ecs.serving(cluster, service)).toEqual({ taskDefinition: revision, images: { [container]: planned.action.plan.image } });
      }
    },
  );

  it.each<[string, string, () => Record<string, unknown>]>([
    ["an upload to a bucket no job watches", "default", () => wired.sample("s3-object-created-other-bucket.json")],
    ["an upload outside the watched key prefix", "default", () => deepMerge(wired.sample("s3-object-created.json"), { detail: { object: { key: "elsewhere/cat.png" } } })],
    ["a push to a branch no job deploys", "berth", () => deepMerge(wired.sample("git-push.json"), { detail: { ref: "refs/heads/feature", branch: "feature" } })],
    ["a run state change no job chains to", "berth", () => deepMerge(wired.sample("run-succeeded.json"), { detail: { job: "reindex" } })],
    ["a manual run of a job with no manual trigger", "berth", () => deepMerge(wired.sample("manual-run.json"), { detail: { job: "thumbnails" } })],
    ["an ECR push of a repository no job scans", "default", () => deepMerge(wired.sample("ecr-image-push.json"), { detail: { "repository-name": "billing" } })],
    ["a task state change of a task someone else started", "default", () => deepMerge(wired.sample("ecs-task-state-change-running.json"), { detail: { startedBy: "ecs-svc/1234567890" } })],
    ["a deployment of a service no job deploys", "default", () => ({ ...wired.sample("ecs-deployment-state-change.json"), resources: ["arn:aws:ecs:us-east-1:123456789012:service/web/billing"] })],
  ])("%s invokes nothing and starts nothing", async (_what, kind, build) => {
    const event = build();
    const bus = wired.busNamed(kind);
    const runs = (await wired.runs()).length;
    const calls = wired.ecs.stats.runTaskCalls;
    const invocations = await newInvocations(() => wired.cloud.putEvent(bus, event));
    expect(invocations.map((i) => `${functionOf(i)} via ${i.cause}`)).toEqual([]);
    expect((await wired.runs()).length).toBe(runs);
    expect(wired.ecs.stats.runTaskCalls).toBe(calls);
  });

  it("an upload dispatch rejects (a key S3 would never send) reaches the rejected-events queue through the rejected-events rule, as { reason, job, event }, and starts nothing", async () => {
    const job = catalog.jobs["thumbnails"]!;
    const built = wired.eventFor(job.name, job.triggers.find((t) => t.kind === "s3")!)!;
    const event = deepMerge(built.event, { detail: { object: { key: "incoming/%E0%A4%A.png" } } });
    const bus = wired.busNamed(built.bus);
    expect(wired.stack.matchingRules(bus, event).map((r) => r.name), "the upload still fires the job's rule").not.toEqual([]);
    const runs = (await wired.runs()).length;
    const calls = wired.ecs.stats.runTaskCalls;
    const delivered = wired.cloud.deliveries.length;
    const refused = wired.cloud.refused.length;
    const invocations = await newInvocations(() => wired.cloud.putEvent(bus, event, "upload"));
    expectNoFailures(invocations);
    expect(invocations.map(handlerOf)).toEqual(["dist/handlers/dispatch.handler"]);
    expect(invocations[0]!.result).toEqual({ outcomes: [{ kind: "rejected", job: "thumbnails", reason: expect.stringContaining("not valid URL encoding") }] });
    const queueArn = wired.stack.resolver.getAtt("RejectedEventsQueue", "Arn");
    expect(wired.cloud.refused.slice(refused), "no queue refused a delivery").toEqual([]);
    const messages = wired.cloud.deliveries.slice(delivered).filter((d) => d.to.kind === "sqs" && d.to.queueArn === queueArn);
    expect(messages.map((m) => m.cause)).toEqual([`rule ${wired.stack.resolver.ref("RejectedEventsRule")}`]);
    expect(JSON.parse(messages[0]!.payload)).toEqual({ reason: expect.stringContaining("not valid URL encoding"), job: "thumbnails", event });
    expect((await wired.runs()).length).toBe(runs);
    expect(wired.ecs.stats.runTaskCalls).toBe(calls);
  });

  it("each schedule runs its job at the scheduled time in the job's time zone, with that time as the run's idempotency key, and a Scheduler retry of the same time starts nothing new", async () => {
    const scheduled = Object.values(catalog.jobs).flatMap((job) => job.triggers.filter((t): t is Extract<Trigger, { kind: "schedule" }> => t.kind === "schedule").map((trigger) => ({ job, trigger })));
    expect(scheduled.map((s) => s.job.name)).toContain("nightly-backup");
    for (const { job, trigger } of scheduled) {
      const candidates = wired.stack.schedules.filter((s) => s.expression === trigger.awsExpression && (s.timezone ?? "UTC") === trigger.timezone);
      expect(candidates.length, `${job.name}: a schedule ${trigger.awsExpression} in ${trigger.timezone}`).toBeGreaterThan(0);
      const parsed = parseSchedule(trigger.awsExpression);
      if (!parsed.ok) throw new Error(parsed.error.message);
      const [due] = nextFireTimes(parsed.schedule, { timezone: trigger.timezone, after: Date.parse("2024-11-26T00:00:00Z"), count: 1 });
      const scheduledTime = schedulerTime(new Date(due!));
      const before = await wired.runs();
      const launched = wired.ecs.stats.tasksLaunched;
      // Only the job's own schedule may start a run of it; find it by firing each candidate.
      let fired: (typeof candidates)[number] | undefined;
      for (const schedule of candidates) {
        expectNoFailures(await newInvocations(() => wired.cloud.fireSchedule(schedule, { scheduledTime, executionId: "d32c5kddcf5bb8c3", attemptNumber: 1 })));
        if ((await wired.runs()).some((r) => !before.some((b) => b.id === r.id) && r.job === job.name)) {
          fired = schedule;
          break;
        }
      }
      expect(fired, `${job.name}: its schedule started a run`).toBeDefined();
      const started = (await wired.runs()).filter((r) => !before.some((b) => b.id === r.id));
      expect(started.map((r) => [r.job, r.trigger.kind, r.trigger.idempotencyKey])).toEqual([[job.name, "schedule", `${job.name}#schedule:${scheduledTime}`]]);
      if (job.action.kind === "run") expect(wired.ecs.stats.tasksLaunched).toBe(launched + 1);

      const retry = await newInvocations(() => wired.cloud.fireSchedule(fired!, { scheduledTime, executionId: "e43d6leedg6cc9d4", attemptNumber: 2 }));
      expectNoFailures(retry);
      expect(retry.map((i) => i.result)).toContainEqual({ outcomes: [expect.objectContaining({ kind: "duplicate", job: job.name })] });
      expect((await wired.runs()).length).toBe(before.length + 1);
      expect(wired.ecs.stats.tasksLaunched).toBe(launched + (job.action.kind === "run" ? 1 : 0));
    }
  });

  it("the one-minute sweep schedule invokes the sweep function", async () => {
    const sweeps = wired.stack.schedules.filter((s) => s.expression === "rate(1 minute)");
    expect(sweeps).toHaveLength(1);
    const invocations = await newInvocations(() => wired.cloud.fireSchedule(sweeps[0]!, { scheduledTime: "2024-11-26T18:01:00Z", executionId: "f1a2b3c4d5e6f7a8", attemptNumber: 1 }));
    expectNoFailures(invocations);
    expect(invocations.map(handlerOf)).toEqual(["dist/handlers/sweep.handler"]);
  });

  it("a task's state changes reach track through the task state rule, its run ends SUCCEEDED, and the job chained to it starts from the run state change track publishes", async () => {
    const scheduled = (name: string) => catalog.jobs[name]?.action.kind === "run" && catalog.jobs[name]!.triggers.some((t) => t.kind === "schedule");
    const chained = Object.values(catalog.jobs).flatMap((d) => d.triggers.flatMap((t) => (t.kind === "job" && scheduled(t.job) ? [{ upstream: t.job, downstream: d.name }] : [])));
    expect(chained.length, "the example catalog chains a job to a scheduled run job").toBeGreaterThan(0);
    const { upstream, downstream } = chained[0]!;
    const open = (await wired.runs()).find((r) => r.job === upstream && r.attempts[0]?.taskArn !== undefined && r.status !== "SUCCEEDED");
    expect(open, `an open ${upstream} run from the schedule test`).toBeDefined();
    const invocations = await newInvocations(() => wired.driveTaskToEnd(wired.ecs.tasks.get(open!.attempts[0]!.taskArn!)!, 0));
    expectNoFailures(invocations);
    const tracked = invocations.filter((i) => i.cause.endsWith("(ECS Task State Change)"));
    expect(tracked.map(handlerOf)).toEqual(Array(3).fill("dist/handlers/track.handler"));
    expect(tracked.map((i) => (i.result as { kind?: string }).kind)).toEqual(["updated", "updated", "updated"]);
    expect((await wired.runs()).find((r) => r.id === open!.id)?.status).toBe("SUCCEEDED");
    const next = (await wired.runs()).filter((r) => r.job === downstream && r.trigger.idempotencyKey.includes(open!.id));
    expect(next.map((r) => r.trigger.kind), `${downstream} runs once after ${upstream} succeeded`).toEqual(["job"]);
  });

  it("push to deploy: a signed GitHub push through the webhook's function URL runs migrate-web on the pushed commit, and once that succeeds deploy-web deploys it, SUCCEEDED once ECS reports the deployment completed", async () => {
    const webhookFunction = [...wired.stack.functions.values()].find((f) => f.handler === "dist/handlers/webhook.handler")!;
    expect(webhookFunction.environment.BERTH_WEBHOOK_SECRET_NAME, "berth.yml's webhook: secret").toBe("/acme-jobs/webhook-secret");
    const secret = "wiring-webhook-secret-7d41";
    wired.ssm.putParameter(webhookFunction.environment.BERTH_WEBHOOK_SECRET_NAME!, secret);
    const deploy = catalog.jobs["deploy-web"]!;
    if (deploy.action.kind !== "deploy") throw new Error("deploy-web deploys a service");
    const { cluster, service, container } = deploy.action;

    // GitHub's push payload for a commit made now: newer than every push the tests before sent.
    const sha = randomBytes(20).toString("hex");
    const payload = JSON.parse(sample("github-push.json").toString("utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    payload.after = sha;
    payload.head_commit = { ...payload.head_commit, id: sha, timestamp: new Date().toISOString() };
    const entries = wired.bus.entries.length;
    const answer = await github(await wired.webhook(), { body: JSON.stringify(payload), secret, delivery: randomUUID() });
    expect(answer).toMatchObject({ status: 202, body: { eventId: expect.any(String) } });
    const pushes = wired.bus.entries.slice(entries);
    expect(pushes.map((e) => [e.EventBusName, e.Source, e.DetailType, JSON.parse(e.Detail).sha])).toEqual([[wired.busNamed("berth"), "berth.git", "Git Push", sha]]);

    // EventBridge routes the push through berth's bus to migrate-web's rule; dispatch runs its task with the commit.
    const before = new Set((await wired.runs()).map((r) => r.id));
    const dispatched = await newInvocations(() => wired.cloud.routePublished());
    expectNoFailures(dispatched);
    expect(dispatched.map((i) => [handlerOf(i), i.cause])).toEqual([["dist/handlers/dispatch.handler", expect.stringMatching(/^rule acme-jobs-dev-migrate-web-git-\w+ \(PutEvents Git Push\)$/)]]);
    const migrate = (await wired.runs()).find((r) => !before.has(r.id) && r.job === "migrate-web")!;
    expect(migrate.context["git.sha"]).toBe(sha);
    const task = wired.ecs.tasks.get(migrate.attempts[0]!.taskArn!)!;
    expect(task.overrides).toMatchObject({ containerOverrides: [{ name: "app", command: ["node", "migrate.js", sha] }] });

    // The migrations task exits 0: track ends the run, and its run state change, carrying the push, starts deploy-web, which deploys.
    const registered = wired.ecs.stats.calls.RegisterTaskDefinition ?? 0;
    const updated = wired.ecs.stats.calls.UpdateService ?? 0;
    const chained = await newInvocations(() => wired.driveTaskToEnd(task, 0));
    expectNoFailures(chained);
    expect((await wired.runs()).find((r) => r.id === migrate.id)?.status).toBe("SUCCEEDED");
    const deployRuns = (await wired.runs()).filter((r) => r.job === "deploy-web" && r.trigger.idempotencyKey.includes(migrate.id));
    expect(deployRuns.map((r) => [r.trigger.kind, r.context["git.sha"]])).toEqual([["job", sha]]);
    const run = deployRuns[0]!;
    expect(chained.filter((i) => i.cause.endsWith("(PutEvents Berth Run State Change)") && handlerOf(i) === "dist/handlers/dispatch.handler").map((i) => [i.cause, i.result])).toEqual([
      [expect.stringMatching(/^rule acme-jobs-dev-deploy-web-job-\w+ \(PutEvents Berth Run State Change\)$/), { outcomes: [expect.objectContaining({ kind: "accepted", job: "deploy-web", runId: run.id })] }],
    ]);
    expect([(wired.ecs.stats.calls.RegisterTaskDefinition ?? 0) - registered, (wired.ecs.stats.calls.UpdateService ?? 0) - updated], "one revision registered, one UpdateService").toEqual([1, 1]);
    const revision = run.attempts[0]!.taskArn!;
    expect(revision).toMatch(new RegExp(`^arn:aws:ecs:us-east-1:123456789012:task-definition/${service}:\\d+$`));
    expect(wired.ecs.revisions(service).find((r) => r.arn === revision)?.tags).toEqual(expect.arrayContaining([{ key: "berth:job", value: "deploy-web" }, { key: "berth:run", value: run.id }]));

    // ECS's deployment state changes reach track through the deployment-state rule: RUNNING while it rolls out, SUCCEEDED at steady state.
    const followed = await newInvocations(async () => expect((await wired.followDeployment(run.id)).status).toBe("SUCCEEDED"));
    expectNoFailures(followed);
    const rule = wired.stack.resolver.ref("TrackDeploymentStateRule");
    expect(followed.filter((i) => i.cause === `rule ${rule} (ECS Deployment State Change)`).map((i) => [handlerOf(i), i.result])).toEqual([
      ["dist/handlers/track.handler", { kind: "updated", runId: run.id, job: "deploy-web", status: "RUNNING" }],
      ["dist/handlers/track.handler", { kind: "updated", runId: run.id, job: "deploy-web", status: "SUCCEEDED" }],
    ]);
    expect(wired.ecs.serving(cluster, service)).toEqual({ taskDefinition: revision, images: { [container]: `123456789012.dkr.ecr.us-east-1.amazonaws.com/web:${sha}` } });
    // Its run state change carries the push too, for whatever is chained after the deploy.
    const published = wired.bus.entries.filter((e) => e.DetailType === "Berth Run State Change").map((e) => JSON.parse(e.Detail) as { runId: string; status: string; git?: { sha?: string } });
    expect(published.filter((d) => d.runId === run.id).map((d) => [d.status, d.git?.sha])).toEqual([
      ["STARTING", sha],
      ["RUNNING", sha],
      ["SUCCEEDED", sha],
    ]);
  });

  it("a run that fails reaches the job's notify topic through the notify rule, with the job, run and status in the message", async () => {
    const notifying = Object.values(catalog.jobs).find((j) => j.action.kind === "run" && j.notify.some((n) => n.on.includes("failed")) && j.triggers.some((t) => t.kind === "s3"));
    expect(notifying, "the example catalog notifies on a failed upload job").toBeDefined();
    const topic = notifying!.notify.find((n) => n.on.includes("failed"))!.sns;
    const built = wired.eventFor(notifying!.name, notifying!.triggers.find((t) => t.kind === "s3")!)!;
    await wired.cloud.putEvent(wired.busNamed(built.bus), built.event, "upload");
    const run = (await wired.runs()).find((r) => r.trigger.idempotencyKey.includes(String(built.event.detail.object.key)));
    expect(run?.attempts[0]?.taskArn).toBeDefined();
    const delivered = wired.cloud.deliveries.length;
    const invocations = await newInvocations(() => wired.driveTaskToEnd(wired.ecs.tasks.get(run!.attempts[0]!.taskArn!)!, 1));
    expectNoFailures(invocations);
    expect((await wired.runs()).find((r) => r.id === run!.id)?.status).toBe("FAILED");
    const messages = wired.cloud.deliveries.slice(delivered).filter((d) => d.to.kind === "sns" && d.to.topicArn === topic);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.payload).toContain(notifying!.name);
    expect(messages[0]!.payload).toContain(run!.id);
    expect(messages[0]!.payload).toContain("FAILED");
    console.log(`SNS message for a failed ${notifying!.name} run, as EventBridge fills the notify rule's template:\n${messages[0]!.payload}`);
  });

  it("counts what one plain task run costs, tracked to its end (printed for BENCHMARKS.md)", async () => {
    const plain = Object.values(catalog.jobs).find((j) => j.action.kind === "run" && j.concurrency.overlap === "allow" && !("max" in j.concurrency) && j.triggers.some((t) => t.kind === "s3" || t.kind === "event"));
    expect(plain, "a run job without a concurrency limit, triggered by an AWS event").toBeDefined();
    const cost = await wired.measureTrackedRun(plain!.name);
    expect(cost.status).toBe("SUCCEEDED");
    expect(cost.runTask).toBe(1);
    expect(Object.values(cost.invocations).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4);
    expect(cost.dynamo.tableWriteUnits).toBeGreaterThan(0);
    expect(cost.dynamo.unpriced).toEqual([]);
    console.log(formatCost(cost));
    console.log(cost.dynamo.trace.join("\n"));
  });
});

function formatCost(cost: RunCost): string {
  const d = cost.dynamo;
  const rows: [string, string | number][] = [
    ...Object.entries(cost.invocations).map(([fn, n]) => [`Lambda invocations: ${fn}`, n] as [string, number]),
    ["Lambda GB-s (wall time here × memory)", cost.gbSeconds.toFixed(4)],
    ...Object.entries(d.requests).map(([op, n]) => [`DynamoDB ${op} requests`, n] as [string, number]),
    ["DynamoDB read request units", d.readUnits],
    ["DynamoDB write request units: table", d.tableWriteUnits],
    ...Object.entries(d.indexWriteUnitsByIndex).map(([ix, n]) => [`DynamoDB write request units: index ${ix}`, n] as [string, number]),
    ["DynamoDB conditional writes refused", d.conditionalFailures],
    ["EventBridge PutEvents calls / entries", `${cost.putEventsCalls} / ${cost.putEventsEntries}`],
    ["ECS RunTask / DescribeTasks / StopTask", `${cost.runTask} / ${cost.describeTasks} / ${cost.stopTask}`],
    ["Other target deliveries (SNS)", cost.otherDeliveries],
    ["Scheduler invocations", cost.schedulerInvocations],
  ];
  return [`Requests for one run of ${cost.job} (${cost.status}):`, "| what | per run |", "| --- | --- |", ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join("\n");
}
