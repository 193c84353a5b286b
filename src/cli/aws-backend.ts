/** The CLI's view of a deployed stage: its run table, its bus, and ECS for cancels and log streams. */
import { DescribeTaskDefinitionCommand } from "@aws-sdk/client-ecs";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { buildEngine, createClients, runStore, type AwsClients } from "../aws/compose.ts";
import type { DynamoRunStore } from "../aws/dynamo-run-store.ts";
import type { Engine } from "../core/engine/engine.ts";
import type { Catalog } from "../core/catalog/types.ts";
import type { BusEvent } from "../core/events/envelope.ts";
import { ConfigurationError, TransientError } from "../core/errors.ts";
import { UsageError } from "./output.ts";

function env(name: string, what: string): string {
  const v = process.env[name];
  if (!v) throw new UsageError(`${name} is not set: it names ${what} of the deployed stage`);
  return v;
}

let clients: AwsClients | undefined;
const aws = (): AwsClients => (clients ??= createClients(process.env));

export function awsStore(): DynamoRunStore {
  return runStore(aws(), env("BERTH_TABLE", "the DynamoDB run table"));
}

export function awsEngine(catalog: Catalog): Engine {
  return buildEngine(catalog, aws(), { table: env("BERTH_TABLE", "the DynamoDB run table"), bus: env("BERTH_BUS", "the event bus") });
}

/** Puts a berth event (a manual run request) on the stage's bus, where the dispatch rule picks it up. */
export async function putOnBus(event: BusEvent): Promise<void> {
  const out = await aws().eventBridge.send(
    new PutEventsCommand({
      Entries: [{ EventBusName: env("BERTH_BUS", "the event bus"), Source: event.source, DetailType: event["detail-type"], Detail: JSON.stringify(event.detail) }],
    }),
  );
  const failed = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0) {
    const refused = `EventBridge refused the request: ${failed?.ErrorCode} ${failed?.ErrorMessage}`;
    // The two entry error codes EventBridge documents as retryable.
    if (failed?.ErrorCode === "InternalFailure" || failed?.ErrorCode === "ThrottlingException") throw new TransientError(`${refused}; try again`);
    throw new ConfigurationError(`${refused} (check BERTH_BUS and the permissions of the credentials in use)`);
  }
}

/**
 * The CloudWatch Logs stream of a task's container, when its task definition
 * uses the awslogs driver with a stream prefix: `<prefix>/<container>/<task id>`.
 */
export async function logStreams(taskDefinition: string, taskArn: string): Promise<{ group: string; stream: string }[]> {
  const out = await aws().ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }));
  const taskId = taskArn.split("/").pop() ?? taskArn;
  return (out.taskDefinition?.containerDefinitions ?? []).flatMap((c) => {
    const o = c.logConfiguration?.logDriver === "awslogs" ? c.logConfiguration.options : undefined;
    const prefix = o?.["awslogs-stream-prefix"];
    const group = o?.["awslogs-group"];
    return prefix && group && c.name ? [{ group, stream: `${prefix}/${c.name}/${taskId}` }] : [];
  });
}
