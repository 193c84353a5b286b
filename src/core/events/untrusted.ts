/**
 * Naming parts of untrusted input in messages and log keys without trusting
 * them: an event may carry a 2 MB string or an object nested thousands deep,
 * and `JSON.stringify` of either in a rejection message or a log line would
 * throw or flood the log. These read one level and cut strings short.
 */

/** A value for a message: a string cut short and quoted, a scalar as it is, otherwise only its kind. */
export function describeValue(v: unknown, max = 64): string {
  if (typeof v === "string") return JSON.stringify(v.length > max ? `${v.slice(0, max)}…` : v);
  if (v === null || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : typeof v;
}

/** A string for a log key, cut to `max` characters; anything else is left out. */
export function logString(v: unknown, max = 256): string | undefined {
  return typeof v === "string" ? v.slice(0, max) : undefined;
}
