/**
 * The checks of `berth doctor`: one AWS read each, what its answer means for berth, and the exact fix.
 * Every call and answer follows its API reference:
 *
 * | check           | call                                                  | fails when                                                        |
 * |-----------------|-------------------------------------------------------|-------------------------------------------------------------------|
 * | credentials     | STS GetCallerIdentity (needs no permission)           | no credentials, or AWS does not accept them                       |
 * | stack           | CloudFormation DescribeStacks                         | no stack (ValidationError "does not exist"), a failed or unfinished status, an output missing |
 * | table           | DynamoDB DescribeTable                                | ResourceNotFoundException, a status other than ACTIVE or UPDATING |
 * | bus             | EventBridge DescribeEventBus                          | ResourceNotFoundException                                         |
 * | queue           | SQS GetQueueAttributes (ApproximateNumberOfMessages, …NotVisible) | QueueDoesNotExist, any message in it                  |
 * | bucket          | S3 GetBucketNotificationConfiguration                 | no EventBridgeConfiguration, NoSuchBucket, a bucket in another region (301 PermanentRedirect) |
 * | cluster         | ECS DescribeClusters                                  | a MISSING failure, a status other than ACTIVE, a capacity provider a job's RunTask names and the cluster lacks |
 * | task definition | ECS DescribeTaskDefinition                            | ClientException (no such family or revision), INACTIVE, a container a job names and it lacks, a role berth may not pass |
 * | service         | ECS DescribeServices                                  | ClusterNotFoundException, a MISSING failure, a status other than ACTIVE |
 * | webhook, webhook secret | see webhook-checks.ts                          | the stack has no BerthWebhookUrl output though berth.yml has a webhook; the secret is missing or unreadable |
 *
 * Access denied, throttling and the rest are read in one place, report.ts's `failedWith`.
 */
import { DescribeStacksCommand, type CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, type ECSClient, type TaskDefinition } from "@aws-sdk/client-ecs";
import { DescribeEventBusCommand, type EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { GetBucketNotificationConfigurationCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { classifyAwsError } from "../../aws/errors.ts";
import { clusterName, FUNCTIONS, type StackNames } from "../../aws/stack/names.ts";
import type { Check, Outcome } from "./report.ts";
import { mayPass, type BucketTarget, type ClusterTarget, type ContainerUse, type ServiceTarget, type TaskDefinitionTarget, type WebhookTarget } from "./targets.ts";
import { webhookUrlCheck, type SecretClients } from "./webhook-checks.ts";

export interface DoctorClients extends SecretClients {
  readonly sts: STSClient;
  readonly cloudFormation: CloudFormationClient;
  readonly dynamo: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly ecs: ECSClient;
}

/** Where the checks look, and how the fixes address it. */
export interface Place {
  readonly region: string;
  /** Where the region came from: `--region`, `AWS_REGION`, `profile prod`, `berth.yml`. */
  readonly regionSource: string;
  readonly profile?: string;
  /** The stage named with --stage; the fixes that redeploy name it. */
  readonly stage?: string;
}

/** The stack outputs berth's CLI reads (the wing's contract). */
const OUTPUTS = ["BerthRunsTable", "BerthBus", "BerthRejectedQueue", "BerthDeadLetterQueues"] as const;

const quote = (s: string): string => (/^[A-Za-z0-9_\-.,:/=@+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** ` --region r` and the profile, for the fixes that are AWS CLI commands. */
function cli(place: Place): string {
  return ` --region ${place.region}${place.profile !== undefined ? ` --profile ${place.profile}` : ""}`;
}

function deploy(place: Place): string {
  return `berth deploy --stage ${place.stage ?? "<stage>"}`;
}

const jobList = (jobs: readonly string[]): string => `${jobs.length === 1 ? "job" : "jobs"} ${jobs.join(", ")}`;

function named(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(error.name);
}

// ---- credentials -------------------------------------------------------------------------------

export interface Caller {
  principal?: string;
  /** No credentials, or credentials AWS refused: every other check would fail the same way. */
  refused?: boolean;
}

export function credentialsCheck(sts: STSClient, place: Place, caller: Caller): Check {
  const profile = place.profile;
  return {
    name: "credentials",
    service: "AWS STS",
    permission: "sts:GetCallerIdentity",
    async run(signal) {
      try {
        const me = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
        caller.principal = me.Arn;
        return { ok: true, detail: `account ${me.Account} as ${me.Arn}${profile !== undefined ? ` (profile ${profile})` : ""}, region ${place.region} (from ${place.regionSource})` };
      } catch (e) {
        if (classifyAwsError(e)?.kind !== "credentials") throw e;
        caller.refused = true;
        const err = e as Error;
        if (named(e, "CredentialsProviderError", "TokenProviderError")) {
          return {
            ok: false,
            detail: `no AWS credentials were found (${err.message})`,
            fix:
              profile !== undefined
                ? `give the profile ${profile} credentials: \`aws configure --profile ${profile}\`, or for an SSO profile \`aws sso login --profile ${profile}\``
                : "configure credentials with `aws configure`, pick a profile with --profile or AWS_PROFILE (for an SSO profile, `aws sso login --profile <profile>`), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
          };
        }
        return {
          ok: false,
          detail: `AWS did not accept the credentials (${err.name}: ${err.message})`,
          fix: `AWS does not know the access key, or its session expired: for an SSO profile \`aws sso login${profile !== undefined ? ` --profile ${profile}` : ""}\`; otherwise create a new access key (IAM console → Users → Security credentials) and \`aws configure${profile !== undefined ? ` --profile ${profile}` : ""}\` (AWS_ACCESS_KEY_ID in the environment wins over every profile)`,
        };
      }
    },
  };
}

// ---- the stack and what its outputs name --------------------------------------------------------

/** A failed or unfinished stack status, and what to do about it (API reference, Stack, StackStatus). */
function statusProblem(status: string, stack: string, place: Place): { detail: string; fix: string } | undefined {
  if (["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"].includes(status)) return undefined;
  const events = `its events say why: \`aws cloudformation describe-stack-events --stack-name ${stack}${cli(place)}\``;
  if (status.endsWith("_IN_PROGRESS")) return { detail: `${status}: a change of the stack is under way`, fix: "wait until it ends, then run berth doctor again" };
  if (["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"].includes(status)) {
    return { detail: `${status}: its first deployment failed`, fix: `${events}; a stack whose creation failed cannot be updated: \`berth remove --stage ${place.stage}\`, then \`${deploy(place)}\`` };
  }
  if (status === "UPDATE_ROLLBACK_FAILED") {
    return { detail: `${status}: an update failed and so did its rollback`, fix: `${events}; \`aws cloudformation continue-update-rollback --stack-name ${stack}${cli(place)}\`, then \`${deploy(place)}\`` };
  }
  if (status === "DELETE_FAILED") return { detail: `${status}: it was being removed and could not be`, fix: `${events}; then \`berth remove --stage ${place.stage}\` again` };
  return { detail: status, fix: events };
}

/** A resource of the stack that AWS no longer has: it was deleted outside CloudFormation, which still lists it. */
function deletedOutside(what: string, place: Place): string {
  return `the ${what} was deleted outside CloudFormation, which still counts it as the stack's, so a deploy does not bring it back: \`berth remove --stage ${place.stage}\`, then \`${deploy(place)}\``;
}

/** `webhook`: the webhook the catalog's stack has, whose URL the stack's outputs must give. */
export function stackCheck(clients: DoctorClients, stack: string, names: StackNames, place: Place, webhook?: WebhookTarget): Check {
  return {
    name: `stack ${stack}`,
    service: "CloudFormation",
    permission: `cloudformation:DescribeStacks on the stack ${stack}`,
    async run(signal): Promise<Outcome> {
      let found;
      try {
        found = (await clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stack }), { abortSignal: signal })).Stacks?.[0];
      } catch (e) {
        // A name no live stack has is ValidationError "Stack with id <name> does not exist" (API reference, DescribeStacks).
        if (!(named(e, "ValidationError") && /does not exist/.test((e as Error).message))) throw e;
      }
      if (found === undefined) {
        return {
          ok: false,
          detail: `no stack ${stack} in ${place.region} (region from ${place.regionSource}); its table, bus and queues cannot be checked`,
          fix: `\`${deploy(place)}\` creates it; for a stage deployed in another region, pass its --region`,
        };
      }
      const status = found.StackStatus ?? "status unknown";
      const outputs = new Map((found.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue] as const] : [])));
      const then: Check[] = [];
      const table = outputs.get("BerthRunsTable");
      if (table) then.push(tableCheck(clients, table, place));
      const bus = outputs.get("BerthBus");
      if (bus) then.push(busCheck(clients, bus, place));
      const deadLetter = (outputs.get("BerthDeadLetterQueues") ?? "").split(",").map((u) => u.trim()).filter(Boolean);
      for (const url of deadLetter) then.push(queueCheck(clients, url, queueKind(url, names), place));
      const rejected = outputs.get("BerthRejectedQueue");
      if (rejected) then.push(queueCheck(clients, rejected, "rejected", place));
      const url = outputs.get("BerthWebhookUrl");
      if (webhook !== undefined && url) then.push(webhookUrlCheck(url, webhook));

      const problems = [statusProblem(status, stack, place)].filter((p) => p !== undefined);
      const missing = [...OUTPUTS, ...(webhook !== undefined ? (["BerthWebhookUrl"] as const) : [])].filter((key) => !outputs.get(key));
      if (missing.length > 0) {
        // A stage deployed before berth.yml had a push trigger or a webhook: block has no webhook yet.
        const why = missing.includes("BerthWebhookUrl") ? ": it has no webhook, so GitHub and GitLab pushes have no way in" : "";
        problems.push({
          detail: `${status}, without the output${missing.length === 1 ? "" : "s"} ${missing.join(", ")}${why}`,
          fix: `\`${deploy(place)}\`: a stack berth deployed has every one of berth's outputs (one still deploying, or deployed by another tool, may not)`,
        });
      }
      if (problems.length === 0) {
        const note = status === "UPDATE_ROLLBACK_COMPLETE" ? " (its last update was rolled back: the deployment before it is what runs)" : "";
        return { ok: true, detail: `${status}${note}, with berth's outputs`, then };
      }
      return { ok: false, detail: problems.map((p) => p.detail).join("; "), fix: problems.map((p) => p.fix).join("; "), then };
    },
  };
}

function tableCheck(clients: DoctorClients, table: string, place: Place): Check {
  return {
    name: `table ${table}`,
    service: "DynamoDB",
    permission: `dynamodb:DescribeTable on the table ${table}`,
    async run(signal) {
      let status;
      try {
        status = (await clients.dynamo.send(new DescribeTableCommand({ TableName: table }), { abortSignal: signal })).Table?.TableStatus;
      } catch (e) {
        if (!named(e, "ResourceNotFoundException")) throw e;
        return { ok: false, detail: `no table ${table} in ${place.region}, though the stack's output BerthRunsTable names it`, fix: deletedOutside("table", place) };
      }
      // UPDATING tables take reads and writes (API reference, TableDescription, TableStatus).
      if (status === "ACTIVE" || status === "UPDATING") return { ok: true, detail: status };
      return {
        ok: false,
        detail: `${status}: berth cannot read or write runs in it now`,
        fix:
          status === "CREATING"
            ? "wait until it is ACTIVE, then run berth doctor again"
            : status === "DELETING"
              ? deletedOutside("table", place)
              : `see why in the DynamoDB console (Tables → ${table}); a table whose KMS key became inaccessible (INACCESSIBLE_ENCRYPTION_CREDENTIALS, ARCHIVED) needs that key enabled again`,
      };
    },
  };
}

function busCheck(clients: DoctorClients, bus: string, place: Place): Check {
  return {
    name: `bus ${bus}`,
    service: "EventBridge",
    permission: `events:DescribeEventBus on the event bus ${bus}`,
    async run(signal) {
      try {
        const found = await clients.eventBridge.send(new DescribeEventBusCommand({ Name: bus }), { abortSignal: signal });
        return { ok: true, detail: found.Arn ?? bus };
      } catch (e) {
        if (!named(e, "ResourceNotFoundException")) throw e;
        return { ok: false, detail: `no event bus ${bus} in ${place.region}, though the stack's output BerthBus names it: manual runs and chained jobs cannot fire`, fix: deletedOutside("event bus", place) };
      }
    },
  };
}

// ---- queues ----------------------------------------------------------------------------------------

type QueueKind = "rejected" | "rule-targets" | "schedules" | "failed-invocations" | "dead-letter";

/** Which of the stack's queues a URL is, by the names src/aws/stack/queues.ts gives them. */
function queueKind(url: string, names: StackNames): QueueKind {
  const name = url.slice(url.lastIndexOf("/") + 1);
  if (name === names.queue("rule-targets-dlq")) return "rule-targets";
  if (name === names.queue("schedules-dlq")) return "schedules";
  if (FUNCTIONS.some((fn) => name === names.queue(`${fn}-failed`))) return "failed-invocations";
  return "dead-letter";
}

/** What a message in the queue is, and where in it to read why. */
const HOLDS: Record<QueueKind, string> = {
  rejected: "events dispatch rejected (malformed, for no job, a key it cannot decode); each body is { reason, job, event }",
  "rule-targets": "events EventBridge could not deliver to a rule's target; the message attributes ERROR_CODE and ERROR_MESSAGE say why",
  schedules: "schedule firings EventBridge Scheduler could not deliver; the message attributes ERROR_CODE and ERROR_MESSAGE say why",
  "failed-invocations": "invocations that failed after Lambda's retries; each body is the invocation record, with requestContext.condition and the error in responsePayload",
  "dead-letter": "messages berth could not deliver",
};

function queueCheck(clients: DoctorClients, url: string, kind: QueueKind, place: Place): Check {
  const name = url.slice(url.lastIndexOf("/") + 1);
  return {
    name: `queue ${name}`,
    service: "SQS",
    permission: `sqs:GetQueueAttributes on the queue ${name}`,
    async run(signal) {
      let attributes;
      try {
        const out = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }), {
          abortSignal: signal,
        });
        attributes = out.Attributes ?? {};
      } catch (e) {
        if (!named(e, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")) throw e;
        return { ok: false, detail: `no queue at ${url}, though the stack's outputs name it`, fix: deletedOutside("queue", place) };
      }
      const waiting = Number(attributes.ApproximateNumberOfMessages ?? 0);
      const reading = Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      if (waiting + reading === 0) return { ok: true, detail: "empty" };
      const count = `${waiting} message${waiting === 1 ? "" : "s"}${reading > 0 ? ` (and ${reading} being read now)` : ""}`;
      return {
        ok: false,
        detail: `${count}: ${HOLDS[kind]}`,
        fix:
          `read them with \`aws sqs receive-message --queue-url ${url}${cli(place)} --max-number-of-messages 10 --visibility-timeout 0 --message-attribute-names All\`; ` +
          `once handled, empty it with \`aws sqs purge-queue --queue-url ${url}${cli(place)}\``,
      };
    },
  };
}

// ---- the catalog's resources -------------------------------------------------------------------------

export function bucketCheck(clients: DoctorClients, target: BucketTarget, place: Place): Check {
  const { bucket, jobs } = target;
  return {
    name: `bucket ${bucket}`,
    service: "Amazon S3",
    permission: `s3:GetBucketNotification on arn:aws:s3:::${bucket}`,
    async run(signal) {
      let config;
      try {
        config = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }), { abortSignal: signal });
      } catch (e) {
        if (named(e, "NoSuchBucket")) {
          return { ok: false, detail: `no bucket ${bucket} (${jobList(jobs)})`, fix: `create it, or fix on.s3.bucket of ${jobList(jobs)} in berth.yml` };
        }
        // S3 answers a request sent to a region other than the bucket's with 301 and the bucket's region.
        const home = (e as { $response?: { headers?: Record<string, string | undefined> } }).$response?.headers?.["x-amz-bucket-region"];
        if (home !== undefined && home !== place.region) {
          return {
            ok: false,
            detail: `the bucket is in ${home}, the stage in ${place.region}: S3 sends its events to EventBridge in ${home}, where no rule of berth's listens, so ${jobList(jobs)} never run`,
            fix: `deploy the stage in ${home} (--region ${home}), or trigger ${jobList(jobs)} from a bucket in ${place.region}`,
          };
        }
        throw e;
      }
      if (config.EventBridgeConfiguration !== undefined) return { ok: true, detail: `EventBridge notifications on (${jobList(jobs)})` };
      // PutBucketNotificationConfiguration replaces the whole configuration: the fix keeps what the bucket has.
      const { $metadata: _metadata, EventBridgeConfiguration: _off, ...existing } = config;
      const kept = Object.values(existing).reduce((n, list) => n + (Array.isArray(list) ? list.length : 0), 0);
      const json = JSON.stringify({ ...existing, EventBridgeConfiguration: {} });
      return {
        ok: false,
        detail: `EventBridge notifications are off: its uploads never reach berth's rules, so ${jobList(jobs)} never run`,
        fix:
          `\`aws s3api put-bucket-notification-configuration --bucket ${quote(bucket)}${cli(place)} --notification-configuration ${quote(json)}\`` +
          `${kept > 0 ? ` (it replaces the bucket's notification configuration, so it repeats the ${kept} notification${kept === 1 ? "" : "s"} the bucket has)` : ""}, ` +
          `or in the S3 console: ${bucket} → Properties → Amazon EventBridge → Edit → "Send notifications to Amazon EventBridge for all events in this bucket": On`,
      };
    },
  };
}

export function clusterCheck(clients: DoctorClients, target: ClusterTarget, place: Place): Check {
  const name = clusterName(target.cluster);
  const jobs = jobList(target.jobs);
  return {
    name: `cluster ${name}`,
    service: "ECS",
    permission: `ecs:DescribeClusters on the cluster ${name}`,
    async run(signal) {
      const out = await clients.ecs.send(new DescribeClustersCommand({ clusters: [target.cluster] }), { abortSignal: signal });
      const cluster = out.clusters?.[0];
      if (cluster === undefined || out.failures?.some((f) => f.reason === "MISSING")) {
        return { ok: false, detail: `no cluster ${name} in ${place.region} (${jobs})`, fix: `\`aws ecs create-cluster --cluster-name ${quote(name)}${cli(place)}\`, or set cluster: of ${jobs} in berth.yml to a cluster that exists` };
      }
      const status = cluster.status ?? "status unknown";
      if (status !== "ACTIVE") {
        return {
          ok: false,
          detail: `${status}${status === "INACTIVE" ? ": the cluster was deleted" : ""}; ECS starts no task on it (${jobs})`,
          fix:
            status === "PROVISIONING"
              ? "wait until it is ACTIVE, then run berth doctor again"
              : `\`aws ecs create-cluster --cluster-name ${quote(name)}${cli(place)}\`, or set cluster: of ${jobs} in berth.yml to an ACTIVE cluster`,
        };
      }
      const has = cluster.capacityProviders ?? [];
      const lacking = target.providers.filter((p) => !has.includes(p.provider));
      if (lacking.length > 0) {
        // PutClusterCapacityProviders replaces the cluster's list and default strategy: the fix repeats both.
        const all = [...has, ...lacking.map((p) => p.provider)];
        const strategy = JSON.stringify(cluster.defaultCapacityProviderStrategy ?? []);
        const custom = lacking.filter((p) => p.provider !== "FARGATE" && p.provider !== "FARGATE_SPOT").map((p) => p.provider);
        return {
          ok: false,
          detail: lacking.map((p) => `no capacity provider ${p.provider}, which the RunTask of ${jobList(p.jobs)} names: ECS refuses those tasks`).join("; "),
          fix:
            (custom.length > 0 ? `create ${custom.join(", ")} first (\`aws ecs create-capacity-provider\`, for an Auto Scaling group), then ` : "") +
            `\`aws ecs put-cluster-capacity-providers --cluster ${quote(name)}${cli(place)} --capacity-providers ${all.map(quote).join(" ")} --default-capacity-provider-strategy ${quote(strategy)}\`` +
            (has.length > 0 ? ` (it replaces the cluster's capacity providers, so it repeats ${has.join(", ")} and the default strategy)` : ""),
        };
      }
      const providers = has.length > 0 ? `, capacity providers ${has.join(", ")}` : "";
      return { ok: true, detail: `ACTIVE${providers} (${jobs})` };
    },
  };
}

/** What keeps a task definition from serving the jobs that name it: a container they name, a role berth may not pass. */
function taskDefinitionProblems(definition: TaskDefinition, uses: readonly ContainerUse[], passable: readonly string[], place: Place, verb: "run" | "deploy"): { detail: string; fix: string }[] {
  const problems: { detail: string; fix: string }[] = [];
  const containers = (definition.containerDefinitions ?? []).flatMap((c) => (c.name ? [c.name] : []));
  const field = verb === "run" ? "run.container" : "deploy.container";
  for (const use of uses) {
    if (use.container === undefined || containers.includes(use.container)) continue;
    problems.push({
      detail: `no container ${use.container}, which job ${use.job} names (it has ${containers.join(", ") || "none"})`,
      fix: `set ${field} of job ${use.job} to one of ${containers.join(", ")}, or register a revision with a container named ${use.container}`,
    });
  }
  const jobs = [...new Set(uses.map((u) => u.job))];
  const roles = [
    { kind: "task", field: "taskRoleArn", arn: definition.taskRoleArn },
    { kind: "execution", field: "executionRoleArn", arn: definition.executionRoleArn },
  ] as const;
  for (const role of roles) {
    if (role.arn === undefined || role.arn === "" || mayPass(role.arn, passable)) continue;
    const fails =
      verb === "run"
        ? "their RunTask fails with AccessDeniedException: not authorized to perform iam:PassRole"
        : "their deploys fail registering the new revision (RegisterTaskDefinition): not authorized to perform iam:PassRole";
    problems.push({
      detail: `its ${role.field} ${role.arn} is not among the roles berth may pass (${passable.join(", ") || "none"}): ${fails}`,
      fix: `add it to the roles of ${jobList(jobs)} (roles: { ${role.kind}: ${role.arn} } under ${verb}:, or in defaults.roles) and \`${deploy(place)}\`, or register a revision that uses a role berth may pass`,
    });
  }
  return problems;
}

function revisionName(definition: TaskDefinition, fallback: string): string {
  return definition.family && definition.revision !== undefined ? `${definition.family}:${definition.revision}` : fallback;
}

function rolesNote(definition: TaskDefinition): string {
  const roles = [definition.taskRoleArn && "task role", definition.executionRoleArn && "execution role"].filter(Boolean);
  return roles.length > 0 ? `, its ${roles.join(" and ")} may be passed` : "";
}

export function taskDefinitionCheck(clients: DoctorClients, target: TaskDefinitionTarget, passable: readonly string[], place: Place): Check {
  const ref = target.taskDefinition;
  const jobs = jobList([...new Set(target.uses.map((u) => u.job))]);
  return {
    name: `task definition ${ref}`,
    service: "ECS",
    // DescribeTaskDefinition allows no resource scoping: its permission is granted on "*".
    permission: "ecs:DescribeTaskDefinition (on resource *)",
    async run(signal) {
      let definition;
      try {
        definition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }), { abortSignal: signal })).taskDefinition;
      } catch (e) {
        // What ECS answers for a family with no ACTIVE revision, or a revision the account does not have.
        if (!(named(e, "ClientException") && /Unable to describe task definition/i.test((e as Error).message))) throw e;
      }
      if (definition === undefined) {
        const which = /:\d+$/.test(ref) ? `no task definition ${ref}` : `no ACTIVE revision of the task definition family ${ref}`;
        return {
          ok: false,
          detail: `${which} in ${place.region} (${jobs})`,
          fix: `register it (\`aws ecs register-task-definition --cli-input-json file://<file>${cli(place)}\`), or fix run.taskDefinition of ${jobs} in berth.yml`,
        };
      }
      const name = revisionName(definition, ref);
      if (definition.status !== undefined && definition.status !== "ACTIVE") {
        return {
          ok: false,
          detail: `${name} is ${definition.status}: ECS runs no new task from a deregistered revision (${jobs})`,
          fix: `name an ACTIVE revision, or the family alone for its latest, in run.taskDefinition of ${jobs}`,
        };
      }
      // A family alone resolves to a revision worth naming; a revision named already is not repeated.
      const which = name === ref ? "" : `${name}: `;
      const problems = taskDefinitionProblems(definition, target.uses, passable, place, "run");
      if (problems.length > 0) return { ok: false, detail: `${which}${problems.map((p) => p.detail).join("; ")}`, fix: problems.map((p) => p.fix).join("; ") };
      const containers = [...new Set(target.uses.flatMap((u) => (u.container !== undefined ? [u.container] : [])))];
      return { ok: true, detail: `${name === ref ? "ACTIVE" : name}${containers.length > 0 ? `, container ${containers.join(", ")}` : ""}${rolesNote(definition)} (${jobs})` };
    },
  };
}

export function serviceCheck(clients: DoctorClients, target: ServiceTarget, passable: readonly string[], place: Place): Check {
  const cluster = clusterName(target.cluster);
  const label = `${cluster}/${target.service}`;
  const jobs = jobList([...new Set(target.uses.map((u) => u.job))]);
  return {
    name: `service ${label}`,
    service: "ECS",
    permission: `ecs:DescribeServices on the service ${target.service} of the cluster ${cluster}`,
    async run(signal) {
      let out;
      try {
        out = await clients.ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }), { abortSignal: signal });
      } catch (e) {
        if (!named(e, "ClusterNotFoundException")) throw e;
        return { ok: false, detail: `no cluster ${cluster} in ${place.region} (${jobs})`, fix: `fix deploy.cluster of ${jobs} in berth.yml, or create the cluster and the service` };
      }
      const service = out.services?.[0];
      if (service === undefined || out.failures?.some((f) => f.reason === "MISSING")) {
        return {
          ok: false,
          detail: `no service ${target.service} in the cluster ${cluster} (${jobs})`,
          fix: `create it (\`aws ecs create-service --cluster ${quote(cluster)} --service-name ${quote(target.service)} --task-definition <family>${cli(place)}\`), or fix deploy.service of ${jobs} in berth.yml`,
        };
      }
      if (service.status !== "ACTIVE") {
        return { ok: false, detail: `${service.status}: the service was deleted (${jobs})`, fix: `create it again, or fix deploy.service of ${jobs} in berth.yml` };
      }
      const definition = service.taskDefinition;
      return {
        ok: true,
        detail: `ACTIVE, task definition ${definition ? definition.slice(definition.lastIndexOf("/") + 1) : "unknown"} (${jobs})`,
        ...(definition ? { then: [serviceTaskDefinitionCheck(clients, definition, label, target, passable, place)] } : {}),
      };
    },
  };
}

/** The task definition a service runs now: a deploy registers its next revision from it, with its roles. */
function serviceTaskDefinitionCheck(clients: DoctorClients, arn: string, label: string, target: ServiceTarget, passable: readonly string[], place: Place): Check {
  const short = arn.slice(arn.lastIndexOf("/") + 1);
  return {
    name: `task definition ${short} (service ${label})`,
    service: "ECS",
    permission: "ecs:DescribeTaskDefinition (on resource *)",
    async run(signal) {
      const definition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }), { abortSignal: signal })).taskDefinition;
      if (definition === undefined) return { ok: false, detail: "ECS described no task definition", fix: "run berth doctor again" };
      const problems = taskDefinitionProblems(definition, target.uses, passable, place, "deploy");
      if (problems.length > 0) return { ok: false, detail: problems.map((p) => p.detail).join("; "), fix: problems.map((p) => p.fix).join("; ") };
      return { ok: true, detail: `container ${[...new Set(target.uses.map((u) => u.container))].join(", ")}${rolesNote(definition)}` };
    },
  };
}
