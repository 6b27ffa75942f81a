import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useStandbyTestServer } from '../../../test/sync-standby.js';
import { waitUntil } from '../../../test/wait.js';
import { createMemoryCache } from '../../platform/cache/index.js';
import { createLogger } from '../../platform/logger.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { createOrderCache } from './order-cache.js';
import { createOrdersService } from './orders.service.js';

const standby = useStandbyTestServer();

/** A processing order of a new user, committed while no standby is required. */
async function processingOrder(): Promise<{ orderId: string; userId: string }> {
  const [userId, productId, orderId] = [randomUUID(), randomUUID(), randomUUID()];
  await standby.admin.query(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Buyer', 'x')`, [userId, `${userId}@example.com`]);
  await standby.admin.query(`INSERT INTO products (id, sku, name, price_cents, currency, on_hand, reserved) VALUES ($1, $2, 'Lamp', 500, 'USD', 10, 1)`, [
    productId,
    `SKU-${productId.slice(0, 8)}`,
  ]);
  await standby.admin.query(
    `INSERT INTO orders (id, user_id, status, total_cents, currency, history)
     VALUES ($1, $2, 'processing', 500, 'USD', '[{"status":"pending","at":"2026-12-05T10:00:00.000Z"},{"status":"processing","at":"2026-12-05T10:00:00.010Z"}]')`,
    [orderId, userId],
  );
  await standby.admin.query(
    `INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_price_cents, line_total_cents)
     SELECT $1, 1, id, sku, name, 1, 500, 500 FROM products WHERE id = $2`,
    [orderId, productId],
  );
  return { orderId, userId };
}

/** Completes the order in a commit only this server has (see `commitSeenHereOnly`). */
async function completeOnThisServerOnly(orderId: string): Promise<void> {
  await standby.commitSeenHereOnly(`UPDATE orders SET status = 'completed', version = version + 1 WHERE id = $1`, [orderId]);
  // A plain read sees it: the state the cache must not be filled from.
  expect((await standby.admin.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status).toBe('completed');
}

function ordersService() {
  const orderCache = createOrderCache(createMemoryCache());
  const orders = createOrdersService({
    db: standby.db,
    orderCache,
    placementLimit: createRateLimiter({ name: 'placements', points: 100, windowSeconds: 60 }),
    currency: 'USD',
    logger: createLogger({ level: 'error', format: 'json', silent: true }),
    metrics: { orderPlaced: () => undefined, orderCancelled: () => undefined, cacheLookup: () => undefined },
  });
  return { orders, orderCache };
}

describe('order reads on a primary with a synchronous standby', () => {
  it('fill the cache only once the standby holds what the read saw: a commit the standby never got is neither cached nor answered', async () => {
    const { orders, orderCache } = ordersService();
    const [read, refreshed] = [await processingOrder(), await processingOrder()];
    await standby.server.set('synchronous_standby_names', 'a_standby_that_never_answers');
    await completeOnThisServerOnly(read.orderId);
    await completeOnThisServerOnly(refreshed.orderId);

    // Both ways an order enters the cache from a read: a GET that missed, and a job's refresh.
    let settled = 0;
    const counted = <T>(work: Promise<T>) => work.finally(() => (settled += 1));
    const reads = Promise.all([
      counted(orders.getOrder({ userId: read.userId, role: 'customer' }, read.orderId)),
      counted(orders.refreshCachedOrders([refreshed.orderId])),
    ]);
    await waitUntil(async () => settled > 0 || (await standby.waitingForStandby()).length >= 2, 10_000, 'the reads to answer or wait for the standby');
    expect(settled, 'a read answered with a commit the standby does not hold').toBe(0);
    expect(await orderCache.get(read.orderId)).toBeUndefined();
    expect(await orderCache.get(refreshed.orderId)).toBeUndefined();

    // The standby requirement goes (here: dropped; in a real cluster the standby catches up), and
    // the reads answer and cache what is now safe to hand out.
    await standby.server.set('synchronous_standby_names', '');
    const [answered] = await reads;
    expect(JSON.parse(answered.json)).toMatchObject({ id: read.orderId, status: 'completed' });
    for (const orderId of [read.orderId, refreshed.orderId]) {
      expect(JSON.parse((await orderCache.get(orderId))!.json)).toMatchObject({ id: orderId, status: 'completed' });
    }
  });

  it('answer a list only once the standby holds what it read, for a customer and for an admin', async () => {
    const { orders } = ordersService();
    const mine = await processingOrder();
    await standby.server.set('synchronous_standby_names', 'a_standby_that_never_answers');
    await completeOnThisServerOnly(mine.orderId);

    let settled = 0;
    const page = { limit: 20, after: undefined };
    const counted = <T>(work: Promise<T>) => work.finally(() => (settled += 1));
    const lists = Promise.all([
      counted(orders.listOrders({ userId: mine.userId, role: 'customer' }, { scope: 'mine', ...page })),
      counted(orders.listOrders({ userId: randomUUID(), role: 'admin' }, { scope: 'all', ...page })),
    ]);
    await waitUntil(async () => settled > 0 || (await standby.waitingForStandby()).length >= 2, 10_000, 'the lists to answer or wait for the standby');
    expect(settled, 'a list answered with a commit the standby does not hold').toBe(0);

    await standby.server.set('synchronous_standby_names', '');
    const [customers, admins] = await lists;
    expect(customers.items).toMatchObject([{ id: mine.orderId, status: 'completed' }]);
    expect(admins.items.find((order) => order.id === mine.orderId)).toMatchObject({ status: 'completed' });
  });

  it('refuse a cancellation only once the standby holds the status that refused it', async () => {
    const { orders } = ordersService();
    const order = await processingOrder();
    await standby.admin.query(`UPDATE orders SET status = 'pending' WHERE id = $1`, [order.orderId]);
    await standby.server.set('synchronous_standby_names', 'a_standby_that_never_answers');
    await standby.commitSeenHereOnly(`UPDATE orders SET status = 'processing', version = version + 1 WHERE id = $1`, [order.orderId]);

    let settled = false;
    const cancel = orders.cancelOrder({ userId: order.userId, role: 'customer' }, order.orderId).then(
      () => 'cancelled',
      (error: { code?: string }) => error.code,
    ).finally(() => (settled = true));
    await waitUntil(async () => settled || (await standby.waitingForStandby()).length >= 1, 10_000, 'the cancellation to answer or wait for the standby');
    expect(settled, 'a cancellation was refused on a commit the standby does not hold').toBe(false);

    await standby.server.set('synchronous_standby_names', '');
    expect(await cancel).toBe('ORDER_NOT_CANCELLABLE');
  });
});
