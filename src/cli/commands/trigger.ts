import type { Command } from "commander";
import { devRequest } from "../dev-client.ts";
import { c, printJson } from "../output.ts";
import type { BusOutcome } from "../../local/runtime.ts";

export function registerTrigger(program: Command): void {
  program
    .command("trigger")
    .description("fire a schedule or manual job now in the running `berth dev`")
    .argument("<job>", "a job with a schedule or manual trigger")
    .option("-p, --param <name=value>", "a param of a manual job (repeatable)", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("--json", "machine-readable output")
    .action(async (job: string, opts: { param: string[]; json?: boolean }) => {
      const params = Object.fromEntries(opts.param.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
      const out = await devRequest<{ event: { source: string } } & Partial<BusOutcome>>(`/trigger/${encodeURIComponent(job)}`, { params, requestedBy: "berth trigger" });
      if (opts.json) printJson(out);
      else console.log(`${c.green("✔")} fired ${c.bold(job)} (${out.event.source}); watch it in berth dev or with \`berth runs --local --job ${job}\``);
    });
}
