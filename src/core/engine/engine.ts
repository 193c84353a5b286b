/**
 * The engine runs berth's flows over the ports: dispatch (event → run →
 * task), tracking (task events → run), the sweep, cancel and manual runs.
 * Every decision comes from the pure run model (../runs); the engine only
 * orders the side effects so that a crash between any two of them is
 * repaired by a redelivery or the next sweep:
 *
 *   1. the run is written first, QUEUED, under its idempotency key
 *      (a duplicate delivery finds it and resumes, never launches twice);
 *   2. admission takes a concurrency slot atomically, then STARTING is stored;
 *   3. RunTask is sent with the attempt's clientToken (a re-send after a
 *      crash starts no second task); the task ARN is stored;
 *   4. run state changes are published after they are stored.
 *
 * The AWS handlers and the local runtime both drive this class.
 */
import type { Router, Route } from "../router.ts";
import type { Job } from "../catalog/types.ts";
import type { BusEvent } from "../events/envelope.ts";
import type { Clock, Publisher, RunStore, ServiceDeployer, TaskLauncher } from "../ports.ts";
import { asBusEvent } from "../events/envelope.ts";
import { buildAction, runContext } from "../plan.ts";
import { newRunId, runIdFromStartedBy, startedByFor } from "../ids.ts";
import { withFallbackLaunch } from "../ecs/run-task.ts";
import { isBerthError, TransientError } from "../errors.ts";
import {
  cancelRun,
  concurrencyCap,
  createRun,
  currentAttempt,
  decideAdmission,
  decideQueueDrain,
  decideSweep,
  idempotencyKey,
  isTerminal,
  publishEffect,
  reconcileTask,
  recordLaunch,
  recordTaskState,
  runPolicyFor,
  startQueuedRun,
  touch,
  transition,
  type Effect,
  type Run,
  type RunPolicy,
  type SweepOptions,
} from "../runs/index.ts";
import type { EcsTaskState } from "../runs/task-state.ts";
import { occurrenceOf, triggerSummaryOf } from "./occurrence.ts";
import { clusterOfTaskArn, parseTaskStateEvent } from "../events/ecs-task.ts";

export interface EngineDeps {
  readonly router: Router;
  readonly store: RunStore;
  readonly launcher: TaskLauncher;
  readonly publisher: Publisher;
  /** For deploy actions; without one, deploy runs fail with a message saying so. */
  readonly deployer?: ServiceDeployer;
  readonly clock: Clock;
  /** Cryptographic randomness for run ids. */
  readonly randomBytes: (n: number) => Uint8Array;
  readonly sweep?: SweepOptions;
  /** Slots held by runs that do not exist for this long are freed by the sweep (a crash between taking the slot and writing the run). */
  readonly orphanSlotAfterMs?: number;
}

export type DispatchOutcome =
  | { readonly kind: "rejected"; readonly job?: string; readonly reason: string }
  | { readonly kind: "duplicate"; readonly job: string; readonly runId: string; readonly status: string }
  | { readonly kind: "accepted"; readonly job: string; readonly runId: string; readonly status: string; readonly reason?: string; readonly deferred?: boolean };

export type TrackOutcome =
  | { readonly kind: "rejected"; readonly reason: string }
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "updated" | "duplicate" | "stale" | "unknown-task"; readonly runId: string; readonly status: string };

export interface SweepReport {
  readonly open: number;
  readonly changed: number;
  readonly relaunched: number;
  readonly reconciled: number;
  /** Ended runs whose final state change was published again (the first publish was interrupted). */
  readonly announced: number;
  readonly slotsFreed: number;
}

type Decision = { readonly ok: true; readonly run: Run; readonly effects: readonly Effect[] } | { readonly ok: false; readonly error: Error };

const MAX_CONFLICT_RETRIES = 8;
const DEFAULT_ORPHAN_SLOT_MS = 60_000;
const ANNOUNCE_GRACE_MS = 30_000;
/** Queued runs started per drain; the next drain (a run ending, the sweep) starts more. */
const MAX_DRAIN = 1000;

export class Engine {
  private readonly policies: Readonly<Record<string, RunPolicy>>;

  constructor(private readonly deps: EngineDeps) {
    this.policies = Object.fromEntries(Object.values(deps.router.catalog.jobs).map((j) => [j.name, runPolicyFor(j)]));
  }

  get catalog() {
    return this.deps.router.catalog;
  }

  /**
   * An event for the catalog (local bus), or for one job (`jobName`: on AWS
   * each rule's target names its job). Returns one outcome per job fired.
   */
  async dispatch(input: unknown, jobName?: string): Promise<DispatchOutcome[]> {
    const parsed = asBusEvent(input);
    if (!parsed.ok) return [{ kind: "rejected", ...(jobName ? { job: jobName } : {}), reason: parsed.error }];
    const event = parsed.event;
    if (jobName !== undefined && !Object.hasOwn(this.catalog.jobs, jobName)) {
      return [{ kind: "rejected", job: jobName, reason: `no job named "${jobName}" in the catalog` }];
    }
    const seen = new Set<string>();
    const routes = this.deps.router.match(event).filter((r) => (jobName === undefined || r.job.name === jobName) && !seen.has(r.job.name) && seen.add(r.job.name));
    if (routes.length === 0 && jobName !== undefined) {
      return [{ kind: "rejected", job: jobName, reason: `the event does not match any trigger of job "${jobName}"` }];
    }
    const out: DispatchOutcome[] = [];
    for (const route of routes) out.push(await this.dispatchRoute(route, event));
    return out;
  }

  private async dispatchRoute(route: Route, event: BusEvent): Promise<DispatchOutcome> {
    const job = route.job;
    const ctx = runContext(route, event);
    if (!ctx.ok) return { kind: "rejected", job: job.name, reason: ctx.error };
    const now = this.now();
    const id = newRunId(now, this.deps.randomBytes(10));
    let key: string;
    try {
      key = idempotencyKey(job.name, occurrenceOf(route.trigger, ctx.context, event, id));
    } catch (e) {
      if (isBerthError(e) && !e.retryable) return { kind: "rejected", job: job.name, reason: e.message };
      throw e;
    }
    const params = Object.fromEntries(Object.entries(ctx.context).filter(([k]) => k.startsWith("params.")).map(([k, v]) => [k.slice(7), v]));
    const { run } = createRun(
      {
        id,
        job: job.name,
        service: this.catalog.service,
        trigger: { kind: route.trigger.kind, summary: triggerSummaryOf(route.trigger, ctx.context, event), idempotencyKey: key },
        context: ctx.context,
        ...(route.trigger.kind === "manual" ? { params } : {}),
      },
      { decision: "queue" },
      now,
      this.policies[job.name]!,
    );
    const created = await this.deps.store.createRun(run);
    if (!created.created) {
      const resumed = await this.resume(created.existing);
      return { kind: "duplicate", job: job.name, runId: resumed.id, status: resumed.status };
    }
    const admitted = await this.admit(created.run, true);
    // STARTING without a task: ECS throttled the launch past the SDK's retries; the sweep or a redelivery re-sends it.
    const deferred = admitted.status === "STARTING" && currentAttempt(admitted)?.taskArn === undefined;
    return {
      kind: "accepted",
      job: job.name,
      runId: admitted.id,
      status: admitted.status,
      ...(admitted.reason ? { reason: admitted.reason } : {}),
      ...(deferred ? { deferred: true } : {}),
    };
  }

  /** A redelivered occurrence: finish whatever a crash interrupted, launch nothing new. */
  private async resume(run: Run): Promise<Run> {
    if (run.status === "QUEUED") return this.admit(run, false);
    const attempt = currentAttempt(run);
    if (run.status === "STARTING" && attempt && attempt.taskArn === undefined) {
      return (await this.execute(run, [{ type: "launch", runId: run.id, attempt: attempt.number, clientToken: attempt.clientToken, launch: attempt.launch }])) ?? run;
    }
    return run;
  }

  /** QUEUED run → STARTING (a slot was free), SKIPPED (forbid), or still QUEUED. */
  private async admit(run: Run, announce: boolean): Promise<Run> {
    const job = this.catalog.jobs[run.job];
    if (!job) return run;
    const policy = job.concurrency;
    const cap = concurrencyCap(policy);
    if (!Number.isFinite(cap)) {
      // No limit: nothing to count, nothing ever waits.
      return (await this.apply(run, (r) => startQueuedRun(r, this.now(), this.policies[job.name]!))) ?? run;
    }
    // Slot holders are the active runs (a slot is held from admission until the run ends); a queue is
    // first in, first out, so only whether an older run waits matters. Neither reads all of the job's runs.
    const active = (await this.deps.store.slotHolders(job.name)).filter((h) => h.runId !== run.id).map((h) => ({ id: h.runId, createdAt: h.since }));
    const queuedAhead = (await this.deps.store.listQueuedRuns(job.name, 1)).filter((r) => r.id < run.id).length;
    let admission = decideAdmission(policy, active, queuedAhead);
    if (admission.decision === "replace") {
      for (const id of admission.cancel) await this.cancel(id, `replaced by run ${run.id} (overlap: replace)`);
    }
    if (admission.decision === "start" || admission.decision === "replace") {
      const now = this.now();
      if (!(await this.deps.store.acquireSlot(job.name, run.id, cap, now))) {
        // Another dispatch took the last slot between our read and our claim.
        const full = Array.from({ length: cap }, (_, i) => ({ id: `slot-${i}`, createdAt: 0 }));
        admission = decideAdmission({ ...policy, overlap: policy.overlap === "replace" ? "queue" : policy.overlap }, full, 0);
      } else {
        return (await this.apply(run, (r) => startQueuedRun(r, this.now(), this.policies[job.name]!))) ?? run;
      }
    }
    if (admission.decision === "skip") {
      const reason = admission.reason;
      return (await this.apply(run, (r) => {
        const moved = transition(r, "SKIPPED", this.now(), { reason });
        return moved.ok ? { ok: true, run: moved.run, effects: [publishEffect(moved.run)] } : moved;
      })) ?? run;
    }
    if (announce) await this.publish([publishEffect(run)]);
    return run;
  }

  /** An `ECS Task State Change` event. */
  async recordTaskEvent(input: unknown): Promise<TrackOutcome> {
    const parsed = parseTaskStateEvent(input);
    if (!parsed.ok) return { kind: "rejected", reason: parsed.error };
    const task = parsed.task;
    const runId = task.startedBy ? runIdFromStartedBy(task.startedBy) : undefined;
    if (!runId) return { kind: "ignored", reason: `task ${task.taskArn} was not started by berth (startedBy ${JSON.stringify(task.startedBy ?? null)})` };
    const run = await this.deps.store.getRun(runId);
    if (!run) return { kind: "ignored", reason: `task ${task.taskArn} names run ${runId}, which this store does not know` };
    const policy = this.policyOf(run);
    let outcome: "updated" | "duplicate" | "stale" | "unknown-task" = "stale";
    const stored = await this.apply(run, (r) => {
      const result = recordTaskState(r, task, this.now(), policy);
      outcome = result.outcome;
      return { ok: true, run: result.run, effects: result.effects };
    });
    return { kind: outcome, runId, status: (stored ?? run).status };
  }

  /** Cancel a run: its task is stopped, its slot freed. Ending an ended run is a no-op. */
  async cancel(runId: string, reason: string): Promise<Run | undefined> {
    const run = await this.deps.store.getRun(runId);
    if (!run) return undefined;
    if (isTerminal(run.status)) return run;
    return (await this.apply(run, (r) => cancelRun(r, this.now(), reason))) ?? run;
  }

  /** Timeouts, due retries, interrupted launches, queued runs, quiet tasks, leaked slots. Safe to run concurrently. */
  async sweep(overrides: SweepOptions = {}): Promise<SweepReport> {
    const now = this.now();
    const open = await this.deps.store.listOpenRuns();
    const options = { ...this.deps.sweep, ...overrides };
    const decision = decideSweep(open, now, this.policies, options);
    const byId = new Map(open.map((r) => [r.id, r]));
    let changed = 0;
    let relaunched = 0;
    const reconcile: { run: Run; taskArn: string }[] = [];
    for (const item of decision.items) {
      const original = byId.get(item.run.id)!;
      // Quiet tasks are asked about in batches below, one DescribeTasks per cluster.
      const quiet = item.effects.flatMap((e) => (e.type === "reconcile" ? [{ run: original, taskArn: e.taskArn }] : []));
      if (quiet.length > 0) {
        reconcile.push(...quiet);
        continue;
      }
      if (item.changed) changed++;
      if (!item.changed && item.effects.some((e) => e.type === "launch")) relaunched++;
      await this.apply(original, (r) => {
        const again = decideSweep([r], this.now(), this.policies, options).items[0];
        return { ok: true, run: again?.run ?? r, effects: again?.effects ?? [] };
      });
    }
    const reconciled = await this.reconcile(reconcile);
    const announced = await this.announcePending(open, now);
    const slotsFreed = await this.freeOrphanSlots(now);
    for (const e of decision.effects) await this.execute(undefined, [e]);
    return { open: open.length, changed, relaunched, reconciled, announced, slotsFreed };
  }

  /**
   * Records that an ended run's final state was published, so stores stop
   * listing it as open. Publishing happens before this write: a crash in
   * between publishes twice, which chained jobs absorb (their idempotency
   * key is the upstream run and status), never zero times.
   */
  private async markAnnounced(run: Run): Promise<Run> {
    if (run.announced) return run;
    const marked = touch(run, this.now(), { announced: true });
    const res = await this.deps.store.updateRun(marked, run.version);
    return res.ok ? res.run : (res.current ?? run);
  }

  /** Ended runs left unannounced by an interrupted publish: publish them again. */
  private async announcePending(open: readonly Run[], now: number): Promise<number> {
    let n = 0;
    for (const run of open) {
      // Give the writer that ended the run time to publish it itself.
      if (!isTerminal(run.status) || run.announced || now - run.updatedAt < ANNOUNCE_GRACE_MS) continue;
      await this.publish([publishEffect(run)]);
      await this.markAnnounced(run);
      n++;
    }
    return n;
  }

  /** Ask ECS about quiet tasks, one DescribeTasks per cluster. */
  private async reconcile(items: readonly { run: Run; taskArn: string }[]): Promise<number> {
    const byCluster = new Map<string, { run: Run; taskArn: string }[]>();
    const deploys = items.filter((it) => this.isDeploy(it.run));
    let n = 0;
    if (deploys.length > 0 && this.deps.deployer) {
      const described = await this.deps.deployer.describe(deploys.map((d) => d.taskArn));
      n += await this.applyDescribed(deploys, described);
    }
    for (const it of items) {
      if (deploys.includes(it)) continue;
      const cluster = clusterOfTaskArn(it.taskArn) ?? this.clusterOf(it.run.job);
      if (cluster) byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), it]);
    }
    for (const [cluster, list] of byCluster) {
      n += await this.applyDescribed(list, await this.deps.launcher.describeTasks(cluster, list.map((i) => i.taskArn)));
    }
    return n;
  }

  private async applyDescribed(
    list: readonly { run: Run; taskArn: string }[],
    described: { readonly tasks: readonly EcsTaskState[]; readonly missing: readonly string[] },
  ): Promise<number> {
    let n = 0;
    for (const it of list) {
      const task = described.tasks.find((t) => t.taskArn === it.taskArn);
      const answer = task ?? (described.missing.includes(it.taskArn) ? "missing" : undefined);
      if (answer === undefined) continue;
      n++;
      await this.apply(it.run, (r) => {
        const res = reconcileTask(r, answer, this.now(), this.policyOf(r));
        return { ok: true, run: res.run, effects: res.effects };
      });
    }
    return n;
  }

  private async freeOrphanSlots(now: number): Promise<number> {
    let freed = 0;
    const grace = this.deps.orphanSlotAfterMs ?? DEFAULT_ORPHAN_SLOT_MS;
    for (const job of Object.values(this.catalog.jobs)) {
      if (!Number.isFinite(concurrencyCap(job.concurrency))) continue;
      const holders = await this.deps.store.slotHolders(job.name);
      for (const h of holders) {
        const run = await this.deps.store.getRun(h.runId);
        // Runs are written before they take a slot; a holder without a run is left by a deleted record. The grace
        // period covers a read racing a brand-new run on an eventually consistent index.
        const orphan = run ? isTerminal(run.status) : now - h.since >= grace;
        if (orphan) {
          await this.deps.store.releaseSlot(job.name, h.runId);
          freed++;
        }
      }
      if (holders.length > 0 && freed > 0) await this.drainQueue(job.name);
    }
    return freed;
  }

  /**
   * Store a decision about `run` (conditional on the version read), then
   * execute its effects. On a lost race, re-read and decide again. Returns
   * the run as stored last; undefined only when the run no longer exists.
   */
  private async apply(run: Run, decide: (run: Run) => Decision): Promise<Run | undefined> {
    let current = run;
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const step = decide(current);
      // Not applicable (any more): e.g. another writer already moved the run. Report the run as it is.
      if (!step.ok) return current;
      if (step.run.version === current.version) {
        return (await this.execute(current, step.effects)) ?? current;
      }
      const res = await this.deps.store.updateRun(step.run, current.version);
      if (res.ok) {
        if (!isTerminal(res.run.status)) return (await this.execute(res.run, step.effects)) ?? res.run;
        await this.deps.store.releaseSlot(res.run.job, res.run.id);
        await this.execute(res.run, step.effects);
        return this.markAnnounced(res.run);
      }
      if (!res.current) return undefined;
      current = res.current;
    }
    throw new TransientError(`run ${run.id} kept changing under concurrent updates; try again`);
  }

  /** Executes effects in order; returns the run as last stored (launch results change it). */
  private async execute(run: Run | undefined, effects: readonly Effect[]): Promise<Run | undefined> {
    let current = run;
    const publish = effects.filter((e) => e.type === "publish");
    if (publish.length > 0) await this.publish(publish);
    for (const e of effects) {
      switch (e.type) {
        case "publish":
        case "schedule-retry": // the sweep launches due retries; local shells may also wake early
          break;
        case "launch":
          if (current) current = await this.launch(current, e.attempt);
          break;
        case "stop": {
          const reason = e.reason.slice(0, 255);
          if (this.isDeploy(current)) {
            await this.deps.deployer?.stop(e.taskArn, reason);
            break;
          }
          const cluster = clusterOfTaskArn(e.taskArn) ?? (current ? this.clusterOf(current.job) : undefined);
          if (cluster) await this.deps.launcher.stopTask(cluster, e.taskArn, reason);
          break;
        }
        case "start-queued":
          await this.drainQueue(e.job);
          break;
        case "reconcile":
          if (current) await this.reconcile([{ run: current, taskArn: e.taskArn }]);
          break;
      }
    }
    return current;
  }

  private async launch(run: Run, attemptNumber: number): Promise<Run> {
    const job = this.catalog.jobs[run.job];
    const policy = this.policyOf(run);
    const attempt = run.attempts.find((a) => a.number === attemptNumber);
    if (!attempt || attempt.taskArn !== undefined || attempt.status !== "STARTING") return run;
    const fail = (reason: string) =>
      this.apply(run, (r) => recordLaunch(r, attemptNumber, { ok: false, reason, failureClass: "invalid" }, this.now(), policy)).then((r) => r ?? run);
    if (!job) return fail(`job "${run.job}" is no longer in the catalog`);
    const built = buildAction(job, run.context, { runId: run.id, attempt: attemptNumber, jobName: job.name });
    if (!built.ok) return fail(built.errors.join("; "));
    let outcome;
    if (built.action.kind === "deploy") {
      if (!this.deps.deployer) return fail("this runtime has no service deployer, so deploy jobs cannot run here");
      outcome = await this.deps.deployer.deploy(built.action.plan, { runId: run.id, attempt: attemptNumber, clientToken: attempt.clientToken, startedBy: startedByFor(run.id) });
    } else {
      const request = attempt.launch === "fallback" ? withFallbackLaunch(built.action.request, "fargate") : built.action.request;
      outcome = await this.deps.launcher.runTask(request);
    }
    if (!outcome.ok && outcome.failure.kind === "throttled") {
      // Nothing was launched. The run stays STARTING; a redelivery or the sweep re-sends the same clientToken.
      return run;
    }
    const result = outcome.ok
      ? ({ ok: true, taskArn: outcome.taskArn } as const)
      : ({ ok: false, reason: outcome.failure.message, failureClass: outcome.failure.kind === "capacity" ? "capacity" : "invalid" } as const);
    return (await this.apply(run, (r) => recordLaunch(r, attemptNumber, result, this.now(), policy))) ?? run;
  }

  /** Start as many queued runs of `job` as free slots allow, oldest first. */
  private async drainQueue(jobName: string): Promise<void> {
    const job = this.catalog.jobs[jobName];
    if (!job) return;
    const cap = concurrencyCap(job.concurrency);
    const active = Number.isFinite(cap) ? (await this.deps.store.slotHolders(jobName)).length : 0;
    const room = Math.min(MAX_DRAIN, Number.isFinite(cap) ? cap - active : MAX_DRAIN);
    if (room <= 0) return;
    const queued = await this.deps.store.listQueuedRuns(jobName, room);
    if (queued.length === 0) return;
    const ids = decideQueueDrain(job.concurrency, active, queued.map((r) => ({ id: r.id, queuedAt: r.queuedAt ?? r.createdAt })));
    for (const id of ids) {
      const run = queued.find((r) => r.id === id)!;
      if (Number.isFinite(cap) && !(await this.deps.store.acquireSlot(jobName, id, cap, this.now()))) break;
      await this.apply(run, (r) => startQueuedRun(r, this.now(), this.policies[jobName]!));
    }
  }

  private async publish(effects: readonly Effect[]): Promise<void> {
    const details = effects.flatMap((e) => (e.type === "publish" ? [e.detail] : []));
    if (details.length > 0) await this.deps.publisher.publish(details);
  }

  private isDeploy(run: Run | undefined): boolean {
    return run !== undefined && this.catalog.jobs[run.job]?.action.kind === "deploy";
  }

  private policyOf(run: Run): RunPolicy {
    return this.policies[run.job] ?? { retry: { attempts: 1, backoff: { initial: 0, factor: 1, max: 0 }, on: [] } };
  }

  private clusterOf(jobName: string): string | undefined {
    const job: Job | undefined = this.catalog.jobs[jobName];
    return job?.action.cluster;
  }

  private now(): number {
    return this.deps.clock.now();
  }
}
