/**
 * Track and the sweep read a stopped task's essential containers from its task definition (DescribeTaskDefinition,
 * src/core/engine/essentials.ts). "ecs:DescribeTaskDefinition" has no resource type in the Service Authorization
 * Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html),
 * so its only resource is "*": granted to exactly those two functions, with the note saying why.
 */
import { describe, expect, it } from "vitest";
import { unexplainedWildcards } from "./checks.ts";
import { asTemplate, loaded, stackOf } from "./generated.ts";
import { actionsOf, resourcesOfStatement, roleStatements } from "./package.ts";

const RUN_ONLY = `
version: 1
service: acme
defaults:
  cluster: jobs
  network: { subnets: [subnet-1] }
jobs:
  etl:
    on: { manual: true }
    run: { taskDefinition: etl }
`;

const WITH_SERVICE = `${RUN_ONLY}
  web:
    on: { manual: { params: { tag: latest } } }
    deploy: { cluster: jobs, service: web, container: app, image: "acme/web:\${params.tag}" }
`;

function describing(yaml: string): Record<string, { sids: string[]; resources: unknown[] }> {
  const template = asTemplate(stackOf(loaded(yaml)));
  const out: Record<string, { sids: string[]; resources: unknown[] }> = {};
  for (const { role, statement } of roleStatements(template)) {
    if (!actionsOf(statement).includes("ecs:DescribeTaskDefinition")) continue;
    out[role] ??= { sids: [], resources: [] };
    out[role].sids.push(statement.Sid ?? "");
    out[role].resources.push(...resourcesOfStatement(statement));
  }
  expect(unexplainedWildcards(template)).toEqual([]);
  return out;
}

describe("ecs:DescribeTaskDefinition for essential containers", () => {
  it("a catalog of run jobs grants it to track and the sweep only, on the one resource IAM accepts for it", () => {
    expect(describing(RUN_ONLY)).toEqual({
      TrackRole: { sids: ["DescribeTaskDefinitionsForEssentialContainers"], resources: ["*"] },
      SweepRole: { sids: ["DescribeTaskDefinitionsForEssentialContainers"], resources: ["*"] },
    });
  });

  it("a catalog that also deploys services grants it once per role, in the deployer's statement", () => {
    const roles = describing(WITH_SERVICE);
    expect(Object.keys(roles).sort()).toEqual(["DispatchRole", "SweepRole", "TrackRole"]);
    for (const r of Object.values(roles)) expect(r).toEqual({ sids: ["TaskDefinitionsAwsAllowsNoResourceScoping"], resources: ["*"] });
  });
});
