/**
 * Comparison helpers for webhook secrets. The core cannot import a crypto
 * library, so the shell passes HMAC-SHA256 in (node:crypto locally and in
 * Lambda); everything that decides whether a delivery is genuine lives here.
 */

export type HmacSha256 = (key: Uint8Array, data: Uint8Array) => Uint8Array;

export const SHA256_BYTES = 32;

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/**
 * Equality of two byte arrays that touches every byte whatever the contents,
 * so response timing says nothing about how many leading bytes matched.
 * Lengths are not secret here (digests have a fixed size), so a length
 * mismatch answers `false` at once.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i += 1) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

/** Exactly `bytes` bytes of hex (either case), or `undefined` for anything else. */
export function parseHex(hex: string, bytes: number): Uint8Array | undefined {
  if (hex.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 1) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Whether a shared token (GitLab's `X-Gitlab-Token`) equals the secret,
 * without leaking the secret's length or a matching prefix through timing:
 * both sides are first mapped to fixed-size HMACs under the secret, and the
 * digests are compared in constant time.
 */
export function tokenMatches(secret: string, token: string, hmac: HmacSha256): boolean {
  const key = utf8Bytes(secret);
  return constantTimeEqual(hmac(key, utf8Bytes(token)), hmac(key, key));
}

/**
 * Whether any of the secrets passes `check`. Every secret is checked, whatever the ones before it
 * gave, so the time an answer takes says nothing about which secret (the current one, or the
 * previous one during a rotation) a delivery was signed with.
 */
export function anySecretPasses(secrets: readonly string[], check: (secret: string) => boolean): boolean {
  let passed = false;
  for (const secret of secrets) passed = check(secret) || passed;
  return passed;
}
