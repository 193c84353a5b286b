/**
 * What `berth dev` shows: on a terminal, a live table of runs redrawn in
 * place; otherwise one plain line per run state change; with --json, one
 * JSON object per line.
 */
import type { Activity } from "../local/runtime.ts";
import type { RunStateChangeDetail } from "../core/runs/effects.ts";
import type { BatchHead } from "../core/batch/model.ts";
import { isTerminal } from "../core/runs/status.ts";
import { c, table } from "./output.ts";
import { formatElapsed, statusText } from "./runs-format.ts";
import { isoInZone } from "./times.ts";

export type UiMode = "live" | "lines" | "json";

/** How often the screen is redrawn, and the batches read again. */
const REFRESH_MS = 250;

export class DevUi {
  private readonly runs = new Map<string, { detail: RunStateChangeDetail; since: number; ended?: number }>();
  private readonly notes: string[] = [];
  /** The batched jobs' current batches as last read, by job. */
  private heads = new Map<string, BatchHead>();
  private reading = false;
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `batches`: reads the batched jobs' current batches (one head each), shown filling up in the live table. */
  constructor(
    private readonly mode: UiMode,
    private readonly header: string[],
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly batches?: () => Promise<readonly BatchHead[]>,
  ) {}

  start(): void {
    if (this.mode === "json") return;
    if (this.mode === "lines") {
      // A batch shows in plain lines as its run (trigger: "batch of N uploads"), once it closes.
      for (const h of this.header) this.out.write(`${h}\n`);
      return;
    }
    this.timer = setInterval(() => {
      void this.readBatches();
      this.draw();
    }, REFRESH_MS);
    this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.mode === "live") this.draw();
  }

  /** Reads the batches again, one read at a time. */
  private async readBatches(): Promise<void> {
    if (!this.batches || this.reading) return;
    this.reading = true;
    try {
      this.heads = new Map((await this.batches()).map((h) => [h.job, h]));
    } catch {
      // The store is busy or closing; the next tick reads again.
    } finally {
      this.reading = false;
    }
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
    const lines = [
      ...this.header,
      "",
      ...this.batchTable(),
      runs.length ? table(rows, "  ") : c.dim("  no runs yet — upload a file, push, or `berth trigger <job>`"),
      "",
      ...this.notes.map((n) => `  ${n}`),
    ];
    const text = lines.join("\n");
    // Move up over what was drawn last time, clear it, draw again.
    this.out.write(`${this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[0J` : ""}${text}\n`);
    this.drawn = text.split("\n").length;
  }

  /** The batches still gathering or closing: how full, and how long until the window ends. */
  private batchTable(): string[] {
    const filling = [...this.heads.values()].filter((h) => h.state !== "closed");
    if (filling.length === 0) return [];
    const rows = [["batch", "job", "uploads", "bytes", "closes in"].map((h) => c.dim(h))];
    for (const h of filling) {
      rows.push([h.batchId.slice(0, 12), h.job, String(h.count), String(h.bytes), h.state === "open" ? formatElapsed(h.closesAt - Date.now()) : c.cyan("closing")]);
    }
    return [table(rows, "  "), ""];
  }
}

function clock(): string {
  return isoInZone(Date.now());
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
