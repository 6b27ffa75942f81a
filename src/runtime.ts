import type { AppDeps } from './app.js';
import type { Config } from './config/index.js';
import { resolveJwtSecret } from './config/jwt-secret.js';
import { createAccessTokens, createAuthService, ensureAdmin } from './modules/auth/index.js';
import type { ReadinessCheck } from './modules/health/health.routes.js';
import { createMemoryCache, createRedisCache, type Cache } from './platform/cache/index.js';
import { migrate, openDatabase, type Database } from './platform/db/index.js';
import type { Logger } from './platform/logger.js';
import { createRateLimiter } from './platform/rate-limit.js';
import { createRedis, type Redis } from './platform/redis.js';

export interface Resources {
  db: Database;
  /** Absent in the embedded default: queue and cache then live in-process. */
  redis: Redis | undefined;
}

export interface Runtime extends Resources {
  deps: AppDeps;
  cache: Cache;
  close(): Promise<void>;
}

/**
 * Wires services to already-open resources. This is the one place where adapters are chosen;
 * tests call it with their own database and Redis prefix.
 */
export function buildDeps(config: Readonly<Config>, logger: Logger, resources: Resources): Omit<Runtime, 'close'> {
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
      perAccount: createRateLimiter({ name: 'login-account', points: config.limits.loginFailuresPerAccount, windowSeconds: window }, redisScope),
      perAddress: createRateLimiter({ name: 'login-address', points: config.limits.loginFailuresPerIp, windowSeconds: window }, redisScope),
    },
    logger,
  });

  const readiness: ReadinessCheck[] = [{ name: 'database', check: () => db.ping() }];
  if (redis) readiness.push({ name: 'redis', check: async () => void (await redis.ping()) });

  return { db, redis, cache, deps: { config, logger, auth, readiness } };
}

/** Opens the configured database (migrating it) and Redis, then wires everything. */
export async function startRuntime(config: Readonly<Config>, logger: Logger): Promise<Runtime> {
  const db = await openDatabase({ url: config.db.url, poolMax: config.db.poolMax, dataDir: config.dataDir });
  let redis: Redis | undefined;
  try {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info('database migrated', { applied });
    redis = config.redis.url ? createRedis(config.redis.url, 'request') : undefined;
    const built = buildDeps(config, logger, { db, redis });
    await ensureAdmin(db, config.admin, { allowGenerated: db.kind === 'pglite', logger });
    return {
      ...built,
      async close() {
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
