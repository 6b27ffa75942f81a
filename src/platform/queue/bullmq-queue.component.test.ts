import { afterEach, describe, expect, it } from 'vitest';
import { createRedis } from '../redis.js';
import { deleteRedisKeys, testRedisPrefix } from '../../../test/harness.js';
import { REDIS_URL } from '../../../test/global-setup.js';
import { capturingLogger } from '../../../test/logs.js';
import { waitUntil } from '../../../test/wait.js';
import { createBullMqQueue, startBullMqWorker } from './bullmq-queue.js';

const ignore = { run: () => Promise.resolve() };

/** The producer side of the BullMQ queue on a real Redis, with no worker taking its jobs. */
describe('BullMQ queue (producer)', () => {
  const prefix = testRedisPrefix();
  afterEach(async () => {
    await deleteRedisKeys(prefix);
  });

  it('says how many jobs wait for a worker: the count the outbox relay holds events back on', async () => {
    const queue = createBullMqQueue({ redis: { mode: 'single', url: REDIS_URL }, prefix, handlers: { 'process-order': ignore } });
    try {
      expect(await queue.waiting()).toBe(0);
      const job = (id: string) => ({ name: 'process-order', id, data: { orderIds: [id] } });
      await queue.add([job('a'), job('b'), job('c')]);
      // The same id again is the same job (deterministic ids), not a fourth one waiting.
      await queue.add([job('a')]);
      expect(await queue.waiting()).toBe(3);
      expect((await queue.counts()).waiting).toBe(3);
    } finally {
      await queue.close();
    }
  });
});

describe('BullMQ queue: a job that failed for good, ensured again (the reconciler)', () => {
  const prefix = testRedisPrefix();
  afterEach(async () => {
    await deleteRedisKeys(prefix);
  });

  it('gets its attempts afresh: one passing error after the revival is retried, not the end of it', async () => {
    const target = { mode: 'single' as const, url: REDIS_URL };
    let failNext = 3;
    const runs: string[] = [];
    const exhausted: string[] = [];
    const handlers = {
      probe: {
        attempts: 2,
        run: (data: { id?: string }) => {
          runs.push(String(data.id));
          if (failNext > 0) {
            failNext--;
            return Promise.reject(new Error('a passing error'));
          }
          return Promise.resolve();
        },
        exhausted: (data: { id?: string }) => Promise.resolve(void exhausted.push(String(data.id))),
      },
    };
    const { logger } = capturingLogger();
    const queue = createBullMqQueue({ redis: target, prefix, handlers });
    const redis = createRedis(REDIS_URL, 'request');
    const worker = startBullMqWorker({ redis: target, prefix, handlers, concurrency: 1, backoff: { baseMs: 10, maxMs: 20 }, lockDurationMs: 5000, logger, pool: { redis, waiting: () => queue.waiting() } });
    try {
      const job = { name: 'probe', id: 'probe-1', data: { id: 'probe-1' } };
      await queue.add([job]);
      await waitUntil(async () => (await queue.counts()).failed === 1, 10_000, 'the job to fail for good (2 of 2 attempts)');
      expect(exhausted).toEqual(['probe-1']);

      // Revived: its first run fails once more (the third error), and the retry after it succeeds.
      await queue.ensure(job);
      await waitUntil(() => runs.length === 4, 10_000, 'the revived job to run twice');
      await waitUntil(async () => (await queue.queue.getJobState('probe-1')) === 'completed', 10_000, 'the revived job to complete');
      expect(exhausted).toEqual(['probe-1']);
    } finally {
      await worker.close();
      redis.disconnect();
      await queue.close();
    }
  }, 30_000);
});

describe('BullMQ queue: a failed job ensured by two reconcilers at once (every process runs one)', () => {
  const prefix = testRedisPrefix();
  afterEach(async () => {
    await deleteRedisKeys(prefix);
  });

  it('is revived once, and the reconciler that comes second is told it is done, not refused', async () => {
    const target = { mode: 'single' as const, url: REDIS_URL };
    const handlers = { probe: { attempts: 1, run: () => Promise.reject(new Error('a passing error')) } };
    const { logger } = capturingLogger();
    const queue = createBullMqQueue({ redis: target, prefix, handlers });
    const other = createBullMqQueue({ redis: target, prefix, handlers });
    const worker = startBullMqWorker({ redis: target, prefix, handlers, concurrency: 1, backoff: { baseMs: 10, maxMs: 20 }, lockDurationMs: 5000, logger });
    try {
      const job = { name: 'probe', id: 'probe-1', data: { id: 'probe-1' } };
      await queue.add([job]);
      await waitUntil(async () => (await queue.counts()).failed === 1, 10_000, 'the job to fail for good');
      await worker.close();

      // Both read it failed before either revives it: the second revival finds it waiting.
      await expect(Promise.all([queue.ensure(job), other.ensure(job)])).resolves.toBeDefined();
      expect(await queue.queue.getJobState('probe-1')).toBe('waiting');
      expect((await queue.counts()).waiting).toBe(1);
    } finally {
      await worker.close();
      await other.close();
      await queue.close();
    }
  }, 30_000);
});
