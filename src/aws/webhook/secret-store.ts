/**
 * The webhook secret as the function reads it: from an SSM Parameter Store SecureString or a
 * Secrets Manager secret, the current value and — while the rotation window may still be open —
 * the value it replaced, with the time it was replaced; and a cache of it across invocations.
 *
 * How each service says what the previous value was and when it was replaced:
 * - SSM: every PutParameter makes a new version, and GetParameter's `LastModifiedDate` is the date
 *   "the parameter version was created"; GetParameter reads an older version by the selector
 *   `name:version` (the GetParameter API reference, `Name`). The previous value is version n-1,
 *   read with the same GetParameter permission (no GetParameterHistory, which pages through up to
 *   100 versions); it has never existed for version 1 (ParameterVersionNotFound). Only
 *   SecureString values are used: a String parameter is readable by anyone who may describe it.
 * - Secrets Manager: GetSecretValue with VersionStage AWSCURRENT, and AWSPREVIOUS, the label
 *   Secrets Manager moves to the version AWSCURRENT leaves (PutSecretValue, rotation). The
 *   `CreatedDate` of the AWSCURRENT version is when the current value was stored; a secret whose
 *   current value was never replaced has no AWSPREVIOUS version (ResourceNotFoundException). For a
 *   rotation function the window starts when its createSecret step stored the pending version.
 *
 * The previous value is only read when the current one is younger than the rotation window: in
 * the steady state a refresh is one call.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, type Parameter, type SSMClient } from "@aws-sdk/client-ssm";
import { ConfigurationError, TransientError, type BerthError } from "../../core/errors.ts";
import type { SecretVersions } from "../../core/webhook/secrets.ts";
import { asBerthError, translateAwsError } from "../errors.ts";

export interface SecretStore {
  /** Where the secret is, as messages name it: `the SSM parameter /berth/webhook`. */
  readonly description: string;
  /** The current value; the previous one too when the current one was stored after `previousIfStoredAfter` (epoch ms). */
  read(previousIfStoredAfter: number, signal: AbortSignal): Promise<SecretVersions>;
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** An SDK error as berth's taxonomy, the read named; an abort (the delivery's deadline) is a TransientError. */
function readFailure(error: unknown, what: string, hint: string): BerthError {
  if (nameOf(error) === "AbortError") return new TransientError(`failed to read ${what}: no answer before the delivery had to be answered`, { cause: error });
  return translateAwsError(error, `read ${what}`, { hint }) ?? asBerthError(error) ?? new TransientError(`failed to read ${what}: ${String(error)}`, { cause: error });
}

export class SsmSecretStore implements SecretStore {
  readonly description: string;

  constructor(
    private readonly client: SSMClient,
    private readonly name: string,
  ) {
    this.description = `the SSM parameter ${name}`;
  }

  async read(previousIfStoredAfter: number, signal: AbortSignal): Promise<SecretVersions> {
    const current = await this.#get(this.name, signal);
    if (current === undefined) {
      throw new ConfigurationError(
        `${this.description} does not exist in this account and region: create it with \`aws ssm put-parameter --type SecureString --name ${this.name} --value <the webhook's secret>\``,
      );
    }
    const value = this.#secureValue(current);
    const since = current.LastModifiedDate?.getTime();
    const version = current.Version ?? 0;
    let previous: string | undefined;
    if (version > 1 && since !== undefined && since > previousIfStoredAfter) {
      const older = await this.#get(`${this.name}:${version - 1}`, signal);
      previous = older?.Type === "SecureString" && typeof older.Value === "string" ? older.Value : undefined;
    }
    return { current: value, ...(previous !== undefined ? { previous } : {}), ...(since !== undefined ? { currentSince: since } : {}) };
  }

  /** The parameter (or one version of it, `name:version`); undefined when it or that version does not exist. */
  async #get(name: string, signal: AbortSignal): Promise<Parameter | undefined> {
    try {
      const out = await this.client.send(new GetParameterCommand({ Name: name, WithDecryption: true }), { abortSignal: signal });
      return out.Parameter;
    } catch (error) {
      if (nameOf(error) === "ParameterNotFound" || nameOf(error) === "ParameterVersionNotFound") return undefined;
      throw readFailure(error, this.description, "the webhook function's role needs ssm:GetParameter on it, and kms:Decrypt on its key");
    }
  }

  #secureValue(parameter: Parameter): string {
    if (parameter.Type !== "SecureString") {
      throw new ConfigurationError(
        `${this.description} is a ${parameter.Type ?? "parameter of unknown type"}, not a SecureString: store the webhook's secret encrypted, ` +
          `\`aws ssm put-parameter --type SecureString --overwrite --name ${this.name} --value <the secret>\` (a String parameter can be read by anyone who may describe it)`,
      );
    }
    if (typeof parameter.Value !== "string" || parameter.Value === "") throw new ConfigurationError(`${this.description} holds an empty value: put the webhook's secret in it`);
    return parameter.Value;
  }
}

export class SecretsManagerSecretStore implements SecretStore {
  readonly description: string;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
  ) {
    this.description = `the Secrets Manager secret ${secretId}`;
  }

  async read(previousIfStoredAfter: number, signal: AbortSignal): Promise<SecretVersions> {
    const current = await this.#get("AWSCURRENT", signal);
    if (current === undefined) {
      throw new ConfigurationError(
        `${this.description} does not exist in this account and region: create it with \`aws secretsmanager create-secret --name ${this.secretId} --secret-string <the webhook's secret>\``,
      );
    }
    if (current.value === undefined || current.value === "") {
      throw new ConfigurationError(`${this.description} has no SecretString: store the webhook's secret as a string (\`aws secretsmanager put-secret-value --secret-string …\`)`);
    }
    const since = current.created;
    const previous = since !== undefined && since > previousIfStoredAfter ? (await this.#get("AWSPREVIOUS", signal))?.value : undefined;
    return { current: current.value, ...(previous ? { previous } : {}), ...(since !== undefined ? { currentSince: since } : {}) };
  }

  /** The version a staging label is on; undefined when the secret, or a version with that label, does not exist. */
  async #get(stage: "AWSCURRENT" | "AWSPREVIOUS", signal: AbortSignal): Promise<{ value: string | undefined; created: number | undefined } | undefined> {
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: stage }), { abortSignal: signal });
      return { value: out.SecretString, created: out.CreatedDate?.getTime() };
    } catch (error) {
      if (nameOf(error) === "ResourceNotFoundException") return undefined;
      throw readFailure(error, this.description, "the webhook function's role needs secretsmanager:GetSecretValue on it, and kms:Decrypt on its key");
    }
  }
}

export interface CachedSecretOptions {
  readonly rotationSeconds: number;
  /** How long a read is used before the secret is read again. Default 5 minutes. */
  readonly ttlMs?: number;
  /** At most one read per this long because a signature did not match. Default 30 seconds. */
  readonly mismatchRefreshMs?: number;
}

/** What the cache answers: the secret's versions, and why they may be old (the last read failed, so the one before is used). */
export interface CachedVersions {
  readonly versions: SecretVersions;
  readonly stale?: BerthError;
}

/**
 * The secret, read once per container and again when the read is older than the TTL. A read that
 * fails while an earlier one is at hand keeps using that one (the secret rarely changes, and the
 * store being briefly unreachable should not refuse genuine deliveries); with none, it is thrown.
 *
 * A signature that does not match may mean the secret was just rotated: `afterMismatch` reads it
 * again, but at most once per `mismatchRefreshMs`, so that deliveries with forged signatures cannot
 * make the function read the secret on every request.
 */
export class CachedSecret {
  readonly #store: SecretStore;
  readonly #rotationMs: number;
  readonly #ttlMs: number;
  readonly #mismatchRefreshMs: number;
  #cached: { readonly versions: SecretVersions; readonly at: number } | undefined;
  #lastMismatchRead = Number.NEGATIVE_INFINITY;

  constructor(store: SecretStore, options: CachedSecretOptions) {
    this.#store = store;
    this.#rotationMs = options.rotationSeconds * 1000;
    this.#ttlMs = options.ttlMs ?? 5 * 60_000;
    this.#mismatchRefreshMs = options.mismatchRefreshMs ?? 30_000;
  }

  get description(): string {
    return this.#store.description;
  }

  async versions(now: number, signal: AbortSignal): Promise<CachedVersions> {
    const cached = this.#cached;
    if (cached !== undefined && now - cached.at < this.#ttlMs) return { versions: cached.versions };
    try {
      return { versions: await this.#read(now, signal) };
    } catch (error) {
      if (cached === undefined) throw error;
      return { versions: cached.versions, stale: error as BerthError };
    }
  }

  /** The secret read again after a signature mismatch, when it changed; undefined when it did not, or may not be read again yet. */
  async afterMismatch(now: number, signal: AbortSignal): Promise<SecretVersions | undefined> {
    if (now - this.#lastMismatchRead < this.#mismatchRefreshMs) return undefined;
    this.#lastMismatchRead = now;
    const before = this.#cached?.versions;
    const after = await this.#read(now, signal);
    const changed = before === undefined || before.current !== after.current || before.previous !== after.previous || before.currentSince !== after.currentSince;
    return changed ? after : undefined;
  }

  async #read(now: number, signal: AbortSignal): Promise<SecretVersions> {
    const versions = await this.#store.read(now - this.#rotationMs, signal);
    this.#cached = { versions, at: now };
    return versions;
  }
}
