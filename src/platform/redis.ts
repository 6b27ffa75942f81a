import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/** host:port of a Sentinel or a Cluster seed node. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Which Redis deployment to talk to, chosen by configuration (README, Redis):
 * - `single`: one server (`REDIS_URL`);
 * - `sentinel`: a primary found through Sentinels, followed across failovers (`REDIS_SENTINELS`);
 * - `cluster`: a Redis Cluster reached through seed nodes (`REDIS_CLUSTER_NODES`).
 */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: RedisNode[]; name: string; username?: string; password?: string; tls?: boolean }
  | { mode: 'cluster'; nodes: RedisNode[]; username?: string; password?: string; tls?: boolean };

/** A connection to any of the three: both expose the commands we use (no cross-slot ones). */
export type RedisClient = Redis | Cluster;

/**
 * BullMQ keeps each queue's keys together in Lua scripts, which a Redis Cluster only allows
 * within one hash slot: the `{…}` hash tag puts every key of our queues in the slot of
 * `<prefix>:bull` (`{ops:bull}:orders:wait`, …). Used in every mode, so moving to a Cluster
 * changes no key names.
 */
export function queuePrefix(prefix: string): string {
  return `{${prefix}:bull}`;
}

// How long a command may wait for a failover before failing (Cluster: redirection retries
// × delay; Sentinel: reconnects). A Redis master failover on our topology takes 4–6 s.
const FAILOVER_RETRY_DELAY_MS = 300;
const MAX_REDIRECTIONS = 40;

type Role = 'request' | 'blocking';

/** What `role` changes, in every mode (see `redisOptions`). */
function roleOptions(role: Role): RedisOptions {
  return role === 'blocking'
    ? { maxRetriesPerRequest: null, enableReadyCheck: false }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1000, enableAutoPipelining: true };
}

const reconnect = (times: number) => Math.min(times * 200, 2000);

/**
 * Sentinel: ioredis asks the Sentinels for the current primary on every (re)connect (a
 * killed primary closes its sockets, so the reconnect starts at once) and retries the
 * Sentinels themselves with the same capped delay.
 */
function sentinelOptions(target: Extract<RedisTarget, { mode: 'sentinel' }>, role: Role): RedisOptions {
  return {
    sentinels: target.sentinels,
    name: target.name,
    username: target.username,
    password: target.password,
    tls: target.tls ? {} : undefined,
    enableTLSForSentinelMode: target.tls ?? false,
    connectTimeout: 2000,
    sentinelCommandTimeout: 1000,
    retryStrategy: reconnect,
    sentinelRetryStrategy: reconnect,
    sentinelReconnectStrategy: reconnect,
    ...roleOptions(role),
  };
}

/**
 * Cluster: a command that meets a failover (its master's socket closed, CLUSTERDOWN, TRYAGAIN,
 * MOVED) is retried every 300 ms up to 40 times (12 s) while the slot map is refreshed, so the
 * workers ride through a master failover. Request-path commands still give up after 1 s
 * (`commandTimeout`) and the caller degrades (cache → database, limiter → in-memory, outbox →
 * next round).
 */
function clusterOptions(target: Extract<RedisTarget, { mode: 'cluster' }>, role: Role): ClusterOptions {
  const { enableOfflineQueue: _nodeLevelOnly, enableAutoPipelining, ...perNode } = roleOptions(role);
  return {
    clusterRetryStrategy: reconnect,
    retryDelayOnFailover: FAILOVER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: FAILOVER_RETRY_DELAY_MS,
    retryDelayOnTryAgain: FAILOVER_RETRY_DELAY_MS,
    maxRedirections: MAX_REDIRECTIONS,
    slotsRefreshTimeout: 2000,
    // The cluster-wide offline queue stays on for both roles: during a failover the slot has
    // no master for a few seconds and commands wait for the new one (bounded by the
    // redirection retries); per-node `commandTimeout` still bounds commands once sent.
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    // BullMQ's blocking connection must see the cluster before its first BZPOPMIN.
    enableReadyCheck: true,
    redisOptions: {
      username: target.username,
      password: target.password,
      tls: target.tls ? {} : undefined,
      connectTimeout: 2000,
      ...perNode,
    },
  };
}

/**
 * The one place a Redis connection is made (request path, BullMQ producers and workers):
 * a URL is the single-server mode.
 */
export function createRedis(target: string | Extract<RedisTarget, { mode: 'single' }>, role: Role): Redis;
export function createRedis(target: RedisTarget | string, role: Role): RedisClient;
export function createRedis(target: RedisTarget | string, role: Role): RedisClient {
  const resolved: RedisTarget = typeof target === 'string' ? { mode: 'single', url: target } : target;
  const redis =
    resolved.mode === 'cluster'
      ? new Cluster(resolved.nodes, clusterOptions(resolved, role))
      : new Redis(resolved.mode === 'sentinel' ? sentinelOptions(resolved, role) : redisOptions(resolved.url, role));
  // Connection errors surface through failed commands and readiness checks; an unhandled
  // 'error' event would otherwise crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/** Short, secret-free description for logs: `cluster (3 seed nodes)`, `sentinel mymaster`, … */
export function describeRedis(target: RedisTarget): string {
  if (target.mode === 'cluster') return `cluster (${target.nodes.length} seed nodes)`;
  if (target.mode === 'sentinel') return `sentinel ${target.name} (${target.sentinels.length} sentinels)`;
  return 'single';
}

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
export function redisOptions(url: string, role: Role): RedisOptions {
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
    retryStrategy: reconnect,
  };
  return { ...base, ...roleOptions(role) };
}

export type { Redis };

/** BullMQ loses jobs if Redis may evict keys; it must run with `maxmemory-policy noeviction`. */
export async function evictionPolicy(redis: RedisClient): Promise<string | undefined> {
  try {
    const reply = await redis.config('GET', 'maxmemory-policy');
    return reply[1];
  } catch {
    // Managed Redis services often disable CONFIG; the caller warns that it could not check.
    return undefined;
  }
}

/** Resolves true once connected, false after `timeoutMs` (the caller decides whether that is fatal). */
export async function whenReady(redis: RedisClient, timeoutMs: number): Promise<boolean> {
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

/** Where a target points, without its credentials (it ends up in logs): `host:port`, or the Sentinels / seed nodes. */
export function redisAddress(target: RedisTarget | string): string {
  const resolved: RedisTarget = typeof target === 'string' ? { mode: 'single', url: target } : target;
  const nodes = (list: RedisNode[]) => list.map((node) => `${node.host}:${node.port}`).join(',');
  if (resolved.mode === 'cluster') return `cluster ${nodes(resolved.nodes)}`;
  if (resolved.mode === 'sentinel') return `sentinel ${resolved.name} via ${nodes(resolved.sentinels)}`;
  const parsed = new URL(resolved.url);
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** A lost or refused connection (which reconnecting fixes), as opposed to a real error worth a stack. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (typeof code === 'string' && CONNECTION_CODES.has(code)) || (typeof message === 'string' && /connect ETIMEDOUT|Connection is closed/.test(message));
}

/** What a process still does while Redis is away: an API takes orders, a worker takes no jobs. */
const DURING_REDIS_OUTAGE: Record<'api' | 'worker', string> = {
  api: 'Orders are still accepted and wait in the outbox',
  worker: 'This worker takes no jobs until it is back; orders placed meanwhile wait in the outbox',
};

/** The warning that opens a Redis outage, in the words of the process that logs it. */
function redisUnreachableMessage(address: string, reason: string, role: 'api' | 'worker'): string {
  return `Redis at ${address} is unreachable (${reason}); retrying. ${DURING_REDIS_OUTAGE[role]}`;
}

/**
 * Readiness of Redis: a write, not PING. A replica (a primary demoted by a failover, or a
 * REDIS_URL that names one) answers PING and refuses every write with READONLY, and a full one
 * under `noeviction` refuses them with OOM: either way jobs, limits and the cache fail while PING
 * says all is well. The key expires at once, so probes leave nothing behind.
 */
export async function checkRedisWritable(redis: RedisClient, prefix: string): Promise<void> {
  await redis.set(`${prefix}:ready-probe`, '1', 'PX', 1000);
}

/**
 * Says when Redis goes away and when it is back: one warning per outage naming the address,
 * one line when it answers again. ioredis emits an error on every reconnection attempt (five
 * a second); those are the same outage and stay quiet.
 */
export function watchRedis(redis: RedisClient, target: RedisTarget | string, logger: Logger, role: 'api' | 'worker'): void {
  const address = redisAddress(target);
  let downSince: number | undefined;
  redis.on('error', (error: Error & { code?: string }) => {
    if (downSince !== undefined) return;
    downSince = Date.now();
    logger.warn(redisUnreachableMessage(address, error.code ?? error.message, role), { redis: address });
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
export async function warnUnlessNoEviction(redis: RedisClient, logger: Logger, waitMs = 5000): Promise<void> {
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

/** Deletes every key matching `pattern` (on every primary of a cluster); answers how many. */
export async function deleteKeysMatching(redis: RedisClient, pattern: string): Promise<number> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      // Keys found on a node live on it; one UNLINK per key (pipelined) never crosses slots.
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      for (const [, result] of (await pipeline.exec()) ?? []) deleted += Number(result ?? 0);
    } while (cursor !== '0');
  }
  return deleted;
}
