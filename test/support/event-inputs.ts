/**
 * What a target receives, computed from a rule or schedule target exactly as
 * EventBridge and EventBridge Scheduler document it, so a test can feed a
 * handler the very payload AWS would.
 *
 * EventBridge rule targets (one of `Input`, `InputPath`, `InputTransformer`,
 * or none: the matched event itself):
 * - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html
 *   (Input: "Valid JSON text passed to the target"; InputPath: "The value of
 *   the JSONPath that is used for extracting part of the matched event")
 * - https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
 *   (input transformation: the JSON path subset — dot notation, dashes,
 *   underscores, alphanumerics, array indices, wildcards, forward slashes —;
 *   the predefined variables; the examples; "Common issues": for strings,
 *   quotes are required; a variable whose path the event lacks is not created
 *   and does not appear in the output; the JSON passed on is minified;
 *   values extracted by the input paths are not escaped)
 * - https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html
 *   (a placeholder is never an object key; escaped quotes inside a string)
 *
 * EventBridge Scheduler targets:
 * - https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
 *   (the four `<aws.scheduler.*>` keywords replaced in the payload)
 * - https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-templated.html
 *   and https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html
 *   (Input of a templated Lambda or EventBridge target must be well-formed
 *   JSON) with https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EventBridgeParameters.html
 *   (an event-bus target puts one event: Source and DetailType from
 *   EventBridgeParameters, the Input as its detail).
 */

export interface InputTransformer {
  readonly InputPathsMap?: Readonly<Record<string, string>>;
  readonly InputTemplate: string;
}

/** The input-related fields of an `AWS::Events::Rule` target. */
export interface RuleTargetInput {
  readonly Input?: string;
  readonly InputPath?: string;
  readonly InputTransformer?: InputTransformer;
}

/** What EventBridge knows about the delivery beside the event: its predefined variables. */
export interface RuleDelivery {
  readonly ruleArn: string;
  /** Default: the last segment of ruleArn. */
  readonly ruleName?: string;
  /** ISO 8601 time EventBridge received the event. Default: the event's `time`. */
  readonly ingestionTime?: string;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

type PathStep = { readonly key: string } | { readonly index: number } | { readonly wildcard: true };

/** Parses the JSON path subset EventBridge supports: `$`, `.name`, `[n]`, `.*`, `[*]`. */
export function parseJsonPath(path: string): PathStep[] {
  if (!path.startsWith("$")) throw new Error(`JSON path "${path}" must start with $`);
  const steps: PathStep[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      let j = i + 1;
      while (j < path.length && path[j] !== "." && path[j] !== "[") j++;
      const name = path.slice(i + 1, j);
      if (name === "") throw new Error(`JSON path "${path}" has an empty name at ${i}`);
      steps.push(name === "*" ? { wildcard: true } : { key: name });
      i = j;
    } else if (c === "[") {
      const close = path.indexOf("]", i);
      const inner = close < 0 ? "" : path.slice(i + 1, close);
      if (inner === "*") steps.push({ wildcard: true });
      else if (/^\d+$/.test(inner)) steps.push({ index: Number(inner) });
      // The docs: "You must use JSON dot notation, not bracket notation" — brackets only index arrays.
      else throw new Error(`JSON path "${path}": brackets take an array index or *, not "${inner}"`);
      i = close + 1;
    } else {
      throw new Error(`JSON path "${path}": unexpected "${c}" at ${i}`);
    }
  }
  return steps;
}

/** The value at `path` in `document`, or `{ found: false }`. A wildcard collects what it reaches into a list. */
export function evaluateJsonPath(document: unknown, path: string): { found: true; value: unknown } | { found: false } {
  let current: unknown[] = [document];
  let collecting = false;
  for (const step of parseJsonPath(path)) {
    const next: unknown[] = [];
    for (const node of current) {
      if ("key" in step) {
        if (node !== null && typeof node === "object" && !Array.isArray(node) && Object.hasOwn(node, step.key)) next.push((node as Record<string, unknown>)[step.key]);
      } else if ("index" in step) {
        if (Array.isArray(node) && step.index < node.length) next.push(node[step.index]);
      } else if (Array.isArray(node)) {
        next.push(...node);
      } else if (node !== null && typeof node === "object") {
        next.push(...Object.values(node));
      }
    }
    if ("wildcard" in step) collecting = true;
    current = next;
  }
  if (collecting) return { found: true, value: current };
  return current.length === 1 ? { found: true, value: current[0] } : { found: false };
}

const PREDEFINED = ["aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time", "aws.events.event", "aws.events.event.json"] as const;

/** Placeholder names: InputPathsMap keys (letters and digits) and the predefined dotted, dashed names. */
const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/y;

/**
 * Fills an input template. Inside a JSON string of the template ("…<v>…") a
 * value goes in as its bare text, unescaped; outside one (<v>) as JSON, so a
 * string value arrives quoted. `<aws.events.event>` (the event without
 * `detail`) and `<aws.events.event.json>` (the whole event) go in as JSON
 * text, unescaped, so they only make sense as the value of a JSON field.
 * When the result is JSON it is minified, as EventBridge passes it on.
 */
export function applyInputTemplate(transformer: InputTransformer, event: unknown, delivery: RuleDelivery): string {
  const paths = transformer.InputPathsMap ?? {};
  for (const name of Object.keys(paths)) {
    if ((PREDEFINED as readonly string[]).includes(name) || /^aws\./i.test(name)) throw new Error(`InputPathsMap key "${name}" is reserved: keys cannot start with "AWS."`);
  }
  const envelope = event as Record<string, unknown>;
  const { detail: _detail, ...withoutDetail } = envelope;
  const predefined: Record<(typeof PREDEFINED)[number], { readonly json: string; readonly text: string }> = {
    "aws.events.rule-arn": textValue(delivery.ruleArn),
    "aws.events.rule-name": textValue(delivery.ruleName ?? delivery.ruleArn.slice(delivery.ruleArn.lastIndexOf("/") + 1)),
    "aws.events.event.ingestion-time": textValue(delivery.ingestionTime ?? String(envelope.time)),
    "aws.events.event": jsonValue(withoutDetail),
    "aws.events.event.json": jsonValue(event),
  };
  const variables = new Map<string, { readonly json: string; readonly text: string } | null>();
  for (const [name, path] of Object.entries(paths)) {
    const r = evaluateJsonPath(event, path);
    variables.set(name, r.found ? jsonValue(r.value) : null);
  }

  const template = transformer.InputTemplate;
  let out = "";
  let inString = false;
  for (let i = 0; i < template.length; ) {
    const c = template[i] as string;
    if (c === "\\" && inString) {
      out += template.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c === '"') {
      inString = !inString;
      out += c;
      i++;
      continue;
    }
    if (c === "<") {
      PLACEHOLDER.lastIndex = i;
      const m = PLACEHOLDER.exec(template);
      const name = m?.[1];
      if (m !== null && name !== undefined) {
        const value = name in predefined ? predefined[name as keyof typeof predefined] : variables.get(name);
        if (value !== undefined) {
          // null: a path the event lacks creates no variable, and nothing of it appears in the output.
          if (value !== null) out += inString ? value.text : value.json;
          i += m[0].length;
          continue;
        }
      }
    }
    out += c;
    i++;
  }
  return minifiedIfJson(out);
}

function textValue(s: string): { json: string; text: string } {
  return { json: JSON.stringify(s), text: s };
}

function jsonValue(v: unknown): { json: string; text: string } {
  return { json: JSON.stringify(v), text: typeof v === "string" ? v : JSON.stringify(v) };
}

function minifiedIfJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

/** The text a rule target receives for `event`. */
export function ruleTargetPayload(target: RuleTargetInput, event: unknown, delivery: RuleDelivery): string {
  const given = [target.Input, target.InputPath, target.InputTransformer].filter((v) => v !== undefined);
  if (given.length > 1) throw new Error("a rule target takes at most one of Input, InputPath and InputTransformer");
  if (target.Input !== undefined) {
    JSON.parse(target.Input); // "Valid JSON text": PutTargets refuses anything else
    return target.Input;
  }
  if (target.InputPath !== undefined) {
    const r = evaluateJsonPath(event, target.InputPath);
    // AWS does not document what a target gets when the path selects nothing; no berth target relies on it.
    if (!r.found) throw new Error(`InputPath ${target.InputPath} selects nothing in the event`);
    return JSON.stringify(r.value);
  }
  if (target.InputTransformer !== undefined) return applyInputTemplate(target.InputTransformer, event, delivery);
  return JSON.stringify(event);
}

/** The values EventBridge Scheduler substitutes for its context attributes on one invocation attempt. */
export interface ScheduleInvocation {
  readonly scheduleArn: string;
  /** The time the schedule was due, e.g. 2022-03-22T18:59:43Z (see schedulerTime). */
  readonly scheduledTime: string;
  /** Unique per attempted invocation, e.g. d32c5kddcf5bb8c3. */
  readonly executionId: string;
  /** 1 for the first attempt, counting up on each retry of the same scheduled time. */
  readonly attemptNumber: number;
}

/** A time as Scheduler writes `<aws.scheduler.scheduled-time>`: ISO 8601 in UTC to the second. */
export function schedulerTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A schedule target's Input with its context attributes replaced, as the target receives it. */
export function scheduleTargetPayload(input: string | undefined, invocation: ScheduleInvocation): string {
  if (input === undefined) throw new Error("a schedule without Input delivers Scheduler's default notification, which berth does not use");
  const text = input
    .replaceAll("<aws.scheduler.schedule-arn>", invocation.scheduleArn)
    .replaceAll("<aws.scheduler.scheduled-time>", invocation.scheduledTime)
    .replaceAll("<aws.scheduler.execution-id>", invocation.executionId)
    .replaceAll("<aws.scheduler.attempt-number>", String(invocation.attemptNumber));
  return text;
}

export interface ScheduleEventBridgeTarget {
  /** The event bus ARN. */
  readonly Arn: string;
  readonly Input?: string;
  readonly EventBridgeParameters: { readonly DetailType: string; readonly Source: string };
}

/**
 * The event a schedule with an event-bus target puts: Source and DetailType
 * from EventBridgeParameters, the Input (context attributes replaced, which
 * must be well-formed JSON) as `detail`, on the bus the target ARN names.
 * The envelope fields are the ones every EventBridge event has; `resources`
 * carries the schedule ARN, as in events/schedule-fired.json.
 */
export function scheduleEvent(
  target: ScheduleEventBridgeTarget,
  invocation: ScheduleInvocation,
  envelope: { readonly id: string; readonly time: string },
): { readonly busName: string; readonly event: Record<string, unknown> } {
  const m = /^arn:[^:]+:events:([^:]*):(\d{12}):event-bus\/(.+)$/.exec(target.Arn);
  if (m === null) throw new Error(`schedule target ${target.Arn} is not an event bus ARN`);
  const [, region, account, busName] = m as unknown as [string, string, string, string];
  const detail: unknown = JSON.parse(scheduleTargetPayload(target.Input, invocation));
  if (detail === null || typeof detail !== "object" || Array.isArray(detail)) throw new Error("an event's detail must be a JSON object");
  return {
    busName,
    event: {
      version: "0",
      id: envelope.id,
      "detail-type": target.EventBridgeParameters.DetailType,
      source: target.EventBridgeParameters.Source,
      account,
      time: envelope.time,
      region,
      resources: [invocation.scheduleArn],
      detail,
    },
  };
}
