/**
 * Operand parsing shared by validation and compilation: wildcard strings,
 * CIDR blocks and IP addresses, and EventBridge's numeric limits. Each parser
 * returns either the parsed form or a message saying what is wrong, so the
 * validator can report it and the compiler can trust it.
 */

/** EventBridge compares numbers only within ±5.0e9, to six decimal places. */
export const NUMERIC_LIMIT = 5e9;
export const NUMERIC_DECIMALS = 6;

/** Operator names EventBridge accepts inside a match object, in the order messages list them. */
export const OPERATORS = [
  "prefix",
  "suffix",
  "equals-ignore-case",
  "wildcard",
  "anything-but",
  "numeric",
  "exists",
  "cidr",
] as const;

export type Operator = (typeof OPERATORS)[number];

export function isOperator(name: string): name is Operator {
  return (OPERATORS as readonly string[]).includes(name);
}

/** Count of digits after the decimal point in the shortest decimal form of `n`. */
function decimalPlaces(n: number): number {
  const text = String(Math.abs(n));
  const [mantissa = "", exponent] = text.split("e");
  const fraction = mantissa.split(".")[1]?.length ?? 0;
  const shift = exponent === undefined ? 0 : Number(exponent);
  return Math.max(0, fraction - shift);
}

/** Why `n` cannot be used as a numeric operand, or undefined when it can. */
export function numericOperandProblem(n: number): string | undefined {
  if (!Number.isFinite(n)) return `${n} is not a finite number`;
  if (n < -NUMERIC_LIMIT || n > NUMERIC_LIMIT) {
    return `${n} is outside the range EventBridge compares numerically (-5e9 to 5e9 inclusive)`;
  }
  if (decimalPlaces(n) > NUMERIC_DECIMALS) {
    return `${n} has more than ${NUMERIC_DECIMALS} digits after the decimal point, which EventBridge does not support`;
  }
  return undefined;
}

/**
 * A wildcard pattern split at its unescaped `*`: literal pieces between stars.
 * `a*b*c` → ["a", "b", "c"]; a pattern without stars is one piece.
 */
export type WildcardPieces = readonly string[];

export function parseWildcard(pattern: string): WildcardPieces | string {
  const pieces: string[] = [];
  let current = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        return `consecutive wildcard characters at position ${i} are not allowed; use a single "*"`;
      }
      pieces.push(current);
      current = "";
    } else if (c === "\\") {
      const next = pattern[i + 1];
      if (next !== "*" && next !== "\\") {
        return `invalid escape at position ${i}: a backslash may only escape "*" or "\\"`;
      }
      current += next;
      i++;
    } else {
      current += c;
    }
  }
  pieces.push(current);
  return pieces;
}

/** Whether `value` matches the wildcard pieces (`*` matches any run of characters, including none). */
export function wildcardMatches(pieces: WildcardPieces, value: string): boolean {
  const first = pieces[0]!;
  if (pieces.length === 1) return value === first;
  const last = pieces[pieces.length - 1]!;
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  // With only `*` as a metacharacter, taking each middle piece at its leftmost
  // possible position never rules out a match a later position would allow.
  let position = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    const at = value.indexOf(piece, position);
    if (at < 0 || at + piece.length > end) return false;
    position = at + piece.length;
  }
  return true;
}

export interface IpAddress {
  readonly version: 4 | 6;
  readonly bits: bigint;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let bits = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bits = (bits << 8n) | BigInt(n);
  }
  return bits;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let bits = 0n;
  for (const g of groups) bits = (bits << 16n) | BigInt(g);
  return bits;
}

export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(":")) {
    const bits = parseIpv6(text);
    return bits === undefined ? undefined : { version: 6, bits };
  }
  const bits = parseIpv4(text);
  return bits === undefined ? undefined : { version: 4, bits };
}

export interface CidrBlock {
  readonly version: 4 | 6;
  readonly low: bigint;
  readonly high: bigint;
}

export function parseCidr(text: string): CidrBlock | string {
  const slash = text.indexOf("/");
  const address = slash < 0 ? undefined : parseIp(text.slice(0, slash));
  if (address === undefined) {
    return `"${text}" is not a CIDR block; write an IPv4 or IPv6 address and a prefix length, e.g. "10.0.0.0/24" or "2001:db8::/32"`;
  }
  const width = address.version === 4 ? 32 : 128;
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > width) {
    return `"${text}" has an invalid prefix length; IPv${address.version} allows /0 to /${width}`;
  }
  const hostBits = BigInt(width - Number(lengthText));
  const hostMask = (1n << hostBits) - 1n;
  const low = address.bits & ~hostMask;
  return { version: address.version, low, high: low | hostMask };
}

export function cidrContains(block: CidrBlock, value: string): boolean {
  const address = parseIp(value);
  return address !== undefined && address.version === block.version && address.bits >= block.low && address.bits <= block.high;
}
