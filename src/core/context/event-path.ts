import type { BusEvent } from "../events/envelope.ts";
import { isRecord } from "./read.ts";

/**
 * The value of `${event.<path>}` for an event trigger. `path` is relative to
 * the envelope and written without the `event.` prefix: `id`, `detail-type`,
 * `detail.repository-name`, `detail.containers.0.name` (a numeric segment
 * indexes an array). Strings come back verbatim, numbers and booleans via
 * `String()`, `null`, objects and arrays as JSON. `undefined` when the path
 * does not exist — the caller decides whether that is an error.
 */
export function resolveEventPath(event: BusEvent, path: string): string | undefined {
  let current: unknown = event;
  for (const segment of path.split(".")) {
    if (segment === "") return undefined;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (isRecord(current) && Object.hasOwn(current, segment)) {
      current = current[segment];
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return render(current);
}

function render(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    // Only an in-process object (cyclic, BigInt) can get here; JSON from the bus cannot.
    return undefined;
  }
}
