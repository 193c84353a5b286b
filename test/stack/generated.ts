/**
 * A stack from the generator itself (no osls), as a template the checks read: the generated resources and
 * outputs with what Serverless adds from the `functions` block and that the generated ones refer to: each
 * function, and the webhook's function URL (osls's `url:`, lib/plugins/aws/package/compile/functions.js).
 */
import { compileCatalog } from "../../src/core/catalog/compiled.ts";
import { loadCatalog } from "../../src/core/catalog/load.ts";
import type { Catalog } from "../../src/core/catalog/types.ts";
import { LOGICAL } from "../../src/aws/stack/logical-ids.ts";
import type { FunctionName } from "../../src/aws/stack/names.ts";
import { compileStack, type Stack } from "../../src/aws/stack/stack.ts";
import type { Template } from "./package.ts";

export function loaded(yaml: string): Catalog {
  const result = loadCatalog(yaml, "berth.yml");
  if (!result.ok) throw result.error;
  return result.catalog;
}

export function stackOf(catalog: Catalog, stage = "test"): Stack {
  return compileStack(compileCatalog(catalog), { stage });
}

export function asTemplate(s: Stack): Template {
  const functions = Object.keys(s.functions) as FunctionName[];
  return {
    Resources: {
      ...(s.resources.Resources as Template["Resources"]),
      ...Object.fromEntries(functions.map((fn) => [LOGICAL.lambda(fn), { Type: "AWS::Lambda::Function", Properties: { FunctionName: s.names.functionName(fn) } }])),
      ...(functions.includes("webhook")
        ? { [LOGICAL.functionUrl("webhook")]: { Type: "AWS::Lambda::Url", Properties: { AuthType: "NONE", TargetFunctionArn: { "Fn::GetAtt": [LOGICAL.lambda("webhook"), "Arn"] } } } }
        : {}),
    },
    Outputs: s.resources.Outputs as Template["Outputs"],
  };
}
