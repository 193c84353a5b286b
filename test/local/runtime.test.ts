/**
 * LocalRuntime through its public surface, with real task processes: what a
 * task sees of the runtime, and that the runtime leaves its own process alone.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { formatIssue } from "../../src/core/catalog/issues.ts";
import { manualRunEvent } from "../../src/core/events/berth-events.ts";
import { isTerminal } from "../../src/core/runs/status.ts";
import { LocalRuntime } from "../../src/local/runtime.ts";

const catalogText = `version: 1
service: rt
defaults:
  network: { subnets: [subnet-1] }
jobs:
  peek:
    on: { manual: true }
    run: { taskDefinition: peek }
local:
  taskDefinitions:
    peek: { command: [${JSON.stringify(process.execPath)}, -e, "console.log('S3 root: ' + process.env.BERTH_S3_ROOT)"] }
`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function runtime(): LocalRuntime {
  const loaded = loadCatalog(catalogText, "berth.yml");
  if (!loaded.ok) throw new Error(loaded.error.issues.map(formatIssue).join("\n"));
  const dir = mkdtempSync(join(tmpdir(), "berth-runtime-"));
  dirs.push(dir);
  return new LocalRuntime({ catalog: loaded.catalog, rootDir: dir, stateDir: join(dir, ".berth") });
}

async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("LocalRuntime", () => {
  it("gives tasks the S3 folder as BERTH_S3_ROOT without setting it in its own environment", async () => {
    const before = process.env.BERTH_S3_ROOT;
    const rt = runtime();
    await rt.start();
    try {
      const event = manualRunEvent({ service: "rt", job: "peek", params: {} }, { id: "peek-1", time: Date.now() });
      const outcome = await rt.send(event);
      const [accepted] = outcome.dispatched;
      expect(accepted).toMatchObject({ kind: "accepted", job: "peek" });
      const runId = (accepted as { runId: string }).runId;
      await until(async () => isTerminal((await rt.shell.store.getRun(runId))?.status ?? "QUEUED"), "the peek run to end");
      expect((await rt.shell.store.getRun(runId))?.status).toBe("SUCCEEDED");
      expect(readFileSync(join(rt.logDir, `${runId}.log`), "utf8")).toContain(`S3 root: ${rt.s3Root}\n`);
      expect(process.env.BERTH_S3_ROOT).toBe(before);
    } finally {
      await rt.stop();
    }
  });
});
