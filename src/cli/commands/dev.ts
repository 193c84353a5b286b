import type { Command } from "commander";
import { dirname, join, resolve, relative } from "node:path";
import { configOption, configPath, requireCatalog } from "../catalog-file.ts";
import { c, UsageError } from "../output.ts";
import { DevUi, type UiMode } from "../dev-ui.ts";
import { LocalRuntime, type Activity } from "../../local/runtime.ts";
import { startControlServer, readDevInfo } from "../../local/control.ts";
import { startWebhookServer } from "../../local/webhook-server.ts";
import { isoInZone } from "../times.ts";
import { LOCAL_MANIFEST_BUCKET } from "../../local/manifest-writer.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description("run the whole catalog on this machine: S3 folder, webhook, scheduler, tasks as processes, services; Ctrl-C stops everything")
    .addOption(configOption())
    .option("-p, --port <port>", "webhook port on 127.0.0.1 (default: any free port)", "0")
    .option("--json", "one JSON object per line for every run state change")
    .option("--plain", "plain lines instead of the live table (the default when output is not a terminal)")
    .action(async (opts: { config?: string; port: string; json?: boolean; plain?: boolean }) => {
      const catalog = requireCatalog(opts.config);
      const rootDir = dirname(resolve(configPath(opts.config)));
      const stateDir = join(rootDir, ".berth");
      const infoFile = join(stateDir, "dev.json");
      const running = readDevInfo(infoFile);
      if (running && running.pid !== process.pid && alive(running.pid)) throw new UsageError(`berth dev is already running here (pid ${running.pid}); stop it first`);
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port takes a port number (0 for any free port)");

      const mode: UiMode = opts.json ? "json" : opts.plain || !process.stdout.isTTY ? "lines" : "live";
      const secret = process.env.BERTH_WEBHOOK_SECRET || undefined;
      // The UI's header needs the servers' addresses, so it is made after the runtime that feeds it.
      // What happens before it exists (start-up clean-up) is kept and shown first.
      const view: { ui?: DevUi; early: Activity[] } = { early: [] };
      const runtime = new LocalRuntime({ catalog, rootDir, stateDir, onActivity: (a) => (view.ui ? view.ui.onActivity(a) : view.early.push(a)) });
      await runtime.start();
      const webhook = await startWebhookServer({ port, secret, catalog, emit: (e) => runtime.put(e) });
      const control = await startControlServer(runtime, infoFile, { webhook: webhook.url });

      const rel = (p: string) => relative(process.cwd(), p) || ".";
      const buckets = [...new Set(Object.values(catalog.jobs).flatMap((j) => j.triggers.flatMap((t) => (t.kind === "s3" ? t.buckets : []))))];
      const schedules = Object.values(catalog.jobs).flatMap((j) =>
        runtime.scheduler.upcoming(j.name, 1).flatMap((u) => (u.times[0] !== undefined ? [`${j.name} at ${isoInZone(u.times[0], u.trigger.timezone)} (${u.trigger.timezone})`] : [])),
      );
      const batchStore = runtime.shell.batches?.store;
      const batched = Object.values(catalog.jobs).flatMap((j) => (j.batch !== undefined ? [j.name] : []));
      const heads = batchStore && (async () => (await Promise.all(batched.map((job) => batchStore.getHead(job)))).filter((h) => h !== undefined));
      const ui = new DevUi(mode, [
        `${c.bold("berth dev")} · service ${c.bold(catalog.service)} · ${Object.keys(catalog.jobs).length} jobs · history in ${rel(join(stateDir, "berth.db"))}`,
        `  ${c.dim("webhook ")} ${webhook.url}/webhooks/github ${secret ? c.dim("(BERTH_WEBHOOK_SECRET set)") : c.yellow("(BERTH_WEBHOOK_SECRET not set: every request is refused)")}`,
        `  ${c.dim("s3      ")} drop files into ${rel(runtime.s3Root)}/<bucket>/…${buckets.length ? ` (${buckets.join(", ")})` : ""} or \`berth put <file> s3://bucket/key\``,
        ...(schedules.length ? [`  ${c.dim("schedule")} next: ${schedules.join("; ")} (\`berth trigger <job>\` fires one now)`] : []),
        ...(batched.length ? [`  ${c.dim("batches ")} ${batched.join(", ")} gather uploads; manifests in ${rel(join(runtime.s3Root, LOCAL_MANIFEST_BUCKET))}/<job>/ (tasks read $BERTH_S3_ROOT/<bucket>/<key>)`] : []),
        `  ${c.dim("logs    ")} ${rel(runtime.logDir)}/<run>.log (\`berth logs <run> --follow\`) · Ctrl-C stops every task`,
      ], process.stdout, heads);
      view.ui = ui;
      ui.start();
      for (const a of view.early.splice(0)) ui.onActivity(a);

      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) {
          process.stderr.write("\nforced exit: tasks may still be running\n");
          process.exit(130);
        }
        stopping = true;
        await runtime.stop(`berth dev stopped (${signal})`);
        await Promise.all([control.close(), webhook.close()]);
        ui.stop();
        process.exit(0);
      };
      process.on("SIGINT", () => void shutdown("SIGINT"));
      process.on("SIGTERM", () => void shutdown("SIGTERM"));
      await new Promise<never>(() => {});
    });
}
