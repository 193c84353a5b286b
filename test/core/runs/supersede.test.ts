import { describe, expect, it } from "vitest";
import { compareRuns, positionOf, PushChain, type Positioned } from "../../../src/core/runs/position.ts";
import { decideSupersede, newestOf } from "../../../src/core/runs/supersede.ts";
import { busEvent } from "../../../src/core/events/envelope.ts";
import type { Trigger } from "../../../src/core/catalog/types.ts";

const sha = (c: string) => c.repeat(40);
const run = (id: string, s?: string, before?: string, at = 0): Positioned => ({ id, ...(s ? { position: { label: s.slice(0, 7), sha: s, ...(before ? { before } : {}), at } } : {}) });

describe("compareRuns", () => {
  it.each([
    ["the same commit", run("02", sha("a")), run("01", sha("a")), "same"],
    ["the chain: b moved the ref from a", run("01", sha("b"), sha("a"), 1), run("02", sha("a"), sha("0"), 9), "newer"],
    ["the chain, the other way round", run("02", sha("a"), sha("0"), 9), run("01", sha("b"), sha("a"), 1), "older"],
    ["no chain: the later commit time", run("01", sha("c"), sha("9"), 5), run("02", sha("d"), sha("8"), 4), "newer"],
    ["no chain, same time: the later delivery", run("02", sha("c"), undefined, 5), run("01", sha("d"), undefined, 5), "newer"],
    ["a run without a position is older", run("01", sha("c")), run("02"), "newer"],
  ])("%s", (_what, a, b, order) => {
    expect(compareRuns(a, b)).toBe(order);
  });

  it("follows the chain through pushes in between, and is bounded on a looping chain", () => {
    const runs = [run("01", sha("b"), sha("a")), run("02", sha("c"), sha("b")), run("03", sha("d"), sha("c"))];
    const chain = new PushChain(runs);
    expect(compareRuns(run("09", sha("a"), sha("0"), 99), runs[2]!, chain)).toBe("older");
    const loop = new PushChain([run("01", sha("b"), sha("a")), run("02", sha("a"), sha("b"))]);
    expect(loop.precedes(sha("f"), run("03", sha("c"), sha("b")).position!)).toBe(false);
  });
});

describe("positionOf", () => {
  const git: Trigger = { kind: "git", provider: "github", repo: "acme/web", branches: ["main"] };
  it("a git push: its sha, its before, the head commit's time", () => {
    const event = busEvent("berth.git", "Git Push", { committedAt: "2026-03-01T10:00:00+01:00" }, { id: "e", time: Date.parse("2026-03-01T12:00:00Z") });
    expect(positionOf(git, { "git.sha": sha("b"), "git.shortSha": "bbbbbbb", "git.before": sha("a") }, event, 0)).toEqual({
      label: "bbbbbbb",
      sha: sha("b"),
      before: sha("a"),
      at: Date.parse("2026-03-01T09:00:00Z"),
    });
  });
  it("a branch's first push has no before; without a commit time the event's time counts", () => {
    const event = busEvent("aws.codecommit", "CodeCommit Repository State Change", {}, { id: "e", time: Date.parse("2026-03-01T12:00:00Z") });
    expect(positionOf(git, { "git.sha": sha("b"), "git.shortSha": "bbbbbbb", "git.before": sha("0") }, event, 0)).toEqual({ label: "bbbbbbb", sha: sha("b"), at: Date.parse("2026-03-01T12:00:00Z") });
  });
  it("an ECR image push: the digest is the code, tag and repository the label", () => {
    const digest = `sha256:${"7f".repeat(32)}`;
    const event = busEvent("aws.ecr", "ECR Image Action", { "repository-name": "web", "image-tag": "v1.2", "image-digest": digest }, { id: "e", time: 1_000 });
    const trigger: Trigger = { kind: "event", pattern: { source: ["aws.ecr"] } };
    expect(positionOf(trigger, {}, event, 0)).toEqual({ label: "web:v1.2", sha: digest, at: 1_000 });
  });
});

describe("decideSupersede", () => {
  const deployed = run("01", sha("b"), sha("a"), 1);
  it("newer than everything: start, superseding the queued and the in-flight runs", () => {
    const newer = run("05", sha("d"), sha("c"), 3);
    const inFlight = run("03", sha("c"), sha("b"), 2);
    const queued = run("04", sha("c"), sha("b"), 2);
    expect(decideSupersede(newer, { active: [inFlight], queued: [queued], deployed })).toEqual({
      decision: "supersede",
      cancel: ["04", "03"],
      reason: "superseded by ddddddd (run 05)",
    });
  });
  it.each([
    ["older than what is deployed", { active: [], queued: [], deployed }, "older than bbbbbbb (run 01, deployed)"],
    ["the same code as what is deployed", { active: [], queued: [], deployed: run("01", sha("a"), undefined, 0) }, "the same code as aaaaaaa (run 01, deployed)"],
    ["older than the run in flight", { active: [run("03", sha("b"), sha("a"), 1)], queued: [] }, "older than bbbbbbb (run 03, in flight)"],
  ])("%s: SKIPPED with the reason", (_what, peers, reason) => {
    const late = run("09", sha("a"), sha("0"), 0);
    expect(decideSupersede(late, peers)).toEqual({ decision: "skip", reason: `aaaaaaa is ${reason}: a deploy never goes back to older code` });
  });
  it("the newest of several queued runs goes first", () => {
    expect(newestOf([run("01", sha("c"), sha("b"), 2), run("02", sha("d"), sha("c"), 1), run("03", sha("b"), sha("a"), 9)])?.id).toBe("02");
  });
});
