/**
 * Checks a CloudFormation template offline against the CloudFormation
 * resource specification (`@aws-cdk/cfnspec`, specification v117 of 2023),
 * the JSON document AWS publishes of every resource type, its properties,
 * their types and which are required, and each type's `Fn::GetAtt` attributes.
 *
 * Per resource: the type exists; only resource attributes CloudFormation knows
 * sit beside `Type` and `Properties`; every property is known; every required
 * one is present; every value has its property's type — primitives, `List` and
 * `Map` items and nested property types, recursively. An intrinsic function
 * stands for a value of any type (CloudFormation only knows its result at
 * deploy time); `Fn::If` is checked branch by branch. Template-wide: every
 * `Ref`, `Fn::GetAtt` and `Fn::Sub` `${…}` names a resource, parameter or
 * pseudo parameter of the template, and every attribute is one the
 * specification lists for that resource type.
 *
 * Scalars follow CloudFormation's own conversions: a String property takes a
 * number or boolean (CloudFormation passes it on as text), an Integer, Long or
 * Double property takes a numeric string and a Boolean property "true" or
 * "false"; anything else of the wrong shape is an issue.
 *
 * The specification stops in 2023. What AWS added since is listed in
 * PROPERTIES_ADDED_SINCE_SPEC, each with its type as the current docs page
 * gives it (so its values are still type-checked) and that page's address.
 * Merging an entry the specification already has is an error, so the list
 * cannot outlive its reason.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export interface PropertySpec {
  readonly Required?: boolean;
  readonly PrimitiveType?: string;
  readonly PrimitiveItemType?: string;
  readonly Type?: string;
  readonly ItemType?: string;
  /** SAM-only unions: the value may be any one of these. */
  readonly PrimitiveTypes?: readonly string[];
  readonly Types?: readonly string[];
}

export interface PropertyTypeSpec extends PropertySpec {
  readonly Properties?: Readonly<Record<string, PropertySpec>>;
}

export interface ResourceTypeSpec {
  readonly Properties?: Readonly<Record<string, PropertySpec>>;
  readonly Attributes?: Readonly<Record<string, unknown>>;
}

export interface ResourceSpecification {
  readonly ResourceSpecificationVersion: string;
  readonly ResourceTypes: Readonly<Record<string, ResourceTypeSpec>>;
  readonly PropertyTypes: Readonly<Record<string, PropertyTypeSpec>>;
}

/** A property or `Fn::GetAtt` attribute AWS added after the specification was published. */
export interface AddedSinceSpec {
  readonly resourceType: string;
  /** The nested property type (e.g. `Target`) that gained the property; omitted for a top-level property. */
  readonly propertyType?: string;
  /** The property it adds, with its type as the docs page gives it. */
  readonly property?: { readonly name: string; readonly spec: PropertySpec };
  /** Nested property types the new property brings, by their name within the resource type. */
  readonly propertyTypes?: Readonly<Record<string, PropertyTypeSpec>>;
  /** An `Fn::GetAtt` attribute it adds. */
  readonly attribute?: string;
  /** The current AWS documentation page that shows it. */
  readonly docs: string;
}

/**
 * What the packaged stack uses that the 2023 specification does not know.
 * Every entry names the page of the current CloudFormation template
 * reference that documents it, with the type given there.
 */
export const PROPERTIES_ADDED_SINCE_SPEC: readonly AddedSinceSpec[] = [
  {
    // Lambda's JSON log format and log-level filtering (November 2023).
    resourceType: "AWS::Lambda::Function",
    property: { name: "LoggingConfig", spec: { Type: "LoggingConfig", Required: false } },
    propertyTypes: {
      LoggingConfig: {
        Properties: {
          ApplicationLogLevel: { PrimitiveType: "String", Required: false },
          LogFormat: { PrimitiveType: "String", Required: false },
          LogGroup: { PrimitiveType: "String", Required: false },
          SystemLogLevel: { PrimitiveType: "String", Required: false },
        },
      },
    },
    docs: "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-loggingconfig.html",
  },
  {
    // The lambda:InvokeFunction permission a function URL needs since October 2025, held to invocations through
    // the URL (the lambda:InvokedViaFunctionUrl condition): https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
    resourceType: "AWS::Lambda::Permission",
    property: { name: "InvokedViaFunctionUrl", spec: { PrimitiveType: "Boolean", Required: false } },
    docs: "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-permission.html#cfn-lambda-permission-invokedviafunctionurl",
  },
];

/** The attributes CloudFormation allows on a resource beside Type and Properties (template anatomy, "Resource attributes"). */
const RESOURCE_KEYS = new Set(["Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy"]);
const DELETION_POLICIES = new Set(["Delete", "Retain", "RetainExceptOnCreate", "Snapshot"]);
const UPDATE_REPLACE_POLICIES = new Set(["Delete", "Retain", "Snapshot"]);

/** https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html */
export const PSEUDO_PARAMETERS: ReadonlySet<string> = new Set([
  "AWS::AccountId",
  "AWS::NotificationARNs",
  "AWS::NoValue",
  "AWS::Partition",
  "AWS::Region",
  "AWS::StackId",
  "AWS::StackName",
  "AWS::URLSuffix",
]);

/** Intrinsic functions that may stand where a property value goes. */
const INTRINSICS = new Set([
  "Ref",
  "Fn::GetAtt",
  "Fn::Sub",
  "Fn::Join",
  "Fn::If",
  "Fn::ImportValue",
  "Fn::Select",
  "Fn::Split",
  "Fn::GetAZs",
  "Fn::FindInMap",
  "Fn::Base64",
  "Fn::Cidr",
  "Fn::Length",
  "Fn::ToJsonString",
]);

export interface SpecIssue {
  /** Logical id of the resource (or `Outputs.X`, `Conditions.X`). */
  readonly resource: string;
  /** Where in it: `Properties.Environment.Variables.BERTH_TABLE`. */
  readonly path: string;
  readonly message: string;
}

let cached: ResourceSpecification | undefined;

/** The specification as the registry package ships it, parsed once per process. */
export function loadSpecification(): ResourceSpecification {
  if (cached === undefined) {
    const file = createRequire(import.meta.url).resolve("@aws-cdk/cfnspec/spec/specification.json");
    cached = JSON.parse(readFileSync(file, "utf8")) as ResourceSpecification;
  }
  return cached;
}

/** The specification with `additions` merged in; throws when the specification already has one of them. */
export function withAdditions(spec: ResourceSpecification, additions: readonly AddedSinceSpec[]): ResourceSpecification {
  const resourceTypes: Record<string, ResourceTypeSpec> = { ...spec.ResourceTypes };
  const propertyTypes: Record<string, PropertyTypeSpec> = { ...spec.PropertyTypes };
  for (const a of additions) {
    const resource = resourceTypes[a.resourceType];
    if (resource === undefined) throw new Error(`allow-list: ${a.resourceType} is not in the specification at all (${a.docs})`);
    if (a.property !== undefined) {
      const { name, spec: propertySpec } = a.property;
      if (a.propertyType === undefined) {
        if (resource.Properties?.[name] !== undefined) throw new Error(`allow-list: ${a.resourceType}.${name} is in the specification now; drop it from the allow-list`);
        resourceTypes[a.resourceType] = { ...resource, Properties: { ...resource.Properties, [name]: propertySpec } };
      } else {
        const key = `${a.resourceType}.${a.propertyType}`;
        const owner = propertyTypes[key];
        if (owner === undefined) throw new Error(`allow-list: property type ${key} is not in the specification (${a.docs})`);
        if (owner.Properties?.[name] !== undefined) throw new Error(`allow-list: ${key}.${name} is in the specification now; drop it from the allow-list`);
        propertyTypes[key] = { ...owner, Properties: { ...owner.Properties, [name]: propertySpec } };
      }
    }
    for (const [typeName, typeSpec] of Object.entries(a.propertyTypes ?? {})) {
      const key = `${a.resourceType}.${typeName}`;
      if (propertyTypes[key] !== undefined) throw new Error(`allow-list: property type ${key} is in the specification now; drop it from the allow-list`);
      propertyTypes[key] = typeSpec;
    }
    if (a.attribute !== undefined) {
      const current = resourceTypes[a.resourceType] as ResourceTypeSpec;
      if (current.Attributes?.[a.attribute] !== undefined) throw new Error(`allow-list: ${a.resourceType} attribute ${a.attribute} is in the specification now; drop it from the allow-list`);
      resourceTypes[a.resourceType] = { ...current, Attributes: { ...current.Attributes, [a.attribute]: { PrimitiveType: "String" } } };
    }
  }
  return { ...spec, ResourceTypes: resourceTypes, PropertyTypes: propertyTypes };
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The intrinsic function name when `v` is a call (`{ "Fn::X": … }` with no other key). */
function intrinsicName(v: Json): string | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && INTRINSICS.has(keys[0] as string) ? keys[0] : undefined;
}

function isCustomResource(type: string): boolean {
  return type.startsWith("Custom::") || type === "AWS::CloudFormation::CustomResource";
}

interface Template {
  readonly Parameters?: Record<string, Json>;
  readonly Conditions?: Record<string, Json>;
  readonly Resources?: Record<string, { Type?: unknown; Properties?: unknown } & Record<string, Json>>;
  readonly Outputs?: Record<string, Json>;
}

/** Every issue of `template` against the specification (plus PROPERTIES_ADDED_SINCE_SPEC unless `additions` says otherwise). */
export function checkTemplate(
  template: unknown,
  options: { readonly spec?: ResourceSpecification; readonly additions?: readonly AddedSinceSpec[] } = {},
): SpecIssue[] {
  const spec = withAdditions(options.spec ?? loadSpecification(), options.additions ?? PROPERTIES_ADDED_SINCE_SPEC);
  const issues: SpecIssue[] = [];
  if (!isObject(template) || !isObject(template.Resources)) {
    return [{ resource: "(template)", path: "Resources", message: "a template needs a Resources object" }];
  }
  const t = template as Template;
  const resources = t.Resources ?? {};
  const parameters = isObject(t.Parameters) ? t.Parameters : {};
  const conditions = isObject(t.Conditions) ? t.Conditions : {};

  const checkReferences = (owner: string, path: string, value: Json, locals: ReadonlySet<string> = new Set()): void => {
    const at = (message: string, where = path): void => void issues.push({ resource: owner, path: where, message });
    const refTarget = (name: string, where: string) => {
      if (locals.has(name) || PSEUDO_PARAMETERS.has(name) || name in parameters || name in resources) return;
      at(`Ref to "${name}", which is no resource, parameter or pseudo parameter of the template`, where);
    };
    const attribute = (logicalId: string, attr: Json, where: string) => {
      const target = resources[logicalId];
      if (target === undefined) return at(`Fn::GetAtt of "${logicalId}", which is no resource of the template`, where);
      if (typeof attr !== "string") return; // an intrinsic picks the attribute at deploy time
      const type = String(target.Type);
      if (isCustomResource(type)) return;
      if (type === "AWS::CloudFormation::Stack" && attr.startsWith("Outputs.")) return;
      const typeSpec = spec.ResourceTypes[type];
      if (typeSpec === undefined) return; // the resource's own Type is reported
      const known = typeSpec.Attributes ?? {};
      if (!(attr in known)) {
        at(`Fn::GetAtt ${logicalId}.${attr}: ${type} has no attribute "${attr}" (it has: ${Object.keys(known).join(", ") || "none"})`, where);
      }
    };
    if (Array.isArray(value)) {
      value.forEach((v, i) => checkReferences(owner, `${path}[${i}]`, v, locals));
      return;
    }
    if (!isObject(value)) return;
    const name = intrinsicName(value);
    if (name === "Ref") {
      const target = value.Ref;
      if (typeof target === "string") refTarget(target, `${path}.Ref`);
      else at("Ref takes the logical name of a resource or parameter", `${path}.Ref`);
      return;
    }
    if (name === "Fn::GetAtt") {
      const args = value["Fn::GetAtt"];
      if (typeof args === "string" && args.includes(".")) {
        const dot = args.indexOf(".");
        attribute(args.slice(0, dot), args.slice(dot + 1), `${path}.Fn::GetAtt`);
      } else if (Array.isArray(args) && args.length === 2 && typeof args[0] === "string") {
        attribute(args[0], args[1], `${path}.Fn::GetAtt`);
        checkReferences(owner, `${path}.Fn::GetAtt[1]`, args[1], locals);
      } else {
        at('Fn::GetAtt takes ["LogicalId", "Attribute"] or "LogicalId.Attribute"', `${path}.Fn::GetAtt`);
      }
      return;
    }
    if (name === "Fn::Sub") {
      const args = value["Fn::Sub"];
      const [text, vars] = typeof args === "string" ? [args, {}] : Array.isArray(args) ? [args[0], args[1] ?? {}] : [undefined, {}];
      if (typeof text !== "string" || !isObject(vars)) return at("Fn::Sub takes a string, or [string, { variables }]", `${path}.Fn::Sub`);
      const local = new Set([...locals, ...Object.keys(vars)]);
      for (const [k, v] of Object.entries(vars)) checkReferences(owner, `${path}.Fn::Sub[1].${k}`, v, locals);
      // ${!Literal} is an escaped literal; ${Name} a Ref; ${Name.Attr} a GetAtt.
      for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
        const ref = (m[1] as string).trim();
        const dot = ref.indexOf(".");
        if (dot < 0 || local.has(ref)) refTarget(ref, `${path}.Fn::Sub`);
        else attribute(ref.slice(0, dot), ref.slice(dot + 1), `${path}.Fn::Sub`);
      }
      return;
    }
    if (name === "Fn::If") {
      const args = value["Fn::If"];
      if (Array.isArray(args) && typeof args[0] === "string" && !(args[0] in conditions)) {
        at(`Fn::If names condition "${args[0]}", which the template does not define`, `${path}.Fn::If`);
      }
    }
    for (const [k, v] of Object.entries(value)) checkReferences(owner, `${path}.${k}`, v, locals);
  };

  const propertyType = (resourceType: string, name: string): PropertyTypeSpec | undefined =>
    spec.PropertyTypes[`${resourceType}.${name}`] ?? spec.PropertyTypes[name];

  /** Checks `value` against a property's type; `where` names it for the messages. */
  const checkValue = (owner: string, resourceType: string, path: string, value: Json, p: PropertySpec): void => {
    const at = (message: string): void => void issues.push({ resource: owner, path, message });
    const fn = intrinsicName(value);
    if (fn === "Fn::If") {
      const args = value && (value as Record<string, Json>)["Fn::If"];
      if (!Array.isArray(args) || args.length !== 3) return at("Fn::If takes [condition, value if true, value if false]");
      for (const [i, branch] of [args[1], args[2]].entries()) {
        if (isObject(branch) && branch.Ref === "AWS::NoValue") continue;
        checkValue(owner, resourceType, `${path}.Fn::If[${i + 1}]`, branch, p);
      }
      return;
    }
    if (fn !== undefined) return;
    if (p.PrimitiveTypes !== undefined || p.Types !== undefined) {
      const before = issues.length;
      const attempts = [...(p.PrimitiveTypes ?? []).map((t) => ({ PrimitiveType: t })), ...(p.Types ?? []).map((t) => ({ Type: t }))];
      for (const attempt of attempts) {
        checkValue(owner, resourceType, path, value, attempt);
        if (issues.length === before) return;
        issues.length = before;
      }
      return at(`is none of ${[...(p.PrimitiveTypes ?? []), ...(p.Types ?? [])].join(", ")}`);
    }
    if (p.PrimitiveType !== undefined) {
      const problem = primitiveProblem(p.PrimitiveType, value);
      if (problem !== undefined) at(problem);
      return;
    }
    if (p.Type === "List") {
      if (!Array.isArray(value)) return at(`must be a list (of ${p.PrimitiveItemType ?? p.ItemType}), got ${describe(value)}`);
      value.forEach((item, i) => checkValue(owner, resourceType, `${path}[${i}]`, item, itemSpec(p)));
      return;
    }
    if (p.Type === "Map") {
      if (!isObject(value)) return at(`must be a map (of ${p.PrimitiveItemType ?? p.ItemType}), got ${describe(value)}`);
      for (const [k, item] of Object.entries(value)) checkValue(owner, resourceType, `${path}.${k}`, item, itemSpec(p));
      return;
    }
    if (p.Type !== undefined) {
      const named = propertyType(resourceType, p.Type);
      if (named === undefined) return at(`specification names property type ${p.Type}, which it does not define`);
      if (named.Properties === undefined) return checkValue(owner, resourceType, path, value, named); // an alias of a list or primitive
      if (!isObject(value)) return at(`must be a ${resourceType}.${p.Type} object, got ${describe(value)}`);
      checkProperties(owner, resourceType, path, value, named.Properties, `${resourceType}.${p.Type}`);
      return;
    }
    at("specification gives this property no type");
  };

  const checkProperties = (owner: string, resourceType: string, path: string, value: Record<string, Json>, known: Readonly<Record<string, PropertySpec>>, what: string): void => {
    for (const [name, p] of Object.entries(known)) {
      if (p.Required === true && !(name in value)) issues.push({ resource: owner, path: `${path}.${name}`, message: `${what} requires ${name}` });
    }
    for (const [name, v] of Object.entries(value)) {
      const p = known[name];
      if (p === undefined) {
        issues.push({ resource: owner, path: `${path}.${name}`, message: `${what} has no property ${name} (known: ${Object.keys(known).join(", ")})` });
        continue;
      }
      checkValue(owner, resourceType, `${path}.${name}`, v, p);
    }
  };

  for (const [id, resource] of Object.entries(resources)) {
    const at = (path: string, message: string): void => void issues.push({ resource: id, path, message });
    if (!isObject(resource)) {
      at("", "a resource must be an object");
      continue;
    }
    for (const key of Object.keys(resource)) if (!RESOURCE_KEYS.has(key)) at(key, `"${key}" is no resource attribute CloudFormation knows`);
    const type = resource.Type;
    if (typeof type !== "string") {
      at("Type", "missing Type");
      continue;
    }
    if (resource.DependsOn !== undefined) {
      const deps = Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn];
      for (const d of deps) if (typeof d !== "string" || !(d in resources)) at("DependsOn", `DependsOn "${String(d)}", which is no resource of the template`);
    }
    if (resource.Condition !== undefined && !(typeof resource.Condition === "string" && resource.Condition in conditions)) {
      at("Condition", `Condition "${String(resource.Condition)}" is not defined in Conditions`);
    }
    if (resource.DeletionPolicy !== undefined && !DELETION_POLICIES.has(String(resource.DeletionPolicy))) at("DeletionPolicy", `DeletionPolicy "${String(resource.DeletionPolicy)}" is none of ${[...DELETION_POLICIES].join(", ")}`);
    if (resource.UpdateReplacePolicy !== undefined && !UPDATE_REPLACE_POLICIES.has(String(resource.UpdateReplacePolicy))) at("UpdateReplacePolicy", `UpdateReplacePolicy "${String(resource.UpdateReplacePolicy)}" is none of ${[...UPDATE_REPLACE_POLICIES].join(", ")}`);
    if (resource.Metadata !== undefined && !isObject(resource.Metadata)) at("Metadata", "Metadata must be an object");
    checkReferences(id, "Properties", resource.Properties);
    if (isCustomResource(type)) {
      if (!isObject(resource.Properties) || !("ServiceToken" in resource.Properties)) at("Properties.ServiceToken", `${type} requires ServiceToken`);
      continue;
    }
    const typeSpec = spec.ResourceTypes[type];
    if (typeSpec === undefined) {
      at("Type", `resource type ${type} is not in the CloudFormation resource specification ${spec.ResourceSpecificationVersion}`);
      continue;
    }
    const properties = resource.Properties ?? {};
    if (!isObject(properties)) {
      at("Properties", "Properties must be an object");
      continue;
    }
    checkProperties(id, type, "Properties", properties, typeSpec.Properties ?? {}, type);
  }
  for (const [name, output] of Object.entries(isObject(t.Outputs) ? t.Outputs : {})) checkReferences(`Outputs.${name}`, "", output);
  for (const [name, condition] of Object.entries(conditions)) checkReferences(`Conditions.${name}`, "", condition);
  return issues;
}

function itemSpec(p: PropertySpec): PropertySpec {
  return p.PrimitiveItemType !== undefined ? { PrimitiveType: p.PrimitiveItemType } : { Type: p.ItemType as string };
}

function describe(v: Json): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (isObject(v)) return `an object with ${Object.keys(v).join(", ") || "no keys"}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Why `value` is not a `type` as CloudFormation reads templates, or undefined when it is. */
function primitiveProblem(type: string, value: Json): string | undefined {
  const want = `must be ${type}, got ${describe(value)}`;
  switch (type) {
    case "String":
      return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? undefined : want;
    case "Integer":
    case "Long":
      return (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^-?\d+$/.test(value)) ? undefined : want;
    case "Double":
      return (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) ? undefined : want;
    case "Boolean":
      return typeof value === "boolean" || value === "true" || value === "false" ? undefined : want;
    case "Timestamp":
      return typeof value === "string" && !Number.isNaN(Date.parse(value)) ? undefined : want;
    case "Json":
      return isObject(value) || Array.isArray(value) || typeof value === "string" ? undefined : want;
    default:
      return `specification names primitive type ${type}, which this checker does not know`;
  }
}
