import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS, type TestDatabase } from '../../../test/harness.js';
import { createInProcessSignal } from '../../platform/signal.js';
import { findOrder } from '../orders/orders.repository.js';
import { relayEventsOnce } from './events-relay.js';
import { eventsAfter } from './order-events.repository.js';

/**
 * The events pass called directly on each database: what each event carries when it is copied
 * after the order moved on, and that no outbox row becomes two events.
 */
describe.each(STORAGE_KINDS)('the events pass (relayEventsOnce) on %s', (kind) => {
  let database: TestDatabase;
  let userId: string;
  let productId: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const { rows: users } = await database.db.query<{ id: string }>(
      "INSERT INTO users (email, name, password_hash) VALUES ($1, 'Buyer', 'not-a-hash') RETURNING id",
      [`${randomUUID()}@example.com`],
    );
    const { rows: products } = await database.db.query<{ id: string }>(
      "INSERT INTO products (sku, name, price_cents, currency, on_hand) VALUES ('SKU-1', 'Mug', 500, 'EUR', 100) RETURNING id",
    );
    userId = users[0]!.id;
    productId = products[0]!.id;
  });
  afterAll(async () => {
    await database.drop();
  });

  const relay = () => relayEventsOnce({ db: database.db, signal: createInProcessSignal(), onAppended: [] });

  /** An order that went pending → processing → failed, with an outbox row for each `topics`. */
  async function failedOrder(topics: string[]): Promise<{ orderId: string; outboxIds: number[] }> {
    const orderId = randomUUID();
    const history = [
      { status: 'pending', at: '2026-12-02T10:00:00.000Z' },
      { status: 'processing', at: '2026-12-02T10:00:01.000Z' },
      { status: 'failed', at: '2026-12-02T10:00:02.000Z' },
    ];
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, failure_reason, history, created_at, updated_at)
       VALUES ($1, $2, 'failed', 1000, 'EUR', 'Payment declined', $3::jsonb, '2026-12-02T10:00:00Z', '2026-12-02T10:00:02.123456Z')`,
      [orderId, userId, JSON.stringify(history)],
    );
    await database.db.query(
      `INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_price_cents, line_total_cents)
       VALUES ($1, 1, $2, 'SKU-1', 'Mug', 2, 500, 1000)`,
      [orderId, productId],
    );
    const outboxIds: number[] = [];
    for (const topic of topics) {
      const { rows } = await database.db.query<{ id: number }>('INSERT INTO outbox_events (topic, aggregate_id) VALUES ($1, $2) RETURNING id', [topic, orderId]);
      outboxIds.push(Number(rows[0]!.id));
    }
    return { orderId, outboxIds };
  }

  it('when the events of changes are copied after the order moved on, then each carries the order as it was right after its change', async () => {
    const { orderId } = await failedOrder(['order.placed', 'order.processing', 'order.failed']);
    await relay();
    const now = (await findOrder(database.db, orderId))!.order;
    const events = await eventsAfter(database.db, 0, { orderId }, 10);

    expect(events.map((event) => event.type)).toEqual(['order.placed', 'order.processing', 'order.failed']);
    // The latest change: the order exactly as a read answers it.
    expect(events[2]!.order).toEqual(now);
    expect(now.updatedAt).toBe('2026-12-02T10:00:02.123Z');
    // An earlier one: its status, the history up to it, its time, and no failure reason yet.
    expect(events[1]!.order).toEqual({ ...now, status: 'processing', failureReason: null, history: now.history.slice(0, 2), updatedAt: '2026-12-02T10:00:01.000Z' });
    expect(events[0]!.order).toEqual({ ...now, status: 'pending', failureReason: null, history: now.history.slice(0, 1), updatedAt: '2026-12-02T10:00:00.000Z' });
    expect(events.every((event) => event.userId === userId && event.orderId === orderId)).toBe(true);
  });

  it("when a change's status is not in the order's history, then its event carries the order as it is", async () => {
    const { orderId } = await failedOrder(['order.cancelled']);
    await relay();
    const [event] = await eventsAfter(database.db, 0, { orderId }, 10);
    expect(event!.order).toEqual((await findOrder(database.db, orderId))!.order);
  });

  it('when a pass finds rows another pass already copied (its snapshot predates that commit), then it copies only the others, once', async () => {
    const { orderId, outboxIds } = await failedOrder(['order.placed', 'order.processing']);
    // The other pass's work, as this one's older snapshot does not see it: the event exists, the row still reads unsequenced.
    await database.db.query(
      `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order") VALUES ($1, $2, $3, 'order.placed', '{"copied": "before"}')`,
      [outboxIds[0], orderId, userId],
    );
    expect(await relay()).toBe(2);
    const events = await eventsAfter(database.db, 0, { orderId }, 10);
    expect(events.map((event) => [event.type, 'copied' in event.order])).toEqual([
      ['order.placed', true],
      ['order.processing', false],
    ]);
    const { rows } = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE id = ANY($1::bigint[]) AND NOT sequenced', [outboxIds]);
    expect(rows[0]!.n).toBe(0);
  });
});
