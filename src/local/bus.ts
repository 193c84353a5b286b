/**
 * The local event bus: what EventBridge is on AWS. Every local source (the S3
 * folder, the webhook, the scheduler, the executors, the CLI, berth's own run
 * state changes) puts EventBridge-shaped events here, and the bus hands each
 * one to every rule of the compiled catalog whose pattern matches it: a
 * dispatch rule calls `dispatch(event, job)`, the track rule
 * `recordTaskEvent(event)`. The rules decide; the bus only delivers.
 *
 * Rules are filed in the core matcher's PatternIndex, so routing an event
 * costs about the same for one job or a thousand. Events are handled one at a
 * time in arrival order, events caused by handling one included, as a single
 * ordered stream is what a laptop user expects to read back. One local bus
 * stands in for every bus the rules name (default, berth's, named ones).
 *
 * Also here: the local Publisher, which puts berth's `Berth Run State Change`
 * events on this bus.
 */
import type { CompiledRule, RuleTarget } from "../core/catalog/compiled.ts";
import type { DispatchOutcome, TrackOutcome } from "../core/engine/engine.ts";
import { runStateChangeEvent, DETAIL_TYPE } from "../core/events/berth-events.ts";
import { asBusEvent, type BusEvent } from "../core/events/envelope.ts";
import { TransientError } from "../core/errors.ts";
import { PatternIndex } from "../core/match/index.ts";
import type { Clock, Publisher } from "../core/ports.ts";
import type { RunStateChangeDetail } from "../core/runs/effects.ts";

/** What the terminal UI is told. */
export type Activity =
  | { readonly type: "run"; readonly detail: RunStateChangeDetail }
  | { readonly type: "rejected"; readonly source: string; readonly detailType: string; readonly reason: string }
  | { readonly type: "warning"; readonly message: string };

/** The targets rules deliver to: the engine. */
export interface BusTargets {
  dispatch(event: BusEvent, job: string): Promise<readonly DispatchOutcome[]>;
  recordTaskEvent(event: BusEvent): Promise<TrackOutcome>;
}

/** What berth did with one event: the outcomes of the dispatch rules it matched, and of the track rule if it matched that. */
export interface BusOutcome {
  readonly dispatched: readonly DispatchOutcome[];
  readonly tracked?: TrackOutcome;
}

export interface LocalBusOptions {
  readonly rules: readonly CompiledRule[];
  readonly targets: BusTargets;
  readonly onActivity?: (activity: Activity) => void;
}

interface Queued {
  readonly event: unknown;
  readonly done?: (outcome: BusOutcome) => void;
  readonly failed?: (error: unknown) => void;
}

export class LocalBus {
  readonly #index = new PatternIndex<CompiledRule>();
  readonly #targets: BusTargets;
  readonly #onActivity: (activity: Activity) => void;
  readonly #queue: Queued[] = [];
  readonly #disabled = new Set<RuleTarget["kind"]>();
  #draining: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LocalBusOptions) {
    for (const rule of options.rules) this.#index.add(rule.pattern, rule);
    this.#targets = options.targets;
    this.#onActivity = options.onActivity ?? (() => {});
  }

  /** Puts an event on the bus; it is handled after the events before it. False when the bus is stopped and refused it. */
  put(event: unknown): boolean {
    if (this.#stopped) return false;
    this.#queue.push({ event });
    this.#drain();
    return true;
  }

  /** Puts an event on the bus and resolves with what berth did with it. */
  send(event: unknown): Promise<BusOutcome> {
    if (this.#stopped) return Promise.reject(new Error("the local bus is stopped (berth dev is shutting down)"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, done: resolve, failed: reject });
      this.#drain();
    });
  }

  /**
   * Stops delivering to the rules of one kind of target, as disabling
   * EventBridge rules would: while berth dev shuts down, runs ending
   * (cancelled) must not start new ones, but their tasks are still tracked.
   */
  disable(kind: RuleTarget["kind"]): void {
    this.#disabled.add(kind);
  }

  /** Resolves once the bus is empty (events caused by handling events included). */
  async settled(): Promise<void> {
    while (this.#draining || this.#queue.length > 0) await (this.#draining ?? Promise.resolve());
  }

  /** Handles what is on the bus, then refuses every later event. */
  async stop(): Promise<void> {
    await this.settled();
    this.#stopped = true;
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = (async () => {
      for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
        try {
          const outcome = await this.#deliver(item.event);
          item.done?.(outcome);
        } catch (e) {
          item.failed?.(e);
        }
      }
    })().finally(() => {
      this.#draining = undefined;
      if (this.#queue.length > 0) this.#drain();
    });
  }

  /** Delivers to every matching rule; a target that fails does not keep the event from the others. */
  async #deliver(input: unknown): Promise<BusOutcome> {
    const parsed = asBusEvent(input);
    if (!parsed.ok) {
      // PutEvents refuses such an entry before any rule sees it.
      this.#rejected(input, parsed.error.message);
      return { dispatched: [{ kind: "rejected", reason: parsed.error.message }] };
    }
    const event = parsed.event;
    const dispatched: DispatchOutcome[] = [];
    let tracked: TrackOutcome | undefined;
    let failure: { error: unknown } | undefined;
    for (const rule of this.#index.match(event)) {
      const target = rule.target;
      if (this.#disabled.has(target.kind)) continue;
      try {
        if (target.kind === "track") {
          tracked = await this.#targets.recordTaskEvent(event);
          if (tracked.kind === "rejected") this.#rejected(event, tracked.reason);
        } else {
          for (const outcome of await this.#targets.dispatch(event, target.job)) {
            dispatched.push(outcome);
            if (outcome.kind === "rejected") this.#rejected(event, outcome.reason);
          }
        }
      } catch (e) {
        this.#onActivity({ type: "warning", message: `handling ${event["detail-type"]} failed: ${(e as Error).message}` });
        failure ??= { error: e };
      }
    }
    if (failure) throw failure.error;
    return { dispatched, ...(tracked ? { tracked } : {}) };
  }

  #rejected(event: unknown, reason: string): void {
    const e = (event ?? {}) as { source?: unknown; "detail-type"?: unknown };
    this.#onActivity({ type: "rejected", source: String(e.source), detailType: String(e["detail-type"]), reason });
  }
}

export interface LocalBusPublisherOptions {
  readonly clock: Clock;
  /** Event ids. */
  readonly newId: () => string;
  readonly onActivity?: (activity: Activity) => void;
}

/** The Publisher port on the local bus: each run transition is shown to the UI and put on the bus, where `job` triggers pick it up. */
export class LocalBusPublisher implements Publisher {
  readonly #bus: LocalBus;
  readonly #options: LocalBusPublisherOptions;

  constructor(bus: LocalBus, options: LocalBusPublisherOptions) {
    this.#bus = bus;
    this.#options = options;
  }

  async publish(details: readonly RunStateChangeDetail[]): Promise<void> {
    let refused = 0;
    for (const detail of details) {
      this.#options.onActivity?.({ type: "run", detail });
      if (!this.#bus.put(runStateChangeEvent(detail, { id: this.#options.newId(), time: this.#options.clock.now() }))) refused += 1;
    }
    if (refused > 0) {
      // The transitions are stored; an ended run among them stays unannounced, and the next berth dev's sweep publishes it again.
      throw new TransientError(
        `${refused} of ${details.length} ${DETAIL_TYPE.runStateChange} event(s) were not delivered: the local bus is stopped (berth dev is shutting down)`,
      );
    }
  }
}
