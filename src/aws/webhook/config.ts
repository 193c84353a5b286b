/**
 * The webhook function's configuration, read once at cold start (README "Handler configuration").
 * The stack sets the secret variables from berth.yml's `webhook:` block; without them no secret is
 * configured, which is not an error here: every delivery is then refused with 401 saying how to
 * configure one. A variable set wrongly stops the function with a message naming it.
 */
import { ConfigurationError } from "../../core/errors.ts";
import { DEFAULT_ROTATION_SECONDS } from "../../core/webhook/secrets.ts";

export type SecretSource = "ssm" | "secretsmanager";

export interface WebhookFunctionConfig {
  /** The bus accepted pushes are put on (BERTH_BUS). */
  readonly bus: string;
  /** The compiled catalog, whose git triggers say which pushes a job watches (BERTH_CATALOG). */
  readonly catalogPath: string;
  /** Where the secret is (BERTH_WEBHOOK_SECRET_SOURCE, BERTH_WEBHOOK_SECRET_NAME); absent: none is configured. */
  readonly secret?: { readonly source: SecretSource; readonly name: string };
  /** Seconds after the current secret was stored during which the previous one still verifies (BERTH_WEBHOOK_ROTATION_SECONDS). */
  readonly rotationSeconds: number;
}

const SOURCES: readonly SecretSource[] = ["ssm", "secretsmanager"];
const DEFAULT_CATALOG = "catalog.json";

export function readWebhookConfig(env: Readonly<Record<string, string | undefined>>): WebhookFunctionConfig {
  const problems: string[] = [];
  const bus = env.BERTH_BUS?.trim() ?? "";
  if (!bus) problems.push("BERTH_BUS is not set: it names the EventBridge bus the webhook puts Git Push events on");
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION) problems.push("AWS_REGION is not set: Lambda sets it; elsewhere set it to the region of the bus");

  const source = env.BERTH_WEBHOOK_SECRET_SOURCE?.trim() || undefined;
  const name = env.BERTH_WEBHOOK_SECRET_NAME?.trim() || undefined;
  if (source !== undefined && !SOURCES.includes(source as SecretSource)) {
    problems.push(`BERTH_WEBHOOK_SECRET_SOURCE "${source}" must be ssm or secretsmanager`);
  }
  if ((source === undefined) !== (name === undefined)) {
    problems.push("BERTH_WEBHOOK_SECRET_SOURCE and BERTH_WEBHOOK_SECRET_NAME go together: set both (from berth.yml's webhook.secret), or neither");
  }

  const rotationText = env.BERTH_WEBHOOK_ROTATION_SECONDS?.trim();
  const rotationSeconds = rotationText ? Number(rotationText) : DEFAULT_ROTATION_SECONDS;
  if (!Number.isInteger(rotationSeconds) || rotationSeconds < 0) {
    problems.push(`BERTH_WEBHOOK_ROTATION_SECONDS "${rotationText}" must be a whole number of seconds ≥ 0`);
  }
  if (problems.length > 0) throw new ConfigurationError(`the webhook cannot start: ${problems.join("; ")}`);
  return Object.freeze({
    bus,
    catalogPath: env.BERTH_CATALOG?.trim() || DEFAULT_CATALOG,
    ...(source !== undefined && name !== undefined ? { secret: { source: source as SecretSource, name } } : {}),
    rotationSeconds,
  });
}
