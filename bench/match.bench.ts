/**
 * Event-pattern matching throughput, side by side in one run: PatternIndex of a base commit (`--base <ref>`,
 * default HEAD; `npm run bench -- match --base 195d6a6`), checked out in a temporary git worktree, and of the
 * working tree, over the realistic catalog shapes of test/core/match/catalog-shapes.ts at 10, 100, 1,000 and
 * 10,000 jobs, against ~1 KB EventBridge events of the kinds each shape watches. Both indexes are checked
 * against testing every pattern first. The two take turns, round after round, so a busy moment of the
 * shared machine slows both alike; each figure is the median [min, max] of the rounds.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { compilePattern, matchesPattern } from "../src/core/match/compile.ts";
import { PatternIndex } from "../src/core/match/index.ts";
import type { EventPattern } from "../src/core/match/types.ts";
import { CATALOG_SHAPES } from "../test/core/match/catalog-shapes.ts";
import { percentile, recordBenchmark, table } from "./report.ts";

const SIZES = [10, 100, 1000, 10_000];
const EVENTS = 2000;
/** Events per catalog also matched by testing every pattern, to check both indexes. */
const CHECKED = 300;
const ROUNDS = 7;
const ROUND_SECONDS = 0.2;
const TARGETS = new Map([
  [1000, 100_000],
  [10_000, 50_000],
]);

interface Matcher {
  add(pattern: EventPattern, value: number): void;
  match(event: unknown): number[];
}

const baseRef = process.argv.flatMap((a, i) => (a === "--base" && process.argv[i + 1] ? [process.argv[i + 1]!] : []))[0] ?? "HEAD";
const root = process.cwd();
const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const baseCommit = git("rev-parse", "--short", baseRef);
const dir = mkdtempSync(join(tmpdir(), "berth-match-bench-"));
const worktree = join(dir, "base");
git("worktree", "add", "--detach", worktree, baseRef);

interface Rate {
  /** Events per second of wall-clock time. */
  readonly wall: number;
  /** Events per second of the process's CPU time: what a core of its own would match. */
  readonly cpu: number;
}

/** Events per second of `matcher` over `events`, for at least `seconds`. */
function throughput(matcher: Matcher, events: readonly unknown[], seconds: number): Rate {
  let sink = 0;
  let count = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    for (let k = 0; k < 8; k++) sink += matcher.match(events[count++ % events.length]).length;
    elapsed = performance.now() - start;
  }
  const used = process.cpuUsage(cpu);
  if (sink < 0) console.log(sink);
  return { wall: count / (elapsed / 1000), cpu: count / ((used.user + used.system) / 1e6) };
}

/** A new index of `make` holding `patterns`, and the CPU ms to add them and match a first event (when the index files them). */
function built(make: () => Matcher, patterns: readonly EventPattern[], first: unknown): { index: Matcher; ms: number } {
  const start = process.cpuUsage();
  const index = make();
  patterns.forEach((p, i) => index.add(p, i));
  index.match(first);
  const used = process.cpuUsage(start);
  return { index, ms: (used.user + used.system) / 1000 };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const median = (values: readonly number[]) => percentile([...values].sort((a, b) => a - b), 50);
const spread = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${fmt(percentile(sorted, 50))} [${fmt(sorted[0]!)}, ${fmt(sorted.at(-1)!)}]`;
};

const rows: (string | number)[][] = [];
const verdicts: string[] = [];
try {
  const base = (await import(pathToFileURL(join(worktree, "src/core/match/index.ts")).href)) as { PatternIndex: new () => Matcher };
  for (const shape of CATALOG_SHAPES) {
    for (const size of SIZES) {
      const catalog = shape.build(size, size);
      const events = catalog.events(EVENTS);
      const before = built(() => new base.PatternIndex(), catalog.patterns, events[0]);
      const afterIndex = new PatternIndex<number>();
      const after = built(() => afterIndex, catalog.patterns, events[0]);
      const compiled = catalog.patterns.map((p) => compilePattern(p));
      for (const e of events.slice(0, CHECKED)) {
        const naive = compiled.flatMap((c, i) => (matchesPattern(c, e) ? [i] : [])).join();
        if (before.index.match(e).join() !== naive || after.index.match(e).join() !== naive) {
          throw new Error(`${shape.name}, ${size} jobs: an index and the naive loop disagree on ${JSON.stringify(e)}`);
        }
      }
      let matches = 0;
      const tested = afterIndex.tested;
      for (const e of events) matches += afterIndex.match(e).length;
      const testedPerEvent = (afterIndex.tested - tested) / events.length;
      throughput(before.index, events, ROUND_SECONDS);
      throughput(after.index, events, ROUND_SECONDS);
      const rates = { before: [] as Rate[], after: [] as Rate[] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (["before", "after"] as const) : (["after", "before"] as const);
        for (const side of order) rates[side].push(throughput(side === "before" ? before.index : after.index, events, ROUND_SECONDS));
      }
      const of = (side: "before" | "after", kind: keyof Rate) => rates[side].map((rate) => rate[kind]);
      const target = TARGETS.get(size);
      const verdict = (kind: keyof Rate) => (target === undefined ? "" : median(of("after", kind)) >= target ? "met" : "not met");
      if (target !== undefined) {
        const share = median(of("after", "wall")) / median(of("after", "cpu"));
        const why =
          verdict("cpu") === "not met"
            ? `: each event matches ${(matches / events.length).toFixed(0)} patterns on average, and testing them is the cost`
            : verdict("wall") === "not met"
              ? `: the process had ${(share * 100).toFixed(0)} % of a core on the shared machine`
              : "";
        verdicts.push(`- ${shape.name} at ${fmt(size)} jobs: ${verdict("wall")} by wall clock, ${verdict("cpu")} per CPU second${why}.`);
      }
      rows.push([
        shape.name,
        fmt(size),
        (matches / events.length).toFixed(2),
        testedPerEvent.toFixed(2),
        spread(of("before", "wall")),
        spread(of("after", "wall")),
        spread(of("before", "cpu")),
        spread(of("after", "cpu")),
        `${(median(of("after", "cpu")) / median(of("before", "cpu"))).toFixed(1)}×`,
        target === undefined ? "" : `≥ ${fmt(target)}: ${verdict("wall")} / ${verdict("cpu")}`,
        `${before.ms.toFixed(0)} → ${after.ms.toFixed(0)}`,
      ]);
      console.log(rows.at(-1)!.join(" | "));
    }
  }
} finally {
  git("worktree", "remove", "--force", worktree);
  rmSync(dir, { recursive: true, force: true });
}

const markdown = [
  "## Event-pattern matching",
  "",
  `\`PatternIndex.match\` of ${baseCommit} (before) and of this tree (after), side by side in one run, over catalog`,
  `shapes of 10 to 10,000 jobs (test/core/match/catalog-shapes.ts), each against ${fmt(EVENTS)} pre-parsed ~1 KB events of the kinds`,
  `it watches. Median [min, max] of ${ROUNDS} rounds of ≥ ${ROUND_SECONDS} s each, before and after taking turns, of events per`,
  "second of wall-clock time and per second of the process's CPU time (the rate with a core of its own: the machine is",
  "shared, so the wall-clock rate also measures the neighbours).",
  "\"Tested / event\": patterns the new index fully tested per event (the rest it never looked at); \"matches / event\"",
  "is what any matcher must return. \"Build CPU ms\": compiling and adding the catalog and matching a first event (the",
  "new index files its patterns then).",
  "",
  ...CATALOG_SHAPES.map((s) => `- **${s.name}**: ${s.description}.`),
  "",
  table(["shape", "jobs", "matches / event", "tested / event", "before events/s", "after events/s", "before events / CPU s", "after events / CPU s", "× before (CPU)", "target (wall / CPU)", "build CPU ms"], rows),
  "",
  "Targets (issue 11: ≥ 100,000 events/s at 1,000 jobs, ≥ 50,000 at 10,000):",
  "",
  ...verdicts,
  "",
  "Beyond the patterns that match, the new index tests about one pattern per event whatever the catalog's size, in any",
  "order of its jobs (test/core/match/index-shapes.test.ts counts it), except patterns that nothing but a numeric or",
  "`anything-but` filter tells apart (in \"mixed, one bucket\", the jobs watching objects over 1 GB on the one bucket): no",
  "key rules them out, so every event of their kind tests them.",
].join("\n");

console.log(markdown);
recordBenchmark("match", markdown);
