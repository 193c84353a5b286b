/**
 * Object keys in S3 `Object Created` events arrive form-URL-encoded
 * (`application/x-www-form-urlencoded`: space as `+`, everything else
 * outside a small safe set as `%XX` of its UTF-8 bytes) — in EventBridge
 * events just as in classic S3 notifications. The evidence and the
 * consequences for rules and the local shell are in docs/s3-keys.md.
 */
import { failure, ValidationError, type Failure } from "../errors.ts";

export type KeyResult = { readonly ok: true; readonly key: string } | Failure<ValidationError>;

/**
 * The real object key from the key field of an S3 event: `+` becomes a
 * space, then `%XX` sequences are decoded as UTF-8. A literal `+` or `%` in
 * a key arrives as `%2B` / `%25`, so the result is byte-identical to the key
 * that was uploaded. A `%` not followed by two hex digits, or bytes that are
 * not UTF-8, cannot come from S3's encoding and are rejected, never guessed.
 */
export function decodeS3EventKey(encoded: string): KeyResult {
  try {
    return { ok: true, key: decodeURIComponent(encoded.replaceAll("+", " ")) };
  } catch {
    return failure(
      new ValidationError(
        `the object key ${JSON.stringify(truncate(encoded))} is not valid URL encoding ` +
          "(S3 sends keys form-URL-encoded: a literal % arrives as %25 and non-ASCII as %XX UTF-8 bytes); " +
          "whoever produced this event must encode the key the way S3 does",
      ),
    );
  }
}

// Kept literal by S3's encoder; `/` stays readable so key prefixes such as
// `incoming/` match in EventBridge rules.
const SAFE = /^[A-Za-z0-9._*/-]$/;

/**
 * Encodes a key the way S3 puts it into events, for producers that stand in
 * for S3 (the local folder watcher, tests). `decodeS3EventKey` inverts it.
 * Lone UTF-16 surrogates cannot be part of an S3 key; they encode as U+FFFD.
 */
export function encodeS3EventKey(key: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(key)) {
    const char = String.fromCharCode(byte);
    if (byte < 0x80 && SAFE.test(char)) out += char;
    else if (byte === 0x20) out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
