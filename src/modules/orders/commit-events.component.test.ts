import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { createOrderCache } from './order-cache.js';
import type { ClaimedEvent, OrderTopic } from './order-events.js';
import { createOrdersService } from './orders.service.js';
import { createPlaceOrder } from './place-order.js';

/**
 * The placement use case and the orders service on PostgreSQL, called directly: what a commit
 * tells this process's relay about the outbox events it wrote. An event that starts jobs is
 * written claimed for the relay when it can publish at once, so the relay publishes it without a
 * claim statement; otherwise it is written unclaimed, for any relay.
 */
describe('outbox events written by commits', () => {
  let app: TestApp;
  let buyer: TestUser;
  let productId: string;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
    productId = (await createProduct(app, admin, { stock: 100 })).id;
  });
  afterAll(async () => {
    await app.close();
  });

  describe('placing an order', () => {
    function placer(claimSeconds: number | undefined) {
      const committed: { topic: OrderTopic; claimed: readonly ClaimedEvent[] | undefined }[] = [];
      const placeOrder = createPlaceOrder({
        db: app.db,
        placementLimit: createRateLimiter({ name: 'placements', points: 100, windowSeconds: 60 }),
        currency: 'USD',
        logger: createLogger({ level: 'error', format: 'json', silent: true }),
        metrics: { orderPlaced: () => undefined },
        onEventsCommitted: (topic, claimed) => void committed.push({ topic, claimed }),
        ...(claimSeconds === undefined ? {} : { claimCommittedEvents: () => claimSeconds }),
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

  describe('changing orders’ status', () => {
    // As the worker wires it: completions and failures start email jobs; `processing` only feeds the event stream.
    const jobTopics = new Set<OrderTopic>(['order.placed', 'order.completed', 'order.failed', 'order.cancelled']);

    function service(claimSeconds: number | undefined) {
      const committed: { topic: OrderTopic; claimed: readonly ClaimedEvent[] | undefined }[] = [];
      const orders = createOrdersService({
        db: app.db,
        orderCache: createOrderCache(app.cache),
        placementLimit: createRateLimiter({ name: 'placements', points: 100, windowSeconds: 60 }),
        currency: 'USD',
        jobTopics,
        logger: createLogger({ level: 'error', format: 'json', silent: true }),
        metrics: { orderPlaced: () => undefined, orderCancelled: () => undefined, cacheLookup: () => undefined },
        onEventsCommitted: (topic, claimed) => void committed.push({ topic, claimed }),
        ...(claimSeconds === undefined ? {} : { claimCommittedEvents: () => claimSeconds }),
      });
      const place = async () => (await orders.placeOrder({ userId: buyer.id, role: 'customer' }, [{ productId, quantity: 1 }])).order.id;
      return { orders, committed, place };
    }

    async function outboxRowsOf(orderIds: readonly string[], topic: OrderTopic) {
      const { rows } = await app.db.query<{ id: string; aggregateId: string; claimedFor: number | null; published: boolean }>(
        `SELECT id, aggregate_id AS "aggregateId", extract(epoch FROM claimed_until - now())::float AS "claimedFor", published_at IS NOT NULL AS published
         FROM outbox_events WHERE aggregate_id = ANY($1::uuid[]) AND topic = $2 ORDER BY id`,
        [orderIds, topic],
      );
      return rows;
    }

    it('when the relay can publish at once, then the events that start jobs are written claimed for it and handed to it after the commit, one per order moved', async () => {
      const { orders, committed, place } = service(5);
      const ids = [await place(), await place(), await place()];
      await orders.transitionOrders(ids.slice(0, 2), 'processing');
      committed.length = 0;

      // The third order is still pending: it cannot complete, and gets no event.
      const moved = await orders.transitionOrders(ids, 'completed');
      expect(moved.map((entry) => entry.order.id).sort()).toEqual(ids.slice(0, 2).sort());
      const rows = await outboxRowsOf(ids, 'order.completed');
      expect(rows.map((row) => row.aggregateId).sort()).toEqual(ids.slice(0, 2).sort());
      for (const row of rows) {
        expect(row.published).toBe(false);
        expect(row.claimedFor).toBeGreaterThan(3);
        expect(row.claimedFor).toBeLessThanOrEqual(5);
      }
      expect(committed).toHaveLength(1);
      expect(committed[0]!.topic).toBe('order.completed');
      expect([...committed[0]!.claimed!].sort((a, b) => a.id - b.id)).toEqual(
        rows.map((row) => ({ id: Number(row.id), topic: 'order.completed', aggregateId: row.aggregateId })),
      );
    });

    it('when one order is cancelled, then its event is written claimed and handed over too', async () => {
      const { orders, committed, place } = service(5);
      const id = await place();
      committed.length = 0;
      expect(await orders.cancelOrder({ userId: buyer.id, role: 'customer' }, id)).toMatchObject({ status: 'cancelled' });
      const [row] = await outboxRowsOf([id], 'order.cancelled');
      expect(row!.claimedFor).toBeGreaterThan(3);
      expect(committed).toEqual([{ topic: 'order.cancelled', claimed: [{ id: Number(row!.id), topic: 'order.cancelled', aggregateId: id }] }]);
    });

    it('when the event starts no job, then it is written already published and nothing is claimed', async () => {
      const { orders, committed, place } = service(5);
      const id = await place();
      committed.length = 0;
      await orders.transitionOrders([id], 'processing');
      const [row] = await outboxRowsOf([id], 'order.processing');
      expect(row).toMatchObject({ published: true, claimedFor: null });
      expect(committed).toEqual([{ topic: 'order.processing', claimed: undefined }]);
    });

    it.each([
      ['it cannot reach its queue', 0],
      ['no relay runs in this process', undefined],
    ])('when %s, then the events are written unclaimed, for any relay', async (_, claimSeconds) => {
      const { orders, committed, place } = service(claimSeconds);
      const id = await place();
      await orders.transitionOrders([id], 'processing');
      committed.length = 0;
      await orders.transitionOrders([id], 'completed');
      const [row] = await outboxRowsOf([id], 'order.completed');
      expect(row).toMatchObject({ published: false, claimedFor: null });
      expect(committed).toEqual([{ topic: 'order.completed', claimed: undefined }]);
    });
  });
});
