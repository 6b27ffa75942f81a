import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/logs.js';
import { freePort, startRedisServer } from '../../../test/processes.js';
import { settledWithin, waitUntil } from '../../../test/wait.js';
import { createRedis } from '../redis.js';
import { createBullMqQueue, startBullMqWorker } from './bullmq-queue.js';

/** Closing a BullMQ worker (SIGTERM) while its Redis, a server of the test's own, is down. */
describe('BullMQ worker close while Redis is unreachable', () => {
  it('when Redis went away, then close finishes the job in hand and returns, instead of waiting for Redis to come back', async () => {
    const port = await freePort();
    const server = await startRedisServer(port);
    const url = `redis://127.0.0.1:${port}`;
    const target = { mode: 'single' as const, url };
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
});
