import { randomBytes } from 'node:crypto';
import type { AppDeps } from './app.js';
import type { Config } from './config/index.js';
import { resolveJwtSecret } from './config/jwt-secret.js';
import { adminExists, createAccessTokens, createAuthService, ensureAdmin } from './modules/auth/index.js';
import { assertCatalogCurrency, createCatalogService, seedDemoCatalog } from './modules/catalog/index.js';
import type { ReadinessCheck } from './modules/health/health.routes.js';
import { ShutdownState } from './modules/health/shutdown-state.js';
import { createEmailDeliveriesService, oldestPendingEmailSeconds } from './modules/notifications/index.js';
import { createOrderCache, createOrdersService, type ClaimedEvent } from './modules/orders/index.js';
import { createPipelineService } from './modules/pipeline/index.js';
import { createEventHub, createOrderStreams, createEventsPass, realignEventPositions, type EventHub, type OnEventsAppended } from './modules/events/index.js';
import { createPaymentSimulator } from './modules/payments/index.js';
import { createMemoryCache, createRedisCache, type Cache } from './platform/cache/index.js';
import { migrate, openDatabase, type Database } from './platform/db/index.js';
import type { Logger } from './platform/logger.js';
import { createMailer, type Mailer } from './platform/mail.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { createBullMqQueue, createInProcessQueue, startBullMqWorker, type JobHandlers, type JobQueue, type PoolRole } from './platform/queue/index.js';
import { lazyQueueDashboard } from './platform/queue/lazy-dashboard.js';
import { createRateLimiter } from './platform/rate-limit.js';
import { createHighWaterMark } from './platform/high-water.js';
import { checkRedisWritable, createRedis, warnUnlessNoEviction, watchRedis, type RedisClient } from './platform/redis.js';
import { createInProcessSignal, createRedisSignal } from './platform/signal.js';
import { registerWebhookMetrics } from './platform/webhook-metrics.js';
import { backlogByWebhook, createDeliveries, createWebhooksService, startWebhookDeliverer } from './modules/webhooks/index.js';
import { buildJobHandlers } from './workers/job-handlers.js';
import { startBackgroundLoops } from './workers/background.js';
import { JOB_TOPICS, SUBSCRIBED_TOPICS } from './workers/outbox-routes.js';

export interface Resources {
  db: Database;
  /** Absent in the embedded default: queue and cache then live in-process. */
  redis: RedisClient | undefined;
  /** The access tokens' clock, epoch ms (default `Date.now`); tests move it to expire tokens without waiting. */
  clock?: () => number;
}

export interface Built extends Resources {
  deps: AppDeps;
  cache: Cache;
  queue: JobQueue;
  handlers: JobHandlers;
  mailer: Mailer;
  metrics: Metrics;
  /** This process's reader of the order event stream (shutdown ends its streams). */
  eventHub: EventHub;
  /** Begun on SIGTERM: the health endpoints answer 503 from then on. */
  shutdown: ShutdownState;
  /** Starts the outbox relay and the reconciler (every API and worker process runs both). */
  startBackground(): { stop(): Promise<void> };
  /** Starts consuming the BullMQ queue in this process (server mode only). */
  startConsumer(): { close(): Promise<void> };
  /** Warns loudly unless Redis runs with `maxmemory-policy noeviction` (BullMQ loses jobs otherwise). */
  checkRedisEvictionPolicy(): Promise<void>;
  /** Before serving: moves event positions past those handed out before a restore in place (server mode). */
  realignEventPositions(): Promise<void>;
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

  // A worker issues and checks no tokens (Bull Board lives in the API): it must not generate
  // a secret file or warn about one, so it gets a throwaway key when none is configured.
  const jwt =
    role === 'worker' && !config.jwt.secret ? { secret: randomBytes(48).toString('base64url'), generated: false } : resolveJwtSecret(config.jwt.secret, config.dataDir);
  if (jwt.generated && config.env !== 'test') {
    logger.warn('JWT_SECRET is not set; using a generated secret stored in the data directory (set JWT_SECRET in production)');
  }
  const accessTokens = createAccessTokens({
    secret: jwt.secret,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlSeconds: config.jwt.accessTtlSeconds,
    ...(resources.clock ? { now: resources.clock } : {}),
  });
  const window = config.limits.loginWindowSeconds;
  const auth = createAuthService({
    db,
    accessTokens,
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    passwordHashProfile: config.passwordHashProfile,
    passwordHashQueueLimit: config.passwordHashQueueLimit,
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
  const outboxRelay: { kick(topic: string, claimed?: readonly ClaimedEvent[]): void; claimSeconds(): number } = {
    kick: () => undefined,
    claimSeconds: () => 0,
  };
  // The queue is created below; the gauge reads it lazily at scrape time.
  const queueRef: { current?: JobQueue } = {};
  const ordersRef: { current?: { processingLagSeconds(): Promise<number> } } = {};
  const metrics = createMetrics({
    role,
    queue: { counts: () => queueRef.current?.counts() ?? Promise.reject(new Error('no queue yet')) },
    processingLag: () => ordersRef.current?.processingLagSeconds() ?? Promise.resolve(0),
    emailLag: () => oldestPendingEmailSeconds(db),
  });
  const catalog = createCatalogService({ db, currency: config.currency, logger });
  const orders = createOrdersService({
    db,
    orderCache: createOrderCache(cache),
    placementLimit: createRateLimiter({ name: 'order-placement', points: config.limits.ordersPerMinute, windowSeconds: 60 }, redisScope),
    currency: config.currency,
    subscribedTopics: SUBSCRIBED_TOPICS,
    jobTopics: JOB_TOPICS,
    onEventsCommitted: (topic, claimed) => outboxRelay.kick(topic, claimed),
    claimCommittedEvents: () => outboxRelay.claimSeconds(),
    logger,
    metrics,
  });

  ordersRef.current = orders;

  const smtp = config.mail.transport === 'smtp';
  const mailer = createMailer({
    smtpUrl: smtp ? config.mail.smtpUrl : undefined,
    gmail: smtp ? config.mail.gmail : undefined,
    from: config.mail.from,
    dataDir: config.dataDir,
    logger,
    // A worker serves no requests (its metrics endpoint aside): a blocking write holds up nothing.
    blockingFileWrites: role === 'worker',
  });
  const payments = createPaymentSimulator({
    declineAboveCents: config.payment.declineAboveCents,
    transientFailuresPerOrder: config.payment.simulatedTransientFailures,
    latencyMs: config.payment.simulatedLatencyMs,
  });
  const handlers = buildJobHandlers({ db, orders, auth, payments, mailer, mailFrom: config.mail.from, emailLeaseSeconds: config.mail.claimLeaseSeconds, emailMaxRetryHours: config.mail.maxRetryHours, logger, metrics });
  const bullQueue = config.redis.target !== undefined ? createBullMqQueue({ redis: config.redis.target, prefix: config.redis.prefix, handlers }) : undefined;
  const queue = bullQueue ?? createInProcessQueue({ handlers, concurrency: config.worker.concurrency, backoff: config.jobs.backoff, logger });
  // Bull Board, served by API processes over the Redis queue (loaded on its first request).
  const dashboardPath = bullQueue && role === 'api' ? '/admin/queues' : undefined;
  queueRef.current = queue;

  // One warning per Redis outage naming the address, one line when it is back (every process).
  if (redis && config.redis.target) watchRedis(redis, config.redis.target, logger, role);
  const readiness: ReadinessCheck[] = [{ name: 'database', check: () => db.ping() }];
  if (redis) readiness.push({ name: 'redis', check: () => checkRedisWritable(redis, config.redis.prefix) });

  // Order events (SSE, webhooks): a relay copies outbox rows into the event stream; a signal
  // tells every process's hub that there is something new to read.
  const signal = config.redis.target && redis ? createRedisSignal({ url: config.redis.target, channel: `${config.redis.prefix}:order-events`, publisher: redis }) : createInProcessSignal();
  const shutdown = new ShutdownState();
  const eventHub = createEventHub({
    db,
    signal,
    settings: {
      pollMs: config.events.pollMs,
      keepAliveMs: config.events.keepAliveMs,
      maxStreamsPerUser: config.events.maxStreamsPerUser,
      maxStreamsPerProcess: config.events.maxStreamsPerProcess,
    },
    logger,
  });
  // Webhook deliveries are created in the statement that gives events their positions.
  const onEventsAppended: OnEventsAppended[] = [createDeliveries];
  // The deliverer starts with the background loops (and only where webhooks are sent).
  const webhookDeliverer = { webhooksChanged: () => undefined as void };
  const webhooks = createWebhooksService({
    db,
    allowPrivateUrls: config.webhooks.allowPrivateUrls,
    maxAttempts: config.webhooks.maxAttempts,
    onWebhooksChanged: () => webhookDeliverer.webhooksChanged(),
  });
  const webhookMetrics = registerWebhookMetrics(metrics.registry, () => backlogByWebhook(db));
  // Webhooks are sent where jobs are consumed: by workers, or by the API when it processes
  // orders itself (embedded database or no Redis).
  const sendsWebhooks = role === 'worker' || db.kind === 'pglite' || !config.redis.target;
  // The highest event position handed out, remembered in Redis too: a database restored in place
  // starts its positions again below it (see realignEventPositions).
  const positionMark = redis ? createHighWaterMark(redis, `${config.redis.prefix}:order-event-positions`) : undefined;

  const startBackground = () => {
    // One relay reads the outbox for both consumers: jobs for the workers, then positions for SSE and webhooks.
    const eventsPass = createEventsPass({
      db,
      signal,
      onAppended: onEventsAppended,
      pollMs: config.jobs.outboxPollMs,
      ...(positionMark ? { onPositioned: (lastSeq: number) => positionMark.raise(lastSeq) } : {}),
    });
    const background = startBackgroundLoops({ db, queue, orders, settings: { ...config.jobs, eventsRetentionHours: config.events.retentionHours }, logger, onRelayed: (events) => metrics.relayBatch(events), eventsPass });
    const deliverer = sendsWebhooks ? startWebhookDeliverer({ db, signal, settings: config.webhooks, logger, observer: webhookMetrics }) : undefined;
    const loops = [background, ...(deliverer ? [deliverer] : [])];
    outboxRelay.kick = (topic, claimed) => background.kick(topic, claimed);
    outboxRelay.claimSeconds = () => background.claimSeconds();
    if (deliverer) webhookDeliverer.webhooksChanged = () => deliverer.webhooksChanged();
    return { stop: async () => void (await Promise.all(loops.map((loop) => loop.stop()))) };
  };

  function startConsumer() {
    if (!config.redis.target) throw new Error('a queue consumer needs Redis');
    return startBullMqWorker({
      redis: config.redis.target,
      prefix: config.redis.prefix,
      handlers,
      concurrency: config.worker.concurrency,
      backoff: config.jobs.backoff,
      lockDurationMs: config.worker.lockDurationMs,
      ...(config.worker.standby && redis && bullQueue
        ? { pool: { redis, waiting: () => bullQueue.waiting(), limits: { joinHostIdle: config.worker.standbyMinIdleCores }, onRole: (role: PoolRole) => metrics.workerRole(role) } }
        : {}),
      logger,
    });
  }

  async function checkRedisEvictionPolicy() {
    if (redis) await warnUnlessNoEviction(redis, logger);
  }

  async function realignPositions() {
    if (positionMark) await realignEventPositions({ db, mark: positionMark, dropCachedOrders: () => cache.clear(), logger });
  }

  return {
    db,
    redis,
    cache,
    checkRedisEvictionPolicy,
    realignEventPositions: realignPositions,
    queue,
    handlers,
    mailer,
    metrics,
    eventHub,
    shutdown,
    startBackground,
    startConsumer,
    deps: {
      config,
      logger,
      auth,
      catalog,
      orders,
      emails: createEmailDeliveriesService({ db, orders, queue, logger }),
      pipeline: createPipelineService({ db, queue, dashboardPath }),
      orderStreams: createOrderStreams({ db, hub: eventHub, roleOf: auth.currentRole, stallMs: config.events.stallMs, ...(resources.clock ? { now: resources.clock } : {}) }),
      webhooks,
      readiness,
      shutdown,
      metrics,
      ...(config.limits.requestsPerAddressPerMinute
        ? { addressLimit: createRateLimiter({ name: 'address', points: config.limits.requestsPerAddressPerMinute, windowSeconds: 60 }, redisScope) }
        : {}),
      ...(bullQueue && dashboardPath ? { queueDashboard: lazyQueueDashboard(bullQueue.queue, dashboardPath) } : {}),
    },
  };
}

/** The first admin and the demo catalog, and a warning when nobody can administer the shop. */
async function prepareData(config: Readonly<Config>, db: Database, logger: Logger): Promise<void> {
  await ensureAdmin(db, config.admin, { allowGenerated: db.kind === 'pglite', passwordHashProfile: config.passwordHashProfile, logger });
  if (!(await adminExists(db))) {
    logger.warn('no admin account exists; create one with: npm run admin -- create <email> (or set ADMIN_EMAIL and ADMIN_PASSWORD)');
  }
  if (config.seedDemoData) {
    const seeded = await seedDemoCatalog(db, config.currency);
    if (seeded > 0) logger.info('demo catalog seeded', { products: seeded });
  }
}

/** Opens the configured database (migrating it) and Redis, wires everything, prepares the data. */
export async function openRuntime(config: Readonly<Config>, logger: Logger, role: 'api' | 'worker' = 'api'): Promise<Runtime> {
  const db = await openDatabase({ url: config.db.url, poolMax: config.db.poolMax, statementTimeoutMs: config.db.statementTimeoutMs, dataDir: config.dataDir, logger });
  let redis: RedisClient | undefined;
  try {
    const applied = await migrate(db, undefined, {
      onWaiting: () => logger.info('waiting for another process to finish migrating the database'),
    });
    if (applied.length > 0) logger.info('database migrated', { applied });
    await assertCatalogCurrency(db, config.currency);
    redis = config.redis.target ? createRedis(config.redis.target, 'request') : undefined;
    const built = buildDeps(config, logger, { db, redis }, role);
    await built.realignEventPositions();
    // The API owns the data it prepares and says so once; workers start on whatever is there.
    if (role === 'api') await prepareData(config, db, logger);
    // Said by the process that charges: a worker, or the API that processes its own orders.
    if (config.env === 'production' && (role === 'worker' || db.kind === 'pglite')) {
      logger.warn('payments use the built-in simulator, which takes no money (it approves every order, or declines those above PAYMENT_DECLINE_ABOVE_CENTS); plug in a real provider (README, "Plugging in a payment provider")');
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
