import type { Job } from "../catalog/types.ts";
import { isRunId } from "../ids.ts";
import { failure, ValidationError, type Failure } from "../errors.ts";
import { parseTemplate, renderTemplate } from "../template/template.ts";

export interface RunIdentity {
  readonly runId: string;
  readonly attempt: number;
  readonly jobName: string;
}

/** The identity a request is rendered for must be a real attempt of this job's run: RunTask and deploy plans both check it. */
export function checkIdentity(job: Job, id: RunIdentity): string[] {
  const errors: string[] = [];
  if (id.jobName !== job.name) errors.push(`run identity names job ${id.jobName} but the job is ${job.name}`);
  if (!isRunId(id.runId)) errors.push(`run id ${JSON.stringify(id.runId)} is not a berth run id`);
  if (!Number.isSafeInteger(id.attempt) || id.attempt < 1) errors.push(`attempt must be a positive integer, got ${id.attempt}`);
  return errors;
}

/**
 * The trigger context plus the names berth itself owns. `run.id`,
 * `run.attempt` and `job.name` come from the identity even if the trigger
 * context happens to carry the same names.
 */
export function runLookup(
  lookup: (name: string) => string | undefined,
  id: RunIdentity,
): (name: string) => string | undefined {
  return (name) => {
    switch (name) {
      case "run.id":
        return id.runId;
      case "run.attempt":
        return String(id.attempt);
      case "job.name":
        return id.jobName;
      default:
        return lookup(name);
    }
  };
}

/**
 * Renders one catalog string. `where` names the field (`command[2]`,
 * `environment.INPUT_KEY`) so the error points at the line to fix.
 */
export function renderField(
  source: string,
  lookup: (name: string) => string | undefined,
  where: string,
): { ok: true; value: string } | Failure<ValidationError> {
  const parsed = parseTemplate(source);
  if (!parsed.ok) {
    // The catalog loader rejects these at load time; reaching here means it missed one.
    return failure(new ValidationError(`${where}: ${parsed.error.message}`, { field: where, cause: parsed.error }));
  }
  const rendered = renderTemplate(parsed.template, lookup);
  if (!rendered.ok) {
    return failure(
      new ValidationError(`${where}: ${rendered.error.message} in this run's trigger context; use only variables the job's triggers provide`, {
        field: where,
        cause: rendered.error,
      }),
    );
  }
  return { ok: true, value: rendered.value };
}
