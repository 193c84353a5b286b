/**
 * The handlers' log lines, written by Powertools for AWS Lambda Logger: one JSON object per line
 * with the keys platform teams search in CloudWatch Logs Insights — `level`, `message`,
 * `timestamp`, `service` (POWERTOOLS_SERVICE_NAME, else "berth"), `cold_start`, `function_name`,
 * `function_request_id`, `function_arn`, `function_memory_size`, `xray_trace_id` — and berth's
 * own: `runId` and `job` on every line about a run, `eventId` or `taskArn` naming the input.
 *
 * The level is POWERTOOLS_LOG_LEVEL, else LOG_LEVEL, else INFO; Lambda's own log level
 * (AWS_LAMBDA_LOG_LEVEL, advanced logging controls) wins over both, as Powertools documents.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { Publisher } from "../core/ports.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Writes one line; `fields` become keys of it (an Error under `error` is written with its stack). */
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** The service name when POWERTOOLS_SERVICE_NAME is not set (local tools, tests). */
export const DEFAULT_SERVICE_NAME = "berth";

export function createLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME?.trim() || DEFAULT_SERVICE_NAME });
}

export function logTo(logger: Logger): Log {
  return (level, message, fields = {}) => logger[level](message, fields);
}

/**
 * The publisher the handlers give the engine: every run state change it publishes is also a log
 * line with the run's id and job, so each change a flow makes — the sweep's too, which reports
 * only counts — can be found by run or by job. Logged once published: a line says it happened.
 */
export function loggingPublisher(publisher: Publisher, log: Log): Publisher {
  return {
    async publish(details) {
      await publisher.publish(details);
      for (const d of details) {
        log("info", `run ${d.status}`, {
          runId: d.runId,
          job: d.job,
          status: d.status,
          attempt: d.attempt,
          ...(d.reason !== undefined ? { reason: d.reason } : {}),
          ...(d.taskArn !== undefined ? { taskArn: d.taskArn } : {}),
          ...(d.exitCode !== undefined ? { exitCode: d.exitCode } : {}),
        });
      }
    },
  };
}
