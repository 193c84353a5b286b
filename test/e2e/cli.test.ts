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
    expect(r.stdout).toMatch(/deploy-web\s+git:/);
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
    expect(r.stdout).toMatch(/berth\.yml: 6 jobs, service acme-jobs/);
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
