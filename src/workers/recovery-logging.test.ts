import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { bearer, registerAdmin, registerUser } from '../../test/users.js';
import { waitUntil } from '../../test/wait.js';
import { reconcileOnce } from './reconciler.js';

/** Logs are checked in the app's own captured lines (JSON, level info). */
describe('recovery is logged', () => {
  let app: TestApp;
  beforeAll(async () => {
    // No processing loops: the placed orders stay pending, as after a crash that lost their jobs.
    app = await startTestApp({ storage: 'pglite', captureLogs: true });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when the reconciler picks up unfinished orders, then one line says how many', async () => {
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, admin, { stock: 10 });
    for (let i = 0; i < 2; i++) {
      expect((await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] })).status).toBe(201);
    }
    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 0, eventsRetentionHours: 48, logger: app.deps.logger });
    const lines = app.logs.filter((line) => line.message === 'reconciler picked up unfinished work');
    expect(lines).toEqual([expect.objectContaining({ level: 'info', orders: 2, emails: 0 })]);
    // The jobs it enqueued run in this app's own queue: let them finish before the next case counts lines.
    await waitUntil(async () => {
      const counts = await app.queue.counts();
      return counts.waiting + counts.active + counts.delayed === 0;
    }, 20_000, 'the picked-up jobs to finish');
  });

  it('when there is nothing to pick up, then the reconciler says nothing', async () => {
    const before = app.logs.length;
    const quiet = await startTestApp({ storage: 'pglite', captureLogs: true });
    try {
      await reconcileOnce({ db: quiet.db, orders: quiet.deps.orders, queue: quiet.queue, olderThanSeconds: 0, eventsRetentionHours: 48, logger: quiet.deps.logger });
      expect(quiet.logs.filter((line) => String(line.message).startsWith('reconciler'))).toEqual([]);
    } finally {
      await quiet.close();
    }
    expect(app.logs.length).toBe(before);
  });
});
