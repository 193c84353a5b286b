import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BusEvent } from "../../../src/core/events/envelope.ts";

export const EVENTS_DIR = fileURLToPath(new URL("../../../events/", import.meta.url));

export function sampleNames(): string[] {
  return readdirSync(EVENTS_DIR).filter((name) => name.endsWith(".json")).sort();
}

export function loadJson(name: string): unknown {
  return JSON.parse(readFileSync(`${EVENTS_DIR}${name}`, "utf8"));
}

/** A sample as the bus would hand it over: already JSON-parsed, otherwise untyped. */
export function loadEvent(name: string): BusEvent {
  return loadJson(name) as BusEvent;
}

/** A deep copy of a sample with one dotted path replaced (or removed with `undefined`). */
export function withField(name: string, path: string, value: unknown): BusEvent {
  return setField(loadEvent(name), path, value);
}

/** A deep copy of `event` with one dotted path replaced (or removed with `undefined`). */
export function setField(event: BusEvent, path: string, value: unknown): BusEvent {
  const copy = structuredClone(event) as unknown as Record<string, unknown>;
  const keys = path.split(".");
  let target = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy as unknown as BusEvent;
}
