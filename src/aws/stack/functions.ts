/**
 * The Serverless `functions` block and what CloudFormation adds to each
 * function: its role (iam.ts) and its asynchronous invocation settings, with
 * the on-failure destination every asynchronously invoked function has.
 *
 * EventBridge and Scheduler invoke Lambda asynchronously; Lambda retries a
 * failed invocation, then sends the event with the error to the destination:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-eventinvokeconfig.html
 * The webhook's function URL invokes it synchronously: its error goes back to GitHub or GitLab, which
 * show the delivery as failed and redeliver it, so it has no asynchronous settings and no destination.
 * The batch function's SQS event source invokes it synchronously too: a reminder it fails comes again, and
 * the batch queue's redrive policy is its dead-letter queue (batch.ts).
 */
import type { Catalog } from "../../core/catalog/types.ts";
import type { Json, Resources } from "./cfn.ts";
import { arnOf, ref } from "./cfn.ts";
import { ENGINE_FUNCTIONS, type EngineFunction, type FunctionName, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";
import { hasWebhook, webhookSecretEnvironment } from "./webhook.ts";
import { BATCH_FUNCTION_TIMEOUT, batchEnvironment, batches } from "./batch.ts";

/** Where the compiled catalog is in each function's package, relative to its root (BERTH_CATALOG). */
export const CATALOG_IN_PACKAGE = "dist/catalog.json";

export const handlerBundle = (fn: FunctionName) => `dist/handlers/${fn}.mjs`;

/**
 * The folder of the chunks a function's bundle imports, at cold start or when first used (the ECS service
 * deployer: scripts/build.mjs); only that function's bundle uses them.
 */
export const handlerChunks = (fn: FunctionName) => `dist/handlers/chunks/${fn}`;

interface FunctionSettings {
  readonly description: string;
  /** Seconds. */
  readonly timeout: number;
}

interface AsyncSettings {
  /** Lambda's retries of a failed asynchronous invocation (0-2), and how long an event may wait for them. */
  readonly retries: number;
  readonly maxEventAgeSeconds: number;
}

const SETTINGS: Readonly<Record<FunctionName, FunctionSettings>> = {
  // A launch is a few DynamoDB writes and one RunTask; a throttled one is retried inside, with backoff.
  dispatch: { description: "events → runs → ECS tasks", timeout: 30 },
  track: { description: "ECS task and deployment state changes → run status, retries, queued runs", timeout: 30 },
  sweep: { description: "every minute: timeouts, due retries, queued runs, quiet tasks", timeout: 60 },
  // GitHub gives up on a delivery after 10 s and shows it failed: berth answers, 5xx included, before that.
  webhook: { description: "GitHub and GitLab pushes → Git Push events on berth's bus", timeout: 8 },
  batch: { description: "batch windows' reminders → manifests and runs", timeout: BATCH_FUNCTION_TIMEOUT },
};

/** The functions rules and schedules invoke asynchronously; the webhook's function URL invokes it synchronously, so it has none of these. */
const ASYNC: Readonly<Record<EngineFunction, AsyncSettings>> = {
  dispatch: { retries: 2, maxEventAgeSeconds: 6 * 3600 },
  track: { retries: 2, maxEventAgeSeconds: 6 * 3600 },
  // A failed sweep is not retried: the next one starts a minute later and looks at everything again.
  sweep: { retries: 0, maxEventAgeSeconds: 60 },
};

/**
 * The functions of the catalog's stack: the engine's three, the webhook when GitHub or GitLab pushes come in
 * (webhook.ts), and the batch function when a job batches uploads (batch.ts).
 */
export function stackFunctions(catalog: Catalog): FunctionName[] {
  return [...ENGINE_FUNCTIONS, ...(hasWebhook(catalog) ? (["webhook"] as const) : []), ...(batches(catalog) ? (["batch"] as const) : [])];
}

function environment(catalog: Catalog, names: StackNames, fn: FunctionName): Record<string, Json> {
  const powertools = { POWERTOOLS_SERVICE_NAME: `berth-${names.service}`, POWERTOOLS_LOG_LEVEL: "INFO" };
  // The webhook only verifies and publishes: no runs table.
  if (fn === "webhook") return { BERTH_BUS: names.bus, BERTH_CATALOG: CATALOG_IN_PACKAGE, ...webhookSecretEnvironment(catalog.webhook), ...powertools };
  // Track never settles a batch; the others may.
  const batching = fn === "track" ? {} : batchEnvironment(catalog);
  return { BERTH_TABLE: names.table, BERTH_BUS: names.bus, BERTH_CATALOG: CATALOG_IN_PACKAGE, ...batching, ...powertools };
}

export function serverlessFunctions(catalog: Catalog, names: StackNames): Record<string, Json> {
  return Object.fromEntries(
    stackFunctions(catalog).map((fn) => [
      fn,
      {
        handler: `dist/handlers/${fn}.handler`,
        description: `berth ${names.prefix}: ${SETTINGS[fn].description}`,
        timeout: SETTINGS[fn].timeout,
        role: LOGICAL.role(fn),
        environment: environment(catalog, names, fn),
        // Only its own bundle, its chunks and the catalog compiled from berth.yml at package time.
        package: { patterns: ["!**", handlerBundle(fn), `${handlerChunks(fn)}/*.mjs`, CATALOG_IN_PACKAGE] },
        // A function URL with auth type NONE, and the two permissions it needs (webhook.ts).
        ...(fn === "webhook" ? { url: true } : {}),
      },
    ]),
  );
}

export function eventInvokeConfigs(): Resources {
  return Object.fromEntries(
    ENGINE_FUNCTIONS.map((fn) => [
      LOGICAL.eventInvokeConfig(fn),
      {
        Type: "AWS::Lambda::EventInvokeConfig",
        Properties: {
          FunctionName: ref(LOGICAL.lambda(fn)),
          Qualifier: "$LATEST",
          MaximumRetryAttempts: ASYNC[fn].retries,
          MaximumEventAgeInSeconds: ASYNC[fn].maxEventAgeSeconds,
          DestinationConfig: { OnFailure: { Destination: arnOf(LOGICAL.failureQueue(fn)) } },
        },
      },
    ]),
  );
}
