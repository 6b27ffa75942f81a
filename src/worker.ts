import { ConfigError, loadConfig } from './config/index.js';
import { describeListenFailure, exitGracefullyOnSignal, exitOnStartupFailure } from './lifecycle.js';
import { createLogger } from './platform/logger.js';
import { protectDataDir } from './platform/data-dir.js';

const SHUTDOWN_GRACE_MS = 30_000;

/** `npm run worker`: processes orders and sends emails from the Redis queue. Run as many as you like. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log);
  if (!config.redis.target || !config.db.url) {
    throw new ConfigError(
      `The worker needs ${config.redis.target ? 'DATABASE_URL' : 'REDIS_URL (or REDIS_HOST)'}: it shares PostgreSQL and Redis with the API. In the embedded default the API processes orders itself.`,
    );
  }
  protectDataDir(config.dataDir, { create: false });
  // Loaded once the configuration has passed its checks, so a mistake in it is reported at once.
  const [{ openRuntime }, { createWorkerMetricsServer }] = await Promise.all([import('./runtime.js'), import('./workers/metrics-server.js')]);
  const runtime = await openRuntime(config, logger, 'worker');
  // Not awaited, as in the API: a Redis down at start-up must not hold the worker up (it would wait
  // 5 s with no ops port); it starts, answers 503 on /health/ready naming redis, and checks the
  // policy when Redis first answers.
  void runtime.checkRedisEvictionPolicy();
  const consumer = runtime.startConsumer();
  const background = runtime.startBackground();
  // Workers have no API; Prometheus and the orchestrator reach them here (WORKER_METRICS_PORT=0 turns it off).
  const metricsServer = createWorkerMetricsServer(runtime.metrics, { token: config.metricsToken, production: config.env === 'production' }, runtime.deps.readiness);
  if (config.worker.metricsPort > 0) {
    metricsServer.on('error', (error: NodeJS.ErrnoException) =>
      logger.warn(`worker metrics port unavailable: ${describeListenFailure(error, '0.0.0.0', config.worker.metricsPort, 'WORKER_METRICS_PORT')}`),
    );
    metricsServer.listen(config.worker.metricsPort);
  }
  logger.info('worker started', { concurrency: config.worker.concurrency, pid: process.pid, metricsPort: config.worker.metricsPort || null });

  exitGracefullyOnSignal({
    logger,
    messages: {
      stopping: 'worker shutting down: finishing active jobs',
      forced: 'shutdown grace period over; exiting with jobs still active (they will be retried)',
      stopped: 'worker stopped',
    },
    graceMs: SHUTDOWN_GRACE_MS,
    async stop() {
      // Stop taking jobs and wait for the active ones, then release everything else.
      metricsServer.close();
      await consumer.close();
      await background.stop();
      await runtime.close();
    },
  });
}

main().catch(exitOnStartupFailure('The worker'));
