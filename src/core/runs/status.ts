/**
 * The run lifecycle as one table: every status, the statuses that may follow
 * it, and its phase. This is berth's whole status vocabulary: the status type,
 * the list of statuses and every predicate (ended, active, queued …) are read
 * off the table, so a new status is one new row.
 *
 * Task progress only moves forward (PROVISIONING → PENDING → RUNNING), but may
 * skip steps: a task that fails to start is first seen STOPPED, and Fargate
 * does not always report PROVISIONING. Every active status may end, or wait for
 * a retry. Rows are in lifecycle order.
 */

/**
 * - `queued`: written, waiting for a concurrency slot; no attempt yet.
 * - `active`: the current attempt's task (or deployment) may exist.
 * - `waiting`: between attempts, until the next one is due.
 * - `ended`: final; no row follows.
 */
export type Phase = "queued" | "active" | "waiting" | "ended";

/** How an ended run came out: what it did is a success or a failure; a cancelled or skipped run is neither. */
export type Outcome = "success" | "failure" | "neither";

const ENDINGS = ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED"] as const;

const LIFECYCLE = {
  // SKIPPED from QUEUED: every run is written QUEUED first (idempotency), then admitted.
  QUEUED: { phase: "queued", next: ["STARTING", "SKIPPED", "CANCELLED"] },
  STARTING: { phase: "active", next: ["PROVISIONING", "PENDING", "RUNNING", "RETRY_WAIT", ...ENDINGS] },
  PROVISIONING: { phase: "active", next: ["PENDING", "RUNNING", "RETRY_WAIT", ...ENDINGS] },
  PENDING: { phase: "active", next: ["RUNNING", "RETRY_WAIT", ...ENDINGS] },
  RUNNING: { phase: "active", next: ["RETRY_WAIT", ...ENDINGS] },
  RETRY_WAIT: { phase: "waiting", next: ["STARTING", "CANCELLED"] },
  SUCCEEDED: { phase: "ended", next: [], outcome: "success" },
  FAILED: { phase: "ended", next: [], outcome: "failure" },
  TIMED_OUT: { phase: "ended", next: [], outcome: "failure" },
  CANCELLED: { phase: "ended", next: [], outcome: "neither" },
  // Overlap forbidden: the run never had an attempt.
  SKIPPED: { phase: "ended", next: [], outcome: "neither", attempts: false },
} as const satisfies Record<string, { readonly phase: Phase; readonly next: readonly string[]; readonly outcome?: Outcome; readonly attempts?: false }>;

type Table = typeof LIFECYCLE;

export type RunStatus = keyof Table;

/** The statuses of one phase. */
export type StatusIn<P extends Phase> = { [S in RunStatus]: Table[S]["phase"] extends P ? S : never }[RunStatus];

/** The statuses an attempt can have: the active ones and the endings an attempt can reach. */
export type AttemptStatus = { [S in RunStatus]: Table[S] extends { readonly attempts: false } ? never : Table[S]["phase"] extends "active" | "ended" ? S : never }[RunStatus];

/** Every status, in lifecycle order. */
export const RUN_STATUSES: readonly RunStatus[] = Object.freeze(Object.keys(LIFECYCLE) as RunStatus[]);

/** A row may only name statuses the table has. */
type UnknownNext = Exclude<Table[RunStatus]["next"][number], RunStatus>;
const _everyNextIsAStatus: [UnknownNext] extends [never] ? true : UnknownNext = true;

/** Which status may follow which. */
export const TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = (() => {
  const rows = {} as Record<RunStatus, readonly RunStatus[]>;
  for (const status of RUN_STATUSES) rows[status] = LIFECYCLE[status].next;
  return Object.freeze(rows);
})();

export function phaseOf(status: RunStatus): Phase {
  return LIFECYCLE[status].phase;
}

/** How an ended run came out; undefined while it has not ended. */
export function outcomeOf(status: RunStatus): Outcome | undefined {
  const row = LIFECYCLE[status];
  return "outcome" in row ? row.outcome : undefined;
}

export function isRunStatus(value: unknown): value is RunStatus {
  return typeof value === "string" && Object.hasOwn(LIFECYCLE, value);
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * A predicate for the statuses of one phase, read off the table once. Stores
 * call these over every run they scan, so they cost a comparison, not a
 * table lookup.
 */
function inPhase(phase: Phase): (status: RunStatus) => boolean {
  const members = RUN_STATUSES.filter((s) => LIFECYCLE[s].phase === phase);
  const [only] = members;
  if (members.length === 1) return (status) => status === only;
  const set: ReadonlySet<RunStatus> = new Set(members);
  return (status) => set.has(status);
}

/** Ended: nothing may follow (the test of the table holds the ended phase to its empty rows). */
export const isTerminal: (status: RunStatus) => boolean = inPhase("ended");

/** A task (or deployment) may exist for the current attempt. */
export const isActive: (status: RunStatus) => boolean = inPhase("active");

/** Waiting for a concurrency slot. */
export const isQueued: (status: RunStatus) => boolean = inPhase("queued");

/** Between attempts, until the next one is due. */
export const isWaitingForRetry: (status: RunStatus) => boolean = inPhase("waiting");

/** The statuses a run ends in, in table order. */
export const ENDED_STATUSES: readonly RunStatus[] = Object.freeze(RUN_STATUSES.filter(isTerminal));
