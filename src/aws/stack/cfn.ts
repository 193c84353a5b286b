/**
 * CloudFormation as plain data: the intrinsic functions the stack uses and the
 * shapes of a resource and an IAM statement. Values are JSON; an intrinsic is
 * an object CloudFormation resolves at deploy time (account, region, a
 * resource's ARN), which is why the generator never needs either.
 */

export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** A string CloudFormation computes: `{ "Ref": … }`, `{ "Fn::GetAtt": … }`, `{ "Fn::Sub": … }`, or a literal. */
export type CfnString = string | { readonly [intrinsic: string]: Json };

export interface Resource {
  readonly Type: string;
  readonly Properties?: { readonly [key: string]: Json };
  readonly DependsOn?: readonly string[];
  /** What CloudFormation does with the resource when it leaves the stack or is replaced. */
  readonly DeletionPolicy?: "Delete" | "Retain" | "RetainExceptOnCreate" | "Snapshot";
  readonly UpdateReplacePolicy?: "Delete" | "Retain" | "Snapshot";
  /** Notes for readers of the template (CloudFormation keeps and ignores it). */
  readonly Metadata?: { readonly [key: string]: Json };
}

export type Resources = Record<string, Resource>;

export interface Output {
  readonly Description: string;
  readonly Value: CfnString;
}

export const ref = (logicalId: string): CfnString => ({ Ref: logicalId });
export const arnOf = (logicalId: string): CfnString => ({ "Fn::GetAtt": [logicalId, "Arn"] });
export const attr = (logicalId: string, attribute: string): CfnString => ({ "Fn::GetAtt": [logicalId, attribute] });
/** `Fn::Sub` with the pseudo parameters `${AWS::Partition}`, `${AWS::Region}`, `${AWS::AccountId}` and `${Logical.Attr}`. */
export const sub = (template: string): CfnString => ({ "Fn::Sub": template });
export const join = (separator: string, parts: readonly CfnString[]): CfnString => ({ "Fn::Join": [separator, [...parts]] });

/** An ARN in this stack's partition, region and account. */
export const localArn = (service: string, resource: string): CfnString => sub(`arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`);

// Type aliases, not interfaces: they must be assignable to Json.
export type Statement = {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: readonly string[];
  readonly Resource: readonly CfnString[];
  readonly Condition?: { readonly [operator: string]: { readonly [key: string]: Json } };
};

export type PolicyDocument = {
  readonly Version: "2012-10-17";
  readonly Statement: readonly Statement[];
};

export const policy = (statements: readonly Statement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });

/** The trust policy of a role a service assumes, with conditions that keep other accounts' resources from using it. */
export function trustPolicy(service: string, condition?: Statement["Condition"]): Json {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole", ...(condition ? { Condition: condition } : {}) }],
  };
}

/**
 * The longest each pseudo parameter and attribute resolves to, for sizing a policy or a pattern before
 * CloudFormation has resolved it: AWS measures the resolved text against its quotas.
 */
const RESOLVED_LENGTH: Readonly<Record<string, number>> = { "AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12 };
const RESOLVED_ATTRIBUTE_LENGTH = 140;

/** The length of `value` as JSON once CloudFormation has resolved its intrinsics (an upper estimate). */
export function resolvedSize(value: unknown): number {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    if (typeof o["Fn::Sub"] === "string") {
      return (o["Fn::Sub"] as string).replace(/\$\{([^}]+)\}/g, (_m, name: string) => "x".repeat(RESOLVED_LENGTH[name] ?? RESOLVED_ATTRIBUTE_LENGTH));
    }
    if ("Fn::GetAtt" in o || "Ref" in o) return "x".repeat(RESOLVED_ATTRIBUTE_LENGTH);
    return v;
  }).length;
}
