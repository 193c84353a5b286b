/**
 * The AWS quotas the stack must fit, and the budgets berth keeps under them.
 * A budget is below its quota on purpose: the default bus and a named bus are
 * shared with everything else in the account (other stages of this service
 * included), and a stack grows when berth adds a function.
 *
 * Sources:
 * - rules per bus (300), targets per rule (5), event pattern size (2,048 characters by default):
 *   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
 * - resources per stack (500): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 * - a function's resource-based policy (20 KB, not adjustable):
 *   https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html and
 *   https://repost.aws/knowledge-center/lambda-resource-based-policy-size-error (consolidate with wildcards)
 * - an SQS queue policy (8,192 bytes): https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html
 */

export const QUOTAS = {
  rulesPerBus: 300,
  targetsPerRule: 5,
  eventPatternCharacters: 2048,
  resourcesPerStack: 500,
  lambdaPolicyBytes: 20 * 1024,
  sqsPolicyBytes: 8192,
} as const;

export const BUDGETS = {
  /**
   * Rules berth puts on a bus it shares (the default bus, a named bus) before it groups them by event source.
   * Three stages of one service stay under half of the quota.
   */
  rulesOnSharedBus: 50,
  /** Rules on berth's own bus of the stage before grouping: only berth puts rules there. */
  rulesOnBerthBus: 250,
  /** Resources in the stack: Serverless adds its own (deployment bucket, functions, log groups) to what berth generates. */
  resourcesPerStack: 450,
  /**
   * Rules that get one invoke permission each on a function (about 400 bytes per statement once resolved);
   * past this, one permission per bus covers berth's rules on it by name prefix.
   */
  exactInvokePermissions: 40,
  /** The rule-target dead-letter queue policy lists rule ARNs exactly while it stays under this size. */
  queuePolicyBytes: 7000,
} as const;
