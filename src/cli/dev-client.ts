/** Talks to a running `berth dev` through its control endpoint (address and token in .berth/dev.json). */
import { join } from "node:path";
import { readDevInfo, type DevInfo } from "../local/control.ts";
import { UsageError } from "./output.ts";

export const DEV_INFO = join(".berth", "dev.json");

export function devInfo(): DevInfo {
  const info = readDevInfo(DEV_INFO);
  if (!info) throw new UsageError(`berth dev is not running here (no ${DEV_INFO}); start it with \`berth dev\` in this folder`);
  return info;
}

export async function devRequest<T>(path: string, body: unknown = {}): Promise<T> {
  const info = devInfo();
  let res: Response;
  try {
    res = await fetch(`${info.control}${path}`, { method: "POST", headers: { authorization: `Bearer ${info.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  } catch {
    throw new UsageError(`berth dev (pid ${info.pid}) does not answer at ${info.control}; is it still running? Start it again with \`berth dev\``);
  }
  const json = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new UsageError(json.message ?? `berth dev answered ${res.status}`, res.status === 404 || res.status === 400 ? 2 : 1);
  return json;
}
