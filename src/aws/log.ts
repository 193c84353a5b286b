/** One JSON object per line: CloudWatch Logs Insights can filter on every field. */
export type LogLevel = "debug" | "info" | "warn" | "error";

export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** A log whose every line carries `context` (request id, function name, the event's id). */
export function logger(context: Record<string, unknown> = {}): Log {
  return (level, message, fields = {}) => {
    const line = JSON.stringify({ level, message, ...context, ...fields, time: new Date().toISOString() });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
}
