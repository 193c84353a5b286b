/**
 * Each trigger compiles to one EventBridge event pattern. The same patterns
 * become the EventBridge rules on AWS and drive the local bus, so routing is
 * decided here once for both worlds.
 */
import type { EventPattern } from "../match/types.ts";
import type { Trigger, UpstreamStatus } from "./types.ts";
import { encodeS3EventKey } from "../events/s3-key.ts";
import { BERTH_SOURCE, DETAIL_TYPE, GIT_SOURCE, SCHEDULER_SOURCE } from "../events/berth-events.ts";

/**
 * berth.yml spells run statuses in lower case with dashes (`status: timed-out`,
 * `${upstream.status}`); `Berth Run State Change` events carry them as the
 * lifecycle table names them (TIMED_OUT).
 */
export function spelledStatus(published: string): string {
  return published.toLowerCase().replaceAll("_", "-");
}

function publishedStatus(spelled: UpstreamStatus): string {
  return spelled.toUpperCase().replaceAll("-", "_");
}

/** EventBridge wildcard escapes: `*` and `\` are special, everything else is literal. */
function escapeWildcard(s: string): string {
  return s.replace(/[\\*]/g, (c) => `\\${c}`);
}

/** A branch/tag glob: `*` matches any characters (including `/`), as EventBridge's wildcard does. */
function globValue(glob: string): unknown {
  return glob.includes("*") ? { wildcard: glob.replace(/\\/g, "\\\\") } : glob;
}

/**
 * S3 events carry keys URL-encoded (docs/s3-keys.md), so filters written as
 * real keys are encoded the same way: `raw uploads/` must match `raw+uploads/`.
 */
function s3KeyValue(key: NonNullable<Extract<Trigger, { kind: "s3" }>["key"]>): unknown {
  if (key.equals !== undefined) return encodeS3EventKey(key.equals);
  if (key.wildcard !== undefined) return { wildcard: encodeWildcard(key.wildcard) };
  if (key.prefix !== undefined && key.suffix !== undefined) {
    return { wildcard: `${escapeWildcard(encodeS3EventKey(key.prefix))}*${escapeWildcard(encodeS3EventKey(key.suffix))}` };
  }
  if (key.prefix !== undefined) return { prefix: encodeS3EventKey(key.prefix) };
  return { suffix: encodeS3EventKey(key.suffix ?? "") };
}

/** Encodes the literal runs of a wildcard (`\*` is a literal star) and keeps its `*`s. */
function encodeWildcard(wildcard: string): string {
  let out = "";
  let literal = "";
  const flush = () => {
    out += escapeWildcard(encodeS3EventKey(literal));
    literal = "";
  };
  for (let i = 0; i < wildcard.length; i++) {
    const ch = wildcard[i]!;
    if (ch === "\\" && i + 1 < wildcard.length) literal += wildcard[++i];
    else if (ch === "*") {
      flush();
      out += "*";
    } else literal += ch;
  }
  flush();
  return out;
}

export function triggerPattern(trigger: Trigger, service: string, job: string): EventPattern {
  switch (trigger.kind) {
    case "s3":
      return {
        source: ["aws.s3"],
        "detail-type": [DETAIL_TYPE.s3ObjectCreated],
        detail: {
          bucket: { name: [...trigger.buckets] },
          ...(trigger.key ? { object: { key: [s3KeyValue(trigger.key)] } } : {}),
        },
      };
    case "git": {
      const branches = trigger.branches?.map(globValue);
      const tags = trigger.tags?.map(globValue);
      if (trigger.provider === "codecommit") {
        const refs = (type: string, names: unknown[] | undefined) => ({ referenceType: [type], ...(names ? { referenceName: names } : {}) });
        const refFilter =
          branches && tags
            ? { $or: [refs("branch", branches), refs("tag", tags)] }
            : tags
              ? refs("tag", tags)
              : refs("branch", branches);
        return {
          source: ["aws.codecommit"],
          "detail-type": [DETAIL_TYPE.codeCommitStateChange],
          detail: { event: ["referenceCreated", "referenceUpdated"], repositoryName: [trigger.repo], ...refFilter },
        };
      }
      const refFilter =
        branches && tags
          ? { $or: [{ branch: branches }, { tag: tags }] }
          : tags
            ? { tag: tags }
            : { branch: branches ?? [{ exists: true }] };
      return {
        source: [GIT_SOURCE],
        "detail-type": [DETAIL_TYPE.gitPush],
        detail: { provider: [trigger.provider], repo: [trigger.repo], deleted: [false], ...refFilter },
      };
    }
    case "schedule":
      return { source: [SCHEDULER_SOURCE], "detail-type": [DETAIL_TYPE.scheduleFired], detail: { service: [service], job: [job] } };
    case "manual":
      return { source: [BERTH_SOURCE], "detail-type": [DETAIL_TYPE.manualRun], detail: { service: [service], job: [job] } };
    case "job":
      return {
        source: [BERTH_SOURCE],
        "detail-type": [DETAIL_TYPE.runStateChange],
        detail: { service: [service], job: [trigger.job], status: trigger.statuses.map(publishedStatus) },
      };
    case "event":
      return trigger.pattern;
  }
}
