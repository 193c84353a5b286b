/**
 * What `berth dev` shows: on a terminal, a live table of runs redrawn in
 * place; otherwise one plain line per run state change; with --json, one
 * JSON object per line.
 */
import type { Activity } from "../local/runtime.ts";
import type { RunStateChangeDetail } from "../core/runs/effects.ts";
import { isTerminal } from "../core/runs/status.ts";
import { c, table } from "./output.ts";
import { formatElapsed, statusText } from "./runs-format.ts";
import { isoInZone } from "./times.ts";

export type UiMode = "live" | "lines" | "json";

export class DevUi {
  private readonly runs = new Map<string, { detail: RunStateChangeDetail; since: number; ended?: number }>();
  private readonly notes: string[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly mode: UiMode,
    private readonly header: string[],
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  start(): void {
    if (this.mode === "json") return;
    if (this.mode === "lines") {
      for (const h of this.header) this.out.write(`${h}\n`);
      return;
    }
    this.timer = setInterval(() => this.draw(), 250);
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.mode === "live") this.draw();
  }

  onActivity = (a: Activity): void => {
    if (this.mode === "json") {
      this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...a })}\n`);
      return;
    }
    if (a.type === "run") {
      const prev = this.runs.get(a.detail.runId);
      this.runs.set(a.detail.runId, { detail: a.detail, since: prev?.since ?? Date.now(), ...(isTerminal(a.detail.status) ? { ended: Date.now() } : {}) });
      if (this.mode === "lines") {
        const d = a.detail;
        this.out.write(`${clock()} ${d.job} ${d.runId} ${statusText(d.status)} attempt ${d.attempt}${d.exitCode !== undefined ? ` exit ${d.exitCode}` : ""}${d.reason ? ` — ${d.reason}` : ""}  ${c.dim(d.trigger.summary)}\n`);
      }
    } else {
      const note = a.type === "rejected" ? `${c.red("rejected")} ${a.detailType} from ${a.source}: ${a.reason}` : `${c.yellow("warning")} ${a.message}`;
      if (this.mode === "lines") this.out.write(`${clock()} ${note}\n`);
      else this.notes.push(`${clock()} ${note}`);
      if (this.notes.length > 5) this.notes.shift();
    }
  };

  private draw(): void {
    const rows = [["job", "run", "trigger", "status", "attempt", "duration"].map((h) => c.dim(h))];
    const runs = [...this.runs.values()].slice(-15);
    for (const r of runs) {
      const d = r.detail;
      rows.push([d.job, d.runId, truncate(d.trigger.summary, 40), statusText(d.status), String(d.attempt), formatElapsed((r.ended ?? Date.now()) - r.since)]);
    }
    const lines = [...this.header, "", runs.length ? table(rows, "  ") : c.dim("  no runs yet — upload a file, push, or `berth trigger <job>`"), "", ...this.notes.map((n) => `  ${n}`)];
    const text = lines.join("\n");
    // Move up over what was drawn last time, clear it, draw again.
    this.out.write(`${this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[0J` : ""}${text}\n`);
    this.drawn = text.split("\n").length;
  }
}

function clock(): string {
  return isoInZone(Date.now());
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
