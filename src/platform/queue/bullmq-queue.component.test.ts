import { afterEach, describe, expect, it } from 'vitest';
import { deleteRedisKeys, testRedisPrefix } from '../../../test/harness.js';
import { REDIS_URL } from '../../../test/global-setup.js';
import { createBullMqQueue } from './bullmq-queue.js';

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
