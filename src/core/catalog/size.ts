/**
 * Sizes in berth.yml, written like durations: a whole number with a unit, or a whole number of bytes.
 * Decimal units (KB = 1000 bytes, as S3 and AWS billing count) and binary ones (KiB = 1024) both mean
 * exactly what their IEC names say, so `100MB` is never silently 104,857,600 bytes.
 */
const UNIT_BYTES = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
} as const;

export const SIZE_SYNTAX = /^(\d+)(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;

export const SIZE_HINT = 'a size such as "500MB", "2GiB" or "10KB" (KB = 1000 bytes, KiB = 1024), or a whole number of bytes';

/** Bytes for `500MB`, `2GiB`, `4096` or 4096. The schema has already checked the syntax. */
export function parseSize(value: string | number): number {
  if (typeof value === "number") return value;
  const m = SIZE_SYNTAX.exec(value);
  if (!m) throw new Error(`not a size: ${value}`);
  return Number(m[1]) * UNIT_BYTES[(m[2] ?? "B") as keyof typeof UNIT_BYTES];
}

/** The shortest exact decimal spelling, for messages: 500000000 → "500MB", 1536 → "1536B". */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["KB", 1e3]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  for (const [unit, size] of [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
