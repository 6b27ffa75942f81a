import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * Connection options for the two ways we use Redis.
 * - `request`: cache, rate limits, queue producers on the request path. Commands fail at once
 *   while Redis is unreachable (no offline queue, one retry), so callers degrade or answer 503
 *   quickly instead of hanging. Commands issued in the same event-loop turn (e.g. the cache
 *   reads of many concurrent requests) go out as one pipeline, one socket write: on a busy API
 *   that write, not our code, was the largest cost of a cached read (README, Benchmarks).
 * - `blocking`: BullMQ workers and queue events, which must wait through outages
 *   (`maxRetriesPerRequest: null`, as BullMQ requires).
 */
export function redisOptions(url: string, role: 'request' | 'blocking'): RedisOptions {
  const parsed = new URL(url);
  const base: RedisOptions = {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: 2000,
    // Reconnect forever with a capped delay; outages end by themselves.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  return role === 'blocking'
    ? { ...base, maxRetriesPerRequest: null, enableReadyCheck: false }
    : { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1000, enableAutoPipelining: true };
}

export function createRedis(url: string, role: 'request' | 'blocking'): Redis {
  const redis = new Redis(redisOptions(url, role));
  // Connection errors surface through failed commands and readiness checks; an unhandled
  // 'error' event would otherwise crash the process.
  redis.on('error', () => undefined);
  return redis;
}

export type { Redis };

/** BullMQ loses jobs if Redis may evict keys; it must run with `maxmemory-policy noeviction`. */
export async function evictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const reply = await redis.config('GET', 'maxmemory-policy');
    return reply[1];
  } catch {
    // Managed Redis services often disable CONFIG; the caller warns that it could not check.
    return undefined;
  }
}

/** Resolves true once connected, false after `timeoutMs` (the caller decides whether that is fatal). */
export async function whenReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

/** `host:port` of a Redis URL, without its credentials (it ends up in logs). */
export function redisAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** A lost or refused connection (which reconnecting fixes), as opposed to a real error worth a stack. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (typeof code === 'string' && CONNECTION_CODES.has(code)) || (typeof message === 'string' && /connect ETIMEDOUT|Connection is closed/.test(message));
}

/**
 * Says when Redis goes away and when it is back: one warning per outage naming the address,
 * one line when it answers again. ioredis emits an error on every reconnection attempt (five
 * a second); those are the same outage and stay quiet.
 */
export function watchRedis(redis: Redis, url: string, logger: Logger): void {
  const address = redisAddress(url);
  let downSince: number | undefined;
  redis.on('error', (error: Error & { code?: string }) => {
    if (downSince !== undefined) return;
    downSince = Date.now();
    logger.warn(`Redis at ${address} is unreachable (${error.code ?? error.message}); retrying. Orders are still accepted and wait in the outbox`, {
      redis: address,
    });
  });
  redis.on('ready', () => {
    if (downSince === undefined) return;
    logger.info(`Redis at ${address} is back`, { redis: address, downSeconds: Math.round((Date.now() - downSince) / 1000) });
    downSince = undefined;
  });
}

/**
 * Warns loudly unless Redis runs with `maxmemory-policy noeviction` (BullMQ loses jobs
 * otherwise). Only a Redis that answered can say its policy: an unreachable one is reported by
 * watchRedis, and the check runs when it first connects instead.
 */
export async function warnUnlessNoEviction(redis: Redis, logger: Logger, waitMs = 5000): Promise<void> {
  const check = async () => {
    const policy = await evictionPolicy(redis);
    if (policy === 'noeviction') return;
    logger.warn(
      `Redis maxmemory-policy is ${policy ?? 'unknown (CONFIG GET refused)'}; it must be noeviction or queued jobs can be lost. The outbox reconciler will re-enqueue lost work, but fix the Redis configuration.`,
    );
  };
  if (await whenReady(redis, waitMs)) await check();
  else redis.once('ready', () => void check());
}
