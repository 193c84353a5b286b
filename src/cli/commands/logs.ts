import type { Command } from "commander";
import { createReadStream, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../output.ts";
import { LOCAL_DB } from "../backend.ts";
import { isTerminal } from "../../core/runs/status.ts";
import { NotFoundError } from "../../core/errors.ts";

export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description("print the output of a local run (.berth/logs/<run>.log); --follow keeps printing until the run ends")
    .argument("<run-id>", "the run id (see berth runs --local)")
    .option("-f, --follow", "wait for more output until the run ends")
    .action(async (id: string, opts: { follow?: boolean }) => {
      const runId = id.toUpperCase();
      const file = join(".berth", "logs", `${runId}.log`);
      let offset = 0;
      const copy = async () => {
        if (!existsSync(file)) return;
        const size = statSync(file).size;
        if (size <= offset) return;
        await new Promise<void>((resolve, reject) => createReadStream(file, { start: offset, end: size - 1 }).on("end", resolve).on("error", reject).pipe(process.stdout, { end: false }));
        offset = size;
      };
      if (!opts.follow) {
        if (!existsSync(file)) throw new NotFoundError(`no log for run ${runId} (${file}); list runs with \`berth runs --local\``);
        await copy();
        return;
      }
      if (!existsSync(LOCAL_DB)) throw new UsageError(`${LOCAL_DB} does not exist: start the local runtime with \`berth dev\` first`);
      const { SqliteRunStore } = await import("../../local/sqlite-run-store.ts");
      const store = new SqliteRunStore(LOCAL_DB);
      const run = await store.getRun(runId);
      if (!run) throw new NotFoundError(`no run ${runId}; list runs with \`berth runs --local\``);
      for (;;) {
        await copy();
        const now = await store.getRun(runId);
        if (!now || isTerminal(now.status)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await copy();
      store.close();
    });
}
