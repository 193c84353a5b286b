import { clientTokenFor, newRunId } from "../../src/core/ids.ts";
import { isTerminal } from "../../src/core/runs/status.ts";
import type { Attempt, Run } from "../../src/core/runs/model.ts";
import type { RunStatus } from "../../src/core/runs/status.ts";

/** 2024-05-01T00:00:00Z: a fixed epoch so ids and times are the same on every run of the tests. */
export const T0 = Date.UTC(2024, 4, 1);

let sequence = 0;

/** Ten bytes that differ on every call, so two runs made in the same millisecond still get distinct ids. */
function uniqueBytes(): Uint8Array {
  sequence += 1;
  const bytes = new Uint8Array(10);
  new DataView(bytes.buffer).setUint32(6, sequence);
  return bytes;
}

export interface RunSpec {
  readonly job?: string;
  readonly status?: RunStatus;
  /** Creation time; later runs get ids that sort after earlier ones. */
  readonly at?: number;
  readonly key?: string;
  readonly context?: Readonly<Record<string, string>>;
  readonly attempts?: number;
}

export function makeRun(spec: RunSpec = {}): Run {
  const at = spec.at ?? T0;
  const id = newRunId(at, uniqueBytes());
  const job = spec.job ?? "resize";
  const attempts: Attempt[] = Array.from({ length: spec.attempts ?? 0 }, (_, i) => ({
    number: i + 1,
    clientToken: clientTokenFor(id, i + 1),
    status: "FAILED",
    taskArn: `arn:aws:ecs:us-east-1:123456789012:task/berth/${id.toLowerCase()}${i}`,
    launch: i % 2 === 0 ? "primary" : "fallback",
    lastEventVersion: 3,
    requestedAt: at + i * 60_000,
    startedAt: at + i * 60_000 + 5_000,
    stoppedAt: at + i * 60_000 + 30_000,
    stopCode: "EssentialContainerExited",
    stoppedReason: "Essential container in task exited",
    exitCode: 137,
    failureClass: "exit:137",
  }));
  const status = spec.status ?? "QUEUED";
  return {
    id,
    job,
    service: "media",
    status,
    trigger: { kind: "manual", summary: `manual run of ${job}`, idempotencyKey: spec.key ?? `${job}#manual:${id}` },
    context: spec.context ?? { "params.size": "640" },
    attempts,
    createdAt: at,
    updatedAt: at,
    ...(status === "QUEUED" ? { queuedAt: at } : {}),
    // History, as the engine leaves it: ended and announced (see Run.announced).
    ...(isTerminal(status) ? { endedAt: at, announced: true } : {}),
    version: 1,
  };
}

/** The next version of `run` in `status`, as core would produce it (an ended run is not announced yet). */
export function advance(run: Run, status: RunStatus, at = run.updatedAt + 1_000): Run {
  return { ...run, status, updatedAt: at, ...(isTerminal(status) ? { endedAt: at } : {}), version: run.version + 1 };
}
