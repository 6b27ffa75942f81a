import winston from 'winston';
import { currentJobContext } from './job-context.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  /** Pretty lines only: colour the level (for a terminal; config decides, see config/log-colour.ts). */
  colour?: boolean;
  /** Tests pass `true` to keep their output readable; logs still flow through the format. */
  silent?: boolean;
  /** Where lines go instead of stdout (tests read them back). */
  stream?: NodeJS.WritableStream;
}

/** Adds the id of the job the line is logged from (see job-context.ts). */
const withContext = winston.format((info) => {
  const context = currentJobContext();
  if (context) info.jobId ??= context.jobId;
  return info;
});

const TRIPLE_BEAM_KEYS = new Set(['level', 'message', 'timestamp', 'stack']);

/** `value` as it reads best after `key=`: bare when it is one plain word, JSON otherwise. */
function pretty(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? String(value);
}

/**
 * For a person at a terminal: `HH:MM:SS level message key=value …`, the time first so lines
 * scan down the left edge, and a stack (when there is one) on the lines below.
 */
export const prettyLine = winston.format.printf((info) => {
  // Local time, as the terminal's clock shows it; JSON lines keep the full UTC timestamp.
  const time = typeof info.timestamp === 'string' ? new Date(info.timestamp).toTimeString().slice(0, 8) : '';
  const fields = Object.entries(info)
    .filter(([key, value]) => !TRIPLE_BEAM_KEYS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${pretty(value)}`);
  const line = [time, info.level, String(info.message), ...fields].filter(Boolean).join(' ');
  return typeof info.stack === 'string' ? `${line}\n${info.stack}` : line;
});

export function createLogger(options: LoggerOptions): Logger {
  // Winston runs the whole format chain before its transport drops a line by level; dropping
  // first keeps `logger.info(...)` on hot paths (one per order) nearly free at LOG_LEVEL=warn.
  const enabledOnly = winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false));
  const base = [enabledOnly(), winston.format.errors({ stack: true }), withContext(), winston.format.timestamp()];
  const format =
    options.format === 'pretty'
      ? winston.format.combine(...base, ...(options.colour ? [winston.format.colorize({ level: true })] : []), prettyLine)
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
