/**
 * A `berth dev` that dies with a redelivery pending: records one (its dispatch answers "deliver again
 * later") in the berth.db given as argv[2], then kills itself with SIGKILL before the redelivery is due.
 */
import { BatchWait } from "../../src/core/engine/batch.ts";
import { manualRunEvent } from "../../src/core/events/berth-events.ts";
import { Redeliveries } from "../../src/local/redeliveries.ts";
import { SqliteRunStore } from "../../src/local/sqlite-run-store.ts";

const file = process.argv[2];
if (file === undefined) throw new Error("usage: redeliveries-crash.child.ts <berth.db>");
const store = new SqliteRunStore(file);
const redeliveries = new Redeliveries(
  async () => {
    throw new BatchWait("batch completing its slots");
  },
  () => {},
  { db: store.database, firstDelayMs: 200 },
);
const event = manualRunEvent({ service: "rd", job: "peek", params: {} }, { id: "crashed-1", time: 0 });
await redeliveries.dispatch(event, "peek").catch(() => undefined);
process.kill(process.pid, "SIGKILL");
