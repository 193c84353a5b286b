/**
 * Many patterns, one event. Each pattern is filed under one field that every
 * matching event must carry with one of a few exact values, prefixes or
 * suffixes (its "anchor", e.g. `detail.bucket.name` = "media-uploads", or
 * `detail.object.key` starting with "incoming/" or ending with ".png"), or
 * for a `$or` under one such field per alternative; patterns without any are
 * kept on a short list checked for every event. Matching looks up the event's
 * values at each anchor path (for affixes, once per affix length filed
 * there), then fully tests only the candidates found there, so the cost
 * follows the number of plausible patterns rather than the catalog size.
 *
 * Where a pattern is filed depends on the whole catalog, never on the order
 * patterns arrive in: the index counts, for every key any pattern offers, how
 * many patterns offer it, and files each pattern under the keys an event is
 * expected to find the fewest patterns under (so jobs that each watch their
 * own bucket and one of a few folders go under their bucket, and jobs sharing
 * one bucket under their folder). A bucket many patterns still share is filed
 * again, by the other keys of its patterns (the `.png` jobs among those of
 * the folder "incoming/"). Patterns are filed when the first event after they
 * were added is matched; the whole index is filed afresh once the catalog has
 * grown by a quarter since it was last filed.
 */
import type { EventPattern } from "./types.ts";
import { expandEventKeysFor, type FieldNames } from "./dotted-keys.ts";
import {
  anchorChoices,
  compilePattern,
  everyAnchor,
  matchesExpanded,
  type Anchor,
  type AnchorChoice,
  type CompiledPattern,
  type Leaf,
  type PatternNode,
} from "./compile.ts";

interface Entry<T> {
  readonly compiled: CompiledPattern;
  readonly value: T;
  readonly anchors: readonly Anchor[];
}

/** Patterns filed under one key; `level` files them again when many share it. */
interface Bucket {
  readonly ids: number[];
  level: Level | undefined;
}

interface PathIndex {
  readonly segments: readonly string[];
  readonly buckets: Map<Leaf, Bucket>;
  readonly prefixBuckets: Map<string, Bucket>;
  /** Distinct lengths of the prefixes in `prefixBuckets`, ascending. */
  readonly prefixLengths: number[];
  readonly suffixBuckets: Map<string, Bucket>;
  /** Distinct lengths of the suffixes in `suffixBuckets`, ascending. */
  readonly suffixLengths: number[];
}

/**
 * Patterns filed by their keys, and those tested whenever the level is reached. A crowded bucket's
 * level files the patterns whose every key all of the bucket's patterns share in `gated`, under one
 * of those keys: an event that reached the bucket without it (a bucket name no job watches) then
 * skips them.
 */
interface Level {
  readonly paths: Map<string, PathIndex>;
  readonly direct: number[];
  gated: Level | undefined;
}

/** How many patterns offer each key at one path, filed there or not. */
interface PathCounts {
  readonly values: Map<Leaf, number>;
  readonly prefixes: Map<string, number>;
  readonly suffixes: Map<string, number>;
}

type KeyCounts = Map<string, PathCounts>;

/** Growth of the catalog, since it was last filed, past which every pattern is filed afresh. */
const REFILE_GROWTH = 1.25;
/** A bucket with more patterns than this is filed again by their other keys. */
const CROWDED = 2;
/** How many times a bucket's patterns are filed again at most (each time under keys fewer of them share). */
const MAX_DEPTH = 4;

/**
 * The index over patterns the caller compiled: a router over a compiled catalog, whose patterns were
 * validated before, compiles them without the validator (compile.ts `compileValidatedPattern`).
 */
export class CompiledPatternIndex<T> {
  readonly #entries: Entry<T>[] = [];
  readonly #counts: KeyCounts = new Map();
  /** Every field name the patterns look at, so matching expands only dotted keys that could meet one. */
  readonly #names: FieldNames = new Map();
  #top: Level = newLevel();
  /** The first `#filed` entries are filed in `#top`. */
  #filed = 0;
  /** How many entries there were when every entry was last filed afresh. */
  #refiledAt = 0;
  #tested = 0;
  #seen = new Uint32Array(16);
  #epoch = 0;

  get size(): number {
    return this.#entries.length;
  }

  /** How many times `match` has fully tested a pattern against an event: what the index exists to keep low. */
  get tested(): number {
    return this.#tested;
  }

  addCompiled(compiled: CompiledPattern, value: T): void {
    const id = this.#entries.length;
    const anchors = everyAnchor(compiled);
    this.#entries.push({ compiled, value, anchors });
    if (this.#seen.length <= id) {
      const grown = new Uint32Array(this.#seen.length * 2);
      grown.set(this.#seen);
      this.#seen = grown;
    }
    count(this.#counts, anchors);
    addNames(this.#names, compiled.root);
  }

  /** The values of every pattern `event` matches, in the order they were added. */
  match(input: unknown): T[] {
    if (this.#filed < this.#entries.length) this.#fileAdded();
    const event = expandEventKeysFor(input, this.#names);
    this.#epoch = this.#epoch === 0xffffffff ? 1 : this.#epoch + 1;
    if (this.#epoch === 1) this.#seen.fill(0);
    const candidates: number[] = [];
    this.#collectLevel(event, this.#top, candidates);
    if (candidates.length > 1) candidates.sort((a, b) => a - b);
    this.#tested += candidates.length;
    const out: T[] = [];
    for (const id of candidates) {
      const entry = this.#entries[id]!;
      if (matchesExpanded(entry.compiled, event)) out.push(entry.value);
    }
    return out;
  }

  /**
   * File the patterns added since the last match; all of them afresh once the catalog has grown enough
   * that keys chosen before may no longer be the best ones (and always the first time), so adding
   * patterns one at a time between matches stays linear overall.
   */
  #fileAdded(): void {
    if (this.#entries.length >= this.#refiledAt * REFILE_GROWTH) {
      const ids = this.#entries.map((_, id) => id);
      this.#top = this.#level(ids, this.#counts, Infinity, 0);
      this.#filed = this.#refiledAt = this.#entries.length;
      return;
    }
    for (; this.#filed < this.#entries.length; this.#filed++) {
      const id = this.#filed;
      const choice = this.#choose(this.#top, this.#counts, Infinity, this.#choices(id, this.#top, this.#counts));
      // A crowded bucket's own level sees the newcomer whenever the bucket is reached, until the next refile.
      if (choice === undefined) this.#top.direct.push(id);
      else for (const bucket of fileUnder(this.#top, choice, id)) bucket.level?.direct.push(id);
    }
  }

  /**
   * A level filing `ids` by the keys `counts` counts; with `members` finite (a crowded bucket's
   * patterns filed again), only under keys fewer than all of them share.
   */
  #level(ids: readonly number[], counts: KeyCounts, members: number, depth: number): Level {
    const level = newLevel();
    const shared: number[] = [];
    for (const id of ids) {
      const choice = this.#choose(level, counts, members, this.#choices(id, level, counts));
      if (choice !== undefined) fileUnder(level, choice, id);
      else if (members === Infinity) level.direct.push(id);
      else shared.push(id);
    }
    if (shared.length > 0) level.gated = this.#level(shared, counts, Infinity, MAX_DEPTH);
    if (depth >= MAX_DEPTH) return level;
    for (const index of level.paths.values()) {
      for (const buckets of [index.buckets, index.prefixBuckets, index.suffixBuckets] as Map<unknown, Bucket>[]) {
        for (const bucket of buckets.values()) {
          if (bucket.ids.length <= CROWDED) continue;
          const inner: KeyCounts = new Map();
          for (const id of bucket.ids) count(inner, this.#entries[id]!.anchors);
          bucket.level = this.#level(bucket.ids, inner, bucket.ids.length, depth + 1);
        }
      }
    }
    return level;
  }

  #choices(id: number, level: Level, counts: KeyCounts): AnchorChoice[] {
    return anchorChoices(this.#entries[id]!.compiled, (choices) => this.#choose(level, counts, Infinity, choices));
  }

  /** Candidates of `level` for the event: its direct patterns and those filed under the event's values. */
  #collectLevel(event: unknown, level: Level, out: number[]): void {
    for (const index of level.paths.values()) this.#collect(event, event, index, 0, out);
    this.#take(level.direct, out);
    if (level.gated !== undefined) this.#collectLevel(event, level.gated, out);
  }

  /** Candidates filed under the event's values at `index.segments` (arrays flattened at every level). */
  #collect(event: unknown, value: unknown, index: PathIndex, depth: number, out: number[]): void {
    if (Array.isArray(value)) {
      for (const item of value) this.#collect(event, item, index, depth, out);
      return;
    }
    if (depth === index.segments.length) {
      if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        this.#reach(event, index.buckets.get(value), out);
        if (typeof value === "string") {
          for (const length of index.prefixLengths) {
            if (length > value.length) break;
            this.#reach(event, index.prefixBuckets.get(value.slice(0, length)), out);
          }
          for (const length of index.suffixLengths) {
            if (length > value.length) break;
            this.#reach(event, index.suffixBuckets.get(value.slice(value.length - length)), out);
          }
        }
      }
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const key = index.segments[depth]!;
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      this.#collect(event, (value as Record<string, unknown>)[key], index, depth + 1, out);
    }
  }

  /** The candidates of a bucket the event reached: all its patterns, or those its own level finds. */
  #reach(event: unknown, bucket: Bucket | undefined, out: number[]): void {
    if (bucket === undefined) return;
    if (bucket.level === undefined) this.#take(bucket.ids, out);
    else this.#collectLevel(event, bucket.level, out);
  }

  #take(ids: readonly number[], out: number[]): void {
    for (const id of ids) {
      if (this.#seen[id] !== this.#epoch) {
        this.#seen[id] = this.#epoch;
        out.push(id);
      }
    }
  }

  /**
   * The choice under whose keys an event is expected to find the fewest patterns, then the one whose
   * keys the fewest patterns share at worst, then the deepest (the more specific field), then the one
   * with fewest prefixes and suffixes (a crowded folder's patterns that share every key are gated by
   * their bucket, not by the folder again), then the one whose buckets are emptiest so far, then the
   * one with fewest keys. With `members` finite, only choices whose every key fewer than `members`
   * patterns share.
   *
   * No statistics of events are kept: an event is taken to hit each key offered at a path and kind
   * (value, prefix, suffix) equally often, and to find there every pattern offering the key. So a
   * bucket name a few jobs watch beats the folder half the catalog watches, a folder one job watches
   * beats the bucket many jobs share, and a detail-type among hundreds beats a region among four.
   */
  #choose(level: Level, counts: KeyCounts, members: number, choices: readonly AnchorChoice[]): AnchorChoice | undefined {
    let best: AnchorChoice | undefined;
    let bestScore: readonly number[] = [];
    for (const choice of choices) {
      let expected = 0;
      let worst = 0;
      let load = 0;
      let keys = 0;
      let affixes = 0;
      let depth = Infinity;
      for (const anchor of choice) {
        const key = pathKey(anchor.segments);
        const offers = counts.get(key);
        const index = level.paths.get(key);
        const weigh = <K>(offered: Map<K, number> | undefined, buckets: Map<K, Bucket> | undefined, keysHere: Iterable<K>): void => {
          for (const k of keysHere) {
            const shared = offered?.get(k) ?? 1;
            expected += shared / (offered?.size ?? 1);
            worst = Math.max(worst, shared);
            load += buckets?.get(k)?.ids.length ?? 0;
            keys++;
          }
        };
        weigh(offers?.values, index?.buckets, anchor.values);
        weigh(offers?.prefixes, index?.prefixBuckets, anchor.prefixes);
        weigh(offers?.suffixes, index?.suffixBuckets, anchor.suffixes);
        affixes += anchor.prefixes.length + anchor.suffixes.length;
        depth = Math.min(depth, anchor.segments.length);
      }
      if (worst >= members) continue;
      const score = [expected, worst, -depth, affixes, load, keys];
      if (best === undefined || lexLess(score, bestScore)) {
        best = choice;
        bestScore = score;
      }
    }
    return best;
  }
}

/** The index over patterns as written: each is compiled, and so validated, when it is added. */
export class PatternIndex<T> extends CompiledPatternIndex<T> {
  /** Add `pattern` (throws InvalidPatternError when EventBridge would reject it). */
  add(pattern: EventPattern, value: T): void {
    this.addCompiled(compilePattern(pattern), value);
  }
}

function addNames(names: FieldNames, node: PatternNode): void {
  for (const field of node.fields) {
    let inner = names.get(field.key);
    if (inner === undefined) {
      inner = new Map();
      names.set(field.key, inner);
    }
    if (field.kind === "object") addNames(inner, field.node);
  }
  for (const alternatives of node.ors) for (const alternative of alternatives) addNames(names, alternative);
}

function newLevel(): Level {
  return { paths: new Map(), direct: [], gated: undefined };
}

/** Count each key of `anchors` (a pattern's) once, however many of its fields offer it. */
function count(counts: KeyCounts, anchors: readonly Anchor[]): void {
  const offered = new Map<PathCounts, { values: Set<Leaf>; prefixes: Set<string>; suffixes: Set<string> }>();
  for (const anchor of anchors) {
    const key = pathKey(anchor.segments);
    let here = counts.get(key);
    if (here === undefined) {
      here = { values: new Map(), prefixes: new Map(), suffixes: new Map() };
      counts.set(key, here);
    }
    let keys = offered.get(here);
    if (keys === undefined) {
      keys = { values: new Set(), prefixes: new Set(), suffixes: new Set() };
      offered.set(here, keys);
    }
    for (const v of anchor.values) keys.values.add(v);
    for (const p of anchor.prefixes) keys.prefixes.add(p);
    for (const s of anchor.suffixes) keys.suffixes.add(s);
  }
  const bump = <K>(map: Map<K, number>, keys: Iterable<K>) => {
    for (const k of keys) map.set(k, (map.get(k) ?? 0) + 1);
  };
  for (const [here, keys] of offered) {
    bump(here.values, keys.values);
    bump(here.prefixes, keys.prefixes);
    bump(here.suffixes, keys.suffixes);
  }
}

/** File `id` in `level` under every key of `choice`; the buckets it went into. */
function fileUnder(level: Level, choice: AnchorChoice, id: number): Bucket[] {
  const into: Bucket[] = [];
  for (const anchor of choice) {
    const key = pathKey(anchor.segments);
    let index = level.paths.get(key);
    if (index === undefined) {
      index = { segments: anchor.segments, buckets: new Map(), prefixBuckets: new Map(), prefixLengths: [], suffixBuckets: new Map(), suffixLengths: [] };
      level.paths.set(key, index);
    }
    for (const v of anchor.values) into.push(file(index.buckets, v, id));
    for (const p of anchor.prefixes) into.push(fileAffix(index.prefixBuckets, index.prefixLengths, p, id));
    for (const s of anchor.suffixes) into.push(fileAffix(index.suffixBuckets, index.suffixLengths, s, id));
  }
  return into;
}

function file<K>(buckets: Map<K, Bucket>, key: K, id: number): Bucket {
  let bucket = buckets.get(key);
  if (bucket === undefined) {
    bucket = { ids: [id], level: undefined };
    buckets.set(key, bucket);
  } else if (bucket.ids[bucket.ids.length - 1] !== id) bucket.ids.push(id);
  return bucket;
}

/** File `id` under `affix`, keeping `lengths` the ascending distinct affix lengths probed per event value. */
function fileAffix(buckets: Map<string, Bucket>, lengths: number[], affix: string, id: number): Bucket {
  if (!lengths.includes(affix.length)) {
    lengths.push(affix.length);
    lengths.sort((a, b) => a - b);
  }
  return file(buckets, affix, id);
}

function pathKey(segments: readonly string[]): string {
  return segments.join("\u0000");
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]!;
  }
  return false;
}
