/** A RunStore that counts the writes reaching the store under it: "no write on rejection" is checked on this count. */
import type { RunStore } from "../../src/core/ports.ts";

const WRITES = ["createRun", "updateRun", "acquireSlot", "releaseSlot"] as const;

export function countingWrites(store: RunStore): { readonly store: RunStore; writes(): number } {
  let writes = 0;
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if ((WRITES as readonly (string | symbol)[]).includes(name)) writes++;
        return method.apply(target, args);
      };
    },
  });
  return { store: counted, writes: () => writes };
}
