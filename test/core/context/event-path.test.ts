import { describe, expect, it } from "vitest";
import { resolveEventPath } from "../../../src/core/context/event-path.ts";
import type { BusEvent } from "../../../src/core/events/envelope.ts";
import { loadEvent } from "./samples.ts";

const running = loadEvent("ecs-task-state-change-running.json");
const ecr = loadEvent("ecr-image-push.json");

describe("resolveEventPath", () => {
  it.each([
    ["a top-level envelope field", ecr, "id", "13cde686-328b-6117-af20-0e5566167482"],
    ["a hyphenated envelope field", ecr, "detail-type", "ECR Image Action"],
    ["a hyphenated detail field", ecr, "detail.repository-name", "web"],
    ["a string verbatim", running, "detail.startedBy", "berth/01JDQ8Z3X5M1V6K7R2T9ABCDEF"],
    ["a number via String()", running, "detail.version", "4"],
    ["a boolean via String()", running, "detail.enableExecuteCommand", "false"],
    ["an array element by index", running, "detail.containers.0.name", "worker"],
    ["an array element inside an array", running, "detail.overrides.containerOverrides.0.command.2", "s3://media-uploads/incoming/cat.png"],
    ["an object as JSON", running, "detail.ephemeralStorage", '{"sizeInGiB":20}'],
    ["an array as JSON", ecr, "resources", '["arn:aws:ecr:us-east-1:123456789012:repository/web"]'],
  ])("resolves %s", (_name, event, path, expected) => {
    expect(resolveEventPath(event, path)).toBe(expected);
  });

  it.each([
    ["a missing field", "detail.nope"],
    ["a path through a string", "detail.startedBy.length"],
    ["an index past the end", "detail.containers.1"],
    ["a non-numeric index", "detail.containers.first"],
    ["a padded index", "detail.containers.00"],
    ["an empty path", ""],
    ["an empty segment", "detail..version"],
    ["an inherited property", "detail.constructor"],
    ["__proto__", "detail.__proto__"],
    ["toString on the envelope", "toString"],
  ])("is undefined for %s", (_name, path) => {
    expect(resolveEventPath(running, path)).toBeUndefined();
  });

  it("renders null as JSON null", () => {
    const event = { ...ecr, detail: { tag: null } } as BusEvent;
    expect(resolveEventPath(event, "detail.tag")).toBe("null");
  });
});
