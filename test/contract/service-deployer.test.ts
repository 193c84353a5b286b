import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { DeployPlan } from "../../src/core/ecs/deploy-plan.ts";
import { LocalServiceDeployer } from "../../src/local/service-deployer.ts";
import { serviceDeployerContract } from "./service-deployer.contract.ts";

const NODE = process.execPath;
const SERVICE = resolve("test/fixtures/contract/service.mjs");
const IMAGE = "contract/web";
/** Far longer than any test waits, so a "stuck" version stays in progress until it is stopped. */
const HEALTH_TIMEOUT_S = 120;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

/** The tag of the version answering on `port`, each request on a new connection; undefined when nothing answers. */
function tagServedOn(port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        try {
          done((JSON.parse(body) as { tag?: string }).tag);
        } catch {
          done(undefined);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => done(undefined));
  });
}

serviceDeployerContract("LocalServiceDeployer (blue/green processes behind a local proxy)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-deployer-contract-"));
  const port = await freePort();
  const events: unknown[] = [];
  const deployer = new LocalServiceDeployer({
    catalog: { local: { engine: "process", taskDefinitions: {}, services: { web: { command: [NODE, SERVICE], port, environment: {}, health: { timeout: HEALTH_TIMEOUT_S } } } } },
    rootDir: dir,
    logDir: "logs",
    emit: (event) => {
      events.push(event);
    },
    stopGraceMs: 500,
  });
  const plan = (tag: string, service = "web"): DeployPlan => ({ cluster: "web", service, container: "app", image: `${IMAGE}:${tag}`, rollback: true, tags: [] });
  return {
    deployer,
    healthy: (label) => plan(label),
    unhealthy: (label) => plan(`broken-${label}`),
    stuck: (label) => plan(`stuck-${label}`),
    unknownService: (label) => plan(label, "no-such-service"),
    events: () => events,
    serving: () => tagServedOn(port),
    async close() {
      await deployer.stopAll("contract test over");
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
