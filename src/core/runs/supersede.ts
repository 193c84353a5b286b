/**
 * `overlap: supersede` (the default of deploy jobs): at most one run of the
 * job in flight, the newest code wins, and nothing goes backwards.
 *
 * | the new run's code, against …           | decision                                       |
 * |------------------------------------------|------------------------------------------------|
 * | what the last succeeded run deployed     | older or the same: SKIPPED, with the reason    |
 * | a run in flight or queued                | older or the same: SKIPPED, with the reason    |
 * | every one of them                        | newer: cancel the others ("superseded by …"),  |
 * |                                          | then start                                     |
 *
 * Order is runs/position.ts `compareRuns`. A superseded deployment is not
 * stopped: the new deployment replaces it on the service (stopping it first
 * would roll the service back for nothing); a superseded task is stopped.
 */
import type { Admission } from "./concurrency.ts";
import { compareRuns, labelOf, PushChain, type Positioned } from "./position.ts";

export interface SupersedePeers {
  /** Runs holding the job's slot (in flight). */
  readonly active: readonly Positioned[];
  /** Other QUEUED runs of the job (a run that lost the race for the slot waits there). */
  readonly queued: readonly Positioned[];
  /** The job's newest SUCCEEDED run: what the service serves now. */
  readonly deployed?: Positioned;
  /** The job's recent runs, whatever their status: the push chain is read from them. */
  readonly recent?: readonly Positioned[];
}

export function supersededReason(by: Positioned): string {
  return `superseded by ${labelOf(by)} (run ${by.id})`;
}

export function decideSupersede(run: Positioned, peers: SupersedePeers): Admission {
  const others = (list: readonly Positioned[]) => list.filter((p) => p.id !== run.id);
  const blockers: { readonly peer: Positioned; readonly role: string }[] = [
    ...(peers.deployed && peers.deployed.id !== run.id ? [{ peer: peers.deployed, role: "deployed" }] : []),
    ...others(peers.active).map((peer) => ({ peer, role: "in flight" })),
    ...others(peers.queued).map((peer) => ({ peer, role: "queued" })),
  ];
  const chain = new PushChain([run, ...blockers.map((b) => b.peer), ...(peers.recent ?? [])]);
  for (const { peer, role } of blockers) {
    const order = compareRuns(run, peer, chain);
    if (order === "newer") continue;
    const what = order === "same" ? "the same code as" : "older than";
    return {
      decision: "skip",
      reason: `${labelOf(run)} is ${what} ${labelOf(peer)} (run ${peer.id}, ${role}): a deploy never goes back to older code`,
    };
  }
  const cancel = [...others(peers.queued), ...others(peers.active)].map((p) => p.id);
  return { decision: "supersede", cancel, reason: supersededReason(run) };
}

/** Of several queued runs, the one to admit next: the newest code (the others are superseded by it). */
export function newestOf<P extends Positioned>(runs: readonly P[]): P | undefined {
  const chain = new PushChain(runs);
  let best: P | undefined;
  for (const r of runs) if (best === undefined || compareRuns(r, best, chain) === "newer") best = r;
  return best;
}
