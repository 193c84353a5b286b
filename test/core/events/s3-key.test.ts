import { describe, expect, it } from "vitest";
import { decodeS3EventKey, encodeS3EventKey } from "../../../src/core/events/s3-key.ts";

const HOSTILE = "incoming/a b/$(rm -rf ~);'x'.png";

/** A key of exactly 1,024 UTF-8 bytes (S3's maximum) mixing 1-, 2-, 3- and 4-byte characters. */
function maxLengthKey(): string {
  const key = "incoming/" + "é한😀".repeat(112) + "é" + "x.png"; // 9 + 112 * 9 + 2 + 5 bytes
  expect(new TextEncoder().encode(key).length).toBe(1024);
  return key;
}

/** An encoder independent of ours: WHATWG form encoding (encodes `/` too, which S3 does not). */
function formEncode(key: string): string {
  return new URLSearchParams({ k: key }).toString().slice(2);
}

describe("decodeS3EventKey", () => {
  it.each([
    ["a space arrives as +", "a+b.png", "a b.png"],
    ["a literal + arrives as %2B", "c%2B%2B.png", "c++.png"],
    ["a literal % arrives as %25", "100%25+done.csv", "100% done.csv"],
    ["percent-encoded UTF-8 becomes the characters", "%ED%95%9C%EA%B8%80/%F0%9F%98%80.png", "한글/😀.png"],
    ["lower-case hex digits are accepted", "%c3%a9t%c3%a9.txt", "été.txt"],
    ["raw non-ASCII passes through", "한글.png", "한글.png"],
    ["a key without special characters is unchanged", "incoming/cat.png", "incoming/cat.png"],
    ["the hostile sample key", "incoming/a+b/%24%28rm+-rf+%7E%29%3B%27x%27.png", HOSTILE],
  ])("%s", (_name, encoded, key) => {
    expect(decodeS3EventKey(encoded)).toEqual({ ok: true, key });
  });

  it.each([
    ["a bare %", "100%.png"],
    ["a % with one hex digit", "a%4.png"],
    ["a % followed by non-hex", "a%zz.png"],
    ["a byte that starts no UTF-8 character", "a%FF.png"],
    ["a truncated multi-byte sequence", "a%ED%95.png"],
    ["an encoded UTF-16 surrogate", "a%ED%A0%80.png"],
  ])("rejects %s instead of guessing", (_name, encoded) => {
    const result = decodeS3EventKey(encoded);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain("not valid URL encoding");
  });

  it.each([
    ["the hostile key", HOSTILE],
    ["a key with literal + and %", "reports/c++ 100%+more.csv"],
    ["a 1,024-byte multi-byte UTF-8 key", maxLengthKey()],
    ["every printable ASCII character", Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("")],
  ])("recovers %s byte for byte from an independent form encoding", (_name, key) => {
    const decoded = decodeS3EventKey(formEncode(key));
    expect(decoded).toEqual({ ok: true, key });
    if (decoded.ok) expect(new TextEncoder().encode(decoded.key)).toEqual(new TextEncoder().encode(key));
  });
});

describe("encodeS3EventKey", () => {
  it.each([
    ["the hostile key", HOSTILE],
    ["a key with literal + and %", "reports/c++ 100%+more.csv"],
    ["a 1,024-byte multi-byte UTF-8 key", maxLengthKey()],
    ["control characters", "a\u0001b\u007fc\nd"],
  ])("round-trips %s through decodeS3EventKey", (_name, key) => {
    expect(decodeS3EventKey(encodeS3EventKey(key))).toEqual({ ok: true, key });
  });

  it("encodes the hostile key the way the sample event carries it", () => {
    expect(encodeS3EventKey(HOSTILE)).toBe("incoming/a+b/%24%28rm+-rf+%7E%29%3B%27x%27.png");
  });

  it("keeps / literal so key prefixes still match in EventBridge rules", () => {
    expect(encodeS3EventKey("incoming/2024/cat.png")).toBe("incoming/2024/cat.png");
  });

  it("never leaves a raw + in its output, so + always means space", () => {
    expect(encodeS3EventKey("a+b c")).toBe("a%2Bb+c");
  });
});
