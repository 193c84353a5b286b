/**
 * Which secrets verify a delivery. A shell knows where the secret is kept (an environment variable
 * locally; an SSM parameter or a Secrets Manager secret on AWS) and reads its versions; the core
 * decides which of them are in force: the current one always, the previous one only for a while
 * after the current one was made (the rotation window), so a webhook whose secret is being changed
 * keeps working until its settings carry the new one, and an old secret stops working for good.
 */

/** How long after a rotation the previous secret still verifies, when berth.yml does not say (`webhook.rotation`): one hour. */
export const DEFAULT_ROTATION_SECONDS = 3600;

export interface WebhookSecrets {
  /** The secrets a delivery may be signed with, the current one first; empty strings never verify. */
  readonly values: readonly string[];
  /** Where the secret is kept, as refusals name it: `BERTH_WEBHOOK_SECRET`, `the SSM parameter /berth/webhook`. */
  readonly source: string;
  /** What to do when no secret is configured, for the refusal of every delivery; told the provider's name. */
  readonly configure: (provider: string) => string;
}

/** The secrets that can verify anything: empty strings dropped. */
export function usableSecrets(secrets: WebhookSecrets): readonly string[] {
  return secrets.values.filter((value) => value !== "");
}

/** A secret as its store keeps it: the current value and, when there is one, the value it replaced. */
export interface SecretVersions {
  readonly current: string;
  readonly previous?: string;
  /** Epoch ms the current value was stored; unknown: the previous value never verifies. */
  readonly currentSince?: number;
}

/**
 * The values that verify at `now`: the current one, then the previous one while `now` is less than
 * `rotationSeconds` after the current one was stored. Without the time of the change the previous
 * value is not trusted at all: berth fails closed.
 */
export function secretsInForce(versions: SecretVersions, rotationSeconds: number, now: number): string[] {
  const { current, previous, currentSince } = versions;
  const inWindow = previous !== undefined && previous !== current && currentSince !== undefined && now < currentSince + rotationSeconds * 1000;
  return inWindow ? [current, previous] : [current];
}
