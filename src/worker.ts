import { createServer } from 'node:http';
import { ConfigError, loadConfig } from './config/index.js';
import { DataDirLockedError } from './platform/db/index.js';
import { createLogger, errorFields } from './platform/logger.js';
import { openRuntime } from './runtime.js';

const SHUTDOWN_GRACE_MS = 30_000;

/** `npm run worker`: processes orders and sends emails from the Redis queue. Run as many as you like. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log);
  if (!config.redis.url || !config.db.url) {
    throw new ConfigError(
      `The worker needs ${config.redis.url ? 'DATABASE_URL' : 'REDIS_URL (or REDIS_HOST)'}: it shares PostgreSQL and Redis with the API. In the embedded default the API processes orders itself.`,
    );
  }
  const runtime = await openRuntime(config, logger, 'worker');
  await runtime.checkRedisEvictionPolicy();
  const consumer = runtime.startConsumer();
  const background = runtime.startBackground();
  // Workers have no API; Prometheus scrapes them here (WORKER_METRICS_PORT=0 turns it off).
  const metricsServer = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(req.url === '/health/live' ? 200 : 404).end();
      return;
    }
    runtime.metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': runtime.metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  if (config.worker.metricsPort > 0) {
    metricsServer.on('error', (error) => logger.warn('worker metrics port unavailable', errorFields(error)));
    metricsServer.listen(config.worker.metricsPort);
  }
  logger.info('worker started', { concurrency: config.worker.concurrency, pid: process.pid, metricsPort: config.worker.metricsPort || null });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('worker shutting down: finishing active jobs', { signal });
    setTimeout(() => {
      logger.error('shutdown grace period over; exiting with jobs still active (they will be retried)');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    // Stop taking jobs and wait for the active ones, then release everything else.
    metricsServer.close();
    consumer
      .close()
      .then(() => background.stop())
      .then(() => runtime.close())
      .then(
        () => {
          logger.info('worker stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error('error during shutdown', errorFields(error));
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`Worker failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
