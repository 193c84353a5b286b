/**
 * The loader on catalogs that are wrong in several ways at once, and on hostile YAML: every problem is
 * reported together, syntax errors stop at the first few, and resource-exhaustion files get a located
 * message instead of a crash or a minute of work.
 */
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../../src/core/catalog/load.ts";
import { formatIssue } from "../../../src/core/catalog/issues.ts";

function issuesOf(text: string): string[] {
  const r = loadCatalog(text, "berth.yml");
  if (r.ok) throw new Error("expected the catalog to be rejected");
  return r.error.issues.map(formatIssue);
}

const base = `version: 1
service: acme-jobs
defaults:
  network: { subnets: [subnet-1] }
jobs:
`;

describe("every problem in the file at once", () => {
  it("reports an unknown field, an invalid cron and an unknown template variable of one job together", () => {
    const text = `${base}  j:
    on: { manual: true, schedule: { cron: "0 3 * *" } }
    run: { taskDefinition: t, container: app, command: ["\${s3.key}"] }
    retries: 3
`;
    expect(issuesOf(text)).toEqual([
      expect.stringMatching(/^berth\.yml:7:43 jobs\.j\.on\.schedule\.cron: cron needs 6 fields/),
      expect.stringMatching(/^berth\.yml:8:57 jobs\.j\.run\.command\[0\]: unknown template variable \$\{s3\.key\}/),
      expect.stringMatching(/^berth\.yml:9:5 jobs\.j\.retries: unknown field "retries"/),
    ]);
  });

  it("checks the rest of the file past an unknown top-level field", () => {
    const text = `${base}  j:
    on: { schedule: { rate: 1 hour, timezone: Mars/Olympus } }
    run: { taskDefinition: t }
colour: blue
`;
    expect(issuesOf(text)).toEqual([
      expect.stringMatching(/^berth\.yml:7:47 jobs\.j\.on\.schedule\.timezone: unknown time zone/),
      expect.stringMatching(/^berth\.yml:9:1 colour: unknown field "colour"/),
    ]);
  });

  it("still leaves out a job whose problems are not unknown fields, and checks the others", () => {
    const text = `${base}  bad:
    on: { manual: true }
    run: { taskDefinition: t }
    concurrency: { overlap: sometimes }
  good:
    on: { schedule: { cron: "nope" } }
    run: { taskDefinition: t }
`;
    expect(issuesOf(text)).toEqual([
      "berth.yml:9:29 jobs.bad.concurrency.overlap: overlap must be one of: allow, forbid, replace, queue, supersede",
      expect.stringMatching(/^berth\.yml:11:29 jobs\.good\.on\.schedule\.cron: /),
    ]);
  });
});

describe("YAML syntax errors", () => {
  it("reports the first error of an unclosed [ and says how many more were left out", () => {
    const jobs = Array.from({ length: 60 }, (_, i) => `  j${i}:\n    on: { manual: true }\n    run: { taskDefinition: t }\n`).join("");
    const text = `${base}  first:\n    on: { s3: { bucket: [media } }\n    run: { taskDefinition: t }\n${jobs}`;
    const issues = issuesOf(text);
    expect(issues.length).toBeLessThanOrEqual(4);
    expect(issues[0]).toMatch(/^berth\.yml:\d+:\d+: invalid YAML/);
    const r = loadCatalog(text, "berth.yml");
    expect(!r.ok && r.error.issues[0]!.line).toBe(7);
  });
});

describe("hostile YAML gets a located message, fast", () => {
  const laughs = (levels: number) => {
    let text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < levels; i++) text += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ")}]\n`;
    return text;
  };

  it("refuses alias expansion past the limit (a 'billion laughs' file) with the position of the first alias", () => {
    const text = laughs(9);
    expect(issuesOf(text)).toEqual([expect.stringMatching(/^berth\.yml:2:10: invalid YAML: .*aliases \(\*name\) expand past 100 nodes/)]);
  });

  it("refuses a 552-byte alias bomb the same way", () => {
    const text = laughs(5).padEnd(552, "#");
    expect(issuesOf(text)).toEqual([expect.stringMatching(/^berth\.yml:2:10: invalid YAML: /)]);
  });

  it.each([
    ["a mapping", `? { a: { b: { c: 1 } } }\n: x\n`, "berth.yml:1:3: invalid YAML: a mapping key is a mapping; keys in berth.yml are plain names"],
    ["a list", `jobs:\n  ? [a, b]\n  : x\n`, "berth.yml:2:5: invalid YAML: a mapping key is a list; keys in berth.yml are plain names"],
  ])("refuses %s used as a key, before building any value", (_, text, expected) => {
    expect(issuesOf(text)).toEqual([expected]);
  });

  it("refuses nested maps used as keys, aliased to multiply, without serializing them", () => {
    let text = "k0: &k0 { a: 1 }\n";
    for (let i = 1; i < 40; i++) text += `k${i}: &k${i} { ? *k${i - 1} : *k${i - 1}, ? { x: *k${i - 1} } : 1 }\n`;
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^berth\.yml:2:\d+: invalid YAML: a mapping key is an alias/);
  });
});
