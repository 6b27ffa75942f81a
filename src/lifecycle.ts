import { ConfigError } from './config/index.js';
import { DataDirLockedError, EmbeddedDatabaseError } from './platform/db/index.js';
import { errorFields, type Logger } from './platform/logger.js';

/**
 * Ends a process whose start-up failed: a problem the user can fix (configuration, a data
 * directory in use or unusable) is one clear line; anything else gets its stack.
 */
export function exitOnStartupFailure(what: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof EmbeddedDatabaseError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`${what} failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  };
}

export interface GracefulShutdown {
  logger: Logger;
  /** What the process says when a signal arrives, and when the grace period runs out. */
  messages: { stopping: string; forced: string; stopped?: string };
  graceMs: number;
  /** Stops taking work, lets what is in flight finish and releases resources. */
  stop(): Promise<void>;
}

/** On the first SIGTERM or SIGINT: `stop()`, then exit 0, or exit 1 if it fails or outlasts the grace period. */
export function exitGracefullyOnSignal(shutdown: GracefulShutdown): void {
  const { logger, messages } = shutdown;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info(messages.stopping, { signal });
    setTimeout(() => {
      logger.error(messages.forced);
      process.exit(1);
    }, shutdown.graceMs).unref();
    shutdown.stop().then(
      () => {
        if (messages.stopped) logger.info(messages.stopped);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('error during shutdown', errorFields(error));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
