/**
 * EventBridge Scheduler schedules: one per schedule trigger, and the sweep.
 *
 * A job's schedule puts `Berth Schedule Fired` on berth's bus (the templated
 * EventBridge PutEvents target), whose detail carries the time the firing was
 * due, `<aws.scheduler.scheduled-time>`. That time is the run's idempotency
 * key (`schedule:<scheduledTime>`), so a firing Scheduler retries, or one the
 * bus delivers twice, starts one run. The schedule trigger's rule on the bus
 * then hands it to dispatch like any other berth event, and `berth dev`'s
 * scheduler emits the very same event.
 *
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-scheduler-schedule.html
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
 * https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EventBridgeParameters.html
 */
import type { Catalog, ScheduleTrigger } from "../../core/catalog/types.ts";
import { DETAIL_TYPE, SCHEDULER_SOURCE, type ScheduleFiredDetail } from "../../core/events/berth-events.ts";
import { arnOf, ref, type Resource, type Resources } from "./cfn.ts";
import { digest, pascal, type StackNames } from "./names.ts";
import { LOGICAL } from "./logical-ids.ts";

export const SCHEDULED_TIME = "<aws.scheduler.scheduled-time>";

/** The schedule's input: the event's detail, with the scheduled time filled in by Scheduler at each firing. */
export function scheduleFiredInput(service: string, job: string): string {
  const detail: ScheduleFiredDetail = { service, job, scheduledTime: SCHEDULED_TIME };
  return JSON.stringify(detail);
}

/**
 * A firing that cannot reach the bus within an hour goes to the dead-letter queue (and its alarm) rather
 * than starting a nightly job hours late; until then Scheduler retries with backoff.
 */
const JOB_RETRY = { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 20 };
/** The next sweep is a minute away: an undelivered one is not retried, only counted in the queue. */
const SWEEP_RETRY = { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 0 };

export interface ScheduleSet {
  readonly resources: Resources;
  /** Job schedules (the sweep not counted). */
  readonly jobSchedules: number;
}

export function schedules(catalog: Catalog, names: StackNames): ScheduleSet {
  const resources: Resources = {};
  let jobSchedules = 0;
  const common = (description: string): Record<string, unknown> => ({
    GroupName: ref(LOGICAL.scheduleGroup),
    Description: description.slice(0, 512),
    FlexibleTimeWindow: { Mode: "OFF" },
    State: "ENABLED",
  });
  for (const job of Object.values(catalog.jobs)) {
    job.triggers.forEach((trigger, i) => {
      if (trigger.kind !== "schedule") return;
      jobSchedules++;
      const key = `${job.name}#${i}`;
      resources[`Schedule${pascal(job.name)}${digest(key)}`] = jobSchedule(catalog.service, job.name, trigger, names, key, common(`berth ${names.prefix}: job ${job.name}, ${trigger.expression} in ${trigger.timezone}`));
    });
  }
  resources[LOGICAL.sweepSchedule] = {
    Type: "AWS::Scheduler::Schedule",
    Properties: {
      Name: names.scoped("sweep", "sweep"),
      ...(common(`berth ${names.prefix}: the sweep (timeouts, retries, queued runs, quiet tasks)`) as Record<string, never>),
      ScheduleExpression: "rate(1 minute)",
      Target: {
        Arn: arnOf(LOGICAL.lambda("sweep")),
        RoleArn: arnOf(LOGICAL.sweepSchedulerRole),
        Input: "{}",
        RetryPolicy: SWEEP_RETRY,
        DeadLetterConfig: { Arn: arnOf(LOGICAL.schedulesDeadLetterQueue) },
      },
    },
  };
  resources[LOGICAL.scheduleGroup] = { Type: "AWS::Scheduler::ScheduleGroup", Properties: { Name: names.scheduleGroup } };
  return { resources, jobSchedules };
}

function jobSchedule(service: string, job: string, trigger: ScheduleTrigger, names: StackNames, key: string, common: Record<string, unknown>): Resource {
  return {
    Type: "AWS::Scheduler::Schedule",
    Properties: {
      Name: names.scoped(job, key),
      ...(common as Record<string, never>),
      ScheduleExpression: trigger.awsExpression,
      ScheduleExpressionTimezone: trigger.timezone,
      Target: {
        Arn: arnOf(LOGICAL.bus),
        RoleArn: arnOf(LOGICAL.jobSchedulerRole),
        EventBridgeParameters: { Source: SCHEDULER_SOURCE, DetailType: DETAIL_TYPE.scheduleFired },
        Input: scheduleFiredInput(service, job),
        RetryPolicy: JOB_RETRY,
        DeadLetterConfig: { Arn: arnOf(LOGICAL.schedulesDeadLetterQueue) },
      },
    },
  };
}
