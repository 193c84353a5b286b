/** An EventBridge event pattern, as AWS accepts it in a rule. */
export type EventPattern = { readonly [key: string]: unknown };
