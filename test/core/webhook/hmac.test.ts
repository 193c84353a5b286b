import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { anySecretPasses, constantTimeEqual, parseHex, tokenMatches, type HmacSha256 } from "../../../src/core/webhook/hmac.ts";

const hmac: HmacSha256 = (key, data) => createHmac("sha256", key).update(data).digest();
const bytes = (...values: number[]) => Uint8Array.from(values);

describe("constantTimeEqual", () => {
  it.each([
    { name: "identical bytes are equal", a: bytes(1, 2, 3), b: bytes(1, 2, 3), equal: true },
    { name: "two empty arrays are equal", a: bytes(), b: bytes(), equal: true },
    { name: "a difference in the first byte is found", a: bytes(9, 2, 3), b: bytes(1, 2, 3), equal: false },
    { name: "a difference in the last byte is found", a: bytes(1, 2, 3), b: bytes(1, 2, 4), equal: false },
    { name: "a prefix is not equal to the longer array", a: bytes(1, 2), b: bytes(1, 2, 3), equal: false },
    { name: "a single flipped bit is found", a: bytes(0x80), b: bytes(0x00), equal: false },
  ])("$name", ({ a, b, equal }) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
    expect(constantTimeEqual(b, a)).toBe(equal);
  });
});

describe("parseHex", () => {
  it.each([
    { hex: "00ff10", size: 3, expected: bytes(0, 255, 16) },
    { hex: "00FF10", size: 3, expected: bytes(0, 255, 16) },
    { hex: "00ff1", size: 3, expected: undefined },
    { hex: "00ff1000", size: 3, expected: undefined },
    { hex: "00fg10", size: 3, expected: undefined },
    { hex: "+0ff10", size: 3, expected: undefined },
    { hex: " 0ff10", size: 3, expected: undefined },
  ])("$hex as $size bytes → $expected", ({ hex, size, expected }) => {
    expect(parseHex(hex, size)).toEqual(expected);
  });
});

describe("tokenMatches", () => {
  it.each([
    { name: "the exact secret matches", token: "s3cr3t-token", matches: true },
    { name: "a prefix of the secret does not match", token: "s3cr3t", matches: false },
    { name: "the secret with a suffix does not match", token: "s3cr3t-token-", matches: false },
    { name: "a different case does not match", token: "S3CR3T-TOKEN", matches: false },
    { name: "an empty token does not match", token: "", matches: false },
  ])("$name", ({ token, matches }) => {
    expect(tokenMatches("s3cr3t-token", token, hmac)).toBe(matches);
  });
});

describe("anySecretPasses", () => {
  it("asks every secret, also after one passed, and answers whether any did", () => {
    const asked: string[] = [];
    const check = (secret: string) => {
      asked.push(secret);
      return secret === "current";
    };
    expect(anySecretPasses(["current", "previous"], check)).toBe(true);
    expect(asked).toEqual(["current", "previous"]);
    expect(anySecretPasses(["previous"], check)).toBe(false);
    expect(anySecretPasses([], check)).toBe(false);
  });
});
