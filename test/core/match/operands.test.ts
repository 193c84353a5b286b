import { describe, expect, it } from "vitest";
import { cidrContains, parseCidr, parseIp, parseWildcard, wildcardMatches } from "../../../src/core/match/operands.ts";

describe("wildcardMatches", () => {
  it.each([
    { pattern: "*", value: "", want: true },
    { pattern: "*", value: "anything/at/all", want: true },
    { pattern: "a*", value: "a", want: true },
    { pattern: "*a", value: "ba", want: true },
    { pattern: "*a", value: "ab", want: false },
    { pattern: "a*a", value: "a", want: false },
    { pattern: "a*a", value: "aa", want: true },
    { pattern: "*ab*ab*", value: "xabyab", want: true },
    { pattern: "*ab*ab*", value: "xaby", want: false },
    { pattern: "a*b*c", value: "abcbc", want: true },
    { pattern: "a*bc*c", value: "abcc", want: true },
    { pattern: "a*bc*c", value: "abc", want: false },
    { pattern: "x\\*y", value: "x*y", want: true },
    { pattern: "x\\\\y", value: "x\\y", want: true },
  ])("$pattern against $value is $want", ({ pattern, value, want }) => {
    const pieces = parseWildcard(pattern);
    expect(typeof pieces).not.toBe("string");
    expect(wildcardMatches(pieces as readonly string[], value)).toBe(want);
  });

  it("agrees with an equivalent regular expression on generated cases", () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = (alphabet: string, max: number) => Array.from({ length: next(max + 1) }, () => alphabet[next(alphabet.length)]).join("");
    for (let i = 0; i < 2000; i++) {
      const pattern = pick("ab*", 6).replace(/\*+/g, "*");
      const value = pick("ab", 7);
      const regex = new RegExp(`^${pattern.replace(/\*/g, ".*")}$`);
      expect(wildcardMatches(parseWildcard(pattern) as readonly string[], value), `${pattern} ~ ${value}`).toBe(regex.test(value));
    }
  });
});

describe("IP parsing", () => {
  it.each([
    { text: "10.0.0.1", valid: true },
    { text: "255.255.255.255", valid: true },
    { text: "256.0.0.1", valid: false },
    { text: "1.2.3", valid: false },
    { text: "::", valid: true },
    { text: "::1", valid: true },
    { text: "2001:db8::8a2e:370:7334", valid: true },
    { text: "::ffff:10.0.0.1", valid: true },
    { text: "1:2:3:4:5:6:7:8", valid: true },
    { text: "1:2:3:4:5:6:7:8:9", valid: false },
    { text: "1::2::3", valid: false },
    { text: "12345::", valid: false },
  ])("$text is valid: $valid", ({ text, valid }) => {
    expect(parseIp(text) !== undefined).toBe(valid);
  });

  it("treats a compressed and a full IPv6 address as the same", () => {
    expect(parseIp("2001:db8::1")?.bits).toBe(parseIp("2001:0db8:0000:0000:0000:0000:0000:0001")?.bits);
  });

  it.each([
    { cidr: "10.0.0.0/24", ip: "10.0.0.255", want: true },
    { cidr: "10.0.0.0/24", ip: "10.0.1.0", want: false },
    { cidr: "10.0.0.7/24", ip: "10.0.0.200", want: true },
    { cidr: "0.0.0.0/0", ip: "192.168.1.1", want: true },
    { cidr: "10.0.0.1/32", ip: "10.0.0.1", want: true },
    { cidr: "10.0.0.1/32", ip: "10.0.0.2", want: false },
    { cidr: "2001:db8::/32", ip: "2001:db8:ffff::1", want: true },
    { cidr: "2001:db8::/32", ip: "2001:db9::", want: false },
  ])("$ip in $cidr is $want", ({ cidr, ip, want }) => {
    const block = parseCidr(cidr);
    expect(typeof block).not.toBe("string");
    expect(cidrContains(block as Exclude<typeof block, string>, ip)).toBe(want);
  });
});
