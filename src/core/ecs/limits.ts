/**
 * ECS RunTask limits, checked on the rendered request so a run fails with a
 * message that says what to change instead of an InvalidParameterException
 * from AWS. Numbers are from the ECS API reference (RunTask, Tag,
 * AwsVpcConfiguration, CapacityProviderStrategyItem).
 */
import type { RunTaskRequest, Tag } from "./types.ts";

export const ECS_LIMITS = {
  /** Characters of `overrides` serialized as JSON, formatting included. */
  overridesJsonChars: 8192,
  tagsPerResource: 50,
  tagKeyChars: 128,
  tagValueChars: 256,
  subnets: 16,
  securityGroups: 5,
  capacityProviders: 20,
  capacityProviderWeight: 1000,
  capacityProviderBase: 100_000,
  /** The current reference says 128; older revisions said 36, and berth's ids fit both. */
  startedByChars: 128,
  clientTokenChars: 64,
} as const;

// Letters, separators (spaces), numbers and `_ . : / = + - @` (the Tag type's pattern).
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const STARTED_BY_CHARS = /^[A-Za-z0-9_/-]+$/;
// Printable ASCII 33–126: no spaces, no control characters.
const CLIENT_TOKEN_CHARS = /^[\x21-\x7e]+$/;

// Formats only on the error paths: building an Intl.NumberFormat at import costs every Lambda cold start ~10 ms.
const fmt = { format: (n: number): string => n.toLocaleString("en-US") };

/** Tag limits count Unicode characters, not UTF-16 code units. */
function codePoints(s: string): number {
  return [...s].length;
}

/** Every limit the request breaks, as messages naming the limit, the actual size and what to do. */
export function checkRunTaskLimits(request: RunTaskRequest): string[] {
  return [
    ...checkOverrides(request),
    ...checkTags(request.tags),
    ...checkNetwork(request),
    ...checkLaunch(request),
    ...checkIdentifiers(request),
  ];
}

function checkOverrides(request: RunTaskRequest): string[] {
  if (!request.overrides) return [];
  // ECS counts characters of the JSON it receives; the SDK serializes with JSON.stringify.
  const size = JSON.stringify(request.overrides).length;
  const limit = ECS_LIMITS.overridesJsonChars;
  if (size <= limit) return [];
  return [
    `container overrides are ${fmt.format(size)} characters; ECS allows ${fmt.format(limit)}` +
      largestContributors(request) +
      `. Pass large inputs through S3 (e.g. a manifest object) instead of command/environment.`,
  ];
}

function largestContributors(request: RunTaskRequest): string {
  const sizes: { what: string; size: number }[] = [];
  for (const c of request.overrides?.containerOverrides ?? []) {
    c.command?.forEach((arg, i) => sizes.push({ what: `command[${i}]`, size: JSON.stringify(arg).length }));
    for (const e of c.environment ?? []) {
      sizes.push({ what: `environment ${e.name}`, size: JSON.stringify(e).length });
    }
  }
  sizes.sort((a, b) => b.size - a.size);
  const top = sizes.slice(0, 3).filter((s) => s.size > 64);
  if (top.length === 0) return "";
  return ` (largest: ${top.map((s) => `${s.what} ${fmt.format(s.size)}`).join(", ")})`;
}

export function checkTags(tags: readonly Tag[]): string[] {
  const errors: string[] = [];
  const userTags = tags.filter((t) => !/^aws:/i.test(t.key));
  if (userTags.length > ECS_LIMITS.tagsPerResource) {
    errors.push(
      `the task has ${userTags.length} tags; ECS allows ${ECS_LIMITS.tagsPerResource} per resource (berth adds 2, and tags propagated from the task definition count too). Remove job tags.`,
    );
  }
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    const keyChars = codePoints(key);
    if (keyChars < 1 || keyChars > ECS_LIMITS.tagKeyChars) {
      errors.push(`tag key ${JSON.stringify(key)} is ${keyChars} characters; ECS allows 1 to ${ECS_LIMITS.tagKeyChars}. Shorten the key.`);
    }
    const valueChars = codePoints(value);
    if (valueChars > ECS_LIMITS.tagValueChars) {
      errors.push(
        `tag ${JSON.stringify(key)} has a value of ${fmt.format(valueChars)} characters; ECS allows ${ECS_LIMITS.tagValueChars}. Shorten the value.`,
      );
    }
    if (!TAG_CHARS.test(key)) {
      errors.push(
        `tag key ${JSON.stringify(key)} has characters ECS does not allow; use letters, digits, spaces and _ . : / = + - @.`,
      );
    }
    if (!TAG_CHARS.test(value)) {
      errors.push(
        `tag ${JSON.stringify(key)} has a value with characters ECS does not allow; use letters, digits, spaces and _ . : / = + - @.`,
      );
    }
    if (/^aws:/i.test(key) || /^aws:/i.test(value)) {
      errors.push(`tag ${JSON.stringify(key)}: the "aws:" prefix is reserved by AWS for keys and values; rename it.`);
    }
    if (seen.has(key)) errors.push(`tag key ${JSON.stringify(key)} appears twice; ECS needs unique keys.`);
    seen.add(key);
  }
  return errors;
}

function checkNetwork(request: RunTaskRequest): string[] {
  const vpc = request.networkConfiguration?.awsvpcConfiguration;
  if (!vpc) return [];
  const errors: string[] = [];
  if (vpc.subnets.length === 0) errors.push(`network has no subnets; awsvpc tasks need at least 1. Add a subnet.`);
  if (vpc.subnets.length > ECS_LIMITS.subnets) {
    errors.push(`network lists ${vpc.subnets.length} subnets; ECS allows ${ECS_LIMITS.subnets}. Remove subnets.`);
  }
  const groups = vpc.securityGroups?.length ?? 0;
  if (groups > ECS_LIMITS.securityGroups) {
    errors.push(`network lists ${groups} security groups; ECS allows ${ECS_LIMITS.securityGroups}. Remove security groups.`);
  }
  return errors;
}

function checkLaunch(request: RunTaskRequest): string[] {
  const strategy = request.capacityProviderStrategy;
  if (!strategy) return [];
  const errors: string[] = [];
  if (request.launchType !== undefined) {
    errors.push(`launchType and capacityProviderStrategy are both set; ECS accepts one or the other.`);
  }
  if (strategy.length === 0) errors.push(`the capacity provider strategy is empty; list at least one provider.`);
  if (strategy.length > ECS_LIMITS.capacityProviders) {
    errors.push(
      `the capacity provider strategy lists ${strategy.length} providers; ECS allows ${ECS_LIMITS.capacityProviders}. Remove providers.`,
    );
  }
  const names = new Set<string>();
  for (const item of strategy) {
    const p = JSON.stringify(item.capacityProvider);
    if (names.has(item.capacityProvider)) errors.push(`capacity provider ${p} is listed twice; list each provider once.`);
    names.add(item.capacityProvider);
    if (item.weight !== undefined && !inRange(item.weight, 0, ECS_LIMITS.capacityProviderWeight)) {
      errors.push(
        `capacity provider ${p} has weight ${item.weight}; ECS allows whole numbers 0 to ${fmt.format(ECS_LIMITS.capacityProviderWeight)}.`,
      );
    }
    if (item.base !== undefined && !inRange(item.base, 0, ECS_LIMITS.capacityProviderBase)) {
      errors.push(
        `capacity provider ${p} has base ${item.base}; ECS allows whole numbers 0 to ${fmt.format(ECS_LIMITS.capacityProviderBase)}.`,
      );
    }
  }
  const withBase = strategy.filter((i) => i.base !== undefined);
  if (withBase.length > 1) {
    errors.push(
      `${withBase.length} capacity providers set a base (${withBase.map((i) => i.capacityProvider).join(", ")}); ECS allows a base on only one. Keep base on one provider.`,
    );
  }
  if (strategy.length > 1 && !strategy.some((i) => (i.weight ?? 0) > 0)) {
    errors.push(`no capacity provider has a weight above 0; with several providers ECS needs at least one. Give one a weight.`);
  }
  return errors;
}

function checkIdentifiers(request: RunTaskRequest): string[] {
  const errors: string[] = [];
  const sb = request.startedBy;
  if (sb.length > ECS_LIMITS.startedByChars || !STARTED_BY_CHARS.test(sb)) {
    errors.push(
      `startedBy ${JSON.stringify(sb)} must be 1 to ${ECS_LIMITS.startedByChars} letters, digits, "-", "/" or "_".`,
    );
  }
  const ct = request.clientToken;
  if (ct.length > ECS_LIMITS.clientTokenChars || !CLIENT_TOKEN_CHARS.test(ct)) {
    errors.push(`clientToken ${JSON.stringify(ct)} must be 1 to ${ECS_LIMITS.clientTokenChars} printable ASCII characters without spaces.`);
  }
  return errors;
}

function inRange(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}
