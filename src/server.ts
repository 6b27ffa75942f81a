import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig } from './config/index.js';
import { assertPortFree, describeListenFailure, exitGracefullyOnSignal, exitOnStartupFailure } from './lifecycle.js';
import { createLogger, errorFields } from './platform/logger.js';
import { answerWithConnectionClose, closeGracefully, createHttpServer } from './http-server.js';
import { protectDataDir } from './platform/data-dir.js';
import { defaultV8Flag } from './platform/v8-flags.js';

const SHUTDOWN_GRACE_MS = 10_000;

/**
 * How far V8 lets the old generation grow past what survived the last full collection, in
 * percent, in a process that holds everything itself (the embedded default). V8 otherwise picks
 * up to 4× by how little time the program spends collecting, and a busy API spends little:
 * after the same load the embedded API sat ~40 MiB lower at 2×, for no CPU the bench could tell
 * (docs/benchmarks.md, "The embedded default's memory, again"). V8 reads it at every full
 * collection.
 */
const EMBEDDED_HEAP_GROWING_PERCENT = 100;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log);
  await assertPortFree(config.http.host, config.http.port);
  // Secrets, mail and the embedded database live in DATA_DIR: readable by this user only.
  protectDataDir(config.dataDir, { create: config.db.url === undefined });
  // The embedded default holds the database, the queue and the cache: its memory is the footprint.
  if (config.db.url === undefined) defaultV8Flag('heap-growing-percent', EMBEDDED_HEAP_GROWING_PERCENT);
  // Loaded once the configuration has passed its checks: a mistake in it is reported before
  // Express, BullMQ, PGlite and the rest are read from disk (about a second of CPU).
  const [{ openRuntime }, { createApp }] = await Promise.all([import('./runtime.js'), import('./app.js')]);
  const runtime = await openRuntime(config, logger);
  const background = runtime.startBackground();
  // Not awaited: a Redis that is down at start-up must not delay the API (orders wait in the outbox).
  void runtime.checkRedisEvictionPolicy();
  // An embedded database cannot be opened by a worker process, so with Redis configured the
  // API consumes its own queue; with PostgreSQL, `npm run worker` processes (run any number).
  const consumer = runtime.db.kind === 'pglite' && config.redis.target ? runtime.startConsumer() : undefined;
  const app = createApp(runtime.deps);

  const server: Server = createHttpServer(app, config.http).listen(config.http.port, config.http.host, () => {
    // The port actually bound: with PORT=0 the system picks one.
    const { port } = server.address() as AddressInfo;
    logger.info(`order service listening on http://localhost:${port}`, {
      database: runtime.db.kind,
      queueAndCache: runtime.redis ? 'redis' : 'in-process',
    });
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    // Taken between the check above and now, or lost later: the same one line either way.
    if (error.syscall === 'listen') process.stderr.write(`${describeListenFailure(error, config.http.host, config.http.port)}\n`);
    else logger.error('HTTP server failed', errorFields(error));
    process.exit(1);
  });

  const { shutdownDelayMs } = config.http;
  exitGracefullyOnSignal({
    logger,
    messages: { stopping: 'shutting down', forced: 'shutdown grace period over; exiting', stopped: 'stopped' },
    graceMs: shutdownDelayMs + SHUTDOWN_GRACE_MS,
    async stop() {
      // First the balancer's part: health checks fail, answers close their connections, and
      // the API goes on serving for SHUTDOWN_DELAY_MS, until the balancer has taken it out.
      runtime.shutdown.begin();
      answerWithConnectionClose(server);
      if (shutdownDelayMs > 0) await delay(shutdownDelayMs);
      // Then stop accepting connections, let in-flight requests finish, release resources.
      const closed = closeGracefully(server);
      // Event streams never finish by themselves; end them (clients reconnect with Last-Event-ID).
      runtime.eventHub.closeAll();
      await closed;
      await consumer?.close();
      await background.stop();
      await runtime.close();
    },
  });
}

main().catch(exitOnStartupFailure('The API'));
