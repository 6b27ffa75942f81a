import type { Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config/index.js';
import { DataDirLockedError } from './platform/db/index.js';
import { createLogger, errorFields } from './platform/logger.js';
import { openRuntime } from './runtime.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log);
  const runtime = await openRuntime(config, logger);
  const background = runtime.startBackground();
  const app = createApp(runtime.deps);

  const server: Server = app.listen(config.http.port, config.http.host, () => {
    logger.info(`order service listening on http://localhost:${config.http.port}`, {
      database: runtime.db.kind,
      queueAndCache: runtime.redis ? 'redis' : 'in-process',
    });
  });
  server.on('error', (error) => {
    logger.error('HTTP server failed', errorFields(error));
    process.exit(1);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown grace period over; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    // Stop accepting connections, let in-flight requests finish, then release resources.
    server.close(() => {
      background
        .stop()
        .then(() => runtime.close())
        .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('error while closing resources', errorFields(error));
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  // Start-up failures a user can fix are one clear line, not a stack trace.
  if (error instanceof ConfigError || error instanceof DataDirLockedError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
