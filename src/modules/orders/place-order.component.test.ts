import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { createPlaceOrder, type ClaimedEvent } from './place-order.js';
import type { OrderTopic } from './order-events.js';

/** The placement use case on PostgreSQL, called directly: what it tells the relay about its outbox event. */
describe('placing an order: its outbox event', () => {
  let app: TestApp;
  let buyer: TestUser;
  let productId: string;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
    productId = (await createProduct(app, admin, { stock: 10 })).id;
  });
  afterAll(async () => {
    await app.close();
  });

  function placer(claimSeconds: number | undefined) {
    const committed: { topic: OrderTopic; claimed: readonly ClaimedEvent[] | undefined }[] = [];
    const placeOrder = createPlaceOrder({
      db: app.db,
      placementLimit: createRateLimiter({ name: 'placements', points: 100, windowSeconds: 60 }),
      currency: 'USD',
      logger: createLogger({ level: 'error', format: 'json', silent: true }),
      metrics: { orderPlaced: () => undefined },
      onEventsCommitted: (topic, claimed) => void committed.push({ topic, claimed }),
      ...(claimSeconds === undefined ? {} : { claimPlacedEvents: () => claimSeconds }),
    });
    return { committed, place: (key?: string) => placeOrder({ userId: buyer.id, role: 'customer' }, [{ productId, quantity: 1 }], key) };
  }

  async function outboxRowOf(orderId: string) {
    const { rows } = await app.db.query<{ id: number; claimedFor: number | null }>(
      `SELECT id, extract(epoch FROM claimed_until - now())::float AS "claimedFor" FROM outbox_events WHERE aggregate_id = $1 AND topic = 'order.placed'`,
      [orderId],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  it.each([
    ['without a key', undefined],
    ['with a fresh Idempotency-Key', 'claimed-key-1'],
  ])('when the relay can publish at once (%s), then the event is written claimed for it and handed to it after the commit', async (_, key) => {
    const { committed, place } = placer(5);
    const { order } = await place(key);
    const row = await outboxRowOf(order.id);
    expect(row.claimedFor).toBeGreaterThan(3);
    expect(row.claimedFor).toBeLessThanOrEqual(5);
    expect(committed).toEqual([{ topic: 'order.placed', claimed: [{ id: row.id, topic: 'order.placed', aggregateId: order.id }] }]);
  });

  it.each([
    ['it cannot reach its queue', 0],
    ['no relay runs in this process', undefined],
  ])('when %s, then the event is written unclaimed, for any relay', async (_, claimSeconds) => {
    const { committed, place } = placer(claimSeconds);
    const { order } = await place();
    expect((await outboxRowOf(order.id)).claimedFor).toBeNull();
    expect(committed).toEqual([{ topic: 'order.placed', claimed: undefined }]);
  });

  it('when a request repeats its Idempotency-Key, then nothing is placed and the relay is told nothing', async () => {
    const { committed, place } = placer(5);
    const first = await place('claimed-key-2');
    const replay = await place('claimed-key-2');
    expect(replay.replayed).toBe(true);
    expect(replay.order.id).toBe(first.order.id);
    expect(committed).toHaveLength(1);
  });
});
