/**
 * The control endpoint of `berth dev` over real HTTP: what each kind of bad
 * request is answered with (the CLI turns 400 and 404 into usage errors).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import { formatIssue } from "../../src/core/catalog/issues.ts";
import { LocalRuntime } from "../../src/local/runtime.ts";
import { startControlServer, type DevInfo } from "../../src/local/control.ts";

const catalogText = `version: 1
service: ctl
defaults:
  network: { subnets: [subnet-1] }
jobs:
  by-hand:
    on: { manual: true }
    run: { taskDefinition: noop }
  nightly:
    on: { schedule: { cron: "0 3 * * ? *" } }
    run: { taskDefinition: noop }
  uploads:
    on: { s3: { bucket: inbox } }
    run: { taskDefinition: noop }
local:
  taskDefinitions:
    noop: { command: [${JSON.stringify(process.execPath)}, -e, ""] }
`;

let dir: string;
let runtime: LocalRuntime;
let control: Awaited<ReturnType<typeof startControlServer>>;

beforeAll(async () => {
  const loaded = loadCatalog(catalogText, "berth.yml");
  if (!loaded.ok) throw new Error(loaded.error.issues.map(formatIssue).join("\n"));
  dir = mkdtempSync(join(tmpdir(), "berth-control-"));
  runtime = new LocalRuntime({ catalog: loaded.catalog, rootDir: dir, stateDir: join(dir, ".berth") });
  await runtime.start();
  control = await startControlServer(runtime, join(dir, ".berth", "dev.json"), {});
});

afterAll(async () => {
  await control.close();
  await runtime.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function request(path: string, init: { method?: string; body?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? control.info.token}`;
  const res = await fetch(`${control.info.control}${path}`, { method: init.method ?? "POST", headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the control endpoint", () => {
  it("writes its address and token to a file only its owner can read", () => {
    const file = join(dir, ".berth", "dev.json");
    expect(JSON.parse(readFileSync(file, "utf8")) as DevInfo).toMatchObject({ control: control.info.control, token: control.info.token });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("answers the status of the catalog", async () => {
    expect(await request("/status", { method: "GET" })).toEqual({ status: 200, body: { service: "ctl", jobs: ["by-hand", "nightly", "uploads"] } });
  });

  it("starts a manual run and says what berth did", async () => {
    const { status, body } = await request("/trigger/by-hand", { body: "{}" });
    expect(status).toBe(200);
    expect(body.dispatched).toEqual([expect.objectContaining({ kind: "accepted", job: "by-hand" })]);
  });

  it.each([
    { what: "no token", path: "/status", init: { method: "GET", token: null }, status: 401, message: /^missing or wrong token/ },
    { what: "a wrong token", path: "/status", init: { method: "GET", token: "0".repeat(48) }, status: 401, message: /^missing or wrong token/ },
    { what: "a method other than POST", path: "/trigger/by-hand", init: { method: "PUT", body: "{}" }, status: 405, message: /^use POST$/ },
    { what: "a body that is not JSON", path: "/trigger/by-hand", init: { body: "{nope" }, status: 400, message: /^the body is not JSON$/ },
    { what: "a body over 1 MiB", path: "/events", init: { body: JSON.stringify({ pad: "x".repeat(1024 * 1024) }) }, status: 413, message: /^request body over 1 MiB$/ },
    { what: "an unknown endpoint", path: "/nope", init: { body: "{}" }, status: 404, message: /^no such endpoint: \/nope$/ },
    { what: "an unknown job", path: "/trigger/nope", init: { body: "{}" }, status: 404, message: /^no job named "nope"; jobs: by-hand, nightly, uploads$/ },
    { what: "params for a schedule job", path: "/trigger/nightly", init: { body: JSON.stringify({ params: { a: "1" } }) }, status: 400, message: /^job "nightly" is a schedule job: it takes no params$/ },
    {
      what: "a job that is neither manual nor scheduled",
      path: "/trigger/uploads",
      init: { body: "{}" },
      status: 400,
      message: /^job "uploads" has neither a schedule nor a manual trigger; it runs when its s3 trigger fires$/,
    },
    { what: "cancelling an unknown run", path: "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel", init: { body: "{}" }, status: 404, message: /^no run 01ARZ3NDEKTSV4RRFFQ69G5FAV$/ },
  ])("answers $what with $status", async ({ path, init, status, message }) => {
    const res = await request(path, init);
    expect(res.status).toBe(status);
    expect(res.body.message).toMatch(message);
  });
});
