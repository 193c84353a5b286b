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
 */
import type { EventPattern } from "./types.ts";
import { expandEventKeys } from "./dotted-keys.ts";
import { anchorChoices, compilePattern, matchesExpanded, type AnchorChoice, type CompiledPattern, type Leaf } from "./compile.ts";

interface Entry<T> {
  readonly compiled: CompiledPattern;
  readonly value: T;
}

interface PathIndex {
  readonly segments: readonly string[];
  readonly buckets: Map<Leaf, number[]>;
  readonly prefixBuckets: Map<string, number[]>;
  /** Distinct lengths of the prefixes in `prefixBuckets`, ascending. */
  readonly prefixLengths: number[];
  readonly suffixBuckets: Map<string, number[]>;
  /** Distinct lengths of the suffixes in `suffixBuckets`, ascending. */
  readonly suffixLengths: number[];
}

/**
 * Envelope fields shared by whole families of events (every S3 event has
 * `source` "aws.s3"): a poor key when the pattern offers anything else.
 */
const SHARED_ENVELOPE_FIELDS = new Set(["source", "detail-type", "account", "region", "version"]);

/**
 * The index over patterns the caller compiled: a router over a compiled catalog, whose patterns were
 * validated before, compiles them without the validator (compile.ts `compileValidatedPattern`).
 */
export class CompiledPatternIndex<T> {
  readonly #entries: Entry<T>[] = [];
  readonly #paths = new Map<string, PathIndex>();
  readonly #unanchored: number[] = [];
  #seen = new Uint32Array(16);
  #epoch = 0;

  get size(): number {
    return this.#entries.length;
  }

  addCompiled(compiled: CompiledPattern, value: T): void {
    const id = this.#entries.length;
    this.#entries.push({ compiled, value });
    if (this.#seen.length <= id) {
      const grown = new Uint32Array(this.#seen.length * 2);
      grown.set(this.#seen);
      this.#seen = grown;
    }
    const choice = this.#choose(anchorChoices(compiled, (choices) => this.#choose(choices)));
    if (choice === undefined) {
      this.#unanchored.push(id);
      return;
    }
    for (const anchor of choice) {
      const key = anchor.segments.join("\u0000");
      let index = this.#paths.get(key);
      if (index === undefined) {
        index = { segments: anchor.segments, buckets: new Map(), prefixBuckets: new Map(), prefixLengths: [], suffixBuckets: new Map(), suffixLengths: [] };
        this.#paths.set(key, index);
      }
      for (const v of anchor.values) file(index.buckets, v, id);
      for (const p of anchor.prefixes) fileAffix(index.prefixBuckets, index.prefixLengths, p, id);
      for (const s of anchor.suffixes) fileAffix(index.suffixBuckets, index.suffixLengths, s, id);
    }
  }

  /** The values of every pattern `event` matches, in the order they were added. */
  match(input: unknown): T[] {
    const event = expandEventKeys(input);
    this.#epoch = this.#epoch === 0xffffffff ? 1 : this.#epoch + 1;
    if (this.#epoch === 1) this.#seen.fill(0);
    const candidates: number[] = [];
    for (const index of this.#paths.values()) this.#collect(event, index, 0, candidates);
    for (const id of this.#unanchored) candidates.push(id);
    if (candidates.length > 1) candidates.sort((a, b) => a - b);
    const out: T[] = [];
    for (const id of candidates) {
      const entry = this.#entries[id]!;
      if (matchesExpanded(entry.compiled, event)) out.push(entry.value);
    }
    return out;
  }

  /** Candidates filed under the event's values at `index.segments` (arrays flattened at every level). */
  #collect(value: unknown, index: PathIndex, depth: number, out: number[]): void {
    if (Array.isArray(value)) {
      for (const item of value) this.#collect(item, index, depth, out);
      return;
    }
    if (depth === index.segments.length) {
      if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        this.#take(index.buckets.get(value), out);
        if (typeof value === "string") {
          for (const length of index.prefixLengths) {
            if (length > value.length) break;
            this.#take(index.prefixBuckets.get(value.slice(0, length)), out);
          }
          for (const length of index.suffixLengths) {
            if (length > value.length) break;
            this.#take(index.suffixBuckets.get(value.slice(value.length - length)), out);
          }
        }
      }
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const key = index.segments[depth]!;
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      this.#collect((value as Record<string, unknown>)[key], index, depth + 1, out);
    }
  }

  #take(bucket: readonly number[] | undefined, out: number[]): void {
    if (bucket === undefined) return;
    for (const id of bucket) {
      if (this.#seen[id] !== this.#epoch) {
        this.#seen[id] = this.#epoch;
        out.push(id);
      }
    }
  }

  /**
   * Prefer fields other than the shared envelope ones, then the choice an
   * event is least likely to hit, then the one whose buckets are emptiest so
   * far, then the deepest, then the one with fewest values.
   *
   * Without event statistics, an event is taken to hit each key filed at a
   * path and kind (value, prefix, suffix) equally often: a key among 125
   * bucket names is rarer than one of 5 file extensions, but in a catalog
   * where every job watches one bucket the extension is the rarer key.
   * Patterns sharing `detail.service` thus spread out over `detail.job`.
   */
  #choose(choices: readonly AnchorChoice[]): AnchorChoice | undefined {
    let best: AnchorChoice | undefined;
    let bestScore: readonly number[] = [];
    for (const choice of choices) {
      let shared = 0;
      let hits = 0;
      let load = 0;
      let depth = Infinity;
      let values = 0;
      for (const anchor of choice) {
        if (anchor.segments.length === 1 && SHARED_ENVELOPE_FIELDS.has(anchor.segments[0]!)) shared = 1;
        const index = this.#paths.get(anchor.segments.join("\u0000"));
        const weigh = <K>(buckets: Map<K, number[]> | undefined, keys: Iterable<K>): void => {
          for (const key of keys) {
            const bucket = buckets?.get(key);
            load += bucket?.length ?? 0;
            hits += 1 / ((buckets?.size ?? 0) + (bucket === undefined ? 1 : 0));
          }
        };
        weigh(index?.buckets, anchor.values);
        weigh(index?.prefixBuckets, anchor.prefixes);
        weigh(index?.suffixBuckets, anchor.suffixes);
        depth = Math.min(depth, anchor.segments.length);
        values += anchor.values.size + anchor.prefixes.length + anchor.suffixes.length;
      }
      const score = [shared, hits, load, -depth, values];
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

function file<K>(buckets: Map<K, number[]>, key: K, id: number): void {
  const bucket = buckets.get(key);
  if (bucket === undefined) buckets.set(key, [id]);
  else if (bucket[bucket.length - 1] !== id) bucket.push(id);
}

/** File `id` under `affix`, keeping `lengths` the ascending distinct affix lengths probed per event value. */
function fileAffix(buckets: Map<string, number[]>, lengths: number[], affix: string, id: number): void {
  file(buckets, affix, id);
  if (!lengths.includes(affix.length)) {
    lengths.push(affix.length);
    lengths.sort((a, b) => a - b);
  }
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]!;
  }
  return false;
}
