/** Builds berth's own events in the EventBridge envelope, as the bus delivers them to rule targets. */
import { BERTH_SOURCE, DETAIL_TYPE, SCHEDULER_SOURCE, type BusEvent, type ManualRunDetail, type RunStateChangeDetail, type ScheduleFiredDetail } from "./events.ts";

export interface EnvelopeFields {
  readonly id: string;
  /** Epoch ms. */
  readonly time: number;
  readonly account?: string;
  readonly region?: string;
  readonly resources?: readonly string[];
}

export function busEvent<D>(source: string, detailType: string, detail: D, f: EnvelopeFields): BusEvent<D> {
  return {
    version: "0",
    id: f.id,
    "detail-type": detailType,
    source,
    account: f.account ?? "000000000000",
    // EventBridge's `time` has whole seconds.
    time: new Date(Math.floor(f.time / 1000) * 1000).toISOString().replace(".000Z", "Z"),
    region: f.region ?? "local",
    resources: f.resources ?? [],
    detail,
  };
}

export const runStateChangeEvent = (detail: RunStateChangeDetail, f: EnvelopeFields) =>
  busEvent(BERTH_SOURCE, DETAIL_TYPE.runStateChange, detail, { ...f, resources: f.resources ?? (detail.taskArn ? [detail.taskArn] : []) });

export const manualRunEvent = (detail: ManualRunDetail, f: EnvelopeFields) => busEvent(BERTH_SOURCE, DETAIL_TYPE.manualRun, detail, f);

export const scheduleFiredEvent = (detail: ScheduleFiredDetail, f: EnvelopeFields) => busEvent(SCHEDULER_SOURCE, DETAIL_TYPE.scheduleFired, detail, f);
