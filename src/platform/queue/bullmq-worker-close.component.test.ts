import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/logs.js';
import { freePort, startRedisServer, startTcpProxy } from '../../../test/processes.js';
import { settledWithin, waitUntil } from '../../../test/wait.js';
import { createRedis } from '../redis.js';
import { createBullMqQueue, startBullMqWorker } from './bullmq-queue.js';

/** A `probe` job handler that holds every job until `release`. */
function heldJobs() {
  let release: () => void = () => undefined;
  const inHand = new Promise<void>((resolve) => (release = resolve));
  const started: string[] = [];
  const finished: string[] = [];
  const handlers = {
    probe: {
      run: async (data: { id?: string }) => {
        started.push(String(data.id));
        await inHand;
        finished.push(String(data.id));
      },
    },
  };
  return { handlers, started, finished, release: () => release() };
}

/** Closing a BullMQ worker (SIGTERM) while its Redis, a server of the test's own, is down. */
describe('BullMQ worker close while Redis is unreachable', () => {
  it('when Redis went away, then close finishes the job in hand and returns, instead of waiting for Redis to come back', async () => {
    const port = await freePort();
    const server = await startRedisServer(port);
    const url = `redis://127.0.0.1:${port}`;
    const target = { mode: 'single' as const, url };
    const { handlers, started, finished, release } = heldJobs();
    const { logger } = capturingLogger();
    const queue = createBullMqQueue({ redis: target, prefix: 'close-test', handlers });
    const redis = createRedis(url, 'request');
    const worker = startBullMqWorker({ redis: target, prefix: 'close-test', handlers, concurrency: 2, backoff: { baseMs: 50, maxMs: 500 }, lockDurationMs: 5000, logger, pool: { redis, waiting: () => queue.waiting() } });
    try {
      await queue.add([{ name: 'probe', id: 'probe-1', data: { id: 'probe-1' } }]);
      await waitUntil(() => started.length === 1, 10_000, 'the job to be in hand');
      server.kill('SIGKILL');
      await waitUntil(() => !queue.ready(), 10_000, 'Redis to be seen gone');
      const closing = worker.close().then(() => 'closed');
      // The job in hand is finished first…
      expect(await settledWithin(closing, 300)).toBeUndefined();
      release();
      // …then close returns: nothing is left to hand back (the job's completion waits for Redis,
      // and its lock runs out: another worker's stall check takes it again, an idempotent retry).
      expect(await settledWithin(closing, 5000)).toBe('closed');
      expect(finished).toEqual(['probe-1']);
    } finally {
      release();
      server.kill('SIGKILL');
      redis.disconnect();
      await settledWithin(queue.close(), 1000);
    }
  }, 30_000);

  it('when Redis stops answering without closing anything (packets dropped), then close returns soon after the job in hand finishes', async () => {
    const port = await freePort();
    const server = await startRedisServer(port);
    const proxy = await startTcpProxy(port);
    const direct = { mode: 'single' as const, url: `redis://127.0.0.1:${port}` };
    // Only the worker goes through the proxy: its connection (and BullMQ's duplicate of it) is the one that goes silent.
    const silenced = { mode: 'single' as const, url: `redis://127.0.0.1:${proxy.port}` };
    const { handlers, started, release } = heldJobs();
    const { logger } = capturingLogger();
    const queue = createBullMqQueue({ redis: direct, prefix: 'silent-close-test', handlers });
    const worker = startBullMqWorker({ redis: silenced, prefix: 'silent-close-test', handlers, concurrency: 2, backoff: { baseMs: 50, maxMs: 500 }, lockDurationMs: 5000, logger });
    try {
      await queue.add([{ name: 'probe', id: 'probe-1', data: { id: 'probe-1' } }]);
      await waitUntil(() => started.length === 1, 10_000, 'the job to be in hand');
      proxy.stall();
      const closing = worker.close().then(() => 'closed');
      release();
      // Its completion gets no answer; the job's lock runs out and another worker takes it again.
      expect(await settledWithin(closing, 8000)).toBe('closed');
    } finally {
      release();
      await proxy.close();
      await settledWithin(queue.close(), 1000);
      server.kill('SIGKILL');
    }
  }, 30_000);
});
