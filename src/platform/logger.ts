import winston from 'winston';
import { currentContext } from './request-context.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  /** Tests pass `true` to keep their output readable; logs still flow through the format. */
  silent?: boolean;
  /** Where lines go instead of stdout (tests read them back). */
  stream?: NodeJS.WritableStream;
}

/** Adds the id of the job the line is logged from (see request-context.ts). */
const withContext = winston.format((info) => {
  const context = currentContext();
  if (context) info.requestId ??= context.requestId;
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  // Winston runs the whole format chain before its transport drops a line by level; dropping
  // first keeps `logger.info(...)` on hot paths (one per order) nearly free at LOG_LEVEL=warn.
  const enabledOnly = winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false));
  const base = [enabledOnly(), winston.format.errors({ stack: true }), withContext(), winston.format.timestamp()];
  const format =
    options.format === 'pretty'
      ? winston.format.combine(...base, winston.format.colorize(), winston.format.simple())
      : winston.format.combine(...base, winston.format.json());
  const logger = winston.createLogger({
    level: options.level,
    format,
    silent: options.silent ?? false,
    transports: [options.stream ? new winston.transports.Stream({ stream: options.stream }) : new winston.transports.Console()],
  });
  return logger;
}

/** Log fields for a caught error: message and stack for the operator, never sent to clients. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message, stack: error.stack };
  return { errorMessage: String(error) };
}
