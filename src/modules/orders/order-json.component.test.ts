import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS, type TestDatabase } from '../../../test/harness.js';
import type { Order } from './order.js';
import { findOrder, orderJsonAsOf } from './orders.repository.js';

/**
 * The order as JSON built in SQL (what the events relay stores with each event), on both
 * databases: the same object as a read of the order, and each earlier step rebuilt from it.
 */
describe.each(STORAGE_KINDS)('orderJsonAsOf on %s', (kind) => {
  let database: TestDatabase;
  let orderId: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind, 2);
    const userId = randomUUID();
    const productId = randomUUID();
    orderId = randomUUID();
    await database.db.query("INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, 'Buyer', 'customer', 'x')", [userId, `${userId}@example.com`]);
    await database.db.query("INSERT INTO products (id, sku, name, price_cents, currency, on_hand) VALUES ($1, 'SKU-1', 'Mug', 1250, 'USD', 10)", [productId]);
    // Timestamps with microseconds, as now() writes them: the JSON has milliseconds, as a read gives.
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, failure_reason, history, version, created_at, updated_at)
       VALUES ($1, $2, 'failed', 2500, 'USD', 'Payment declined', $3, 3, '2026-12-02 10:00:00.000999+00', '2026-12-02 10:00:02.123999+00')`,
      [
        orderId,
        userId,
        JSON.stringify([
          { status: 'pending', at: '2026-12-02T10:00:00.000Z' },
          { status: 'processing', at: '2026-12-02T10:00:01.000Z' },
          { status: 'failed', at: '2026-12-02T10:00:02.123Z' },
        ]),
      ],
    );
    await database.db.query("INSERT INTO order_items VALUES ($1, 1, $2, 'SKU-1', 'Mug', 2, 1250, 2500)", [orderId, productId]);
  });
  afterAll(async () => {
    await database.drop();
  });

  async function asOf(status: string): Promise<Order> {
    const { rows } = await database.db.query<{ order: Order }>(`SELECT ${orderJsonAsOf('$2::text')} AS "order" FROM orders o WHERE o.id = $1`, [orderId, status]);
    return rows[0]!.order;
  }

  it('for the status the order is in, equals the order as a read gives it', async () => {
    const read = (await findOrder(database.db, orderId))!.order;
    expect(read.createdAt).toBe('2026-12-02T10:00:00.000Z');
    expect(read.updatedAt).toBe('2026-12-02T10:00:02.123Z');
    expect(await asOf('failed')).toEqual(read);
  });

  it('rebuilds an earlier step: that status, the history up to it, its time, no failure reason yet', async () => {
    const read = (await findOrder(database.db, orderId))!.order;
    expect(await asOf('processing')).toEqual({
      ...read,
      status: 'processing',
      failureReason: null,
      history: read.history.slice(0, 2),
      updatedAt: '2026-12-02T10:00:01.000Z',
    });
    expect(await asOf('pending')).toEqual({ ...read, status: 'pending', failureReason: null, history: read.history.slice(0, 1), updatedAt: '2026-12-02T10:00:00.000Z' });
  });

  it('for a status the order never had, gives it as it is', async () => {
    expect(await asOf('cancelled')).toEqual((await findOrder(database.db, orderId))!.order);
  });
});
