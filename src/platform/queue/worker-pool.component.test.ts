import { afterEach, describe, expect, it } from 'vitest';
import { deleteRedisKeys, testRedisPrefix } from '../../../test/harness.js';
import { REDIS_URL } from '../../../test/global-setup.js';
import { capturingLogger } from '../../../test/logs.js';
import { freePort } from '../../../test/processes.js';
import { waitUntil } from '../../../test/wait.js';
import { createRedis, queuePrefix } from '../redis.js';
import { createBullMqQueue, startBullMqWorker } from './bullmq-queue.js';
import { startWorkerPool, type PoolSample, type WorkerPool } from './worker-pool.js';

/**
 * Worker pools on a real Redis. The measurements are the test's (a host's idle cores cannot be
 * set); the lease, the loads and the join token are Redis's.
 */
describe('worker pool (standby workers)', () => {
  const prefix = testRedisPrefix();
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await deleteRedisKeys(prefix);
  });

  /** A pool member ticked by hand, with the figures the test sets and a log of what it was told to do. */
  function member(name: string, options: { tickMs?: number; redisUrl?: string } = {}) {
    const redis = createRedis(options.redisUrl ?? REDIS_URL, 'request');
    const measured: PoolSample = { cpu: 0.1, slots: 0.1, hostIdle: 0 };
    const calls: string[] = [];
    const { logger, lines } = capturingLogger();
    const pool: WorkerPool = startWorkerPool({
      redis,
      keyPrefix: `${queuePrefix(prefix)}:workers`,
      id: name,
      activate: () => void calls.push('activate'),
      deactivate: () => Promise.resolve(void calls.push('deactivate')),
      waiting: () => Promise.resolve(waiting.count),
      sample: () => ({ ...measured }),
      logger,
      tickMs: options.tickMs ?? 1000,
      timer: false,
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await pool.stop();
      redis.disconnect();
    };
    cleanups.push(stop);
    return { pool, measured, calls, lines, stop };
  }
  const waiting = { count: 0 };
  afterEach(() => void (waiting.count = 0));

  it('makes the first worker to tick the leader and keeps the second on standby while nothing presses', async () => {
    const first = member('first');
    const second = member('second');
    await first.pool.tick();
    await second.pool.tick();
    for (let i = 0; i < 3; i++) await Promise.all([first.pool.tick(), second.pool.tick()]);
    expect([first.pool.role(), second.pool.role()]).toEqual(['leader', 'standby']);
    expect(first.calls).toEqual(['activate']);
    expect(second.calls).toEqual([]);
    // Each says once, at its first tick, what it does and why.
    expect(first.lines.map((line) => line.message)).toEqual(['worker leads the pool: holds the lease']);
    expect(second.lines.map((line) => line.message)).toEqual([
      'worker on standby: first leads; this one joins while the active workers are short of CPU or job slots and this host has a free core (WORKER_STANDBY)',
    ]);
  });

  it('lets a standby join after two ticks of a busy leader with jobs waiting, when its own host has a free core, and leave once the load fits in one', async () => {
    const leader = member('leader');
    const standby = member('standby');
    await leader.pool.tick();
    leader.measured.cpu = 0.97;
    waiting.count = 120;
    standby.measured.hostIdle = 1.4;
    await leader.pool.tick();
    await standby.pool.tick();
    expect(standby.pool.role()).toBe('standby');
    await leader.pool.tick();
    await standby.pool.tick();
    expect(standby.pool.role()).toBe('helper');
    expect(standby.calls).toEqual(['activate']);
    expect(standby.lines.find((line) => String(line.message).startsWith('worker joined the pool'))?.message).toBe(
      'worker joined the pool: active workers at 0.97 cores each, 120 jobs waiting, 1.4 idle cores here',
    );

    // The backlog is gone: both report little, and after five such ticks the helper goes back.
    leader.measured.cpu = 0.1;
    standby.measured.cpu = 0.1;
    waiting.count = 0;
    for (let i = 0; i < 4; i++) {
      await leader.pool.tick();
      await standby.pool.tick();
    }
    expect(standby.pool.role()).toBe('helper');
    await leader.pool.tick();
    await standby.pool.tick();
    expect(standby.pool.role()).toBe('standby');
    expect(standby.calls).toEqual(['activate', 'deactivate']);
  });

  it('keeps a standby out while its host has no free core, however busy the leader is', async () => {
    const leader = member('leader');
    const standby = member('standby');
    leader.measured.cpu = 1;
    leader.measured.slots = 1;
    waiting.count = 500;
    standby.measured.hostIdle = 0.1;
    for (let i = 0; i < 6; i++) {
      await leader.pool.tick();
      await standby.pool.tick();
    }
    expect(standby.pool.role()).toBe('standby');
    expect(standby.calls).toEqual([]);
  });

  it('lets one standby join at a time: the second sees the first one joined before it decides', async () => {
    const leader = member('leader');
    const standbys = [member('a'), member('b')];
    leader.measured.cpu = 0.95;
    waiting.count = 50;
    for (const s of standbys) s.measured.hostIdle = 2;
    await leader.pool.tick();
    for (let i = 0; i < 2; i++) {
      await leader.pool.tick();
      for (const s of standbys) await s.pool.tick();
    }
    expect(standbys.map((s) => s.pool.role()).sort()).toEqual(['helper', 'standby']);
  });

  it('hands the lease over at once when the leader stops, and within three ticks when it dies without a word', async () => {
    const leader = member('leader', { tickMs: 200 });
    const standby = member('standby', { tickMs: 200 });
    await leader.pool.tick();
    await standby.pool.tick();
    await leader.stop();
    await standby.pool.tick();
    expect(standby.pool.role()).toBe('leader');
    expect(standby.calls).toEqual(['activate']);

    // The new leader "dies": it stops ticking and never gives the lease back.
    const next = member('next', { tickMs: 200 });
    await next.pool.tick();
    expect(next.pool.role()).toBe('standby');
    const started = Date.now();
    await waitUntil(async () => (await next.pool.tick(), next.pool.role() === 'leader'), 3000, 'the standby to take the lease', 50);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('keeps its role while Redis cannot be reached, and says so once', async () => {
    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    const lonely = member('lonely', { redisUrl: unreachable, tickMs: 100 });
    for (let i = 0; i < 3; i++) await lonely.pool.tick();
    expect(lonely.pool.role()).toBe('standby');
    expect(lonely.lines.filter((line) => String(line.message).startsWith('worker pool: cannot reach Redis'))).toHaveLength(1);
  });

  it('with BullMQ workers: the leader runs every job while the standby fetches none, and the standby takes over when the leader closes', async () => {
    const ranBy: string[] = [];
    const handlersFor = (name: string) => ({ probe: { run: () => Promise.resolve(void ranBy.push(name)) } });
    const { logger } = capturingLogger();
    const target = { mode: 'single' as const, url: REDIS_URL };
    const queue = createBullMqQueue({ redis: target, prefix, handlers: handlersFor('producer') });
    cleanups.push(() => queue.close());
    const redis = createRedis(REDIS_URL, 'request');
    cleanups.push(() => Promise.resolve(redis.disconnect()));
    const settings = { redis: target, prefix, concurrency: 5, backoff: { baseMs: 50, maxMs: 500 }, lockDurationMs: 5000, pool: { redis, waiting: () => queue.waiting() }, logger };
    const first = startBullMqWorker({ ...settings, handlers: handlersFor('first') });
    cleanups.push(() => first.close());
    await waitUntil(() => first.pool?.role() === 'leader', 5000, 'the first worker to lead');
    const second = startBullMqWorker({ ...settings, handlers: handlersFor('second') });
    cleanups.push(() => second.close());
    // A standby that never fetched closes at once, and its going changes nothing for the others.
    const third = startBullMqWorker({ ...settings, handlers: handlersFor('third') });
    await waitUntil(() => third.pool?.role() === 'standby', 5000, 'the third worker to wait on standby');
    await third.close();

    const probes = (from: number) => Array.from({ length: 20 }, (_, i) => ({ name: 'probe', id: `probe-${from + i}`, data: {} }));
    await queue.add(probes(0));
    await waitUntil(() => ranBy.length === 20, 10_000, 'the first 20 jobs');
    expect(new Set(ranBy)).toEqual(new Set(['first']));
    expect(second.pool?.role()).toBe('standby');
    // What the admin's pipeline view shows: both connected, one fetching.
    expect(await queue.workers()).toEqual({ connected: 2, fetching: 1 });

    await first.close();
    await queue.add(probes(20));
    await waitUntil(() => ranBy.length === 40, 10_000, 'the next 20 jobs');
    expect(new Set(ranBy.slice(20))).toEqual(new Set(['second']));
    expect(second.pool?.role()).toBe('leader');
  });
});
