/**
 * How `berth doctor` runs its checks and prints them. Every check runs on its own, concurrently with
 * the others, under its own time limit: one that fails, throws or never answers becomes its own ✖ and
 * leaves the others alone. A check may open further checks on what it found (the stack opens its
 * table, bus and queues); they run after it and print under it.
 */
import { classifyAwsError } from "../../aws/errors.ts";

export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What to do about a failed check; null for one that passed. */
  readonly fix: string | null;
}

export type Outcome =
  | { readonly ok: true; readonly detail: string; readonly then?: readonly Check[] }
  | { readonly ok: false; readonly detail: string; readonly fix: string; readonly then?: readonly Check[] };

export interface Check {
  /** `bucket media-uploads`, `cluster jobs`: the first words of its line. */
  readonly name: string;
  /** The service it asks, for an answer that does not come: `ECS`, `Amazon S3`. */
  readonly service: string;
  /** The IAM permission its call needs, for an access-denied answer: `ecs:DescribeClusters on cluster jobs`. */
  readonly permission: string;
  /** Throws what the SDK throws; errors the check does not handle itself are read by `failedWith`. */
  run(signal: AbortSignal): Promise<Outcome>;
}

export interface RunContext {
  readonly region: string;
  /** The caller's ARN, when the credentials check found it: the principal a missing permission goes to. */
  readonly principal?: string;
  readonly timeLimitMs: number;
}

/** An error a check did not handle, as its ✖: AWS's answer by kind (src/aws/errors.ts), and what to do. */
export function failedWith(error: unknown, check: Check, context: RunContext): Outcome {
  const e = error as Error & { readonly code?: string };
  const said = e.name && e.name !== "Error" ? `${e.name}: ${e.message || e.name}` : (e.message ?? String(error));
  const retry = `run berth doctor again; if it keeps failing, check that this machine reaches ${check.service} in ${context.region} (a proxy needs HTTPS_PROXY; a VPC without internet access needs an interface endpoint for it)`;
  switch (classifyAwsError(error)?.kind) {
    case "access-denied":
      return { ok: false, detail: `access denied (${said})`, fix: `allow ${check.permission} to ${context.principal ?? "the credentials in use"} (berth doctor only reads)` };
    case "credentials":
    case "region":
      return { ok: false, detail: `AWS did not accept the request (${said})`, fix: "fix the credentials check first" };
    case "throttled":
    case "unavailable":
      return { ok: false, detail: `${check.service} did not answer (${said})`, fix: retry };
    case "invalid":
    case "not-found":
    case "conflict":
      return { ok: false, detail: `${check.service} refused the request (${said})`, fix: "check the name in berth.yml and the region of the stage" };
    case undefined:
      return { ok: false, detail: `unexpected error: ${said}`, fix: "this is a bug in berth doctor: please report it with the command you ran" };
  }
}

async function runCheck(check: Check, context: RunContext): Promise<CheckResult[]> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const limit = context.timeLimitMs % 1000 === 0 ? `${context.timeLimitMs / 1000} s` : `${context.timeLimitMs} ms`;
  const outOfTime = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({
        ok: false,
        detail: `no answer from ${check.service} within ${limit}`,
        fix: `run berth doctor again; if it keeps timing out, check that this machine reaches ${check.service} in ${context.region}`,
      });
    }, context.timeLimitMs);
  });
  const answered = (async () => {
    try {
      return await check.run(controller.signal);
    } catch (e) {
      return failedWith(e, check, context);
    }
  })();
  const outcome = await Promise.race([answered, outOfTime]);
  clearTimeout(timer);
  const own: CheckResult = { check: check.name, ok: outcome.ok, detail: outcome.detail, fix: outcome.ok ? null : outcome.fix };
  const then = await runChecks(outcome.then ?? [], context);
  return [own, ...then];
}

/** The results in the order of `checks`, each followed by those of the checks it opened. */
export async function runChecks(checks: readonly Check[], context: RunContext): Promise<CheckResult[]> {
  return (await Promise.all(checks.map((check) => runCheck(check, context)))).flat();
}

interface Colours {
  green(s: string): string;
  red(s: string): string;
  dim(s: string): string;
}

/** One line per check, ✔ or ✖, the fix of a failed one under it, and a count at the end. */
export function formatResults(results: readonly CheckResult[], c: Colours): string {
  const lines = results.flatMap((r) => (r.ok ? [`${c.green("✔")} ${r.check}: ${r.detail}`] : [`${c.red("✖")} ${r.check}: ${r.detail}`, `    ${c.dim("fix:")} ${r.fix}`]));
  const failed = results.filter((r) => !r.ok).length;
  const count = results.length === 1 ? "1 check" : `${results.length} checks`;
  lines.push(failed === 0 ? c.green(`all ${count} passed`) : c.red(`${failed} of ${count} failed`));
  return lines.join("\n");
}
