export * from "./types.ts";
export * from "./run-task.ts";
export * from "./deploy-plan.ts";
export * from "./limits.ts";
