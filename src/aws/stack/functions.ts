/**
 * The Serverless `functions` block and what CloudFormation adds to each
 * function: its role (iam.ts) and its asynchronous invocation settings, with
 * the on-failure destination every asynchronously invoked function has.
 *
 * EventBridge and Scheduler invoke Lambda asynchronously; Lambda retries a
 * failed invocation, then sends the event with the error to the destination:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-eventinvokeconfig.html
 */
import type { Json, Resources } from "./cfn.ts";
import { arnOf, ref } from "./cfn.ts";
import { FUNCTIONS, type FunctionName, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";

/** Where the compiled catalog is in each function's package, relative to its root (BERTH_CATALOG). */
export const CATALOG_IN_PACKAGE = "dist/catalog.json";

export const handlerBundle = (fn: FunctionName) => `dist/handlers/${fn}.mjs`;

interface FunctionSettings {
  readonly description: string;
  /** Seconds. */
  readonly timeout: number;
  /** Lambda's retries of a failed asynchronous invocation (0-2), and how long an event may wait for them. */
  readonly retries: number;
  readonly maxEventAgeSeconds: number;
}

const SETTINGS: Readonly<Record<FunctionName, FunctionSettings>> = {
  // A launch is a few DynamoDB writes and one RunTask; a throttled one is retried inside, with backoff.
  dispatch: { description: "events → runs → ECS tasks", timeout: 30, retries: 2, maxEventAgeSeconds: 6 * 3600 },
  track: { description: "ECS task and deployment state changes → run status, retries, queued runs", timeout: 30, retries: 2, maxEventAgeSeconds: 6 * 3600 },
  // A failed sweep is not retried: the next one starts a minute later and looks at everything again.
  sweep: { description: "every minute: timeouts, due retries, queued runs, quiet tasks", timeout: 60, retries: 0, maxEventAgeSeconds: 60 },
};

function environment(names: StackNames): Record<string, Json> {
  return {
    BERTH_TABLE: names.table,
    BERTH_BUS: names.bus,
    BERTH_CATALOG: CATALOG_IN_PACKAGE,
    POWERTOOLS_SERVICE_NAME: `berth-${names.service}`,
    POWERTOOLS_LOG_LEVEL: "INFO",
  };
}

export function serverlessFunctions(names: StackNames): Record<string, Json> {
  return Object.fromEntries(
    FUNCTIONS.map((fn) => [
      fn,
      {
        handler: `dist/handlers/${fn}.handler`,
        description: `berth ${names.prefix}: ${SETTINGS[fn].description}`,
        timeout: SETTINGS[fn].timeout,
        role: LOGICAL.role(fn),
        environment: environment(names),
        // Only its own bundle and the catalog compiled from berth.yml at package time.
        package: { patterns: ["!**", handlerBundle(fn), CATALOG_IN_PACKAGE] },
      },
    ]),
  );
}

export function eventInvokeConfigs(): Resources {
  return Object.fromEntries(
    FUNCTIONS.map((fn) => [
      LOGICAL.eventInvokeConfig(fn),
      {
        Type: "AWS::Lambda::EventInvokeConfig",
        Properties: {
          FunctionName: ref(LOGICAL.lambda(fn)),
          Qualifier: "$LATEST",
          MaximumRetryAttempts: SETTINGS[fn].retries,
          MaximumEventAgeInSeconds: SETTINGS[fn].maxEventAgeSeconds,
          DestinationConfig: { OnFailure: { Destination: arnOf(LOGICAL.failureQueue(fn)) } },
        },
      },
    ]),
  );
}
