/**
 * Puts an accepted push on berth's bus, as one PutEvents entry, and says when EventBridge has taken
 * it: the webhook answers 2xx only then. PutEvents answers per entry (FailedEntryCount, an ErrorCode
 * in place of the EventId), so a 200 answer may still have refused the entry: it is sent again,
 * while the delivery's deadline allows, and when it never lands the caller answers 503 so that the
 * sender shows the delivery failed and it can be redelivered (dispatch's idempotency key makes a
 * redelivery of a push that did land launch nothing new).
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { TransientError } from "../../core/errors.ts";
import type { BusEvent } from "../../core/events/envelope.ts";
import type { GitPushDetail } from "../../core/events/berth-events.ts";
import { translateAwsError } from "../errors.ts";

/** Sends of the entry, counting the first, when EventBridge refuses it in a 200 answer. */
const ENTRY_SENDS = 3;

export interface GitPushBus {
  readonly name: string;
  /** EventBridge's id of the event once it has taken it; throws when it did not before `signal` ended. */
  put(event: BusEvent<GitPushDetail>, signal: AbortSignal): Promise<string>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class EventBridgeGitPushBus implements GitPushBus {
  constructor(
    private readonly client: EventBridgeClient,
    readonly name: string,
  ) {}

  async put(event: BusEvent<GitPushDetail>, signal: AbortSignal): Promise<string> {
    const entry: PutEventsRequestEntry = { EventBusName: this.name, Source: event.source, DetailType: event["detail-type"], Detail: JSON.stringify(event.detail), Resources: [...event.resources] };
    const codes: string[] = [];
    for (let send = 1; send <= ENTRY_SENDS && !signal.aborted; send++) {
      // Full jitter over 50, then 100 ms: short, the answer is waited for.
      if (send > 1) await sleep(Math.random() * 50 * 2 ** (send - 2));
      const out = await this.#send(entry, signal);
      const result = out.Entries?.[0];
      if (result?.EventId !== undefined && result.ErrorCode === undefined) return result.EventId;
      codes.push(result?.ErrorCode ?? "NoResult");
    }
    throw new TransientError(`EventBridge did not take the Git Push event on bus ${this.name} (error codes: ${codes.join(", ") || "none: the delivery's time ran out"})`);
  }

  async #send(entry: PutEventsRequestEntry, signal: AbortSignal) {
    try {
      return await this.client.send(new PutEventsCommand({ Entries: [entry] }), { abortSignal: signal });
    } catch (error) {
      if (error instanceof Error && error.name === "AbortError") throw new TransientError(`failed to put the Git Push event on bus ${this.name}: no answer before the delivery had to be answered`, { cause: error });
      throw translateAwsError(error, `put the Git Push event on bus ${this.name}`, { hint: "check BERTH_BUS and the function's events:PutEvents permission" }) ?? error;
    }
  }
}
