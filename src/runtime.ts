import type { AppDeps } from './app.js';
import type { Config } from './config/index.js';
import { resolveJwtSecret } from './config/jwt-secret.js';
import { createAccessTokens, createAuthService, ensureAdmin } from './modules/auth/index.js';
import { createCatalogService, seedDemoCatalog } from './modules/catalog/index.js';
import type { ReadinessCheck } from './modules/health/health.routes.js';
import { createOrderCache, createOrdersService } from './modules/orders/index.js';
import { createPaymentSimulator } from './modules/payments/index.js';
import { createMemoryCache, createRedisCache, type Cache } from './platform/cache/index.js';
import { migrate, openDatabase, type Database } from './platform/db/index.js';
import type { Logger } from './platform/logger.js';
import { createMailer, type Mailer } from './platform/mail.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { createBullMqQueue, createInProcessQueue, startBullMqWorker, type JobHandlers, type JobQueue } from './platform/queue/index.js';
import { queueDashboard } from './platform/queue/dashboard.js';
import { createRateLimiter } from './platform/rate-limit.js';
import { createRedis, evictionPolicy, whenReady, type Redis } from './platform/redis.js';
import { buildJobHandlers } from './workers/job-handlers.js';
import { startBackgroundLoops } from './workers/background.js';
import { SUBSCRIBED_TOPICS } from './workers/outbox-routes.js';

export interface Resources {
  db: Database;
  /** Absent in the embedded default: queue and cache then live in-process. */
  redis: Redis | undefined;
}

export interface Built extends Resources {
  deps: AppDeps;
  cache: Cache;
  queue: JobQueue;
  handlers: JobHandlers;
  mailer: Mailer;
  metrics: Metrics;
  /** Starts the outbox relay and the reconciler (every API and worker process runs both). */
  startBackground(): { stop(): Promise<void> };
  /** Starts consuming the BullMQ queue in this process (server mode only). */
  startConsumer(): { close(): Promise<void> };
  /** Warns loudly unless Redis runs with `maxmemory-policy noeviction` (BullMQ loses jobs otherwise). */
  checkRedisEvictionPolicy(): Promise<void>;
}

export interface Runtime extends Built {
  close(): Promise<void>;
}

/**
 * Wires services to already-open resources. This is the one place where adapters are chosen;
 * tests call it with their own database and Redis prefix.
 */
export function buildDeps(
  config: Readonly<Config>,
  logger: Logger,
  resources: Resources,
  role: 'api' | 'worker' = 'api',
): Built {
  const { db, redis } = resources;
  const redisScope = redis ? { client: redis, prefix: config.redis.prefix } : undefined;
  const cache = redis ? createRedisCache(redis, config.redis.prefix, logger) : createMemoryCache();

  const jwt = resolveJwtSecret(config.jwt.secret, config.dataDir);
  if (jwt.generated && config.env !== 'test') {
    logger.warn('JWT_SECRET is not set; using a generated secret stored in the data directory (set JWT_SECRET in production)');
  }
  const accessTokens = createAccessTokens({
    secret: jwt.secret,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlSeconds: config.jwt.accessTtlSeconds,
  });
  const window = config.limits.loginWindowSeconds;
  const auth = createAuthService({
    db,
    accessTokens,
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    loginLimits: {
      perAccountAndAddress: createRateLimiter(
        { name: 'login-account-address', points: config.limits.loginFailuresPerAccountAndAddress, windowSeconds: window },
        redisScope,
      ),
      perAccount: createRateLimiter({ name: 'login-account', points: config.limits.loginFailuresPerAccount, windowSeconds: window }, redisScope),
      perAddress: createRateLimiter({ name: 'login-address', points: config.limits.loginFailuresPerIp, windowSeconds: window }, redisScope),
    },
    ...(config.limits.registrationsPerAddressPerHour > 0
      ? { registrationLimit: createRateLimiter({ name: 'register-address', points: config.limits.registrationsPerAddressPerHour, windowSeconds: 3600 }, redisScope) }
      : {}),
    logger,
  });
  // The relay starts with the background loops; until then a commit has nothing to wake.
  const outboxRelay = { kick: () => undefined as void };
  // The queue is created below; the gauge reads it lazily at scrape time.
  const queueRef: { current?: JobQueue } = {};
  const ordersRef: { current?: { processingLagSeconds(): Promise<number> } } = {};
  const metrics = createMetrics({
    role,
    queue: { counts: () => queueRef.current?.counts() ?? Promise.reject(new Error('no queue yet')) },
    processingLag: () => ordersRef.current?.processingLagSeconds() ?? Promise.resolve(0),
  });
  const catalog = createCatalogService({ db, currency: config.currency, logger });
  const orders = createOrdersService({
    db,
    orderCache: createOrderCache(cache),
    placementLimit: createRateLimiter({ name: 'order-placement', points: config.limits.ordersPerMinute, windowSeconds: 60 }, redisScope),
    currency: config.currency,
    subscribedTopics: SUBSCRIBED_TOPICS,
    onEventsCommitted: () => outboxRelay.kick(),
    logger,
    metrics,
  });

  ordersRef.current = orders;

  const mailer = createMailer({ smtpUrl: config.mail.smtpUrl, gmail: config.mail.gmail, from: config.mail.from, dataDir: config.dataDir, logger });
  const payments = createPaymentSimulator({
    declineAboveCents: config.payment.declineAboveCents,
    transientFailuresPerOrder: config.payment.simulatedTransientFailures,
    latencyMs: config.payment.simulatedLatencyMs,
  });
  const handlers = buildJobHandlers({ db, orders, auth, payments, mailer, mailFrom: config.mail.from, emailLeaseSeconds: config.mail.claimLeaseSeconds, logger, metrics });
  const bullQueue = config.redis.url !== undefined ? createBullMqQueue({ url: config.redis.url, prefix: config.redis.prefix, handlers, logger }) : undefined;
  const queue = bullQueue ?? createInProcessQueue({ handlers, concurrency: config.worker.concurrency, backoff: config.jobs.backoff, logger });
  queueRef.current = queue;

  const readiness: ReadinessCheck[] = [{ name: 'database', check: () => db.ping() }];
  if (redis) readiness.push({ name: 'redis', check: async () => void (await redis.ping()) });

  const startBackground = () => {
    const background = startBackgroundLoops({ db, queue, orders, settings: config.jobs, logger, onRelayed: (events) => metrics.relayBatch(events) });
    outboxRelay.kick = () => background.kick();
    return background;
  };

  function startConsumer() {
    if (!config.redis.url) throw new Error('a queue consumer needs Redis');
    return startBullMqWorker({
      url: config.redis.url,
      prefix: config.redis.prefix,
      handlers,
      concurrency: config.worker.concurrency,
      backoff: config.jobs.backoff,
      lockDurationMs: config.worker.lockDurationMs,
      logger,
    });
  }

  async function checkRedisEvictionPolicy() {
    if (!redis) return;
    const policy = (await whenReady(redis, 5000)) ? await evictionPolicy(redis) : undefined;
    if (policy === 'noeviction') return;
    logger.warn(
      `Redis maxmemory-policy is ${policy ?? 'unknown (CONFIG GET refused or Redis unreachable)'}; it must be noeviction or queued jobs can be lost. The outbox reconciler will re-enqueue lost work, but fix the Redis configuration.`,
    );
  }

  return {
    db,
    redis,
    cache,
    checkRedisEvictionPolicy,
    queue,
    handlers,
    mailer,
    metrics,
    startBackground,
    startConsumer,
    deps: {
      config,
      logger,
      auth,
      catalog,
      orders,
      readiness,
      metrics,
      ...(config.limits.requestsPerAddressPerMinute
        ? { addressLimit: createRateLimiter({ name: 'address', points: config.limits.requestsPerAddressPerMinute, windowSeconds: 60 }, redisScope) }
        : {}),
      ...(bullQueue ? { queueDashboard: queueDashboard(bullQueue.queue, '/admin/queues') } : {}),
    },
  };
}

/** Opens the configured database (migrating it) and Redis, wires everything, prepares the data. */
export async function openRuntime(config: Readonly<Config>, logger: Logger, role: 'api' | 'worker' = 'api'): Promise<Runtime> {
  const db = await openDatabase({ url: config.db.url, poolMax: config.db.poolMax, dataDir: config.dataDir });
  let redis: Redis | undefined;
  try {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info('database migrated', { applied });
    redis = config.redis.url ? createRedis(config.redis.url, 'request') : undefined;
    const built = buildDeps(config, logger, { db, redis }, role);
    await ensureAdmin(db, config.admin, { allowGenerated: db.kind === 'pglite', logger });
    if (config.seedDemoData) {
      const seeded = await seedDemoCatalog(db, config.currency);
      if (seeded > 0) logger.info('demo catalog seeded', { products: seeded });
    }
    return {
      ...built,
      async close() {
        await built.queue.close();
        built.mailer.close();
        redis?.disconnect();
        await db.close();
      },
    };
  } catch (error) {
    redis?.disconnect();
    await db.close();
    throw error;
  }
}
