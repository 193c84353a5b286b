import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;
const bin = join(root, "bin/berth.js");

function berth(args: string[], opts: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd ?? root, input: opts.input, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("berth explain", () => {
  it("shows the thumbnails job and its RunTask input with the key inside", () => {
    const r = berth(["explain", "events/s3-object-created.json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✔ thumbnails fires \(s3 trigger\)/);
    expect(r.stdout).toContain("ECS RunTask input");
    expect(r.stdout).toContain('"s3://media-uploads/incoming/cat.png"');
    expect(r.stdout).toMatch(/migrate-web\s+git:/);
    expect(r.stdout).toMatch(/deploy-web\s+job:/);
    expect(r.stdout).toMatch(/deploy-api\s+event:/);
  });

  it("prints why nothing fired and exits 0 for an event no job wants", () => {
    const r = berth(["explain", "events/s3-object-created-other-bucket.json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no job fires for this event");
    expect(r.stdout).toMatch(/thumbnails\s+s3:\s+detail\.bucket\.name/);
  });

  it("gives scripts the decision as JSON, the hostile key byte-identical", () => {
    const r = berth(["explain", "events/s3-object-created-hostile-key.json", "--json"]);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.stdout);
    const fired = x.fired.find((f: { job: string }) => f.job === "thumbnails");
    const override = fired.action.request.overrides.containerOverrides[0];
    expect(override.command[2]).toBe("s3://media-uploads/incoming/a b/$(rm -rf ~);'x'.png");
    expect(override.environment).toContainEqual({ name: "INPUT_KEY", value: "incoming/a b/$(rm -rf ~);'x'.png" });
  });

  it("reads the event from standard input", () => {
    const r = berth(["explain", "-", "--json"], { input: readFileSync(join(root, "events/schedule-fired.json"), "utf8") });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).fired.map((f: { job: string }) => f.job)).toEqual(["nightly-backup"]);
  });

  it.each([
    ["not JSON", "{nope", /is not JSON/],
    ["not an envelope", '{"hello": 1}', /no "source" string/],
  ])("rejects an event that is %s with exit 2", (_what, input, message) => {
    const r = berth(["explain", "-"], { input });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/at .*\.m?[jt]s:\d+/);
  });
});

describe("berth validate", () => {
  it("lists the example catalog's jobs", () => {
    const r = berth(["validate"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/berth\.yml: 8 jobs, service acme-jobs/);
    expect(r.stdout).toMatch(/deploy-web\s+after migrate-web succeeded\s+deploy web on web/);
    expect(r.stdout).toMatch(/deploy-api\s+event .*\s+deploy api on web/);
    expect(r.stdout).toMatch(/nightly-backup\s+schedule cron\(0 3 \* \* \? \*\) Asia\/Seoul/);
  });

  it("exits 1 and lists every problem of a broken catalog as file:line:col path: message", () => {
    const r = berth(["validate", "--config", "test/fixtures/broken.yml"]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.filter((l) => /^✖ test\/fixtures\/broken\.yml:\d+:\d+ jobs\.\S+: /.test(l))).toHaveLength(5);
    expect(lines.at(-1)).toMatch(/5 problems/);
  });

  it("says what to do when there is no berth.yml", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-"));
    const r = berth(["validate"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/berth\.yml: no such file\. .*--config/);
  });

  it("reports a broken catalog as JSON with --json", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-"));
    writeFileSync(join(dir, "berth.yml"), "version: 1\nservice: s\njobs: { j: { on: { manual: true } } }\n");
    const r = berth(["validate", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, issues: [{ file: "berth.yml", line: 3, path: "jobs.j" }] });
  });
});

describe("berth schema", () => {
  it("matches the committed berth.schema.json that the example catalog points editors at", () => {
    const r = berth(["schema"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(root, "berth.schema.json"), "utf8")));
  });
});

describe("--config, the one option of every command that reads the catalog", () => {
  const RUN = "01JDQ8Z3X5M1V6K7R2T9ABCDEF";
  const commands = [
    { name: "validate", command: ["validate"], args: [] },
    { name: "compile", command: ["compile"], args: [] },
    { name: "schedule", command: ["schedule"], args: [] },
    { name: "explain", command: ["explain"], args: ["events/s3-object-created.json"] },
    { name: "run", command: ["run"], args: ["thumbnails"] },
    // These two read the catalog only for a deployed stage.
    { name: "cancel", command: ["cancel"], args: [RUN] },
    { name: "runs show", command: ["runs", "show"], args: [RUN] },
  ];
  const loadingFirst = commands.slice(0, 5);

  it.each(commands)("berth $name --help describes it the same way", ({ command }) => {
    const r = berth([...command, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-c, --config <file>\s+catalog file \(default: berth\.yml, or \$BERTH_CONFIG\)/);
  });

  it.each(loadingFirst)("berth $name -c with a broken catalog lists its problems and exits 1", ({ command, args }) => {
    const r = berth([...command, ...args, "-c", "test/fixtures/broken.yml"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/5 problems in test\/fixtures\/broken\.yml/);
  });

  it.each(loadingFirst)("berth $name --config naming a missing file is a usage error, exit 2", ({ command, args }) => {
    const r = berth([...command, ...args, "--config", "nope.yml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/berth: nope\.yml: no such file/);
  });
});

describe("exit codes", () => {
  it("a run that does not exist is not found: exit 1, no usage hint and no report request", () => {
    const r = berth(["logs", "01JDQ8Z3X5M1V6K7R2T9ABCDEF"], { cwd: mkdtempSync(join(tmpdir(), "berth-")) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^berth: no log for run 01JDQ8Z3X5M1V6K7R2T9ABCDEF/);
    expect(r.stderr).not.toMatch(/please report|berth --help/);
  });
});
