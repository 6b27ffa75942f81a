import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../../test/catalog.js';
import { waitUntil } from '../../../test/wait.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { requestFingerprint } from './order.js';
import { createPlaceOrder } from './place-order.js';
import { placeOrderAtomically } from './place-order.repository.js';

/**
 * The placement use case on PostgreSQL, called directly, while another transaction holds an
 * Idempotency-Key's lock, as a concurrent request with that key does for as long as it runs.
 * A key whose first request has committed is no longer in flight: however many retries arrive
 * at once, each replays the first response (or is told its body differs); only a key whose
 * first request is still running answers IDEMPOTENCY_KEY_IN_USE. A retry that waited for the
 * first request's product locks replays it too, even when the first took the last units.
 */
describe('an Idempotency-Key whose lock another request holds, on postgres', () => {
  let app: TestApp;
  let buyer: TestUser;
  let admin: TestUser;
  let productId: string;
  let placeOrder: ReturnType<typeof createPlaceOrder>;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    admin = await registerAdmin(app);
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

  it('when a retry waited for the first request, which took the last units, then it replays the first response rather than answering OUT_OF_STOCK', async () => {
    const scarce = (await createProduct(app, admin, { stock: 2 })).id;
    const key = `last-units-${randomUUID()}`;
    const lines = [{ productId: scarce, quantity: 2 }];
    let retry: ReturnType<typeof placeOrder> | undefined;
    const firstId = randomUUID();
    await app.db.transaction(async (tx) => {
      // The first request's placement statement, not yet committed: it holds the product's row lock.
      const at = new Date().toISOString();
      const first = await placeOrderAtomically(
        tx,
        { id: firstId, userId: buyer.id, currency: 'USD', createdAt: at, history: JSON.stringify([{ status: 'pending', at }]) },
        lines,
        { key, requestHash: requestFingerprint(lines) },
      );
      expect(first.placed).toBe(true);
      retry = placeOrder({ userId: buyer.id, role: 'customer' }, lines, key);
      retry.catch(() => undefined);
      await waitUntil(
        async () =>
          (
            await app.db.query<{ waiting: boolean }>(
              "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH key_lock AS%') AS waiting",
            )
          ).rows[0]!.waiting,
        10_000,
        'the retry waiting for the product the first request locked',
      );
    });
    const replay = await retry!;
    expect(replay).toMatchObject({ status: 201, replayed: true });
    expect(replay.order.id).toBe(firstId);
    expect(await stockOf(app, scarce)).toEqual({ onHand: 2, reserved: 2 });
  });

  it('when the key has expired and another request is taking it over, then a retry answers 409 IDEMPOTENCY_KEY_IN_USE', async () => {
    const key = `expired-${randomUUID()}`;
    await place(1, key);
    await app.db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = $2", [buyer.id, key]);
    await expect(whileKeyLocked(key, () => place(1, key))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
  });
});
