/**
 * Checks ECS requests against the ECS API model as @aws-sdk/client-ecs carries it: the schema the
 * client serializes with (`<Operation>Request$`, exported by the package), which names every member
 * of every input shape, its type (string, number, boolean, timestamp, list, map, structure) and which
 * members are required (a structure schema's 7th entry counts its leading required members).
 *
 * Why on the input and not at the fake endpoint: the SDK serializes only the members its schema has,
 * so a field the model does not know (a read-only `revision` copied into RegisterTaskDefinition, a
 * typo) never reaches the wire: ECS would not see it, and neither would the fake. Enums are not in
 * the SDK's schema; the values of the enum members berth sends are checked against the SDK's enum
 * objects (models/enums), which hold the model's values.
 */
import * as ecs from "@aws-sdk/client-ecs";
import type { ECSClient } from "@aws-sdk/client-ecs";

type SchemaRef = number | string | readonly unknown[] | (() => unknown);

/** `Shape.member` → the values the model allows, for the enum members of berth's requests. */
const ENUMS: Readonly<Record<string, readonly string[]>> = {
  "DescribeTaskDefinitionRequest.include": Object.values(ecs.TaskDefinitionField),
  "ListTaskDefinitionsRequest.status": Object.values(ecs.TaskDefinitionStatus),
  "ListTaskDefinitionsRequest.sort": Object.values(ecs.SortOrder),
  "ListServiceDeploymentsRequest.status": Object.values(ecs.ServiceDeploymentStatus),
  "StopServiceDeploymentRequest.stopType": Object.values(ecs.StopServiceDeploymentStopType),
  "RegisterTaskDefinitionRequest.networkMode": Object.values(ecs.NetworkMode),
  "RegisterTaskDefinitionRequest.requiresCompatibilities": Object.values(ecs.Compatibility),
  "RegisterTaskDefinitionRequest.pidMode": Object.values(ecs.PidMode),
  "RegisterTaskDefinitionRequest.ipcMode": Object.values(ecs.IpcMode),
  "UpdateServiceRequest.propagateTags": Object.values(ecs.PropagateTags),
  "DeploymentConfiguration.strategy": Object.values(ecs.DeploymentStrategy),
  "RunTaskRequest.launchType": Object.values(ecs.LaunchType),
  "RunTaskRequest.propagateTags": Object.values(ecs.PropagateTags),
  "AwsVpcConfiguration.assignPublicIp": Object.values(ecs.AssignPublicIp),
};

const deref = (ref: SchemaRef): unknown => (typeof ref === "function" ? ref() : ref);

function describeValue(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v;
}

function check(ref: SchemaRef, value: unknown, path: string, problems: string[], enumKey?: string): void {
  let schema = deref(ref);
  // A member schema [target, traits], a simple schema with traits [0, ns, name, traits, target].
  while (Array.isArray(schema) && (schema.length === 2 || (schema[0] === 0 && schema.length === 5))) schema = deref((schema.length === 2 ? schema[0] : schema[4]) as SchemaRef);
  if (typeof schema === "number") {
    if (schema >= 128) return checkMap(schema & 0b0011_1111, value, path, problems);
    if (schema >= 64) return checkList(schema & 0b0011_1111, value, path, problems, enumKey);
    return checkSimple(schema, value, path, problems, enumKey);
  }
  if (!Array.isArray(schema)) return;
  const kind = schema[0] as number;
  if (kind === 1) return checkList(schema[4] as SchemaRef, value, path, problems, enumKey);
  if (kind === 2) return checkMap(schema[5] as SchemaRef, value, path, problems);
  if (kind === 3 || kind === 4) return checkStructure(schema, value, path, problems);
}

function checkSimple(code: number, value: unknown, path: string, problems: string[], enumKey?: string): void {
  const expect =
    code === 0 ? "string" : code === 1 ? "number" : code === 2 ? "boolean" : code >= 4 && code <= 7 ? "timestamp" : code === 15 ? "document" : "blob";
  const ok =
    expect === "string"
      ? typeof value === "string"
      : expect === "number"
        ? typeof value === "number" && Number.isFinite(value)
        : expect === "boolean"
          ? typeof value === "boolean"
          : expect === "timestamp"
            ? value instanceof Date || typeof value === "number"
            : true;
  if (!ok) {
    problems.push(`${path}: the model has a ${expect}, the request ${describeValue(value)} ${JSON.stringify(value)}`);
    return;
  }
  const allowed = enumKey === undefined ? undefined : ENUMS[enumKey];
  if (allowed !== undefined && typeof value === "string" && !allowed.includes(value)) problems.push(`${path}: ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
}

function checkList(member: SchemaRef, value: unknown, path: string, problems: string[], enumKey?: string): void {
  if (!Array.isArray(value)) {
    problems.push(`${path}: the model has a list, the request ${describeValue(value)}`);
    return;
  }
  value.forEach((item, i) => check(member, item, `${path}[${i}]`, problems, enumKey));
}

function checkMap(member: SchemaRef, value: unknown, path: string, problems: string[]): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    problems.push(`${path}: the model has a map, the request ${describeValue(value)}`);
    return;
  }
  for (const [k, v] of Object.entries(value)) check(member, v, `${path}.${k}`, problems);
}

function checkStructure(schema: readonly unknown[], value: unknown, path: string, problems: string[]): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    problems.push(`${path}: the model has a structure (${String(schema[2])}), the request ${describeValue(value)}`);
    return;
  }
  const name = String(schema[2]);
  const members = schema[4] as readonly string[];
  const memberSchemas = schema[5] as readonly SchemaRef[];
  const required = typeof schema[6] === "number" ? schema[6] : 0;
  const record = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(record)) {
    if (v === undefined) continue;
    const i = members.indexOf(key);
    if (i < 0) {
      problems.push(`${path}.${key}: ${name} has no member ${key}`);
      continue;
    }
    check(memberSchemas[i]!, v, `${path}.${key}`, problems, `${name}.${key}`);
  }
  for (const key of members.slice(0, required)) if (record[key] === undefined) problems.push(`${path}.${key}: required by ${name}, missing`);
}

/** Every way `input` of ECS operation `operation` (RunTask, RegisterTaskDefinition, …) breaks the model; empty when it fits. */
export function ecsModelProblems(operation: string, input: unknown): string[] {
  const schema = (ecs as unknown as Record<string, unknown>)[`${operation}Request$`] as SchemaRef | undefined;
  if (schema === undefined) return [`the ECS model has no operation ${operation}`];
  const problems: string[] = [];
  check(schema, input, operation, problems);
  return problems;
}

export interface RecordedEcsRequest {
  /** The operation, e.g. `RegisterTaskDefinition`. */
  readonly operation: string;
  /** The command's input as the caller gave it, before serialization drops what the model does not know. */
  readonly input: unknown;
}

/** Records every request the client sends from now on, as given to `send` (a middleware at the initialize step). */
export function recordEcsRequests(client: ECSClient): RecordedEcsRequest[] {
  const recorded: RecordedEcsRequest[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      recorded.push({ operation: String(context.commandName).replace(/Command$/, ""), input: structuredClone(args.input) });
      return next(args);
    },
    { step: "initialize", name: "berthRecordEcsRequests" },
  );
  return recorded;
}
