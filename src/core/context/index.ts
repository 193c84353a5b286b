export { triggerContext, triggerVariables } from "./trigger-context.ts";
export type { ContextResult, TemplateContext, TriggerVariables } from "./trigger-context.ts";
export { resolveEventPath } from "./event-path.ts";
export { decodeS3EventKey, encodeS3EventKey } from "./s3-key.ts";
export type { KeyResult } from "./s3-key.ts";
