import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, type Server } from 'node:http';
import { createApp } from './app.js';
import { loadConfig } from './config/index.js';
import { assertPortFree, describeListenFailure, exitGracefullyOnSignal, exitOnStartupFailure } from './lifecycle.js';
import { createLogger, errorFields } from './platform/logger.js';
import { openRuntime } from './runtime.js';
import type { Principal } from './shared/principal.js';

const SHUTDOWN_GRACE_MS = 10_000;

/**
 * Requests are born with the fields our middleware fills in (see middleware/express.d.ts).
 * Adding them to each request later changes its shape every time, which profiled at ~3 % of a
 * cached read; storing into a field that exists is a plain write. Express swaps the prototype
 * of each request, but own fields stay.
 */
class ApiRequest extends IncomingMessage implements Pick<Express.Request, 'requestId' | 'receivedAt' | 'auth'> {
  requestId = '';
  receivedAt = 0n;
  auth: Principal | undefined = undefined;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log);
  await assertPortFree(config.http.host, config.http.port);
  const runtime = await openRuntime(config, logger);
  const background = runtime.startBackground();
  // Not awaited: a Redis that is down at start-up must not delay the API (orders wait in the outbox).
  void runtime.checkRedisEvictionPolicy();
  // An embedded database cannot be opened by a worker process, so with Redis configured the
  // API consumes its own queue; with PostgreSQL, `npm run worker` processes (run any number).
  const consumer = runtime.db.kind === 'pglite' && config.redis.url ? runtime.startConsumer() : undefined;
  const app = createApp(runtime.deps);

  const server: Server = createServer({ IncomingMessage: ApiRequest }, app).listen(config.http.port, config.http.host, () => {
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
  server.on('error', (error: NodeJS.ErrnoException) => {
    // Taken between the check above and now, or lost later: the same one line either way.
    if (error.syscall === 'listen') process.stderr.write(`${describeListenFailure(error, config.http.host, config.http.port)}\n`);
    else logger.error('HTTP server failed', errorFields(error));
    process.exit(1);
  });

  exitGracefullyOnSignal({
    logger,
    messages: { stopping: 'shutting down', forced: 'shutdown grace period over; exiting', stopped: 'stopped' },
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
