import { createServer } from 'node:net';
import { ConfigError } from './config/index.js';
import { DataDirLockedError, EmbeddedDatabaseError } from './platform/db/index.js';
import { errorFields, type Logger } from './platform/logger.js';
import { StartupError } from './shared/startup-error.js';

/**
 * Ends a process whose start-up failed: a problem the user can fix (configuration, a data
 * directory in use or unusable) is one clear line; anything else gets its stack.
 */
export function exitOnStartupFailure(what: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof ConfigError || error instanceof StartupError || error instanceof DataDirLockedError || error instanceof EmbeddedDatabaseError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`${what} failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  };
}

/** One line for a port a process cannot listen on, naming the variable that fixes it. */
export function describeListenFailure(error: NodeJS.ErrnoException, host: string, port: number, variable = 'PORT'): string {
  const where = `${host}:${port}`;
  if (error.code === 'EADDRINUSE') return `Port ${port} is already in use on ${host} (another instance, or another program): stop it or set ${variable} to a free port`;
  if (error.code === 'EACCES') return `Not allowed to listen on ${where} (ports below 1024 need privileges): set ${variable} to 1024 or above`;
  if (error.code === 'EADDRNOTAVAIL') return `Cannot listen on ${where}: ${host} is not an address of this machine; fix HOST (0.0.0.0 for every interface)`;
  return `Cannot listen on ${where} (${error.code ?? error.message}); check ${variable} and HOST`;
}

/**
 * Binds the port and lets it go again, so a busy port stops start-up at once, before the
 * database is created, migrated and seeded (which can take seconds and print a password).
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(new StartupError(describeListenFailure(error, host, port))));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
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
