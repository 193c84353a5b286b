/**
 * Every resource of the template that the real `serverless package` makes of
 * the example catalog, checked against the CloudFormation resource
 * specification (test/support/cfn-spec.ts): known types and properties,
 * required properties, value types, and every Ref and Fn::GetAtt.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { checkTemplate } from "../support/cfn-spec.ts";
import { packageCatalog } from "./package.ts";

const catalogText = readFileSync(new URL("../../berth.yml", import.meta.url), "utf8");
const { template } = await packageCatalog(catalogText, { stage: "dev" });
const resources = Object.entries((template as { Resources: Record<string, { Type: string }> }).Resources);
const issues = checkTemplate(template);

describe("the packaged example template against the CloudFormation resource specification", () => {
  it("has resources to check", () => {
    expect(resources.length).toBeGreaterThan(10);
  });

  it.each(resources.map(([id, r]) => [id, r.Type] as const))("%s (%s) passes", (id) => {
    expect(issues.filter((i) => i.resource === id)).toEqual([]);
  });

  // The check has teeth on this very template: the same resource with one property misspelled fails.
  it.each([...new Map(resources.map(([id, r]) => [r.Type, id])).entries()])("a misspelled property on its %s (%s) would be found", (type, id) => {
    const broken = structuredClone(template) as { Resources: Record<string, { Properties?: Record<string, unknown> }> };
    const resource = broken.Resources[id]!;
    resource.Properties = { ...resource.Properties, BerthNoSuchProperty: "x" };
    expect(checkTemplate(broken)).toEqual([expect.objectContaining({ resource: id, path: "Properties.BerthNoSuchProperty", message: expect.stringContaining(`${type} has no property BerthNoSuchProperty`) })]);
  });

  it("its outputs and conditions reference only what the template defines", () => {
    expect(issues.filter((i) => i.resource.startsWith("Outputs.") || i.resource.startsWith("Conditions."))).toEqual([]);
  });
});
