/**
 * Run ids and the identifiers derived from them for ECS.
 *
 * A run id is a ULID: 10 Crockford base32 characters of millisecond time
 * followed by 16 of randomness. Ids sort by creation time as plain strings,
 * which keeps run history listings ordered without a second index.
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const RANDOM_BYTES = 10;
const MAX_TIME = 2 ** 48 - 1;
// 48 bits fill 10 base32 characters with 2 bits to spare, so the first character is at most "7".
const RUN_ID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** Sortable run id: ULID (26 chars Crockford base32: 48-bit ms time + 80 random bits). `random` supplies 10 bytes. */
export function newRunId(timeMs: number, random: Uint8Array): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > MAX_TIME) {
    throw new RangeError(`run id time must be an integer number of milliseconds in 0..2^48-1, got ${timeMs}`);
  }
  if (random.length !== RANDOM_BYTES) {
    throw new RangeError(`run id randomness must be exactly ${RANDOM_BYTES} bytes, got ${random.length}`);
  }

  let time = "";
  let t = timeMs;
  for (let i = 0; i < TIME_CHARS; i += 1) {
    time = ALPHABET.charAt(t % 32) + time;
    t = Math.floor(t / 32);
  }

  // 80 bits = 16 groups of 5; BigInt keeps the bit slicing exact.
  let bits = 0n;
  for (const byte of random) bits = (bits << 8n) | BigInt(byte);
  let rand = "";
  for (let i = 0; i < RANDOM_CHARS; i += 1) {
    rand = ALPHABET.charAt(Number(bits & 31n)) + rand;
    bits >>= 5n;
  }
  return time + rand;
}

export function isRunId(s: string): boolean {
  return RUN_ID.test(s);
}

/** The creation time (ms since the epoch) encoded in a run id. */
export function runIdTime(id: string): number {
  if (!isRunId(id)) throw new RangeError(`not a berth run id: ${JSON.stringify(id)}`);
  let t = 0;
  for (let i = 0; i < TIME_CHARS; i += 1) t = t * 32 + ALPHABET.indexOf(id.charAt(i));
  return t;
}

/*
 * RunTask `startedBy`: letters, digits, "-", "/" and "_". The current API
 * reference allows 128 characters, older revisions 36; "berth/" + 26 = 32 fits
 * both. ListTasks can filter on it, and task state-change events carry it, so
 * `track` can tell berth's tasks from everyone else's.
 */
export const STARTED_BY_PREFIX = "berth/";

/** ECS `startedBy` for a run: identifies berth's tasks. */
export function startedByFor(runId: string): string {
  if (!isRunId(runId)) throw new RangeError(`not a berth run id: ${JSON.stringify(runId)}`);
  return STARTED_BY_PREFIX + runId;
}

export function runIdFromStartedBy(startedBy: string): string | undefined {
  if (!startedBy.startsWith(STARTED_BY_PREFIX)) return undefined;
  const id = startedBy.slice(STARTED_BY_PREFIX.length);
  return isRunId(id) ? id : undefined;
}

/**
 * RunTask clientToken for one attempt: deterministic so a retried dispatch reuses it
 * (ECS allows up to 64 characters, each in ASCII 33–126). The token is per attempt:
 * ECS answers ConflictException when one token is reused with different
 * parameters, and a later attempt may change them (e.g. the Fargate fallback).
 */
export function clientTokenFor(runId: string, attempt: number): string {
  if (!isRunId(runId)) throw new RangeError(`not a berth run id: ${JSON.stringify(runId)}`);
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  }
  return `berth-${runId}-${attempt}`;
}
