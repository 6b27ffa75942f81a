import type { Server } from 'node:http';
import { createApp } from './app.js';
import { loadConfig } from './config/index.js';
import { exitGracefullyOnSignal, exitOnStartupFailure } from './lifecycle.js';
import { createLogger, errorFields } from './platform/logger.js';
import { openRuntime } from './runtime.js';
import { createHttpServer } from './http-server.js';
import { protectDataDir } from './platform/data-dir.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log);
  // Secrets, mail and the embedded database live in DATA_DIR: readable by this user only.
  protectDataDir(config.dataDir, { create: config.db.url === undefined });
  const runtime = await openRuntime(config, logger);
  const background = runtime.startBackground();
  // Not awaited: a Redis that is down at start-up must not delay the API (orders wait in the outbox).
  void runtime.checkRedisEvictionPolicy();
  // An embedded database cannot be opened by a worker process, so with Redis configured the
  // API consumes its own queue; with PostgreSQL, `npm run worker` processes (run any number).
  const consumer = runtime.db.kind === 'pglite' && config.redis.url ? runtime.startConsumer() : undefined;
  const app = createApp(runtime.deps);

  const server: Server = createHttpServer(app, config.http).listen(config.http.port, config.http.host, () => {
    logger.info(`order service listening on http://localhost:${config.http.port}`, {
      database: runtime.db.kind,
      queueAndCache: runtime.redis ? 'redis' : 'in-process',
    });
  });
  server.on('error', (error) => {
    logger.error('HTTP server failed', errorFields(error));
    process.exit(1);
  });

  exitGracefullyOnSignal({
    logger,
    messages: { stopping: 'shutting down', forced: 'shutdown grace period over; exiting' },
    graceMs: SHUTDOWN_GRACE_MS,
    async stop() {
      // Stop accepting connections, let in-flight requests finish, then release resources.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await consumer?.close();
      await background.stop();
      await runtime.close();
    },
  });
}

main().catch(exitOnStartupFailure('The API'));
