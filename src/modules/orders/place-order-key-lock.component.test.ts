import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { createPlaceOrder } from './place-order.js';

/**
 * The placement use case on PostgreSQL, called directly, while another transaction holds an
 * Idempotency-Key's lock, as a concurrent request with that key does for as long as it runs.
 * A key whose first request has committed is no longer in flight: however many retries arrive
 * at once, each replays the first response (or is told its body differs); only a key whose
 * first request is still running answers IDEMPOTENCY_KEY_IN_USE.
 */
describe('an Idempotency-Key whose lock another request holds, on postgres', () => {
  let app: TestApp;
  let buyer: TestUser;
  let productId: string;
  let placeOrder: ReturnType<typeof createPlaceOrder>;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
    productId = (await createProduct(app, admin, { stock: 100 })).id;
    placeOrder = createPlaceOrder({
      db: app.db,
      placementLimit: createRateLimiter({ name: 'placements', points: 1000, windowSeconds: 60 }),
      currency: 'USD',
      logger: createLogger({ level: 'error', format: 'json', silent: true }),
      metrics: { orderPlaced: () => undefined },
    });
  });
  afterAll(() => app.close());

  const place = (quantity: number, key: string) => placeOrder({ userId: buyer.id, role: 'customer' }, [{ productId, quantity }], key);

  /** Runs `work` while another transaction holds the key's lock (the lock placement takes). */
  const whileKeyLocked = <T>(key: string, work: () => Promise<T>): Promise<T> =>
    app.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1::uuid::text), hashtext($2::text))', [buyer.id, key]);
      return work();
    });

  it('when the first request has committed, then a retry replays its response even while another retry holds the lock', async () => {
    const key = `done-${randomUUID()}`;
    const first = await place(2, key);
    expect(first).toMatchObject({ status: 201, replayed: false });
    const reservedAfterFirst = (await stockOf(app, productId)).reserved;

    const retry = await whileKeyLocked(key, () => place(2, key));
    expect(retry).toMatchObject({ status: 201, replayed: true });
    expect(retry.order).toEqual(first.order);
    expect((await stockOf(app, productId)).reserved).toBe(reservedAfterFirst);
  });

  it('when the first request has committed, then a retry with another body is told so (422) even while another retry holds the lock', async () => {
    const key = `done-other-${randomUUID()}`;
    await place(1, key);
    await expect(whileKeyLocked(key, () => place(3, key))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_MISMATCH' });
  });

  it('when the first request is still running (nothing stored yet), then a retry answers 409 IDEMPOTENCY_KEY_IN_USE and places nothing', async () => {
    const key = `running-${randomUUID()}`;
    const before = await stockOf(app, productId);
    await expect(whileKeyLocked(key, () => place(1, key))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
    expect(await stockOf(app, productId)).toEqual(before);
  });

  it('when the key has expired and another request is taking it over, then a retry answers 409 IDEMPOTENCY_KEY_IN_USE', async () => {
    const key = `expired-${randomUUID()}`;
    await place(1, key);
    await app.db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = $2", [buyer.id, key]);
    await expect(whileKeyLocked(key, () => place(1, key))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
  });
});
