/**
 * Least privilege, per function: each role allows what that function's code
 * calls, on exactly the catalog's clusters, task-definition families,
 * services, roles, berth's bus and table, and its own queues.
 *
 * What the functions call (src/core/engine): every flow ends in `apply`,
 * whose effects launch (RunTask, or a deployment), stop (StopTask, or
 * StopServiceDeployment) and publish (PutEvents); admission reads the `queued`
 * index. Only the sweep lists open runs (the `open` index) and asks ECS about
 * quiet tasks (DescribeTasks); track and the sweep read a stopped task's
 * essential containers from its task definition (DescribeTaskDefinition). Dispatch puts the events it rejects on berth's
 * bus, with the PutEvents it publishes run state changes with; a rule takes
 * them to the rejected-events queue, so no function sends to a queue but its
 * own on-failure destination. The service deployer (src/aws/ecs-service-deployer.ts)
 * runs in all three: deploys and retries, stops (cancel, timeout, a newer
 * push), the sweep's reconciliation and track's deployment events. The
 * webhook (webhook.ts) reads its secret and publishes pushes, nothing else.
 * When jobs batch uploads (batch.ts), dispatch, sweep and the batch function
 * settle batches: they write manifests under the batched jobs' locations,
 * remind the batch queue and list batches' slots; the batch function also
 * receives the reminders and admits and launches the batched jobs' runs, and
 * holds ECS permissions for those jobs only.
 *
 * IAM actions, resource types and condition keys:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
 * tagging at creation (ecs:CreateAction):
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
 * iam:PassedToService: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService
 * an inline role policy holds 10,240 characters: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 */
import type { Catalog } from "../../core/catalog/types.ts";
import { ConfigurationError } from "../../core/errors.ts";
import { arnOf, policy, ref, resolvedSize, sub, trustPolicy, type CfnString, type Json, type Resource, type Resources, type Statement } from "./cfn.ts";
import {
  clusterArn,
  clusterTasksArn,
  ENGINE_FUNCTIONS,
  logGroupArn,
  scheduleGroupArn,
  serviceArn,
  serviceDeploymentsArn,
  serviceRevisionsArn,
  taskDefinitionFamilyArn,
  taskDefinitionsOfAccountArn,
  type EngineFunction,
  type FunctionName,
  type StackNames,
} from "./names.ts";
import { batchedCatalog, batches, reminderStatements, settleStatements } from "./batch.ts";
import { catalogEcs } from "./routing.ts";
import { LOGICAL } from "./logical-ids.ts";
import { hasWebhook, WEBHOOK_KEY_NOTE, webhookStatements } from "./webhook.ts";

/** IAM's quotas on a role's inline policies (10,240 characters together) and on one managed policy (6,144), less some room. */
const INLINE_BUDGET = 10_240 - 400;
const MANAGED_BUDGET = 6_144 - 200;
/** Managed policies IAM attaches to a role by default. */
const MANAGED_PER_ROLE = 10;

const unique = <T>(items: readonly T[]): T[] => {
  const seen = new Map<string, T>();
  for (const item of items) seen.set(JSON.stringify(item), item);
  return [...seen.values()];
};

/** The roles berth may pass to ECS: a run job's task definition's, or the new revision a deploy job registers. */
function passedRoles(catalog: Catalog): string[] {
  return [...new Set(Object.values(catalog.jobs).flatMap((j) => [j.roles.task, j.roles.execution].filter((r): r is string => r !== undefined)))].sort();
}

/**
 * The service deployer's calls on the catalog's services, which grow with the catalog. DescribeServiceDeployments,
 * StopServiceDeployment and DescribeServiceRevisions are authorized against the service as well as the deployment or
 * revision (the Service Authorization Reference lists both resource types as required), so the service statement names
 * them too.
 */
function serviceStatements(catalog: Catalog): Statement[] {
  const { services } = catalogEcs(catalog);
  if (services.length === 0) return [];
  return [
    {
      Sid: "DeployCatalogServices",
      Effect: "Allow",
      Action: ["ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServiceDeployments", "ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment", "ecs:DescribeServiceRevisions"],
      Resource: services.map((s) => serviceArn(s.cluster, s.service)),
    },
    {
      // Deployments ECS no longer lists in DescribeServices are read from the service's history; stop() rolls ours back.
      Sid: "ReadAndStopDeploymentsOfCatalogServices",
      Effect: "Allow",
      Action: ["ecs:DescribeServiceDeployments", "ecs:StopServiceDeployment"],
      Resource: services.map((s) => serviceDeploymentsArn(s.cluster, s.service)),
    },
    {
      Sid: "ReadRevisionsOfCatalogServices",
      Effect: "Allow",
      Action: ["ecs:DescribeServiceRevisions"],
      Resource: services.map((s) => serviceRevisionsArn(s.cluster, s.service)),
    },
  ];
}

/**
 * The statements that grow with the catalog and are the same for every engine function: RunTask on each
 * task-definition family, PassRole on each role, the deployer's calls on each service. A large catalog's do
 * not fit a role's inline policy; they then go to managed policies that the three engine roles share.
 */
function catalogStatements(catalog: Catalog): Statement[] {
  const { runClusters } = catalogEcs(catalog);
  const families = unique(Object.values(catalog.jobs).flatMap((j) => (j.action.kind === "run" ? [taskDefinitionFamilyArn(j.action.taskDefinition)] : [])));
  const roles = passedRoles(catalog);
  return [
    ...(runClusters.length > 0
      ? [
          {
            Sid: "RunCatalogTaskDefinitionsOnCatalogClusters",
            Effect: "Allow" as const,
            Action: ["ecs:RunTask"],
            Resource: families,
            Condition: { ArnEquals: { "ecs:cluster": runClusters.map(clusterArn) } },
          },
        ]
      : []),
    // RunTask passes the task definition's roles; a deploy's RegisterTaskDefinition passes its new revision's.
    ...(roles.length > 0
      ? [{ Sid: "PassCatalogRolesToEcsTasks", Effect: "Allow" as const, Action: ["iam:PassRole"], Resource: roles, Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } }]
      : []),
    ...serviceStatements(catalog),
  ];
}

function taskStatements(catalog: Catalog, fn: FunctionName): Statement[] {
  const { runClusters } = catalogEcs(catalog);
  if (runClusters.length === 0) return [];
  const tasks = runClusters.map(clusterTasksArn);
  return [
    // RunTask sends tags (berth's run and job ids, the job's tags); tagging is allowed only as part of that call.
    { Sid: "TagTasksOnlyAtLaunch", Effect: "Allow", Action: ["ecs:TagResource"], Resource: tasks, Condition: { StringEquals: { "ecs:CreateAction": "RunTask" } } },
    { Sid: "StopTasksOfCatalogClusters", Effect: "Allow", Action: ["ecs:StopTask"], Resource: tasks },
    ...(fn === "sweep" ? [{ Sid: "DescribeTasksOfCatalogClusters", Effect: "Allow" as const, Action: ["ecs:DescribeTasks"], Resource: tasks }] : []),
    // A stopped task's result comes from its essential containers, which only its task definition names (see UNSCOPED_NOTES).
    // A catalog with services already has this action in TaskDefinitionsAwsAllowsNoResourceScoping.
    ...((fn === "track" || fn === "sweep") && catalogEcs(catalog).services.length === 0
      ? [{ Sid: "DescribeTaskDefinitionsForEssentialContainers", Effect: "Allow" as const, Action: ["ecs:DescribeTaskDefinition"], Resource: ["*"] }]
      : []),
  ];
}

/** The actions of the deployer that IAM cannot scope to a resource, or only to every task definition of an account. */
function taskDefinitionStatements(catalog: Catalog): Statement[] {
  const { services } = catalogEcs(catalog);
  if (services.length === 0) return [];
  const accounts = unique(services.map((s) => taskDefinitionsOfAccountArn(s.cluster)));
  return [
    {
      // See UNSCOPED_NOTES: "*" is the only resource IAM accepts for these three.
      Sid: "TaskDefinitionsAwsAllowsNoResourceScoping",
      Effect: "Allow",
      Action: ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:DeregisterTaskDefinition"],
      Resource: ["*"],
    },
    // See UNSCOPED_NOTES: the family is the service's, which berth.yml does not name.
    { Sid: "RegisterRevisionsInTheServicesAccount", Effect: "Allow", Action: ["ecs:RegisterTaskDefinition"], Resource: accounts },
    {
      // The revision's tags (berth's run and token, the original's) are set by RegisterTaskDefinition, never afterwards.
      Sid: "TagTaskDefinitionsOnlyAtRegistration",
      Effect: "Allow",
      Action: ["ecs:TagResource"],
      Resource: accounts,
      Condition: { StringEquals: { "ecs:CreateAction": "RegisterTaskDefinition" } },
    },
  ];
}

/** Why a statement's resource is `*` or every task definition of an account; kept in the role's Metadata for readers of the template. */
export const UNSCOPED_NOTES: Readonly<Record<string, string>> = {
  DescribeTaskDefinitionsForEssentialContainers:
    "ecs:DescribeTaskDefinition has no resource type in the Service Authorization Reference " +
    "(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html), so IAM accepts only " +
    "Resource \"*\" for it: track and the sweep read which containers of a stopped task's revision are essential, once per revision.",
  TaskDefinitionsAwsAllowsNoResourceScoping:
    "ecs:DescribeTaskDefinition, ecs:ListTaskDefinitions and ecs:DeregisterTaskDefinition have no resource type in the Service Authorization " +
    "Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html), so IAM accepts only " +
    "Resource \"*\" for them: a deploy reads the service's current task definition, finds the revision it registered by its tags, and " +
    "deregisters a duplicate a racing attempt registered.",
  RegisterRevisionsInTheServicesAccount:
    "ecs:RegisterTaskDefinition is scoped to a task-definition resource, but the family is that of the task definition the service runs, " +
    "which berth.yml does not name (a deploy names the service): it is granted on every family of the services' account and region. " +
    "iam:PassRole still limits the new revision to the roles berth.yml names.",
  TagTaskDefinitionsOnlyAtRegistration:
    "ecs:TagResource on task definitions is allowed only inside RegisterTaskDefinition (ecs:CreateAction), so it tags nothing but the " +
    "revisions berth registers, whose family berth.yml does not name (see RegisterRevisionsInTheServicesAccount).",
};

/** What every function that admits runs does: its logs, the runs table and the indexes it queries, run state changes on berth's bus. */
function runStatements(catalog: Catalog, names: StackNames, fn: FunctionName): Statement[] {
  // Admitting a superseding run reads its job's recent runs and last deployed run (engine/admission.ts), in every function that admits.
  const supersedes = Object.values(catalog.jobs).some((j) => j.concurrency.overlap === "supersede");
  const queried = [...(fn === "sweep" ? ["open"] : []), "queued", ...(supersedes ? ["byJob", "byJobStatus"] : [])];
  const indexes: CfnString[] = queried.map((i) => sub(`\${${LOGICAL.table}.Arn}/index/${i}`));
  return [
    { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [logGroupArn(names.logGroup(fn))] },
    { Sid: "ReadWriteRuns", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], Resource: [arnOf(LOGICAL.table)] },
    { Sid: "QueryRunIndexes", Effect: "Allow", Action: ["dynamodb:Query"], Resource: indexes },
    // Run state changes; the events dispatch and the batch function reject too.
    { Sid: "PublishRunStateChangesToBerthBus", Effect: "Allow", Action: ["events:PutEvents"], Resource: [arnOf(LOGICAL.bus)] },
  ];
}

/** What only this engine function calls, on what only it uses. */
function ownStatements(catalog: Catalog, names: StackNames, fn: EngineFunction): Statement[] {
  return [
    ...runStatements(catalog, names, fn),
    // The on-failure destination is written with the function's own role.
    { Sid: "SendFailedInvocationsToOwnQueue", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arnOf(LOGICAL.failureQueue(fn))] },
    ...(fn === "track" ? [] : settleStatements(catalog)),
    ...taskStatements(catalog, fn),
    ...taskDefinitionStatements(catalog),
  ];
}

/**
 * The batch function's: settling batches, its reminders, and admitting and launching the batched jobs' runs
 * (RunTask, PassRole, StopTask for `overlap: replace`) on exactly their task definitions, roles and clusters.
 */
function batchStatements(catalog: Catalog, names: StackNames): Statement[] {
  const batched = batchedCatalog(catalog);
  return [...runStatements(batched, names, "batch"), ...settleStatements(catalog), ...reminderStatements(), ...catalogStatements(batched), ...taskStatements(batched, "batch")];
}

/** Splits statements, and the resource lists inside them, into policies that each fit `budget`. */
function packPolicies(statements: readonly Statement[], budget: number): Statement[][] {
  const pieces: Statement[] = [];
  for (const statement of statements) {
    let part: CfnString[] = [];
    const flush = () => {
      if (part.length > 0) pieces.push({ ...statement, Sid: `${statement.Sid}${pieces.filter((p) => p.Sid.startsWith(statement.Sid)).length + 1}`, Resource: part });
      part = [];
    };
    for (const resource of statement.Resource) {
      if (part.length > 0 && resolvedSize(policy([{ ...statement, Resource: [...part, resource] }])) > budget) flush();
      part.push(resource);
    }
    flush();
  }
  const policies: Statement[][] = [];
  for (const piece of pieces) {
    const last = policies[policies.length - 1];
    if (last && resolvedSize(policy([...last, piece])) <= budget) last.push(piece);
    else policies.push([piece]);
  }
  return policies;
}

/** The notes a role's Metadata carries for its statements whose resource cannot be scoped further. */
function unscopedNotes(statements: readonly Statement[]): { Metadata: { [key: string]: Json } } | Record<string, never> {
  const notes = Object.fromEntries(statements.filter((s) => UNSCOPED_NOTES[s.Sid] !== undefined).map((s) => [s.Sid, UNSCOPED_NOTES[s.Sid]!]));
  return Object.keys(notes).length > 0 ? { Metadata: { "berth:unscoped-statements": notes } } : {};
}

function role(names: StackNames, fn: string, statements: readonly Statement[], extra: { Metadata: { [key: string]: Json } } | Record<string, never> = {}): Resource {
  const size = resolvedSize(policy(statements));
  if (size > INLINE_BUDGET) {
    throw new ConfigurationError(`the ${fn} function's policy would be about ${size} characters, more than IAM allows a role (10,240): the catalog names too many clusters or services for one stack`);
  }
  return {
    Type: "AWS::IAM::Role",
    Properties: {
      Description: `berth ${names.prefix}: the ${fn} function`,
      AssumeRolePolicyDocument: trustPolicy("lambda.amazonaws.com"),
      Policies: [{ PolicyName: `berth-${fn}`, PolicyDocument: policy(statements) }],
    },
    ...extra,
  };
}

/**
 * One role per function. An engine role's inline policy holds everything when the catalog's statements fit it
 * (the usual case); otherwise they move, split by IAM's policy size quota, to managed policies attached to the
 * three engine roles, and a catalog too large even for those is refused rather than granted more. The webhook's
 * role holds its own few statements and none of the catalog's.
 */
export function functionRoles(catalog: Catalog, names: StackNames): Resources {
  const shared = catalogStatements(catalog);
  const own = Object.fromEntries(ENGINE_FUNCTIONS.map((fn) => [fn, ownStatements(catalog, names, fn)])) as Record<EngineFunction, Statement[]>;
  const inline = ENGINE_FUNCTIONS.every((fn) => resolvedSize(policy([...own[fn], ...shared])) <= INLINE_BUDGET);
  const managed = inline ? [] : packPolicies(shared, MANAGED_BUDGET);
  if (managed.length > MANAGED_PER_ROLE) {
    throw new ConfigurationError(
      `the catalog names more task-definition families, roles and services than ${MANAGED_PER_ROLE} IAM managed policies of 6,144 characters can list ` +
        `(berth grants RunTask, PassRole and its deploys on exactly those): split it into two services`,
    );
  }
  const resources: Resources = {};
  for (const fn of ENGINE_FUNCTIONS) {
    const statements = inline ? [...own[fn], ...shared] : own[fn];
    resources[LOGICAL.role(fn)] = role(names, fn, statements, unscopedNotes(statements));
  }
  if (hasWebhook(catalog)) {
    const statements = webhookStatements(catalog, names);
    const decrypts = statements.some((s) => s.Action.includes("kms:Decrypt"));
    resources[LOGICAL.role("webhook")] = role(names, "webhook", statements, decrypts ? { Metadata: { "berth:unscoped-statements": { DecryptWebhookSecretOnly: WEBHOOK_KEY_NOTE } } } : {});
  }
  if (batches(catalog)) resources[LOGICAL.role("batch")] = role(names, "batch", batchStatements(catalog, names));
  managed.forEach((statements, i) => {
    resources[`CatalogPolicy${i + 1}`] = {
      Type: "AWS::IAM::ManagedPolicy",
      Properties: {
        Description: `berth ${names.prefix}: RunTask, PassRole and deploys on the catalog's task definitions, roles and services, part ${i + 1} of ${managed.length}`,
        PolicyDocument: policy(statements),
        Roles: ENGINE_FUNCTIONS.map((fn) => ref(LOGICAL.role(fn))),
      },
    };
  });
  return resources;
}

/**
 * EventBridge Scheduler assumes these roles, only for schedules of berth's schedule group in this account
 * (confused-deputy protection: https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role),
 * and writes undeliverable firings to the dead-letter queue with the same role
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html).
 */
function schedulerRole(names: StackNames, purpose: string, statement: Statement): Resource {
  return {
    Type: "AWS::IAM::Role",
    Properties: {
      Description: `berth ${names.prefix}: EventBridge Scheduler, ${purpose}`,
      AssumeRolePolicyDocument: trustPolicy("scheduler.amazonaws.com", {
        StringEquals: { "aws:SourceAccount": sub("${AWS::AccountId}") },
        ArnEquals: { "aws:SourceArn": scheduleGroupArn(names.scheduleGroup) },
      }),
      Policies: [
        {
          PolicyName: "berth-scheduler",
          PolicyDocument: policy([
            statement,
            { Sid: "SendUndeliveredFiringsToDeadLetterQueue", Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arnOf(LOGICAL.schedulesDeadLetterQueue)] },
          ]),
        },
      ],
    },
  };
}

/** Job schedules put `Berth Schedule Fired` on berth's bus. */
export function jobSchedulerRole(names: StackNames): Resource {
  return schedulerRole(names, "job schedules", { Sid: "PutScheduleFiredOnBerthBus", Effect: "Allow", Action: ["events:PutEvents"], Resource: [arnOf(LOGICAL.bus)] });
}

/** The sweep schedule invokes the sweep function. */
export function sweepSchedulerRole(names: StackNames): Resource {
  return schedulerRole(names, "the sweep", { Sid: "InvokeSweep", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [arnOf(LOGICAL.lambda("sweep"))] });
}
