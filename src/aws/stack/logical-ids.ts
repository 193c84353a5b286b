/**
 * Logical ids of the stack's fixed resources. Serverless names what it
 * generates for a function `<Name>LambdaFunction` and `<Name>LogGroup`
 * (osls lib/plugins/aws/lib/naming.js); berth's resources refer to those.
 */
import { pascal, type FunctionName } from "./names.ts";

export const LOGICAL = {
  table: "RunsTable",
  bus: "BerthBus",
  scheduleGroup: "BerthScheduleGroup",
  rejectedQueue: "RejectedEventsQueue",
  rejectedQueuePolicy: "RejectedEventsQueuePolicy",
  rejectedEventsRule: "RejectedEventsRule",
  ruleDeadLetterQueue: "RuleTargetsDeadLetterQueue",
  ruleDeadLetterQueuePolicy: "RuleTargetsDeadLetterQueuePolicy",
  schedulesDeadLetterQueue: "SchedulesDeadLetterQueue",
  jobSchedulerRole: "JobSchedulerRole",
  sweepSchedulerRole: "SweepSchedulerRole",
  sweepSchedule: "SweepSchedule",
  batchQueue: "BatchQueue",
  batchDeadLetterQueue: "BatchDeadLetterQueue",
  batchEventSource: "BatchEventSourceMapping",
  manifestBucket: "ManifestBucket",
  manifestBucketPolicy: "ManifestBucketPolicy",
  lambda: (fn: FunctionName) => `${pascal(fn)}LambdaFunction`,
  logGroup: (fn: FunctionName) => `${pascal(fn)}LogGroup`,
  role: (fn: FunctionName) => `${pascal(fn)}Role`,
  failureQueue: (fn: FunctionName) => `${pascal(fn)}FailedInvocationsQueue`,
  eventInvokeConfig: (fn: FunctionName) => `${pascal(fn)}EventInvokeConfig`,
  /** What osls's `url:` makes (naming.js getLambdaFunctionUrlLogicalId, getLambdaFnUrlPermissionLogicalId, getLambdaFnPermissionLogicalId). */
  functionUrl: (fn: FunctionName) => `${pascal(fn)}LambdaFunctionUrl`,
  functionUrlPermission: (fn: FunctionName) => `${pascal(fn)}LambdaPermissionFnUrl`,
  functionUrlInvokePermission: (fn: FunctionName) => `${pascal(fn)}LambdaPermissionFn`,
  alarm: (queueLogicalId: string) => `${queueLogicalId}DepthAlarm`,
} as const;
