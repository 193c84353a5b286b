/**
 * Checks every packaged template must pass, whatever its catalog: least privilege (no wildcard where
 * the issue forbids one), dead-letter queues and alarms everywhere, and the AWS quotas.
 */
import { actionsOf, resourcesOf, resourcesOfStatement, roleStatements, type CfnResource, type Json, type Template } from "./package.ts";

/** Pseudo parameters as a real stack resolves them; sizes are measured on the resolved text, as AWS measures. */
export const PLACE = { partition: "aws", region: "eu-west-1", account: "123456789012", stackName: "acme-jobs-dev" } as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function busOf(rule: CfnResource, template: Template): string | undefined {
  const bus = rule.Properties?.EventBusName;
  if (bus === undefined) return undefined;
  if (typeof bus === "string") return bus;
  const id = (bus as { Ref: string }).Ref;
  return String(template.Resources[id]?.Properties?.Name);
}

/**
 * The physical name CloudFormation gives a resource whose template names none: the stack name, the logical id and
 * a random suffix, `stack123123123123-s3bucket-abcdefghijk1` for a bucket, which takes lower case only
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html).
 */
function generatedName(id: string, lowerCase = false): string {
  const name = `${PLACE.stackName}-${id}-ABCDEFGHIJK1`.slice(0, 63);
  return lowerCase ? name.toLowerCase() : name;
}

/** A bucket's name: its BucketName, or the one CloudFormation generates. */
function bucketName(r: CfnResource, id: string): string {
  const given = r.Properties?.BucketName;
  if (given !== undefined && typeof given !== "string") throw new Error(`no model of a BucketName that is not a string: ${id}`);
  return given ?? generatedName(id, true);
}

/** A queue's name: its QueueName (with `.fifo` for a FIFO queue), or the one CloudFormation generates. */
function queueName(r: CfnResource, id: string): string {
  const given = r.Properties?.QueueName;
  if (given !== undefined && typeof given !== "string") throw new Error(`no model of a QueueName that is not a string: ${id}`);
  const name = given ?? generatedName(id);
  return r.Properties?.FifoQueue === true && !name.endsWith(".fifo") ? `${name}.fifo` : name;
}

/**
 * The value of `Fn::GetAtt [id, attribute]`, for the resource types the stack refers to, per the "Return values"
 * of each type's reference page: AWS::SQS::Queue's Arn, QueueName and QueueUrl
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html#aws-resource-sqs-queue-return-values),
 * AWS::S3::Bucket's Arn, `arn:aws:s3:::<bucket name>`, with neither region nor account
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html#aws-resource-s3-bucket-return-values).
 */
function attribute(template: Template, id: string, attr: string): string {
  const r = template.Resources[id];
  if (!r) throw new Error(`Fn::GetAtt of a resource that does not exist: ${id}`);
  const p = r.Properties ?? {};
  const arn = (service: string, resource: string) => `arn:${PLACE.partition}:${service}:${PLACE.region}:${PLACE.account}:${resource}`;
  if (r.Type === "AWS::Events::Rule" && attr === "Arn") {
    const bus = busOf(r, template);
    return arn("events", bus === undefined ? `rule/${String(p.Name)}` : `rule/${bus}/${String(p.Name)}`);
  }
  if (r.Type === "AWS::Events::EventBus" && attr === "Arn") return arn("events", `event-bus/${String(p.Name)}`);
  if (r.Type === "AWS::SQS::Queue" && attr === "Arn") return arn("sqs", queueName(r, id));
  if (r.Type === "AWS::SQS::Queue" && attr === "QueueName") return queueName(r, id);
  if (r.Type === "AWS::SQS::Queue" && attr === "QueueUrl") return reference(template, id);
  if (r.Type === "AWS::S3::Bucket" && attr === "Arn") return `arn:${PLACE.partition}:s3:::${bucketName(r, id)}`;
  if (r.Type === "AWS::DynamoDB::Table" && attr === "Arn") return arn("dynamodb", `table/${String(p.TableName)}`);
  if (r.Type === "AWS::Lambda::Function" && attr === "Arn") return arn("lambda", `function:${String(p.FunctionName)}`);
  if (r.Type === "AWS::IAM::Role" && attr === "Arn") return `arn:aws:iam::${PLACE.account}:role/${id}-ABCDEFGHIJKL`;
  // https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html: https://<url-id>.lambda-url.<region>.on.aws/
  if (r.Type === "AWS::Lambda::Url" && attr === "FunctionUrl") return `https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.${PLACE.region}.on.aws/`;
  throw new Error(`no model of Fn::GetAtt ${id}.${attr} (${r.Type})`);
}

/** The value of `Ref id`: a queue's URL, a bucket's name (the same reference pages), otherwise the resource's name. */
function reference(template: Template, id: string): string {
  const r = template.Resources[id];
  if (!r) throw new Error(`Ref of a resource that does not exist: ${id}`);
  const p = r.Properties ?? {};
  if (r.Type === "AWS::SQS::Queue") return `https://sqs.${PLACE.region}.amazonaws.com/${PLACE.account}/${queueName(r, id)}`;
  if (r.Type === "AWS::S3::Bucket") return bucketName(r, id);
  if (r.Type === "AWS::Lambda::Function") return String(p.FunctionName);
  if ("Name" in p) return String(p.Name);
  if ("TableName" in p) return String(p.TableName);
  throw new Error(`no model of Ref ${id} (${r.Type})`);
}

/** `value` with its intrinsic functions resolved in PLACE, as CloudFormation would resolve them. */
export function resolve(template: Template, value: Json): Json {
  if (Array.isArray(value)) return value.map((v) => resolve(template, v));
  if (!isObject(value)) return value;
  if ("Ref" in value) return reference(template, value.Ref as string);
  if ("Fn::GetAtt" in value) {
    const [id, attr] = value["Fn::GetAtt"] as [string, string];
    return attribute(template, id, attr);
  }
  if ("Fn::Sub" in value) {
    return (value["Fn::Sub"] as string).replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
      if (name === "AWS::Partition") return PLACE.partition;
      if (name === "AWS::Region") return PLACE.region;
      if (name === "AWS::AccountId") return PLACE.account;
      const [id, attr] = name.split(".");
      return attr ? attribute(template, id!, attr) : reference(template, id!);
    });
  }
  if ("Fn::Join" in value) {
    const [separator, parts] = value["Fn::Join"] as [string, Json[]];
    return parts.map((p) => resolve(template, p)).join(separator);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(template, v)]));
}

/**
 * Actions whose resource may never be a wildcard: those the issues name (RunTask, StopTask, UpdateService,
 * DescribeServices, PassRole, StopServiceDeployment, PutEvents, DynamoDB), and every other deployer and webhook
 * action that IAM lets berth scope to a service, its deployments and revisions, or one secret.
 */
const SCOPED_ACTIONS =
  /^(ecs:RunTask|ecs:StopTask|ecs:UpdateService|ecs:DescribeServices|ecs:ListServiceDeployments|ecs:DescribeServiceDeployments|ecs:StopServiceDeployment|ecs:DescribeServiceRevisions|iam:PassRole|events:PutEvents|dynamodb:.*|ssm:GetParameter.*|secretsmanager:GetSecretValue|s3:PutObject|sqs:SendMessage|sqs:ReceiveMessage|sqs:DeleteMessage|sqs:GetQueueAttributes)$/;

/**
 * A resource that names no particular resource: `*`, or an ARN whose name part is a wildcard
 * (`task-definition/*`, `table/*`, `role/*`). A wildcard after a name (`task-definition/thumbnailer:*`,
 * every revision of one family; `task/jobs/*`, every task of one cluster) is scoped. An S3 ARN names a bucket
 * and, after it, objects (`arn:aws:s3:::<bucket>/<key>`, neither region nor account): it names no particular
 * resource when its bucket is a wildcard; `<bucket>/*`, the objects of one bucket, is scoped.
 */
export function isUnscoped(resource: string): boolean {
  if (resource === "*") return true;
  const parts = resource.split(":");
  const name = parts.slice(5).join(":");
  if (parts.length >= 6 && parts[2] === "s3") {
    const bucket = name.split("/")[0]!;
    return bucket === "" || /[*?]/.test(bucket) || parts[3] !== "" || parts[4] !== "";
  }
  return parts.length < 6 || /^\*/.test(name) || /^[A-Za-z-]+\/\*/.test(name);
}

export function wildcardViolations(template: Template): string[] {
  const out: string[] = [];
  for (const { role, statement } of roleStatements(template)) {
    const scoped = actionsOf(statement).filter((a) => SCOPED_ACTIONS.test(a));
    if (scoped.length === 0) continue;
    for (const r of resourcesOfStatement(statement)) {
      const resolved = resolve(template, r);
      if (typeof resolved !== "string" || isUnscoped(resolved)) out.push(`${role} ${statement.Sid ?? ""}: ${scoped.join(", ")} on ${JSON.stringify(resolved)}`);
    }
  }
  return out;
}

/**
 * Statements whose resource names no particular resource (`*`, `task-definition/*`, `key/*`) and whose role
 * does not say why in its Metadata (`berth:unscoped-statements`, by Sid), where CloudFormation keeps it for
 * readers of the template.
 */
export function unexplainedWildcards(template: Template): string[] {
  const out: string[] = [];
  for (const { role, statement } of roleStatements(template)) {
    const wide = resourcesOfStatement(statement).map((r) => resolve(template, r)).filter((r) => typeof r !== "string" || isUnscoped(r));
    if (wide.length === 0) continue;
    const notes = (template.Resources[role]?.Metadata?.["berth:unscoped-statements"] ?? {}) as Record<string, string>;
    if (typeof notes[statement.Sid ?? ""] !== "string" || notes[statement.Sid ?? ""]!.length < 40) out.push(`${role} ${statement.Sid ?? ""}: ${actionsOf(statement).join(", ")} on ${JSON.stringify(wide)}`);
  }
  return out;
}

/** Queue logical ids with an alarm on their depth. */
export function alarmedQueues(template: Template): Set<string> {
  const out = new Set<string>();
  for (const [, alarm] of resourcesOf(template, "AWS::CloudWatch::Alarm")) {
    const p = alarm.Properties ?? {};
    if (p.Namespace !== "AWS/SQS" || p.MetricName !== "ApproximateNumberOfMessagesVisible") continue;
    for (const d of (p.Dimensions ?? []) as { Name: string; Value: { "Fn::GetAtt": [string, string] } }[]) {
      if (d.Name === "QueueName") out.add(d.Value["Fn::GetAtt"][0]);
    }
  }
  return out;
}

/** Every place something can fail to deliver, and the queue it dead-letters to (undefined: none). */
export function deadLetterTargets(template: Template): { what: string; queue: string | undefined }[] {
  const queueOf = (arn: unknown) => (isObject(arn) && Array.isArray(arn["Fn::GetAtt"]) ? (arn["Fn::GetAtt"] as string[])[0] : undefined);
  const out: { what: string; queue: string | undefined }[] = [];
  for (const [id, rule] of resourcesOf(template, "AWS::Events::Rule")) {
    for (const t of (rule.Properties?.Targets ?? []) as { Id: string; DeadLetterConfig?: { Arn: unknown }; RetryPolicy?: unknown }[]) {
      out.push({ what: `rule ${id} target ${t.Id}`, queue: t.RetryPolicy ? queueOf(t.DeadLetterConfig?.Arn) : undefined });
    }
  }
  for (const [id, schedule] of resourcesOf(template, "AWS::Scheduler::Schedule")) {
    const t = schedule.Properties?.Target as { DeadLetterConfig?: { Arn: unknown }; RetryPolicy?: unknown };
    out.push({ what: `schedule ${id}`, queue: t.RetryPolicy ? queueOf(t.DeadLetterConfig?.Arn) : undefined });
  }
  const configs = resourcesOf(template, "AWS::Lambda::EventInvokeConfig");
  // A function only its function URL invokes is invoked synchronously: the caller gets its error, so there is nothing to dead-letter.
  const targetOf = (arn: unknown) => (isObject(arn) && Array.isArray(arn["Fn::GetAtt"]) ? (arn["Fn::GetAtt"] as string[])[0] : undefined);
  const asynchronous = new Set([
    ...resourcesOf(template, "AWS::Events::Rule").flatMap(([, r]) => ((r.Properties?.Targets ?? []) as { Arn: unknown }[]).map((t) => targetOf(t.Arn))),
    ...resourcesOf(template, "AWS::Scheduler::Schedule").map(([, s]) => targetOf((s.Properties?.Target as { Arn: unknown }).Arn)),
  ]);
  const behindUrl = new Set(resourcesOf(template, "AWS::Lambda::Url").map(([, u]) => targetOf(u.Properties?.TargetFunctionArn)));
  for (const [fn] of resourcesOf(template, "AWS::Lambda::Function")) {
    if (behindUrl.has(fn) && !asynchronous.has(fn)) continue;
    const config = configs.find(([, c]) => (c.Properties?.FunctionName as { Ref?: string }).Ref === fn)?.[1];
    const destination = (config?.Properties?.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined)?.OnFailure?.Destination;
    out.push({ what: `function ${fn}`, queue: queueOf(destination) });
  }
  return out;
}

export interface QuotaReport {
  readonly resources: number;
  readonly rulesPerBus: Record<string, number>;
  readonly maxTargetsPerRule: number;
  /** The longest event pattern, resolved. */
  readonly maxPatternCharacters: number;
  /** Per function, its resource-based policy as Lambda would store it (one statement per permission). */
  readonly lambdaPolicyBytes: Record<string, number>;
  readonly maxQueuePolicyBytes: number;
  /** Per role, its inline policies without whitespace, as IAM counts them. */
  readonly rolePolicyCharacters: Record<string, number>;
  readonly maxManagedPolicyCharacters: number;
  /** Per role, the managed policies attached to it. */
  readonly managedPoliciesPerRole: Record<string, number>;
}

export function quotaReport(template: Template): QuotaReport {
  const rules = resourcesOf(template, "AWS::Events::Rule");
  const rulesPerBus: Record<string, number> = {};
  for (const [, r] of rules) {
    const bus = busOf(r, template) ?? "default";
    rulesPerBus[bus] = (rulesPerBus[bus] ?? 0) + 1;
  }
  const lambdaPolicyBytes: Record<string, number> = {};
  for (const [id, p] of resourcesOf(template, "AWS::Lambda::Permission")) {
    const fn = String(resolve(template, p.Properties?.FunctionName));
    // The statement Lambda adds for a permission, with a Sid as long as CloudFormation's generated ones.
    const statement = {
      Sid: `${id}-ABCDEFGHIJKLMNOP`,
      Effect: "Allow",
      Principal: { Service: p.Properties?.Principal },
      Action: p.Properties?.Action,
      Resource: fn,
      Condition: { ArnLike: { "AWS:SourceArn": resolve(template, p.Properties?.SourceArn) } },
    };
    lambdaPolicyBytes[fn] = (lambdaPolicyBytes[fn] ?? 40) + JSON.stringify(statement).length + 1;
  }
  const rolePolicyCharacters: Record<string, number> = {};
  for (const [id, role] of resourcesOf(template, "AWS::IAM::Role")) {
    const policies = (role.Properties?.Policies ?? []) as { PolicyDocument: Json }[];
    rolePolicyCharacters[id] = policies.reduce((n, p) => n + JSON.stringify(resolve(template, p.PolicyDocument)).length, 0);
  }
  const managed = resourcesOf(template, "AWS::IAM::ManagedPolicy");
  const managedPoliciesPerRole: Record<string, number> = {};
  for (const [, m] of managed) for (const r of (m.Properties?.Roles ?? []) as { Ref: string }[]) managedPoliciesPerRole[r.Ref] = (managedPoliciesPerRole[r.Ref] ?? 0) + 1;
  return {
    resources: Object.keys(template.Resources).length,
    rulesPerBus,
    maxTargetsPerRule: Math.max(0, ...rules.map(([, r]) => ((r.Properties?.Targets ?? []) as unknown[]).length)),
    maxPatternCharacters: Math.max(0, ...rules.map(([, r]) => JSON.stringify(resolve(template, r.Properties?.EventPattern)).length)),
    lambdaPolicyBytes,
    maxQueuePolicyBytes: Math.max(0, ...resourcesOf(template, "AWS::SQS::QueuePolicy").map(([, q]) => JSON.stringify(resolve(template, q.Properties?.PolicyDocument)).length)),
    rolePolicyCharacters,
    maxManagedPolicyCharacters: Math.max(0, ...managed.map(([, m]) => JSON.stringify(resolve(template, m.Properties?.PolicyDocument)).length)),
    managedPoliciesPerRole,
  };
}

/** The quotas (quotas.ts cites them) a report must stay within. */
export const LIMITS = {
  resources: 500,
  rulesPerBus: 300,
  targetsPerRule: 5,
  patternCharacters: 2048,
  lambdaPolicyBytes: 20 * 1024,
  queuePolicyBytes: 8192,
  rolePolicyCharacters: 10_240,
  managedPolicyCharacters: 6_144,
  managedPoliciesPerRole: 10,
};

export function quotaViolations(report: QuotaReport): string[] {
  const out: string[] = [];
  if (report.resources > LIMITS.resources) out.push(`${report.resources} resources`);
  for (const [bus, n] of Object.entries(report.rulesPerBus)) if (n > LIMITS.rulesPerBus) out.push(`${n} rules on ${bus}`);
  if (report.maxTargetsPerRule > LIMITS.targetsPerRule) out.push(`${report.maxTargetsPerRule} targets on a rule`);
  if (report.maxPatternCharacters > LIMITS.patternCharacters) out.push(`a pattern of ${report.maxPatternCharacters} characters`);
  for (const [fn, n] of Object.entries(report.lambdaPolicyBytes)) if (n > LIMITS.lambdaPolicyBytes) out.push(`${fn}'s resource policy of ${n} bytes`);
  if (report.maxQueuePolicyBytes > LIMITS.queuePolicyBytes) out.push(`a queue policy of ${report.maxQueuePolicyBytes} bytes`);
  for (const [role, n] of Object.entries(report.rolePolicyCharacters)) if (n > LIMITS.rolePolicyCharacters) out.push(`${role}'s policy of ${n} characters`);
  if (report.maxManagedPolicyCharacters > LIMITS.managedPolicyCharacters) out.push(`a managed policy of ${report.maxManagedPolicyCharacters} characters`);
  for (const [role, n] of Object.entries(report.managedPoliciesPerRole)) if (n > LIMITS.managedPoliciesPerRole) out.push(`${n} managed policies on ${role}`);
  return out;
}
