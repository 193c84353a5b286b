/**
 * Lambda function URL (auth NONE: the signature is the authentication): GitHub and GitLab webhook
 * deliveries in, a `Git Push` event on berth's bus out, which the stack's git rules route to
 * dispatch. POST /github and /gitlab (and /webhooks/github, /webhooks/gitlab, the local server's
 * paths). The answer: 401 bad or missing signature, 400 malformed, 413 too large, 415 wrong content
 * type, 200 for a ping or a delivery berth leaves alone (with the reason), 202 with the event id
 * once the event is on the bus, 503 when the secret could not be read or the bus did not take the
 * event (the sender can redeliver it). Neither the secret nor a signature is ever logged.
 */
import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from "aws-lambda";
import { lambdaHandler } from "../src/aws/handler.ts";
import { composeWebhook } from "../src/aws/webhook/compose.ts";
import { deliveryIdOf } from "../src/aws/webhook/receive.ts";

/**
 * GitHub gives up on a delivery after 10 seconds; the cold start comes before the invocation, so
 * the answer is due well before: every AWS call of a delivery ends by then, and the delivery is
 * answered 503 if they did not succeed.
 */
const ANSWER_WITHIN_MS = 7000;

export const handler = lambdaHandler({
  init: (log) => composeWebhook(process.env, log),
  describe: (event: LambdaFunctionURLEvent | null) => {
    const deliveryId = deliveryIdOf(event);
    return { ...(typeof event?.rawPath === "string" ? { path: event.rawPath } : {}), ...(deliveryId !== undefined ? { deliveryId } : {}) };
  },
  handle: (webhook, event, log): Promise<LambdaFunctionURLResult> => webhook.receive(event, log, ANSWER_WITHIN_MS),
  // The invocation was not a function URL request: nothing to verify, nothing a retry would change.
  answer: (error): LambdaFunctionURLResult => ({ statusCode: 400, headers: { "content-type": "application/json; charset=utf-8" }, body: JSON.stringify({ message: error.message }) }),
});
