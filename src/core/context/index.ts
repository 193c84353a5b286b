export { triggerContext } from "./trigger-context.ts";
export type { ContextResult, TemplateContext } from "./trigger-context.ts";
export { resolveEventPath } from "./event-path.ts";
