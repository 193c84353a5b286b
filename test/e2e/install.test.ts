/**
 * berth as a user gets it: the package `npm pack` makes of this repository, installed with
 * `npm i -D` into an empty folder (offline, from npm's cache), then `npx berth init`,
 * `validate` and `dev` there, with a job triggered and berth dev stopped with Ctrl-C.
 *
 * The install compiles better-sqlite3 where no prebuilt binary can be fetched, which makes it
 * the slowest test by far; nothing here waits on a fixed time, only on conditions.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../support/processes.ts";

const root = new URL("../..", import.meta.url).pathname;
const INSTALL_TIMEOUT = 10 * 60_000;

interface PackedFile {
  path: string;
}

/** Packs without running `prepare`: the global setup built dist/, and other tests run the CLI from it meanwhile. */
function pack(args: readonly string[]): { filename: string; files: PackedFile[] } {
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", ...args], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const [info] = JSON.parse(out) as { filename: string; files: PackedFile[] }[];
  return info!;
}

function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", npm_config_update_notifier: "false" };
  // Offline hosts compile better-sqlite3 from source; node-gyp then needs Node's headers (.ci/run does the same).
  if (!env.npm_config_nodedir && existsSync("/usr/include/node/common.gypi")) env.npm_config_nodedir = "/usr";
  for (const name of ["BERTH_CONFIG", "BERTH_TABLE", "BERTH_BUS"]) delete env[name];
  return env;
}

describe("the npm package", () => {
  it("holds the CLI, the handlers, the schema and serverless.yml, and no sources, tests or source maps", () => {
    const paths = pack(["--dry-run"]).files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["package.json", "bin/berth.js", "dist/cli.mjs", "dist/handlers/dispatch.mjs", "berth.schema.json", "serverless.yml"]));
    expect(paths.filter((p) => /^(src|test|handlers|bench|scripts)\/|\.map$|\.ts$/.test(p))).toEqual([]);
  });
});

describe("from an empty folder", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-user-"));
  const env = npmEnv();
  let dev: ChildProcess | undefined;

  const npx = (args: string[], withEnv: NodeJS.ProcessEnv = env) => {
    try {
      return { code: 0, stdout: execFileSync("npx", ["--no-install", "berth", ...args], { cwd: dir, env: withEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }), stderr: "" };
    } catch (e) {
      const x = e as { status: number | null; stdout: string; stderr: string };
      return { code: x.status, stdout: x.stdout, stderr: x.stderr };
    }
  };
  const runs = () => {
    const r = npx(["runs", "--local", "--json"]);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { id: string; job: string; status: string }[];
  };
  const until = async (check: () => boolean, what: () => string, ms = 60_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (check()) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out waiting for ${what()}`);
  };

  beforeAll(() => {
    const packed = mkdtempSync(join(tmpdir(), "berth-pack-"));
    const { filename } = pack(["--pack-destination", packed]);
    execFileSync("npm", ["i", "-D", join(packed, filename), "--prefer-offline", "--no-audit", "--no-fund"], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
  }, INSTALL_TIMEOUT);

  afterAll(async () => {
    if (dev && dev.exitCode === null && dev.signalCode === null) {
      process.kill(-dev.pid!, "SIGINT");
      await new Promise((r) => dev!.once("exit", r));
    }
  });

  it("installs berth into the folder's node_modules, with the command on npx's path", () => {
    expect(existsSync(join(dir, "node_modules/berth-ecs/dist/cli.mjs"))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).devDependencies).toHaveProperty("berth-ecs");
  });

  it("berth init writes a berth.yml that points editors at the installed schema and validates as it is", () => {
    const init = npx(["init"]);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    const text = readFileSync(join(dir, "berth.yml"), "utf8");
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./node_modules/berth-ecs/berth.schema.json");
    expect(JSON.parse(readFileSync(join(dir, "node_modules/berth-ecs/berth.schema.json"), "utf8"))).toHaveProperty("properties.jobs");
    const validate = npx(["validate", "--json"]);
    expect(validate.code).toBe(0);
    expect(Object.keys(JSON.parse(validate.stdout).catalog.jobs).sort()).toEqual(["deploy-web", "nightly-report", "process-upload", "publish-report", "say-hello"]);
  });

  it("berth init leaves an existing berth.yml alone unless --force", () => {
    writeFileSync(join(dir, "berth.yml"), `${readFileSync(join(dir, "berth.yml"), "utf8")}# mine\n`);
    const again = npx(["init"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^berth: berth\.yml already exists; .*--force/);
    expect(readFileSync(join(dir, "berth.yml"), "utf8")).toMatch(/# mine\n$/);
    expect(npx(["init", "--force"]).code).toBe(0);
    expect(readFileSync(join(dir, "berth.yml"), "utf8")).not.toMatch(/# mine/);
  });

  it(
    "berth dev runs the starter catalog: a triggered schedule and the job chained to it succeed, and Ctrl-C stops it cleanly",
    async () => {
      let output = "";
      // In a process group of its own, so Ctrl-C can be sent as a terminal sends it: to npx and berth alike.
      dev = spawn("npx", ["--no-install", "berth", "dev", "--plain"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      dev.stdout!.on("data", (d) => (output += d));
      dev.stderr!.on("data", (d) => (output += d));
      await until(() => existsSync(join(dir, ".berth/dev.json")), () => `berth dev to start:\n${output}`);

      expect(npx(["trigger", "nightly-report"]).code).toBe(0);
      const ended = (job: string) => runs().find((r) => r.job === job && ["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"].includes(r.status));
      await until(() => ended("publish-report") !== undefined, () => `publish-report to end:\n${output}`);
      const report = ended("nightly-report")!;
      expect(report.status).toBe("SUCCEEDED");
      expect(ended("publish-report")!.status).toBe("SUCCEEDED");
      expect(npx(["logs", report.id]).stdout).toMatch(/^report for \d{4}-\d{2}-\d{2}$/m);

      expect(npx(["run", "say-hello", "--param", "name=e2e"]).code).toBe(0);
      await until(() => ended("say-hello") !== undefined, () => `say-hello to end:\n${output}`);
      expect(npx(["logs", ended("say-hello")!.id]).stdout).toMatch(/^hello, e2e$/m);

      const { pid } = JSON.parse(readFileSync(join(dir, ".berth/dev.json"), "utf8")) as { pid: number };
      const exited = new Promise((resolve) => dev!.once("exit", resolve));
      process.kill(-dev.pid!, "SIGINT");
      await exited;
      await until(() => !alive(pid), () => `berth dev (pid ${pid}) to stop:\n${output}`);
      expect(existsSync(join(dir, ".berth/dev.json"))).toBe(false);
      expect(output).not.toMatch(/forced exit|please report/);
    },
    3 * 60_000,
  );

  it(
    "berth package --stage dev builds the stack of the starter catalog offline, with no AWS setup at all",
    () => {
      const bare: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("AWS_")));
      const packaged = npx(["package", "--stage", "dev"], { ...bare, AWS_CONFIG_FILE: join(dir, "no-config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials") });
      expect(packaged.code, packaged.stdout + packaged.stderr).toBe(0);
      const template = JSON.parse(readFileSync(join(dir, ".serverless", "cloudformation-template-update-stack.json"), "utf8")) as { Resources: Record<string, { Type: string }> };
      const types = Object.values(template.Resources).map((r) => r.Type);
      // The starter's push trigger brings the webhook, behind its function URL.
      expect(types.filter((t) => t === "AWS::Lambda::Function")).toHaveLength(4);
      expect(types).toContain("AWS::Lambda::Url");
      expect(types).toContain("AWS::DynamoDB::Table");
      expect(types).toContain("AWS::Scheduler::Schedule");
      for (const fn of ["dispatch", "track", "sweep", "webhook"]) expect(existsSync(join(dir, ".serverless", `${fn}.zip`))).toBe(true);
    },
    3 * 60_000,
  );
});
