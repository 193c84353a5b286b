export * from "./model.ts";
export * from "./decide.ts";
export * from "./manifest.ts";
export * from "./flow.ts";
export type * from "./port.ts";
