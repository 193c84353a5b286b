/** How runs look in the terminal: one table row per run, and a detail view. */
import type { Attempt, Run } from "../core/runs/model.ts";
import { isActive, isRunStatus, outcomeOf, type RunStatus } from "../core/runs/status.ts";
import { c, table } from "./output.ts";
import { isoInZone, isoUtcMs } from "./times.ts";

const plain = (s: string) => s;

const OUTCOME_COLOUR = { success: c.green, failure: c.red, neither: c.yellow } as const;

/** Active runs in cyan; ended ones by how they came out; waiting ones plain. */
function colourOf(status: RunStatus): (s: string) => string {
  const outcome = outcomeOf(status);
  if (outcome !== undefined) return OUTCOME_COLOUR[outcome];
  return isActive(status) ? c.cyan : plain;
}

export function statusText(status: string): string {
  return isRunStatus(status) ? colourOf(status)(status) : status;
}

/** A run's time as people read it: ISO 8601 in this machine's zone, with the offset. */
export function formatTime(ms: number | undefined): string {
  return ms === undefined ? "" : isoInZone(ms);
}

type TimeFields<T> = Exclude<{ [K in keyof T]-?: NonNullable<T[K]> extends number ? K : never }[keyof T], "version" | "exitCode" | "number" | "lastEventVersion">;

// Records rather than lists, so a time field added to the model fails to compile until it is listed here.
const RUN_TIMES: Record<TimeFields<Run>, true> = { createdAt: true, updatedAt: true, queuedAt: true, startedAt: true, endedAt: true, nextAttemptAt: true, timeoutAt: true, checkedAt: true };
const ATTEMPT_TIMES: Record<TimeFields<Attempt>, true> = { requestedAt: true, heldUntil: true, startedAt: true, stoppedAt: true };

function withIsoTimes<T extends object>(value: T, fields: Record<string, true>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, Object.hasOwn(fields, k) && typeof v === "number" ? isoUtcMs(v) : v]));
}

/** A run for --json: the record as stored, its epoch-millisecond times as ISO 8601 UTC. */
export function runJson(run: Run): Record<string, unknown> {
  return { ...withIsoTimes(run, RUN_TIMES), attempts: run.attempts.map((a) => withIsoTimes(a, ATTEMPT_TIMES)) };
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function runDuration(run: Run, now: number): string {
  if (run.startedAt === undefined) return "";
  return formatElapsed((run.endedAt ?? now) - run.startedAt);
}

export function runsTable(runs: readonly Run[], now: number): string {
  const rows = [["run", "job", "status", "attempt", "trigger", "created", "duration"].map((h) => c.dim(h))];
  for (const r of runs) {
    rows.push([r.id, r.job, statusText(r.status), String(r.attempts.length), truncate(r.trigger.summary, 48), formatTime(r.createdAt), runDuration(r, now)]);
  }
  return table(rows);
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** A batch's run (batch/manifest.ts `batchContext`): its uploads, their bytes, when the batch opened, and the manifest listing them. */
function batchRows(run: Run): string[][] {
  const { "batch.manifest": manifest, "batch.count": count, "batch.bytes": bytes, "batch.opened": opened } = run.context;
  if (manifest === undefined) return [];
  const openedAt = opened === undefined ? Number.NaN : Date.parse(opened);
  return [
    ["batch", `${count} upload${count === "1" ? "" : "s"}, ${bytes} bytes${Number.isNaN(openedAt) ? "" : ` (opened ${formatTime(openedAt)})`}`],
    ["manifest", manifest],
  ];
}

export function runDetail(run: Run, now: number, logs: ReadonlyMap<number, readonly string[]> = new Map()): string {
  const lines = [
    `${c.bold(run.job)} ${c.dim("run")} ${run.id}  ${statusText(run.status)}`,
    table(
      [
        ["trigger", `${run.trigger.kind}: ${run.trigger.summary}`],
        ["created", formatTime(run.createdAt)],
        ...(run.startedAt !== undefined ? [["started", formatTime(run.startedAt)]] : []),
        ...(run.endedAt !== undefined ? [["ended", `${formatTime(run.endedAt)} (${runDuration(run, now)})`]] : []),
        ...(run.reason ? [["reason", run.reason]] : []),
        ...(run.exitCode !== undefined ? [["exit code", String(run.exitCode)]] : []),
        ...(run.nextAttemptAt !== undefined ? [["next attempt", formatTime(run.nextAttemptAt)]] : []),
        ...batchRows(run),
      ].map(([k, v]) => [c.dim(k!), v!]),
      "  ",
    ),
  ];
  if (run.attempts.length > 0) {
    lines.push("", c.dim("attempts"));
    const rows = [["#", "status", "launch", "task", "exit", "stop code", "reason"].map((h) => c.dim(h))];
    for (const a of run.attempts) {
      rows.push([String(a.number), statusText(a.status), a.launch, a.taskArn?.split("/").pop() ?? "", a.exitCode !== undefined ? String(a.exitCode) : "", a.stopCode ?? "", a.stoppedReason ?? ""]);
      for (const l of logs.get(a.number) ?? []) rows.push(["", "", "", c.dim(`log ${l}`), "", "", ""]);
    }
    lines.push(table(rows, "  "));
  }
  const ctx = Object.entries(run.context);
  if (ctx.length > 0) {
    lines.push("", c.dim("context"), table(ctx.map(([k, v]) => [`\${${k}}`, JSON.stringify(v)]), "  "));
  }
  return lines.join("\n");
}
