import { randomUUID } from 'node:crypto';
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
  // Not awaited: a Redis that is down at start-up must not delay the API (orders wait in the outbox).
  void runtime.checkRedisEvictionPolicy();
  // An embedded database cannot be opened by a worker process, so with Redis configured the
  // API consumes its own queue; with PostgreSQL, `npm run worker` processes (run any number).
  const consumer = runtime.db.kind === 'pglite' && config.redis.url ? runtime.startConsumer() : undefined;
  const app = createApp(runtime.deps);

  const server: Server = app.listen(config.http.port, config.http.host, () => {
    logger.info(`order service listening on http://localhost:${config.http.port}`, {
      database: runtime.db.kind,
      queueAndCache: runtime.redis ? 'redis' : 'in-process',
    });
  });
  // Requests Node's parser rejects (bad header bytes, oversized headers) never reach Express;
  // answer them in the same shape, with a request id, instead of a bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({
      type: '/problems/bad-request',
      title: status === 431 ? 'Request Header Fields Too Large' : 'Bad Request',
      status,
      detail: 'The request could not be parsed as HTTP',
      code: 'BAD_REQUEST',
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`,
    );
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
      Promise.resolve(consumer?.close())
        .then(() => background.stop())
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
