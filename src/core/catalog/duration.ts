const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Seconds for `30s`, `15m`, `2h`, `1d`, `90` or 90. The schema has already checked the syntax. */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") return value;
  const m = /^(\d+)(s|m|h|d)?$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * UNIT_SECONDS[(m[2] ?? "s") as keyof typeof UNIT_SECONDS];
}

/** The shortest exact spelling: 5400 → "90m", 7200 → "2h". */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
