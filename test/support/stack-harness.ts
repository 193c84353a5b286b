/**
 * A packaged CloudFormation template, run on one machine the way AWS would
 * run it: every rule and schedule of the template, matched and delivered as
 * EventBridge and Scheduler deliver (./event-inputs.ts), to the function its
 * target names — the handler bundle from the function's own deployment
 * package, loaded by Node as Lambda loads it, with the environment the
 * template gives that function — against local endpoints: dynalite for
 * DynamoDB (behind a meter that counts requests and capacity units), the
 * local ECS endpoint and the local EventBridge endpoint. Whatever a function
 * puts on a bus is routed through the template's rules on that bus in turn,
 * so chained jobs, notifications and rejected events run too; an SQS target
 * takes a delivery only when a queue policy of the template lets the rule send.
 * The services the catalog deploys are services of the local ECS endpoint,
 * whose `ECS Deployment State Change` events are held until the test delivers
 * them through the template's rules; the webhook function runs behind a local
 * function URL (./function-url.ts), reading its secret from a local SSM.
 * The template's queues are queues of a local SQS endpoint (./fake-sqs.ts), and its buckets buckets of a
 * local S3 endpoint (./fake-s3.ts); each SQS event source mapping of the template hands its function the
 * messages of its queue as Lambda's poller does, when the test asks (`pollEventSources`).
 *
 * Values only known at deploy time (physical names, ARNs) are resolved as
 * CloudFormation documents `Ref` and `Fn::GetAtt` for each resource type
 * used; a reference this harness does not model fails loudly.
 */
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { CreateTableCommand, ScanCommand, type CreateTableCommandInput, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Catalog, Trigger } from "../../src/core/catalog/types.ts";
import { compilePattern, matchesPattern, type CompiledPattern } from "../../src/core/match/compile.ts";
import { isRunStatus, isTerminal } from "../../src/core/runs/status.ts";
import { startDynalite, type LocalDynamo } from "../contract/dynalite.ts";
import { startFakeEcs, type FakeDeploymentEvent, type FakeEcs, type FakeService, type FakeTask, type FakeTaskDefinition } from "./fake-ecs.ts";
import { startFakeEventBridge, type FakeEventBridge } from "./fake-eventbridge.ts";
import { startFakeSsm, type FakeSsm } from "./fake-ssm.ts";
import { startFakeS3, type FakeS3 } from "./fake-s3.ts";
import { startFakeSqs, type FakeSqs } from "./fake-sqs.ts";
import { startFunctionUrl, type FunctionUrl } from "./function-url.ts";
import { ruleTargetPayload, scheduleEvent, scheduleTargetPayload, type RuleTargetInput, type ScheduleInvocation } from "./event-inputs.ts";
import { until } from "./until.ts";
import { concrete } from "../stack/events.ts";

type Json = unknown;
type Resource = { readonly Type: string; readonly Properties?: Record<string, Json> } & Record<string, Json>;
export interface Template {
  readonly Resources: Record<string, Resource>;
  readonly Parameters?: Record<string, { Default?: Json }>;
  readonly Conditions?: Record<string, Json>;
  readonly Mappings?: Record<string, Record<string, Record<string, Json>>>;
  readonly Outputs?: Record<string, { Value: Json }>;
}

export interface StackPlace {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  /**
   * The SQS endpoint queue URLs begin with: the region's, `https://sqs.<region>.amazonaws.com`, unless given. The
   * SDK sends each SQS request to the host of its QueueUrl, whatever AWS_ENDPOINT_URL_SQS says, so a stack run on
   * local endpoints gives its queues URLs on the local SQS endpoint, as AWS gives them URLs on the regional one.
   */
  readonly sqsEndpoint?: string;
}

const NO_VALUE = Symbol("AWS::NoValue");
const isObject = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Resolves intrinsic functions of a template to the values CloudFormation would give them at deploy time. */
export class TemplateResolver {
  constructor(
    readonly template: Template,
    readonly place: StackPlace,
  ) {}

  /** The physical name CloudFormation gives a resource that names none: stack name, logical id, a random suffix. */
  generatedName(logicalId: string): string {
    return `${this.place.stackName}-${logicalId}-1A2B3C4D5E6F7`.slice(0, 63);
  }

  /** Where queue URLs point: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-queue-message-identifiers.html. */
  get sqsEndpoint(): string {
    return this.place.sqsEndpoint ?? `https://sqs.${this.place.region}.amazonaws.com`;
  }

  resource(logicalId: string): Resource {
    const r = this.template.Resources[logicalId];
    if (r === undefined) throw new Error(`the template has no resource ${logicalId}`);
    return r;
  }

  /** A resource's own name property, resolved, or the generated name. */
  #name(logicalId: string, property: string): string {
    const given = this.resource(logicalId).Properties?.[property];
    return given === undefined ? this.generatedName(logicalId) : String(this.resolve(given));
  }

  #arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.place.region}:${this.place.account}:${resource}`;
  }

  /** `Ref` of a resource, per the "Return values" section of its CloudFormation reference page. */
  ref(logicalId: string): string {
    const r = this.resource(logicalId);
    switch (r.Type) {
      case "AWS::Lambda::Function":
        return this.#name(logicalId, "FunctionName");
      case "AWS::Events::EventBus":
        return this.#name(logicalId, "Name");
      case "AWS::Events::Rule":
        return this.#name(logicalId, "Name");
      case "AWS::DynamoDB::Table":
        return this.#name(logicalId, "TableName");
      case "AWS::SQS::Queue":
        return `${this.sqsEndpoint}/${this.place.account}/${this.#queueName(logicalId)}`;
      case "AWS::SNS::Topic":
        return this.#arn("sns", this.#name(logicalId, "TopicName"));
      case "AWS::IAM::Role":
        return this.#name(logicalId, "RoleName");
      case "AWS::Logs::LogGroup":
        return this.#name(logicalId, "LogGroupName");
      case "AWS::Scheduler::Schedule":
        return this.#name(logicalId, "Name");
      case "AWS::Scheduler::ScheduleGroup":
        return this.#name(logicalId, "Name");
      case "AWS::S3::Bucket":
        return this.#name(logicalId, "BucketName").toLowerCase();
      case "AWS::CloudWatch::Alarm":
        return this.#name(logicalId, "AlarmName");
      case "AWS::Lambda::Version":
        return `${this.#functionArn(this.resource(logicalId).Properties?.FunctionName)}:1`;
      default:
        throw new Error(`harness: Ref of ${r.Type} (${logicalId}) is not modelled`);
    }
  }

  #queueName(logicalId: string): string {
    const r = this.resource(logicalId);
    const name = this.#name(logicalId, "QueueName");
    return r.Properties?.FifoQueue === true && !name.endsWith(".fifo") ? `${name}.fifo` : name;
  }

  #functionArn(ref: Json): string {
    const v = String(this.resolve(ref));
    return v.startsWith("arn:") ? v : this.#arn("lambda", `function:${v}`);
  }

  /** `Fn::GetAtt`, per each resource type's reference page. */
  getAtt(logicalId: string, attribute: string): string {
    const r = this.resource(logicalId);
    const key = `${r.Type}.${attribute}`;
    switch (key) {
      case "AWS::Lambda::Function.Arn":
        return this.#arn("lambda", `function:${this.ref(logicalId)}`);
      case "AWS::Events::EventBus.Arn":
        return this.#arn("events", `event-bus/${this.ref(logicalId)}`);
      case "AWS::Events::EventBus.Name":
        return this.ref(logicalId);
      case "AWS::Events::Rule.Arn": {
        const bus = this.busName(r.Properties?.EventBusName);
        return this.#arn("events", bus === "default" ? `rule/${this.ref(logicalId)}` : `rule/${bus}/${this.ref(logicalId)}`);
      }
      case "AWS::DynamoDB::Table.Arn":
        return this.#arn("dynamodb", `table/${this.ref(logicalId)}`);
      case "AWS::SQS::Queue.Arn":
        return this.#arn("sqs", this.#queueName(logicalId));
      case "AWS::SQS::Queue.QueueName":
        return this.#queueName(logicalId);
      case "AWS::SQS::Queue.QueueUrl":
        return this.ref(logicalId);
      case "AWS::SNS::Topic.TopicArn":
        return this.ref(logicalId);
      case "AWS::SNS::Topic.TopicName":
        return this.#name(logicalId, "TopicName");
      case "AWS::IAM::Role.Arn": {
        const path = String(this.resolve(r.Properties?.Path ?? "/"));
        return `arn:aws:iam::${this.place.account}:role${path}${this.ref(logicalId)}`;
      }
      case "AWS::Logs::LogGroup.Arn":
        return this.#arn("logs", `log-group:${this.ref(logicalId)}:*`);
      case "AWS::Scheduler::Schedule.Arn": {
        const group = r.Properties?.GroupName === undefined ? "default" : String(this.resolve(r.Properties.GroupName));
        return this.#arn("scheduler", `schedule/${group}/${this.ref(logicalId)}`);
      }
      case "AWS::Scheduler::ScheduleGroup.Arn":
        return this.#arn("scheduler", `schedule-group/${this.ref(logicalId)}`);
      case "AWS::S3::Bucket.Arn":
        return `arn:aws:s3:::${this.ref(logicalId)}`;
      case "AWS::CloudWatch::Alarm.Arn":
        return this.#arn("cloudwatch", `alarm:${this.ref(logicalId)}`);
      default:
        throw new Error(`harness: Fn::GetAtt ${key} (${logicalId}) is not modelled`);
    }
  }

  /** A bus given as a name, an ARN or nothing (the default bus), as EventBusName takes it. */
  busName(value: Json): string {
    if (value === undefined) return "default";
    const v = String(this.resolve(value));
    const m = /^arn:[^:]+:events:[^:]*:\d{12}:event-bus\/(.+)$/.exec(v);
    return m ? (m[1] as string) : v;
  }

  condition(name: string): boolean {
    const c = this.template.Conditions?.[name];
    if (c === undefined) throw new Error(`the template has no condition ${name}`);
    return this.#truth(c);
  }

  #truth(v: Json): boolean {
    if (!isObject(v)) throw new Error(`not a condition: ${JSON.stringify(v)}`);
    const [fn, args] = Object.entries(v)[0] as [string, Json[]];
    switch (fn) {
      case "Fn::Equals":
        return JSON.stringify(this.resolve(args[0])) === JSON.stringify(this.resolve(args[1]));
      case "Fn::Not":
        return !this.#truth(args[0]);
      case "Fn::And":
        return args.every((a) => this.#truth(a));
      case "Fn::Or":
        return args.some((a) => this.#truth(a));
      case "Condition":
        return this.condition(String(args));
      default:
        throw new Error(`harness: condition function ${fn} is not modelled`);
    }
  }

  resolve(value: Json): Json {
    const out = this.#resolve(value);
    return out === NO_VALUE ? undefined : out;
  }

  #resolve(value: Json): Json {
    if (Array.isArray(value)) return value.map((v) => this.#resolve(v)).filter((v) => v !== NO_VALUE);
    if (!isObject(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const fn = keys[0] as string;
      const args = value[fn];
      switch (fn) {
        case "Ref":
          return this.#refOf(String(args));
        case "Fn::GetAtt": {
          const [id, attr] = typeof args === "string" ? [args.slice(0, args.indexOf(".")), args.slice(args.indexOf(".") + 1)] : (args as [string, Json]);
          return this.getAtt(id, String(this.resolve(attr)));
        }
        case "Fn::Sub": {
          const [text, vars] = typeof args === "string" ? [args, {}] : (args as [string, Record<string, Json>]);
          return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
            if (name.startsWith("!")) return `\${${name.slice(1)}}`;
            if (name in vars) return String(this.resolve(vars[name]));
            const dot = name.indexOf(".");
            return dot < 0 ? String(this.#refOf(name)) : this.getAtt(name.slice(0, dot), name.slice(dot + 1));
          });
        }
        case "Fn::Join": {
          const [sep, list] = args as [string, Json];
          return (this.resolve(list) as Json[]).map(String).join(sep);
        }
        case "Fn::Select": {
          const [i, list] = args as [Json, Json];
          return (this.resolve(list) as Json[])[Number(this.resolve(i))];
        }
        case "Fn::Split": {
          const [sep, text] = args as [string, Json];
          return String(this.resolve(text)).split(sep);
        }
        case "Fn::If": {
          const [cond, yes, no] = args as [string, Json, Json];
          return this.#resolve(this.condition(cond) ? yes : no);
        }
        case "Fn::FindInMap": {
          const [map, top, second] = (args as Json[]).map((a) => String(this.resolve(a)));
          return this.resolve(this.template.Mappings?.[map as string]?.[top as string]?.[second as string]);
        }
        case "Fn::Base64":
          return Buffer.from(String(this.resolve(args))).toString("base64");
        case "Fn::GetAZs":
          return ["a", "b", "c"].map((z) => `${this.place.region}${z}`);
        case "Fn::ToJsonString":
          return JSON.stringify(this.resolve(args));
        case "Fn::ImportValue":
          throw new Error(`harness: Fn::ImportValue needs another stack (${JSON.stringify(args)})`);
      }
    }
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = this.#resolve(v);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  #refOf(name: string): Json {
    switch (name) {
      case "AWS::Region":
        return this.place.region;
      case "AWS::AccountId":
        return this.place.account;
      case "AWS::Partition":
        return "aws";
      case "AWS::URLSuffix":
        return "amazonaws.com";
      case "AWS::StackName":
        return this.place.stackName;
      case "AWS::StackId":
        return this.#arn("cloudformation", `stack/${this.place.stackName}/00000000-0000-0000-0000-000000000000`);
      case "AWS::NotificationARNs":
        return [];
      case "AWS::NoValue":
        return NO_VALUE;
    }
    const parameter = this.template.Parameters?.[name];
    if (parameter !== undefined) {
      if (parameter.Default === undefined) throw new Error(`parameter ${name} has no default`);
      return parameter.Default;
    }
    return this.ref(name);
  }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB metering: request counts and capacity units, from what passes dynalite's HTTP layer.

/**
 * Capacity units as DynamoDB on-demand bills them:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
 * (a write is 1 unit per 1 KB of the larger of the item before and after; a read 1 unit per
 * 4 KB, half for an eventually consistent read, a Query rounded up over the items it returns;
 * a write whose condition fails still consumes units for the existing item, at least 1) and
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations
 * (an index write per index the item enters, leaves or changes in; two when an update changes
 * the index key: a delete and a put). Item sizes per
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html.
 */
export interface DynamoMeter {
  /** Requests by operation (GetItem, PutItem, UpdateItem, DeleteItem, Query, …). */
  readonly requests: Record<string, number>;
  /** Conditional writes refused (ConditionalCheckFailedException). */
  conditionalFailures: number;
  readUnits: number;
  tableWriteUnits: number;
  /** Index writes, in write units, summed over every index. */
  indexWriteUnits: number;
  readonly indexWriteUnitsByIndex: Record<string, number>;
  /** Operations the meter does not price (batch and transactional calls): listed, not guessed. */
  readonly unpriced: string[];
  /** One line per request: operation, item key, units. */
  readonly trace: string[];
}

type AttributeValue = Record<string, Json>;
type Item = Record<string, AttributeValue>;

function utf8(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** Size in bytes of one attribute value in DynamoDB's JSON wire format. */
function valueSize(v: AttributeValue): number {
  const [type, raw] = Object.entries(v)[0] as [string, Json];
  switch (type) {
    case "S":
      return utf8(raw as string);
    case "N": {
      const digits = String(raw).replace(/^-/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
      return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
    }
    case "B":
      return Buffer.from(raw as string, "base64").length;
    case "BOOL":
    case "NULL":
      return 1;
    case "SS":
      return (raw as string[]).reduce((n, s) => n + utf8(s), 0);
    case "NS":
      return (raw as string[]).reduce((n, s) => n + valueSize({ N: s }), 0);
    case "BS":
      return (raw as string[]).reduce((n, s) => n + Buffer.from(s, "base64").length, 0);
    case "L":
      return 3 + (raw as AttributeValue[]).reduce((n, e) => n + 1 + valueSize(e), 0);
    case "M":
      return 3 + Object.entries(raw as Item).reduce((n, [k, e]) => n + 1 + utf8(k) + valueSize(e), 0);
    default:
      throw new Error(`unknown attribute type ${type}`);
  }
}

export function itemSize(item: Item | undefined): number {
  if (item === undefined) return 0;
  return Object.entries(item).reduce((n, [name, v]) => n + utf8(name) + valueSize(v), 0);
}

interface TableShape {
  readonly keys: readonly string[];
  /** Each index's keys and what it projects besides the keys (undefined: every attribute). */
  readonly indexes: readonly { readonly name: string; readonly keys: readonly string[]; readonly projects?: readonly string[] }[];
}

export interface MeteredDynamo {
  /** Point the functions' AWS_ENDPOINT_URL_DYNAMODB here. */
  readonly endpoint: string;
  readonly meter: DynamoMeter;
  reset(): void;
  close(): Promise<void>;
}

function emptyMeter(): DynamoMeter {
  return { requests: {}, conditionalFailures: 0, readUnits: 0, tableWriteUnits: 0, indexWriteUnits: 0, indexWriteUnitsByIndex: {}, unpriced: [], trace: [] };
}

/** A metering proxy in front of a DynamoDB-compatible server; requests pass one at a time so before/after reads are exact. */
export async function startMeteredDynamo(upstream: string): Promise<MeteredDynamo> {
  const target = new URL(upstream);
  let meter = emptyMeter();
  const shapes = new Map<string, TableShape>();
  let queue: Promise<unknown> = Promise.resolve();

  const send = (headers: IncomingHttpHeaders, operation: string | undefined, body: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> =>
    new Promise((resolve, reject) => {
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined && k !== "content-length" && k !== "connection") h[k] = v;
      if (operation !== undefined) h["x-amz-target"] = `DynamoDB_20120810.${operation}`;
      h["content-length"] = String(Buffer.byteLength(body));
      const req = httpRequest({ host: target.hostname, port: target.port, method: "POST", path: "/", headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      req.end(body);
    });

  const shapeOf = async (headers: IncomingHttpHeaders, table: string): Promise<TableShape> => {
    const known = shapes.get(table);
    if (known) return known;
    const r = await send(headers, "DescribeTable", JSON.stringify({ TableName: table }));
    type Index = { IndexName: string; KeySchema: { AttributeName: string }[]; Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] } };
    const t = (JSON.parse(r.body) as { Table: { KeySchema: { AttributeName: string }[]; GlobalSecondaryIndexes?: Index[] } }).Table;
    const shape = {
      keys: t.KeySchema.map((k) => k.AttributeName),
      indexes: (t.GlobalSecondaryIndexes ?? []).map((i) => ({
        name: i.IndexName,
        keys: i.KeySchema.map((k) => k.AttributeName),
        ...(i.Projection?.ProjectionType === "ALL" ? {} : { projects: i.Projection?.NonKeyAttributes ?? [] }),
      })),
    };
    shapes.set(table, shape);
    return shape;
  };

  const read = async (headers: IncomingHttpHeaders, table: string, key: Item): Promise<Item | undefined> => {
    const r = await send(headers, "GetItem", JSON.stringify({ TableName: table, Key: key, ConsistentRead: true }));
    return (JSON.parse(r.body) as { Item?: Item }).Item;
  };

  const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

  const meterWrite = async (headers: IncomingHttpHeaders, operation: string, input: { TableName: string; Item?: Item; Key?: Item }, forward: () => Promise<{ status: number; body: string }>) => {
    const shape = await shapeOf(headers, input.TableName);
    const key: Item = input.Key ?? Object.fromEntries(shape.keys.map((k) => [k, (input.Item as Item)[k] as AttributeValue]));
    const before = await read(headers, input.TableName, key);
    const response = await forward();
    const name = Object.values(key).map((v) => Object.values(v)[0]).join(" ");
    if (response.status !== 200) {
      if (response.body.includes("ConditionalCheckFailedException")) {
        meter.conditionalFailures++;
        meter.tableWriteUnits += writeUnits(itemSize(before));
        meter.trace.push(`${operation} ${name}: condition failed, ${writeUnits(itemSize(before))} WRU`);
      }
      return response;
    }
    const after = await read(headers, input.TableName, key);
    const tableUnits = writeUnits(Math.max(itemSize(before), itemSize(after)));
    meter.tableWriteUnits += tableUnits;
    const indexNotes: string[] = [];
    for (const index of shape.indexes) {
      // The item's index entry: its keys and projected attributes, or nothing when the item is not in the index.
      const entryOf = (item: Item | undefined): Item | undefined => {
        if (item === undefined || index.keys.some((k) => item[k] === undefined)) return undefined;
        if (index.projects === undefined) return item;
        const names = new Set([...shape.keys, ...index.keys, ...index.projects]);
        return Object.fromEntries(Object.entries(item).filter(([name]) => names.has(name)));
      };
      const keyOf = (entry: Item) => JSON.stringify(index.keys.map((k) => entry[k]));
      const [b, a] = [entryOf(before), entryOf(after)];
      let units = 0;
      if (b === undefined && a !== undefined) units = writeUnits(itemSize(a));
      else if (b !== undefined && a === undefined) units = writeUnits(itemSize(b));
      else if (b !== undefined && a !== undefined) {
        // A changed key moves the entry (a delete and a put); a changed projected attribute rewrites it; nothing else touches the index.
        if (keyOf(b) !== keyOf(a)) units = writeUnits(itemSize(b)) + writeUnits(itemSize(a));
        else if (JSON.stringify(b) !== JSON.stringify(a)) units = writeUnits(Math.max(itemSize(b), itemSize(a)));
      }
      if (units > 0) {
        meter.indexWriteUnits += units;
        meter.indexWriteUnitsByIndex[index.name] = (meter.indexWriteUnitsByIndex[index.name] ?? 0) + units;
        indexNotes.push(`${index.name} ${units}`);
      }
    }
    meter.trace.push(`${operation} ${name} (${itemSize(before)} → ${itemSize(after)} bytes): ${tableUnits} WRU${indexNotes.length > 0 ? ` + index ${indexNotes.join(", ")}` : ""}`);
    return response;
  };

  const handle = async (headers: IncomingHttpHeaders, raw: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> => {
    const operation = String(headers["x-amz-target"] ?? "").replace(/^DynamoDB_20120810\./, "");
    meter.requests[operation] = (meter.requests[operation] ?? 0) + 1;
    const input = JSON.parse(raw || "{}") as { TableName: string; Item?: Item; Key?: Item; ConsistentRead?: boolean; IndexName?: string };
    const forward = () => send(headers, undefined, raw);
    switch (operation) {
      case "PutItem":
      case "UpdateItem":
      case "DeleteItem": {
        let response: { status: number; headers: IncomingHttpHeaders; body: string } | undefined;
        await meterWrite(headers, operation, input, async () => (response = await forward()));
        return response as { status: number; headers: IncomingHttpHeaders; body: string };
      }
      case "GetItem": {
        const response = await forward();
        const item = (JSON.parse(response.body) as { Item?: Item }).Item;
        const units = Math.max(1, Math.ceil(itemSize(item) / 4096)) * (input.ConsistentRead === true ? 1 : 0.5);
        meter.readUnits += units;
        meter.trace.push(`GetItem ${Object.values(input.Key ?? {}).map((v) => Object.values(v)[0]).join(" ")}: ${units} RRU`);
        return response;
      }
      case "Query":
      case "Scan": {
        const response = await forward();
        const items = (JSON.parse(response.body) as { Items?: Item[] }).Items ?? [];
        const bytes = items.reduce((n, i) => n + itemSize(i), 0);
        const consistent = input.ConsistentRead === true && input.IndexName === undefined;
        const units = Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
        meter.readUnits += units;
        meter.trace.push(`${operation} ${input.IndexName ?? "table"}: ${items.length} items, ${units} RRU`);
        return response;
      }
      case "DescribeTable":
      case "CreateTable":
        return forward();
      default:
        meter.unpriced.push(operation);
        return forward();
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const done = queue.then(() => handle(req.headers, raw));
      queue = done.catch(() => undefined);
      done.then(
        (r) => {
          const h: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && k !== "transfer-encoding" && k !== "connection") h[k] = v;
          h["content-length"] = String(Buffer.byteLength(r.body));
          res.writeHead(r.status, h).end(r.body);
        },
        (error: unknown) => res.writeHead(500, { "content-type": "application/x-amz-json-1.0" }).end(JSON.stringify({ __type: "InternalServerError", message: String(error) })),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get meter() {
      return meter;
    },
    reset() {
      meter = emptyMeter();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  } as MeteredDynamo;
}

// ---------------------------------------------------------------------------------------------
// The stack: functions, rules and schedules of the template.

export interface StackFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The unzipped deployment package: LAMBDA_TASK_ROOT. */
  readonly root: string;
  /** The temporary folder holding `root`. */
  readonly container: string;
  /** `dist/handlers/dispatch.handler` → module `dist/handlers/dispatch.mjs`, export `handler`. */
  readonly handler: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Environment.Variables, resolved. */
  readonly environment: Readonly<Record<string, string>>;
}

export type RuleTargetKind = { readonly kind: "function"; readonly functionId: string } | { readonly kind: "sns"; readonly topicArn: string } | { readonly kind: "sqs"; readonly queueArn: string } | { readonly kind: "other"; readonly arn: string };

export interface StackRule {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly bus: string;
  readonly enabled: boolean;
  readonly pattern: Record<string, Json>;
  readonly compiled: CompiledPattern;
  readonly targets: readonly (RuleTargetInput & { readonly to: RuleTargetKind; readonly id: string })[];
}

export interface StackSchedule {
  readonly logicalId: string;
  readonly arn: string;
  readonly expression: string;
  readonly timezone: string | undefined;
  readonly enabled: boolean;
  readonly input: string | undefined;
  readonly to: { readonly kind: "function"; readonly functionId: string } | { readonly kind: "bus"; readonly busArn: string; readonly source: string; readonly detailType: string };
}

/** What each resource type of interest looks like once resolved. */
export class StackModel {
  readonly resolver: TemplateResolver;
  readonly functions = new Map<string, StackFunction>();
  readonly rules: StackRule[] = [];
  readonly schedules: StackSchedule[] = [];

  /** `artifacts`: the directory holding the packaged `<function>.zip` files (serverless's `.serverless`). */
  constructor(
    readonly template: Template,
    place: StackPlace,
    artifacts: string,
  ) {
    this.resolver = new TemplateResolver(template, place);
    const r = this.resolver;
    const byArn = new Map<string, string>();
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const p = resource.Properties ?? {};
      const code = r.resolve(p.Code) as { S3Key?: string; ZipFile?: string };
      if (code.S3Key === undefined) throw new Error(`${id}: the harness runs packaged functions (Code.S3Key), not inline code`);
      const zip = join(artifacts, basename(code.S3Key));
      // Under a node_modules folder, the test runner leaves the bundle to Node's own loader, as Lambda loads it.
      const container = mkdtempSync(join(tmpdir(), `berth-${id}-`));
      const root = join(container, "node_modules", "task");
      mkdirSync(root, { recursive: true });
      execFileSync("unzip", ["-q", zip, "-d", root]);
      const env = (r.resolve((p.Environment as { Variables?: Json } | undefined)?.Variables ?? {}) ?? {}) as Record<string, Json>;
      const fn: StackFunction = {
        logicalId: id,
        name: r.ref(id),
        arn: r.getAtt(id, "Arn"),
        root,
        container,
        handler: String(r.resolve(p.Handler)),
        memoryMb: Number(r.resolve(p.MemorySize ?? 128)),
        timeoutSeconds: Number(r.resolve(p.Timeout ?? 3)),
        environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
      };
      this.functions.set(id, fn);
      byArn.set(fn.arn, id);
    }
    const targetOf = (arn: string): RuleTargetKind => {
      const fn = byArn.get(arn) ?? byArn.get(arn.replace(/:[^:]+$/, ""));
      if (fn !== undefined) return { kind: "function", functionId: fn };
      if (arn.startsWith("arn:aws:sns:")) return { kind: "sns", topicArn: arn };
      if (arn.startsWith("arn:aws:sqs:")) return { kind: "sqs", queueArn: arn };
      return { kind: "other", arn };
    };
    for (const [id, resource] of Object.entries(template.Resources)) {
      if (resource.Condition !== undefined && !r.condition(String(resource.Condition))) continue;
      const p = resource.Properties ?? {};
      if (resource.Type === "AWS::Events::Rule" && p.EventPattern !== undefined) {
        const raw = r.resolve(p.EventPattern);
        const pattern = (typeof raw === "string" ? JSON.parse(raw) : raw) as Record<string, Json>;
        const targets = ((r.resolve(p.Targets) ?? []) as (RuleTargetInput & { Arn: string; Id: string })[]).map((t) => ({ ...t, id: t.Id, to: targetOf(t.Arn) }));
        this.rules.push({
          logicalId: id,
          name: r.ref(id),
          arn: r.getAtt(id, "Arn"),
          bus: r.busName(p.EventBusName),
          enabled: r.resolve(p.State ?? "ENABLED") === "ENABLED",
          pattern,
          compiled: compilePattern(pattern),
          targets,
        });
      }
      if (resource.Type === "AWS::Scheduler::Schedule") {
        const t = r.resolve(p.Target) as { Arn: string; Input?: string; EventBridgeParameters?: { Source: string; DetailType: string } };
        const fn = byArn.get(t.Arn);
        const to: StackSchedule["to"] =
          fn !== undefined
            ? { kind: "function", functionId: fn }
            : t.EventBridgeParameters !== undefined
              ? { kind: "bus", busArn: t.Arn, source: t.EventBridgeParameters.Source, detailType: t.EventBridgeParameters.DetailType }
              : (() => {
                  throw new Error(`${id}: schedule target ${t.Arn} is neither a function of the stack nor an event bus`);
                })();
        this.schedules.push({
          logicalId: id,
          arn: r.getAtt(id, "Arn"),
          expression: String(r.resolve(p.ScheduleExpression)),
          timezone: p.ScheduleExpressionTimezone === undefined ? undefined : String(r.resolve(p.ScheduleExpressionTimezone)),
          enabled: r.resolve(p.State ?? "ENABLED") === "ENABLED",
          input: t.Input,
          to,
        });
      }
    }
  }

  /** The enabled rules of `bus` that `event` matches, as EventBridge decides. */
  matchingRules(bus: string, event: unknown): StackRule[] {
    return this.rules.filter((rule) => rule.enabled && rule.bus === bus && matchesPattern(rule.compiled, event));
  }

  /**
   * Whether SQS takes a message EventBridge sends to `queueArn` for the rule `ruleArn`: only when a queue policy
   * of the stack on that queue allows events.amazonaws.com sqs:SendMessage, under its conditions on the rule's ARN
   * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions).
   */
  queueAccepts(queueArn: string, ruleArn: string): boolean {
    const r = this.resolver;
    const list = (v: Json): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const arnOfUrl = (url: string) => {
      const m = /^(.+)\/(\d{12})\/([^/]+)$/.exec(url);
      if (!m || m[1] !== r.sqsEndpoint) throw new Error(`harness: ${url} is not a queue URL on ${r.sqsEndpoint}`);
      return `arn:aws:sqs:${r.place.region}:${m[2]}:${m[3]}`;
    };
    const like = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(value);
    const conditionHolds = (condition: Json): boolean =>
      Object.entries((condition ?? {}) as Record<string, Record<string, Json>>).every(([operator, keys]) =>
        Object.entries(keys).every(([key, values]) => {
          if (key.toLowerCase() !== "aws:sourcearn") throw new Error(`harness: condition key ${key} of a queue policy is not modelled`);
          if (operator === "ArnEquals") return list(values).some((v) => v === ruleArn);
          if (operator === "ArnLike") return list(values).some((v) => like(String(v), ruleArn));
          throw new Error(`harness: condition operator ${operator} of a queue policy is not modelled`);
        }),
      );
    for (const [, resource] of Object.entries(this.template.Resources)) {
      if (resource.Type !== "AWS::SQS::QueuePolicy") continue;
      const p = r.resolve(resource.Properties) as { Queues: string[]; PolicyDocument: { Statement: Record<string, Json>[] } };
      if (!p.Queues.map(arnOfUrl).includes(queueArn)) continue;
      for (const s of p.PolicyDocument.Statement) {
        const principal = s.Principal as { Service?: Json } | string;
        const services = principal === "*" ? ["events.amazonaws.com"] : list((principal as { Service?: Json }).Service);
        if (s.Effect !== "Allow" || !services.includes("events.amazonaws.com")) continue;
        if (!list(s.Action).some((a) => a === "sqs:SendMessage" || a === "sqs:*" || a === "*")) continue;
        if (!list(s.Resource).some((res) => res === queueArn || res === "*")) continue;
        if (conditionHolds(s.Condition)) return true;
      }
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Running it.

export interface Invocation {
  readonly functionId: string;
  readonly payload: unknown;
  readonly result?: unknown;
  readonly error?: unknown;
  /** Everything the function wrote to stdout/stderr or the console during the invocation. */
  readonly logs: string;
  readonly coldStart: boolean;
  /** Wall time of the invocation on this machine, for the cost estimate (never asserted). */
  readonly durationMs: number;
  /** What led to it: `rule <name>`, `schedule <name>`. */
  readonly cause: string;
}

export interface Delivery {
  readonly cause: string;
  readonly to: RuleTargetKind;
  readonly payload: string;
}

export interface LocalEndpoints {
  readonly dynamodb: string;
  readonly ecs: string;
  readonly eventbridge: string;
  readonly sqs?: string;
  readonly s3?: string;
  readonly ssm?: string;
}

/** The bus entries a function put, as the local EventBridge endpoint recorded them. */
export interface BusRecorder {
  readonly entries: readonly { readonly EventBusName?: string; readonly Source: string; readonly DetailType: string; readonly Detail: string; readonly Resources?: string[] }[];
}

type LoadedHandler = (event: unknown, context: unknown) => Promise<unknown>;

export class LocalCloud {
  readonly invocations: Invocation[] = [];
  /** Deliveries to targets that are not functions of the stack (SNS topics, queues). */
  readonly deliveries: Delivery[] = [];
  /** Deliveries a queue's policy refused: EventBridge retries them, then sends them to the rule's dead-letter queue. */
  readonly refused: Delivery[] = [];
  /** Events put on a bus that no rule of the stack matched. */
  readonly unmatched: { readonly bus: string; readonly event: unknown }[] = [];
  schedulerInvocations = 0;
  putEventsEntries = 0;
  readonly #handlers = new Map<string, LoadedHandler>();
  #routed = 0;
  #container = 0;
  #seq = 0;

  constructor(
    readonly stack: StackModel,
    readonly endpoints: LocalEndpoints,
    readonly bus: BusRecorder,
    readonly place: StackPlace,
  ) {}

  /** Puts an event on `busName` as EventBridge receives it, and runs everything it sets off. */
  async putEvent(busName: string, event: Record<string, unknown>, cause = "event"): Promise<void> {
    const rules = this.stack.matchingRules(busName, event);
    if (rules.length === 0) this.unmatched.push({ bus: busName, event });
    for (const rule of rules) {
      for (const target of rule.targets) {
        const payload = ruleTargetPayload(target, event, { ruleArn: rule.arn, ruleName: rule.name, ingestionTime: String(event.time) });
        if (target.to.kind === "function") await this.invoke(target.to.functionId, JSON.parse(payload), `rule ${rule.name} (${cause})`);
        else if (target.to.kind === "sqs" && !this.stack.queueAccepts(target.to.queueArn, rule.arn)) this.refused.push({ cause: `rule ${rule.name}`, to: target.to, payload });
        else this.deliveries.push({ cause: `rule ${rule.name}`, to: target.to, payload });
      }
    }
    await this.routePublished();
  }

  /** One invocation attempt of a schedule, as EventBridge Scheduler makes it. */
  async fireSchedule(schedule: StackSchedule, invocation: Omit<ScheduleInvocation, "scheduleArn">): Promise<void> {
    this.schedulerInvocations++;
    const full = { ...invocation, scheduleArn: schedule.arn };
    if (schedule.to.kind === "function") {
      await this.invoke(schedule.to.functionId, JSON.parse(scheduleTargetPayload(schedule.input, full)), `schedule ${schedule.logicalId}`);
      await this.routePublished();
      return;
    }
    const { busName, event } = scheduleEvent(
      { Arn: schedule.to.busArn, Input: schedule.input, EventBridgeParameters: { Source: schedule.to.source, DetailType: schedule.to.detailType } },
      full,
      { id: randomUUID(), time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") },
    );
    this.putEventsEntries++;
    await this.putEvent(busName, event, `schedule ${schedule.logicalId}`);
  }

  /** Routes, as new events, what was put on buses since the last call: by the functions run here, or by one behind a function URL. */
  async routePublished(): Promise<void> {
    while (this.#routed < this.bus.entries.length) {
      const entry = this.bus.entries[this.#routed++] as BusRecorder["entries"][number];
      this.putEventsEntries++;
      const event = {
        version: "0",
        id: randomUUID(),
        "detail-type": entry.DetailType,
        source: entry.Source,
        account: this.place.account,
        time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        region: this.place.region,
        resources: entry.Resources ?? [],
        detail: JSON.parse(entry.Detail) as unknown,
      };
      await this.putEvent(this.stack.resolver.busName(entry.EventBusName ?? "default"), event, `PutEvents ${entry.DetailType}`);
    }
  }

  /** Starts the next invocations of every function in a fresh container (a new cold start). */
  recycleContainers(): void {
    this.#handlers.clear();
    this.#container++;
  }

  /** The process environment Lambda gives the function, pointed at the local endpoints. */
  environmentOf(fn: StackFunction): Record<string, string> {
    return {
      ...fn.environment,
      AWS_REGION: this.place.region,
      AWS_DEFAULT_REGION: this.place.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
      LAMBDA_TASK_ROOT: fn.root,
      _HANDLER: fn.handler,
      AWS_ACCESS_KEY_ID: "ASIAEXAMPLEEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_SESSION_TOKEN: "local",
      AWS_ENDPOINT_URL_DYNAMODB: this.endpoints.dynamodb,
      AWS_ENDPOINT_URL_ECS: this.endpoints.ecs,
      AWS_ENDPOINT_URL_EVENTBRIDGE: this.endpoints.eventbridge,
      ...(this.endpoints.sqs !== undefined ? { AWS_ENDPOINT_URL_SQS: this.endpoints.sqs } : {}),
      ...(this.endpoints.s3 !== undefined ? { AWS_ENDPOINT_URL_S3: this.endpoints.s3 } : {}),
      ...(this.endpoints.ssm !== undefined ? { AWS_ENDPOINT_URL_SSM: this.endpoints.ssm } : {}),
    };
  }

  async invoke(functionId: string, payload: unknown, cause: string): Promise<Invocation> {
    const fn = this.stack.functions.get(functionId);
    if (fn === undefined) throw new Error(`the stack has no function ${functionId}`);
    const saved = process.env;
    process.env = { ...saved, ...this.environmentOf(fn) };
    const logs: string[] = [];
    const restore = captureOutput(logs);
    const started = performance.now();
    let record: Invocation;
    const coldStart = !this.#handlers.has(functionId);
    try {
      let handler = this.#handlers.get(functionId);
      if (handler === undefined) {
        handler = await loadHandler(fn, this.#container);
        this.#handlers.set(functionId, handler);
      }
      const context = {
        awsRequestId: randomUUID(),
        functionName: fn.name,
        functionVersion: "$LATEST",
        invokedFunctionArn: fn.arn,
        memoryLimitInMB: String(fn.memoryMb),
        logGroupName: `/aws/lambda/${fn.name}`,
        logStreamName: `2026/01/01/[$LATEST]${++this.#seq}`,
        callbackWaitsForEmptyEventLoop: true,
        getRemainingTimeInMillis: () => fn.timeoutSeconds * 1000 - (performance.now() - started),
      };
      const result = await handler(payload, context);
      record = { functionId, payload, result, logs: "", coldStart, durationMs: performance.now() - started, cause };
    } catch (error) {
      record = { functionId, payload, error, logs: "", coldStart, durationMs: performance.now() - started, cause };
    } finally {
      restore();
      process.env = saved;
    }
    const done = { ...record, logs: logs.join("") };
    this.invocations.push(done);
    return done;
  }
}

/** The module of a function's handler (`dist/handlers/dispatch.handler` → `dist/handlers/dispatch.mjs`, relative to its package) and its export, as the Lambda runtime finds them. */
function handlerModule(fn: StackFunction): { readonly file: string; readonly exportName: string } {
  const dot = fn.handler.lastIndexOf(".");
  const modulePath = fn.handler.slice(0, dot);
  const exportName = fn.handler.slice(dot + 1);
  const dir = modulePath.includes("/") ? modulePath.slice(0, modulePath.lastIndexOf("/")) : ".";
  const base = basename(modulePath);
  const file = readdirSync(join(fn.root, dir)).find((f) => f === `${base}.mjs` || f === `${base}.js` || f === `${base}.cjs`);
  if (file === undefined) throw new Error(`${fn.logicalId}: handler ${fn.handler} names no module in its package (${join(fn.root, dir)})`);
  return { file: join(dir, file), exportName };
}

/** Imports the handler module from the function's package, as the Lambda runtime does. */
async function loadHandler(fn: StackFunction, container: number): Promise<LoadedHandler> {
  const { file, exportName } = handlerModule(fn);
  // A query string gives each container its own module instance.
  const mod = (await import(/* @vite-ignore */ `${pathToFileURL(join(fn.root, file)).href}?container=${container}`)) as Record<string, unknown>;
  const handler = mod[exportName];
  if (typeof handler !== "function") throw new Error(`${fn.logicalId}: ${file} exports no function "${exportName}"`);
  return handler as LoadedHandler;
}

/** Collects what is written to stdout, stderr and the console until the returned function is called. */
function captureOutput(into: string[]): () => void {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
  const saved = methods.map((m) => console[m]);
  const take = (chunk: unknown): boolean => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  };
  process.stdout.write = take as typeof process.stdout.write;
  process.stderr.write = take as typeof process.stderr.write;
  for (const m of methods) console[m] = (...args: unknown[]) => void into.push(`${args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")}\n`);
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
    methods.forEach((m, i) => (console[m] = saved[i] as (typeof console)[typeof m]));
  };
}

// ---------------------------------------------------------------------------------------------
// The example catalog's stack on local endpoints, with real-shaped events for its triggers.

type Sample = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface StoredRun {
  readonly id: string;
  readonly job: string;
  readonly status: string;
  readonly reason?: string;
  /** The run's template context: its trigger's variables (`git.sha`, …). */
  readonly context: Readonly<Record<string, string>>;
  readonly trigger: { readonly kind: string; readonly idempotencyKey: string };
  readonly attempts: readonly { readonly taskArn?: string; readonly status?: string; readonly exitCode?: number }[];
}

/** Requests one run cost, from the first event to the last thing it set off. */
export interface RunCost {
  readonly job: string;
  readonly status: string | undefined;
  /** Invocations by function name. */
  readonly invocations: Record<string, number>;
  /** Sum over the invocations of wall time × memory, on this machine (an estimate, never asserted). */
  readonly gbSeconds: number;
  readonly dynamo: DynamoMeter;
  readonly putEventsCalls: number;
  readonly putEventsEntries: number;
  readonly runTask: number;
  readonly describeTasks: number;
  readonly stopTask: number;
  /** Deliveries to SNS topics and other non-function targets. */
  readonly otherDeliveries: number;
  readonly schedulerInvocations: number;
}

/** An `ECS Deployment State Change` the local ECS sent, and what lets its deployment take the next step. */
interface HeldDeploymentEvent {
  readonly event: FakeDeploymentEvent;
  readonly release: () => void;
}

/**
 * The task definitions and services the catalog names, as the account has them before berth's first run: each
 * family the jobs run or deploy, at revision 1, with the jobs' containers, the first essential (the engine
 * reads which containers decide a task's outcome from its task definition), and the first job's roles; each
 * deployed service on its family, named after it.
 */
function accountOf(catalog: Catalog): { readonly taskDefinitions: Record<string, FakeTaskDefinition>; readonly services: FakeService[] } {
  const taskDefinitions: Record<string, { containers: string[]; taskRoleArn?: string; executionRoleArn?: string }> = {};
  const services = new Map<string, FakeService>();
  for (const job of Object.values(catalog.jobs)) {
    const a = job.action;
    const family = a.kind === "run" ? a.taskDefinition : a.service;
    const roles = { ...(job.roles.task !== undefined ? { taskRoleArn: job.roles.task } : {}), ...(job.roles.execution !== undefined ? { executionRoleArn: job.roles.execution } : {}) };
    const definition = (taskDefinitions[family] ??= { containers: [], ...roles });
    // A task without container overrides has one container, named after its family (fake-ecs.ts).
    const container = a.container ?? family;
    if (!definition.containers.includes(container)) definition.containers.push(container);
    if (a.kind === "deploy") services.set(`${a.cluster}/${a.service}`, { cluster: a.cluster, name: a.service, taskDefinition: `${family}:1` });
  }
  return { taskDefinitions, services: [...services.values()] };
}

export class WiredStack {
  readonly stack: StackModel;
  readonly cloud: LocalCloud;
  #unique = 0;
  #webhook: Promise<FunctionUrl> | undefined;

  private constructor(
    readonly catalog: Catalog,
    readonly place: StackPlace,
    stack: StackModel,
    readonly dynalite: LocalDynamo,
    readonly metered: MeteredDynamo,
    readonly direct: DynamoDBClient,
    readonly tables: readonly string[],
    readonly ecs: FakeEcs,
    readonly bus: FakeEventBridge,
    /** The webhook's secret store: put its secret here. */
    readonly ssm: FakeSsm,
    /** The template's queues, at the URLs the template gives them. */
    readonly sqs: FakeSqs,
    /** The template's buckets, by the names the template gives them. */
    readonly s3: FakeS3,
    readonly samples: URL,
    /** Deployment events the local ECS sent that were not delivered yet, oldest first. */
    private readonly held: HeldDeploymentEvent[],
  ) {
    this.stack = stack;
    this.cloud = new LocalCloud(stack, { dynamodb: metered.endpoint, ecs: ecs.url, eventbridge: bus.url, ssm: ssm.url, sqs: sqs.url, s3: s3.url }, bus, place);
  }

  /** `artifacts`: the folder of the packaged zips; `samples`: the events/ folder. */
  static async start(options: { readonly template: Template; readonly artifacts: string; readonly catalog: Catalog; readonly stage: string; readonly samples: URL; readonly account?: string }): Promise<WiredStack> {
    const { catalog } = options;
    const account = options.account ?? "123456789012";
    const sqs = await startFakeSqs({ accountId: account });
    const place: StackPlace = { stackName: `${catalog.service}-${options.stage}`, region: catalog.region ?? "us-east-1", account, sqsEndpoint: sqs.url };
    const stack = new StackModel(options.template, place, options.artifacts);
    const buckets: Record<string, { region: string }> = {};
    for (const [id, resource] of Object.entries(stack.template.Resources)) {
      if (resource.Type === "AWS::SQS::Queue" && sqs.createQueue(stack.resolver.getAtt(id, "QueueName")) !== stack.resolver.ref(id)) throw new Error(`harness: queue ${id} is not at the URL the template gives it`);
      if (resource.Type === "AWS::S3::Bucket") buckets[stack.resolver.ref(id)] = { region: place.region };
    }
    const s3 = await startFakeS3(buckets, { region: place.region });
    const dynalite = await startDynalite();
    const metered = await startMeteredDynamo(dynalite.endpoint);
    const direct = dynalite.client();
    const tables: string[] = [];
    for (const [id, resource] of Object.entries(stack.template.Resources)) {
      if (resource.Type !== "AWS::DynamoDB::Table") continue;
      // CreateTable takes the CloudFormation properties but for TTL, backups, encryption, tags and the table class.
      const { TimeToLiveSpecification: _ttl, PointInTimeRecoverySpecification: _pitr, SSESpecification: _sse, Tags: _tags, DeletionProtectionEnabled: _dp, ContributorInsightsSpecification: _ci, TableClass: _tc, ...input } = stack.resolver.resolve(resource.Properties) as Record<string, unknown>;
      const TableName = stack.resolver.ref(id);
      await direct.send(new CreateTableCommand({ ...(input as object), TableName } as CreateTableCommandInput));
      tables.push(TableName);
    }
    const held: HeldDeploymentEvent[] = [];
    const ecs = await startFakeEcs({
      region: place.region,
      accountId: place.account,
      ...accountOf(catalog),
      // A deployment takes its next step once its last event was delivered (fake-ecs.ts): the test delivers them.
      onDeploymentEvent: (event) => new Promise<void>((release) => held.push({ event, release })),
    });
    const bus = await startFakeEventBridge();
    const ssm = await startFakeSsm({ region: place.region, account: place.account });
    return new WiredStack(catalog, place, stack, dynalite, metered, direct, tables, ecs, bus, ssm, sqs, s3, options.samples, held);
  }

  async close(): Promise<void> {
    const webhook = await this.#webhook?.catch(() => undefined);
    await webhook?.close();
    await Promise.all([this.metered.close(), this.dynalite.close(), this.ecs.close(), this.bus.close(), this.ssm.close(), this.sqs.close(), this.s3.close()]);
    for (const fn of this.stack.functions.values()) rmSync(fn.container, { recursive: true, force: true });
  }

  /**
   * The webhook function behind a local function URL, started on first use: its own package, with the environment
   * the template gives it, against the local bus and SSM. What it puts on the bus is routed by `cloud.routePublished()`.
   */
  webhook(): Promise<FunctionUrl> {
    if (this.#webhook !== undefined) return this.#webhook;
    const fn = [...this.stack.functions.values()].find((f) => f.handler === "dist/handlers/webhook.handler");
    if (fn === undefined) throw new Error("the stack has no webhook function");
    const source = fn.environment.BERTH_WEBHOOK_SECRET_SOURCE;
    if (source !== undefined && source !== "ssm") throw new Error(`harness: a webhook secret in ${source} is not modelled, only in SSM`);
    const { file, exportName } = handlerModule(fn);
    if (exportName !== "handler") throw new Error(`harness: a function URL runs a module's "handler" export, not ${fn.handler}`);
    this.#webhook = startFunctionUrl({ package: { root: fn.root, bundle: file }, env: this.cloud.environmentOf(fn), functionName: fn.name, region: this.place.region, timeoutSeconds: fn.timeoutSeconds });
    return this.#webhook;
  }

  /**
   * One poll of each enabled SQS event source mapping of the template, as Lambda's poller makes it
   * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): the visible messages of its queue, at most its
   * BatchSize, each kept invisible for the queue's VisibilityTimeout (and moved to the dead-letter queue of the
   * queue's RedrivePolicy once received maxReceiveCount times), handed to its function as one SQS event of the
   * shape Lambda sends (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event).
   * A function that returns deletes its messages, but those its partial batch response names when the mapping has
   * ReportBatchItemFailures (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html); one
   * that throws deletes none. What the functions put on buses is routed. The invocations made, none when no queue
   * had a visible message.
   */
  async pollEventSources(): Promise<Invocation[]> {
    const r = this.stack.resolver;
    const made: Invocation[] = [];
    for (const [id, resource] of Object.entries(this.stack.template.Resources)) {
      if (resource.Type !== "AWS::Lambda::EventSourceMapping") continue;
      const p = r.resolve(resource.Properties) as { EventSourceArn: string; FunctionName: string; BatchSize?: number; Enabled?: boolean; FunctionResponseTypes?: string[] };
      if (p.Enabled === false) continue;
      const queueId = Object.keys(this.stack.template.Resources).find((q) => this.stack.template.Resources[q]!.Type === "AWS::SQS::Queue" && r.getAtt(q, "Arn") === p.EventSourceArn);
      if (queueId === undefined) throw new Error(`harness: event source ${id} reads ${p.EventSourceArn}, not a queue of the stack`);
      const queue = r.resolve(this.stack.template.Resources[queueId]!.Properties) as { VisibilityTimeout?: number; RedrivePolicy?: { deadLetterTargetArn: string; maxReceiveCount: number } };
      const functionId = [...this.stack.functions.values()].find((f) => f.name === p.FunctionName || f.arn === p.FunctionName)?.logicalId;
      if (functionId === undefined) throw new Error(`harness: event source ${id} invokes ${p.FunctionName}, not a function of the stack`);
      const deadLetterId = queue.RedrivePolicy && Object.keys(this.stack.template.Resources).find((q) => this.stack.template.Resources[q]!.Type === "AWS::SQS::Queue" && r.getAtt(q, "Arn") === queue.RedrivePolicy!.deadLetterTargetArn);
      const queueUrl = r.ref(queueId);
      const messages = this.sqs.receive(queueUrl, {
        max: p.BatchSize ?? 10,
        visibilityTimeoutSeconds: queue.VisibilityTimeout ?? 30,
        ...(queue.RedrivePolicy !== undefined && deadLetterId !== undefined ? { redrive: { deadLetterQueueUrl: r.ref(deadLetterId), maxReceiveCount: queue.RedrivePolicy.maxReceiveCount } } : {}),
      });
      if (messages.length === 0) continue;
      const event = {
        Records: messages.map((m) => ({
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body,
          attributes: { ApproximateReceiveCount: String(m.ApproximateReceiveCount), SentTimestamp: String(m.SentTimestamp), SenderId: "AROAEXAMPLEEXAMPLE:berth", ApproximateFirstReceiveTimestamp: String(m.ApproximateFirstReceiveTimestamp) },
          messageAttributes: Object.fromEntries(
            Object.entries(m.MessageAttributes).map(([name, a]) => [name, { ...(a.StringValue !== undefined ? { stringValue: a.StringValue } : {}), ...(a.BinaryValue !== undefined ? { binaryValue: a.BinaryValue } : {}), stringListValues: [], binaryListValues: [], dataType: a.DataType }]),
          ),
          md5OfBody: m.MD5OfBody,
          eventSource: "aws:sqs",
          eventSourceARN: p.EventSourceArn,
          awsRegion: this.place.region,
        })),
      };
      const invocation = await this.cloud.invoke(functionId, event, `event source ${id}`);
      made.push(invocation);
      if (invocation.error !== undefined) continue;
      const partial = (p.FunctionResponseTypes ?? []).includes("ReportBatchItemFailures");
      const failed = new Set(partial ? ((invocation.result as { batchItemFailures?: { itemIdentifier: string }[] } | undefined)?.batchItemFailures ?? []).map((f) => f.itemIdentifier) : []);
      for (const m of messages) if (!failed.has(m.MessageId)) this.sqs.delete(queueUrl, m.ReceiptHandle);
      await this.cloud.routePublished();
    }
    return made;
  }

  /**
   * Delivers the `ECS Deployment State Change` events the local ECS sent so far, oldest first, as EventBridge
   * delivers them from the default bus through the template's rules; each deployment takes its next step once
   * its event was delivered.
   */
  async deliverDeploymentEvents(): Promise<void> {
    for (let next = this.held.shift(); next !== undefined; next = this.held.shift()) {
      await this.cloud.putEvent("default", next.event as unknown as Record<string, unknown>, "ECS Deployment State Change");
      next.release();
    }
  }

  /** Delivers deployment events as ECS sends them until run `runId` has ended; the ended run. */
  followDeployment(runId: string): Promise<StoredRun> {
    return until(
      `run ${runId} to end`,
      async () => {
        await this.deliverDeploymentEvents();
        const run = (await this.runs()).find((r) => r.id === runId);
        return run !== undefined && isRunStatus(run.status) && isTerminal(run.status) ? run : undefined;
      },
      60_000,
    );
  }

  sample(name: string): Sample {
    return JSON.parse(readFileSync(new URL(name, this.samples), "utf8")) as Sample;
  }

  /** Every run in the tables, read straight from dynalite (past the meter). */
  async runs(): Promise<StoredRun[]> {
    const out: StoredRun[] = [];
    for (const TableName of this.tables) {
      const { Items = [] } = await this.direct.send(new ScanCommand({ TableName }));
      for (const item of Items) if (item.SK?.S === "RUN" && item.data?.S !== undefined) out.push(JSON.parse(item.data.S) as StoredRun);
    }
    return out;
  }

  /** The bus a catalog bus kind names in this stack: the berth bus is the one the functions publish to (BERTH_BUS). */
  busNamed(kind: string): string {
    if (kind !== "berth") return kind;
    const names = new Set([...this.stack.functions.values()].map((f) => f.environment.BERTH_BUS));
    if (names.size !== 1) throw new Error(`the functions publish to ${names.size} different buses: ${[...names].join(", ")}`);
    return [...names][0] as string;
  }

  /** A real-shaped event, from the sample of its kind adapted to the catalog, that `trigger` of `job` fires on; undefined for schedules, which Scheduler fires. */
  eventFor(job: string, trigger: Trigger): { readonly bus: string; readonly event: Sample } | undefined {
    const n = ++this.#unique;
    const id = `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
    switch (trigger.kind) {
      case "s3": {
        const bucket = trigger.buckets[0] as string;
        const key = keyFor(trigger.key, `wiring-${n}`);
        return {
          bus: "default",
          event: deepMerge(this.sample("s3-object-created.json"), {
            id,
            resources: [`arn:aws:s3:::${bucket}`],
            detail: { bucket: { name: bucket }, object: { key, sequencer: `0067459${String(n).padStart(11, "0")}`, "version-id": `v${n}` } },
          }),
        };
      }
      case "git": {
        const branch = trigger.branches?.[0]?.replace(/\*/g, "x") ?? "main";
        if (trigger.provider === "codecommit") {
          return { bus: "default", event: deepMerge(this.sample("codecommit-reference-updated.json"), { id, detail: { repositoryName: trigger.repo, referenceName: branch, referenceFullName: `refs/heads/${branch}`, commitId: n.toString(16).padStart(40, "0") } }) };
        }
        return { bus: "berth", event: deepMerge(this.sample("git-push.json"), { id, detail: pushOf(trigger, n) }) };
      }
      case "manual": {
        const params = Object.fromEntries(Object.keys(trigger.params).map((k) => [k, `value-${k}`]));
        return { bus: "berth", event: { ...this.sample("manual-run.json"), id, detail: { service: this.catalog.service, job, params, idempotencyKey: `wiring-${n}` } } };
      }
      case "job": {
        const status = (trigger.statuses[0] ?? "succeeded").toUpperCase().replace(/-/g, "_");
        // A run of a job that carries a push publishes the push and its position (core/runs/effects.ts), as track does.
        const pushed = this.#pushTriggerOf(trigger.job);
        const push = pushed === undefined ? {} : this.#carriedPush(pushed, n);
        return { bus: "berth", event: deepMerge(this.sample("run-succeeded.json"), { id, detail: { service: this.catalog.service, job: trigger.job, runId: `01JDRN4K8T2V6X0Z3B5D7F9${String(n).padStart(3, "0")}`, status, ...push } }) };
      }
      case "event": {
        const sources = (trigger.pattern as { source?: unknown[] }).source ?? [];
        const base = sources.includes("aws.ecr") ? this.sample("ecr-image-push.json") : this.sample("s3-object-created.json");
        return { bus: trigger.bus ?? "default", event: deepMerge({ ...base, id }, eventFromPattern(trigger.pattern as Record<string, unknown>)) };
      }
      case "schedule":
        return undefined;
    }
  }

  /** The git trigger whose push every run of job `name` carries (its own, or that of the job it is chained after), if every run carries one. */
  #pushTriggerOf(name: string, seen: ReadonlySet<string> = new Set()): Extract<Trigger, { kind: "git" }> | undefined {
    const job = this.catalog.jobs[name];
    if (job === undefined || seen.has(name) || job.triggers.length === 0) return undefined;
    const found = job.triggers.map((t) => (t.kind === "git" ? t : t.kind === "job" ? this.#pushTriggerOf(t.job, new Set([...seen, name])) : undefined));
    return found.every((t) => t !== undefined) ? found[0] : undefined;
  }

  /** The `git` and `position` of a Berth Run State Change of a run that carries push number `n` of `trigger` (the sample push otherwise). */
  #carriedPush(trigger: Extract<Trigger, { kind: "git" }>, n: number): { git: Record<string, string>; position: Record<string, unknown> } {
    const sample = this.sample("git-push.json").detail as Record<string, string>;
    const push = pushOf(trigger, n);
    const git = { ...push, shortSha: push.sha.slice(0, 7), before: sample.before!, pusher: sample.pusher! };
    return { git, position: { label: git.shortSha, sha: push.sha, before: git.before, at: Date.parse(sample.committedAt!) } };
  }

  /** ECS Task State Change events for `task` going PROVISIONING → RUNNING → STOPPED with `exitCode`, put on the default bus as ECS puts them. */
  async driveTaskToEnd(task: FakeTask, exitCode: number): Promise<void> {
    const base = this.sample("ecs-task-state-change-running.json");
    const stopped = this.sample("ecs-task-state-change-stopped-exit-0.json");
    const containers = (status: string, exit?: number) =>
      task.containers.map((c) => ({ ...base.detail.containers[0], name: c.name, lastStatus: status, taskArn: task.taskArn, ...(exit !== undefined ? { exitCode: exit } : {}) }));
    const event = (lastStatus: string, version: number, extra: Record<string, unknown>) => {
      const detail: Record<string, unknown> = {
        ...base.detail,
        clusterArn: task.clusterArn,
        taskArn: task.taskArn,
        taskDefinitionArn: task.taskDefinitionArn,
        startedBy: task.startedBy,
        group: task.group,
        overrides: task.overrides ?? { containerOverrides: [] },
        launchType: task.launchType,
        capacityProviderName: task.capacityProviderName,
        lastStatus,
        version,
        ...extra,
      };
      for (const [k, v] of Object.entries(detail)) if (v === undefined) delete detail[k];
      return { ...base, id: `${task.taskArn.slice(-12)}-${version}`, resources: [task.taskArn], detail };
    };
    const put = (e: Record<string, unknown>) => this.cloud.putEvent("default", e, "ECS Task State Change");
    await put(event("PROVISIONING", 1, { desiredStatus: "RUNNING", containers: containers("PENDING"), startedAt: undefined, pullStartedAt: undefined, pullStoppedAt: undefined, connectivity: undefined, connectivityAt: undefined }));
    await put(event("RUNNING", 2, { desiredStatus: "RUNNING", containers: containers("RUNNING") }));
    this.ecs.finishTask(task.taskArn, exitCode);
    // The task's own version once stopped (it may have moved on its own before): what a DescribeTasks answer would show.
    await put(
      event("STOPPED", Math.max(3, task.version), {
        desiredStatus: "STOPPED",
        containers: containers("STOPPED", exitCode),
        stopCode: stopped.detail.stopCode,
        stoppedReason: stopped.detail.stoppedReason,
        stoppingAt: stopped.detail.stoppingAt,
        stoppedAt: stopped.detail.stoppedAt,
        executionStoppedAt: stopped.detail.executionStoppedAt,
      }),
    );
  }

  /**
   * One run of `job` (a run job with a rule trigger) from its triggering event to its end:
   * dispatch, then the task's PROVISIONING, RUNNING and STOPPED (exit 0) events through
   * track, then whatever the published run state changes set off. Returns what it cost.
   */
  async measureTrackedRun(jobName: string): Promise<RunCost> {
    const job = this.catalog.jobs[jobName];
    if (job === undefined || job.action.kind !== "run") throw new Error(`${jobName} is no run job of the catalog`);
    const trigger = job.triggers.find((t) => t.kind !== "schedule");
    const built = trigger && this.eventFor(jobName, trigger);
    if (built === undefined) throw new Error(`${jobName} has no rule trigger`);
    this.metered.reset();
    const before = {
      invocations: this.cloud.invocations.length,
      calls: this.bus.calls.length,
      entries: this.bus.calls.reduce((n, c) => n + c.length, 0),
      runTask: this.ecs.stats.runTaskCalls,
      describeTasks: this.ecs.stats.describeTasksCalls,
      stopTask: this.ecs.stats.stopTaskCalls,
      deliveries: this.cloud.deliveries.length,
      scheduler: this.cloud.schedulerInvocations,
      runs: new Set((await this.runs()).map((r) => r.id)),
    };
    await this.cloud.putEvent(this.busNamed(built.bus), built.event, `${trigger!.kind} event`);
    const run = (await this.runs()).find((r) => !before.runs.has(r.id) && r.job === jobName);
    const taskArn = run?.attempts[0]?.taskArn;
    const task = taskArn === undefined ? undefined : this.ecs.tasks.get(taskArn);
    if (task === undefined) throw new Error(`${jobName}: the run started no task (${JSON.stringify(this.cloud.invocations.at(-1)?.result)})`);
    await this.driveTaskToEnd(task, 0);
    const invocations = this.cloud.invocations.slice(before.invocations);
    const byFunction: Record<string, number> = {};
    let gbSeconds = 0;
    for (const i of invocations) {
      const fn = this.stack.functions.get(i.functionId) as StackFunction;
      byFunction[fn.name] = (byFunction[fn.name] ?? 0) + 1;
      gbSeconds += (i.durationMs / 1000) * (fn.memoryMb / 1024);
    }
    return {
      job: jobName,
      status: (await this.runs()).find((r) => r.id === run?.id)?.status,
      invocations: byFunction,
      gbSeconds,
      dynamo: structuredClone(this.metered.meter),
      putEventsCalls: this.bus.calls.length - before.calls,
      putEventsEntries: this.bus.calls.reduce((n, c) => n + c.length, 0) - before.entries,
      runTask: this.ecs.stats.runTaskCalls - before.runTask,
      describeTasks: this.ecs.stats.describeTasksCalls - before.describeTasks,
      stopTask: this.ecs.stats.stopTaskCalls - before.stopTask,
      otherDeliveries: this.cloud.deliveries.length - before.deliveries,
      schedulerInvocations: this.cloud.schedulerInvocations - before.scheduler,
    };
  }
}

/** Push number `n` to the first branch `trigger` watches (a pattern made concrete): a Git Push detail's own fields. */
function pushOf(trigger: Extract<Trigger, { kind: "git" }>, n: number): { provider: string; repo: string; ref: string; branch: string; sha: string } {
  const branch = trigger.branches?.[0]?.replace(/\*/g, "x") ?? "main";
  return { provider: trigger.provider, repo: trigger.repo, ref: `refs/heads/${branch}`, branch, sha: n.toString(16).padStart(40, "0") };
}

/** For each leaf of a pattern, its first literal, else a value its first matcher (a prefix, …) matches, as an event that pattern matches would carry it. */
function eventFromPattern(pattern: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pattern)) {
    if (Array.isArray(v)) {
      const literal = v.find((x) => typeof x !== "object" || x === null);
      out[k] = literal !== undefined ? literal : concrete(v[0]);
    } else if (typeof v === "object" && v !== null) out[k] = eventFromPattern(v as Record<string, unknown>);
  }
  return out;
}

export function deepMerge(base: Sample, over: Sample): Sample {
  const out: Sample = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = typeof v === "object" && v !== null && !Array.isArray(v) ? deepMerge((base[k] as Sample | undefined) ?? {}, v as Sample) : v;
  return out;
}

/** A key an S3 key filter of the catalog accepts (a real key: berth encodes it as S3 does in the rule). */
function keyFor(filter: Extract<Trigger, { kind: "s3" }>["key"], name: string): string {
  if (filter === undefined) return `${name}.png`;
  if (filter.equals !== undefined) return filter.equals;
  if (filter.wildcard !== undefined) return filter.wildcard.replace(/\\\*/g, "\uE000").replace(/\*/g, name).replace(/\uE000/g, "*");
  return `${filter.prefix ?? ""}${name}${filter.suffix ?? ""}`;
}
