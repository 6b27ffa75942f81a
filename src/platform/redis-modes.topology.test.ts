import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/processes.js';
import { startRedisCluster, startRedisSentinel, type LocalRedisTopology } from '../../test/redis-topologies.js';
import { RateLimitedError } from '../shared/errors.js';
import { createRedisCache } from './cache/index.js';
import { createLogger } from './logger.js';
import { createBullMqQueue, startBullMqWorker } from './queue/index.js';
import type { JobQueue } from './queue/index.js';
import { createRateLimiter } from './rate-limit.js';
import { createRedis, queuePrefix, whenReady, type RedisClient, type RedisTarget } from './redis.js';

/**
 * The same code on a real Redis Cluster (3 masters + 3 replicas) and on Sentinel (primary,
 * replica, 3 Sentinels), both started here on loopback: cache, limiter and queue work, and
 * killing the master that holds the queue pauses processing briefly and loses no job.
 */
const logger = createLogger({ level: 'error', format: 'json', silent: true });

interface Mode {
  name: string;
  start(): Promise<{ topology: LocalRedisTopology; target: RedisTarget }>;
  /** Port of the master holding the queue's keys. */
  queueMaster(topology: LocalRedisTopology, client: RedisClient, prefix: string): Promise<number>;
}

const modes: Mode[] = [
  {
    name: 'cluster',
    async start() {
      const topology = await startRedisCluster();
      return { topology, target: { mode: 'cluster', nodes: topology.nodes.slice(0, 3).map((n) => ({ host: '127.0.0.1', port: n.port })) } };
    },
    async queueMaster(_topology, client, prefix) {
      const cluster = client as Cluster;
      const slot = (await cluster.cluster('KEYSLOT', `${queuePrefix(prefix)}:orders:wait`));
      const ranges = (await cluster.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!owner) throw new Error(`no owner for slot ${slot}`);
      return owner[2][1];
    },
  },
  {
    name: 'sentinel',
    async start() {
      const topology = await startRedisSentinel('opsmaster');
      return {
        topology,
        target: { mode: 'sentinel', name: 'opsmaster', sentinels: topology.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })) },
      };
    },
    queueMaster(topology) {
      return Promise.resolve(topology.nodes[0]!.port);
    },
  },
];

describe.each(modes)('Redis in $name mode', (mode) => {
  let topology: LocalRedisTopology;
  let target: RedisTarget;
  let client: RedisClient;
  const prefix = `ops-modes-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    ({ topology, target } = await mode.start());
    client = createRedis(target, 'request');
    expect(await whenReady(client, 10_000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await topology?.stop();
  });

  it('serves the cache and the shared limiter (single-key commands only, spread over slots)', async () => {
    const cache = createRedisCache(client, prefix, logger);
    for (let i = 0; i < 20; i++) expect(await cache.put(`order:${i}`, 1, { value: `v${i}`, owner: 'u' }, 60)).toBe(true);
    await cache.put('order:3', 0, { value: 'older', owner: 'u' }, 60);
    expect(await cache.get('order:3')).toEqual({ value: 'v3', owner: 'u' });
    const limiter = createRateLimiter({ name: 'modes', points: 2, windowSeconds: 60 }, { client, prefix });
    await limiter.consume('k');
    await limiter.consume('k');
    await expect(limiter.consume('k')).rejects.toBeInstanceOf(RateLimitedError);
    await limiter.reset('k');
    await limiter.consume('k');
  });

  it('when the master holding the queue is killed, then processing pauses briefly and no job is lost', async () => {
    const runs = new Map<string, number>();
    const handlers = {
      probe: {
        run: (data: Record<string, string>) => {
          runs.set(data.n!, (runs.get(data.n!) ?? 0) + 1);
          return Promise.resolve();
        },
      },
    };
    const queue: JobQueue = createBullMqQueue({ redis: target, prefix, handlers });
    const worker = startBullMqWorker({ redis: target, prefix, handlers, concurrency: 4, backoff: { baseMs: 50, maxMs: 500 }, lockDurationMs: 5000, pool: { redis: client, waiting: () => queue.waiting() }, logger });
    // Publishing like the outbox relay: a failed add is simply tried again.
    const publish = async (n: number) => {
      await waitUntil(
        () => queue.add([{ name: 'probe', id: `probe-${n}`, data: { n: String(n) } }]).then(() => true, () => false),
        30_000,
        `job ${n} added`,
      );
    };
    try {
      for (let n = 0; n < 20; n++) await publish(n);
      await waitUntil(() => runs.size === 20, 15_000, 'the first 20 jobs');

      const port = await mode.queueMaster(topology, client, prefix);
      const victim = topology.nodes.find((node) => node.port === port)!;
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      // Cached reads meanwhile: a miss or a hit, never an exception (a Cluster read may wait out
      // the failover, a Sentinel one fails over to the database at once).
      const cache = createRedisCache(client, prefix, logger);
      const readStarted = Date.now();
      await cache.get('order:1');
      expect(Date.now() - readStarted).toBeLessThan(10_000);

      for (let n = 20; n < 40; n++) await publish(n);
      await waitUntil(() => runs.has('20'), 30_000, 'the first job after the kill');
      const pauseMs = Date.now() - killedAt;
      await waitUntil(() => runs.size === 40, 30_000, 'every job');
      process.stdout.write(`[redis ${mode.name}] master killed: processing paused ${(pauseMs / 1000).toFixed(1)} s\n`);
      expect(pauseMs).toBeLessThan(10_000);
      expect([...runs.keys()].length).toBe(40);
    } finally {
      await worker.close();
      await queue.close();
    }
  }, 90_000);
});
