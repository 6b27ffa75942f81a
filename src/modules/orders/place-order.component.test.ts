import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { createLogger } from '../../platform/logger.js';
import type { OutboxEvent } from '../../platform/outbox.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { createPlaceOrder } from './place-order.js';

const logger = createLogger({ level: 'error', format: 'json', silent: true });

/**
 * Placement's outbox event, called directly on PostgreSQL: written claimed by the placing
 * process when its relay says it publishes its own events (see workers/background.ts), else
 * unclaimed for any relay.
 */
describe('placing an order (createPlaceOrder) on PostgreSQL', () => {
  let database: TestDatabase;
  let userId: string;
  let productId: string;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
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

  /** Places one order; answers what the relay was told and the claim on the order's outbox row. */
  async function placeWith(ownPublishSeconds: number | undefined, idempotencyKey?: string) {
    const told: (readonly OutboxEvent[] | undefined)[] = [];
    const placeOrder = createPlaceOrder({
      db: database.db,
      placementLimit: createRateLimiter({ name: 'placements', points: 1000, windowSeconds: 60 }),
      currency: 'EUR',
      logger,
      metrics: { orderPlaced: () => undefined },
      onEventsCommitted: (_topic, claimed) => told.push(claimed),
      ownPublishSeconds: () => ownPublishSeconds,
    });
    const { order } = await placeOrder({ userId, role: 'customer' }, [{ productId, quantity: 1 }], idempotencyKey);
    const { rows } = await database.db.query<{ id: number; claimedForSeconds: number | null }>(
      `SELECT id, extract(epoch FROM claimed_until - now())::float8 AS "claimedForSeconds"
       FROM outbox_events WHERE aggregate_id = $1 AND topic = 'order.placed'`,
      [order.id],
    );
    return { order, told, row: rows[0]! };
  }

  it('when its relay publishes its own events, then the outbox row is written claimed for that long and handed to the relay', async () => {
    const { order, told, row } = await placeWith(30);
    expect(row.claimedForSeconds).toBeGreaterThan(20);
    expect(row.claimedForSeconds).toBeLessThanOrEqual(30);
    expect(told).toEqual([[{ id: row.id, topic: 'order.placed', aggregateId: order.id }]]);
  });

  it('when its relay publishes its own events, then a keyed placement hands over its row too', async () => {
    const { order, told, row } = await placeWith(30, randomUUID());
    expect(row.claimedForSeconds).toBeGreaterThan(20);
    expect(told).toEqual([[{ id: row.id, topic: 'order.placed', aggregateId: order.id }]]);
  });

  it('when its relay leaves events to the outbox (jobs wait, or no queue), then the row is written unclaimed', async () => {
    const { told, row } = await placeWith(undefined);
    expect(row.claimedForSeconds).toBeNull();
    expect(told).toEqual([[]]);
  });
});
