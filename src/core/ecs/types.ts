/**
 * ECS request shapes, mirroring the AWS SDK v3 input types field for field
 * (camelCase, same nesting, same string enums) so the AWS adapter can hand
 * them to `RunTaskCommand` / `RegisterTaskDefinitionCommand` /
 * `UpdateServiceCommand` unchanged. The core does not import the SDK; arrays
 * are mutable because the SDK's input types declare them so.
 */

export interface Tag {
  key: string;
  value: string;
}

export interface KeyValuePair {
  name: string;
  value: string;
}

export interface CapacityProviderStrategyItem {
  capacityProvider: string;
  weight?: number;
  base?: number;
}

export interface AwsVpcConfiguration {
  subnets: string[];
  securityGroups?: string[];
  assignPublicIp?: "ENABLED" | "DISABLED";
}

export interface ContainerOverride {
  name: string;
  command?: string[];
  environment?: KeyValuePair[];
}

export interface TaskOverride {
  containerOverrides?: ContainerOverride[];
  /** Task-level CPU units; the API takes a string. */
  cpu?: string;
  /** Task-level memory in MiB; the API takes a string. */
  memory?: string;
}

export type LaunchType = "FARGATE" | "EC2";

/** The subset of `RunTaskCommandInput` berth sends. */
export interface RunTaskRequest {
  cluster: string;
  taskDefinition: string;
  launchType?: LaunchType;
  capacityProviderStrategy?: CapacityProviderStrategyItem[];
  platformVersion?: string;
  networkConfiguration?: { awsvpcConfiguration: AwsVpcConfiguration };
  overrides?: TaskOverride;
  tags: Tag[];
  startedBy: string;
  clientToken: string;
  count: 1;
  propagateTags: "TASK_DEFINITION";
  enableECSManagedTags: true;
}
