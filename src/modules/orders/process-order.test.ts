import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf, type TestProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { waitUntil } from '../../../test/wait.js';
import { createLogger } from '../../platform/logger.js';
import { auditStock } from '../catalog/index.js';
import { createPaymentVoids, TransientPaymentError, type PaymentProvider } from '../payments/index.js';
import { createProcessOrder } from './process-order.js';

/** Batched processing on a real PostgreSQL, called directly (no queue): one statement moves many orders. */
describe('processing orders in batches', () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;
  const logger = createLogger({ level: 'error', format: 'json', silent: true });

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app)]);
  });
  afterAll(async () => {
    await app.close();
  });

  async function place(lines: { productId: string; quantity: number }[]): Promise<string> {
    const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: lines });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function expectConserved(): Promise<void> {
    for (const row of await auditStock(app.db)) {
      expect(row.onHand).toBe(row.ledgerOnHand);
      expect(row.reserved).toBe(row.ledgerReserved);
    }
  }

  const statusesOf = async (ids: string[]) =>
    new Map((await app.db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE id = ANY($1::uuid[])', [ids])).rows.map((r) => [r.id, r.status]));

  it('moves only the orders whose status allows it, settles shared products once per product, and writes one ledger row per line', async () => {
    const [a, b] = [await createProduct(app, admin, { stock: 100 }), await createProduct(app, admin, { stock: 100 })];
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await place([{ productId: a.id, quantity: 2 }, { productId: b.id, quantity: 1 }]));
    await app.http.post(`/api/orders/${ids[0]}/cancel`).set(bearer(buyer)).expect(200);

    const processing = await app.deps.orders.transitionOrders(ids, 'processing');
    expect(processing).toHaveLength(9);
    const completed = await app.deps.orders.transitionOrders(ids.slice(0, 6), 'completed');
    const failed = await app.deps.orders.transitionOrders(ids.slice(6), 'failed', new Map([[ids[6]!, 'Payment declined']]));
    expect(completed.map((e) => e.order.status)).toEqual(Array(5).fill('completed'));
    expect(failed).toHaveLength(4);
    expect(failed.find((e) => e.order.id === ids[6])?.order.failureReason).toBe('Payment declined');
    expect(failed.find((e) => e.order.id === ids[7])?.order.failureReason).toBeNull();
    // A second move of the same orders changes nothing.
    expect(await app.deps.orders.transitionOrders(ids, 'completed')).toEqual([]);

    expect(await stockOf(app, a.id)).toEqual({ onHand: 90, reserved: 0 });
    expect(await stockOf(app, b.id)).toEqual({ onHand: 95, reserved: 0 });
    const { rows } = await app.db.query<{ kind: string; n: number }>(
      'SELECT kind, count(*)::int AS n FROM stock_movements WHERE order_id = ANY($1::uuid[]) GROUP BY kind ORDER BY kind',
      [ids],
    );
    expect(rows).toEqual([
      { kind: 'release', n: 10 },
      { kind: 'reserve', n: 20 },
      { kind: 'sale', n: 10 },
    ]);
    // One outbox event per status change (the order event stream subscribes to every topic);
    // `order.processing` starts no job, so it is written already published (no relay round for it),
    // while the others wait for a relay (none runs in this app).
    const topics = await app.db.query<{ topic: string; n: number; published: number }>(
      `SELECT topic, count(*)::int AS n, count(published_at)::int AS published
       FROM outbox_events WHERE aggregate_id = ANY($1::uuid[]) GROUP BY topic ORDER BY topic`,
      [ids],
    );
    expect(topics.rows).toEqual([
      { topic: 'order.cancelled', n: 1, published: 0 },
      { topic: 'order.completed', n: 5, published: 0 },
      { topic: 'order.failed', n: 4, published: 0 },
      { topic: 'order.placed', n: 10, published: 0 },
      { topic: 'order.processing', n: 9, published: 9 },
    ]);
    await expectConserved();
  });

  it('when batches complete while other orders are placed and cancelled over the same products, then none deadlocks and stock is conserved', async () => {
    const products: TestProduct[] = [];
    for (let i = 0; i < 4; i++) products.push(await createProduct(app, admin, { stock: 10_000 }));
    const lines = (i: number) => [0, 1, 2].map((k) => ({ productId: products[(i + k) % 4]!.id, quantity: 1 + ((i + k) % 3) }));
    const first: string[] = [];
    for (let i = 0; i < 60; i++) first.push(await place(lines(i)));
    await app.deps.orders.transitionOrders(first, 'processing');
    const batches = [first.slice(0, 20), first.slice(20, 40), first.slice(40)];
    const placing = Array.from({ length: 30 }, (_, i) => place(lines(i)));
    await Promise.all([
      ...batches.map((batch) => app.deps.orders.transitionOrders([...batch].reverse(), 'completed')),
      ...placing,
      ...placing.slice(0, 10).map(async (id) => app.http.post(`/api/orders/${await id}/cancel`).set(bearer(buyer))),
    ]);
    expect([...(await statusesOf(first)).values()].every((s) => s === 'completed')).toBe(true);
    await expectConserved();
  });

  it('finishes the decided orders of a batch, and retries only the one whose payment was undecided', async () => {
    const product = await createProduct(app, admin, { stock: 50, priceCents: 100 });
    const ids = [await place([{ productId: product.id, quantity: 1 }]), await place([{ productId: product.id, quantity: 1 }]), await place([{ productId: product.id, quantity: 1 }])];
    const [approve, decline, flaky] = ids as [string, string, string];
    let flakyFailures = 1;
    const charged: string[] = [];
    const payments: PaymentProvider = {
      name: 'scripted',
      charge({ orderId }) {
        charged.push(orderId);
        if (orderId === decline) return Promise.resolve({ outcome: 'declined', reason: 'Card declined' });
        if (orderId === flaky && flakyFailures-- > 0) return Promise.reject(new TransientPaymentError('provider unavailable'));
        return Promise.resolve({ outcome: 'approved', reference: `ref-${orderId}` });
      },
      void: () => Promise.resolve(),
    };
    const voids = createPaymentVoids({ db: app.db, payments, logger });
    const handler = createProcessOrder({ orders: app.deps.orders, payments, voids, logger });
    await expect(handler.run({ orderIds: ids }, { attempt: 1, maxAttempts: 8 })).rejects.toThrow(/1 of 3 payments undecided/);
    expect(await statusesOf(ids)).toEqual(new Map([[approve, 'completed'], [decline, 'failed'], [flaky, 'processing']]));

    await handler.run({ orderIds: ids }, { attempt: 2, maxAttempts: 8 });
    expect((await statusesOf(ids)).get(flaky)).toBe('completed');
    expect(charged.filter((id) => id !== flaky)).toEqual([approve, decline]);
    expect(await stockOf(app, product.id)).toEqual({ onHand: 48, reserved: 0 });
    const cached = await app.http.get(`/api/orders/${flaky}`).set(bearer(buyer));
    expect(cached.headers['x-cache']).toBe('HIT');
    expect(cached.body.status).toBe('completed');
    await expectConserved();
  });

  it("charges without waiting for the 'processing' copies to reach the cache, and ends only once they have, with the outcome cached", async () => {
    const product = await createProduct(app, admin, { stock: 5 });
    const id = await place([{ productId: product.id, quantity: 1 }]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let processingCached = false;
    const orders: typeof app.deps.orders = {
      ...app.deps.orders,
      async transitionOrdersEagerly(ids, to, reasons) {
        const { moved, cached } = await app.deps.orders.transitionOrdersEagerly(ids, to, reasons);
        return { moved, cached: gate.then(() => cached).finally(() => (processingCached = true)) };
      },
    };
    const cachedWhenCharged: boolean[] = [];
    const payments: PaymentProvider = {
      name: 'scripted',
      charge() {
        cachedWhenCharged.push(processingCached);
        return Promise.resolve({ outcome: 'approved', reference: 'ref' });
      },
      void: () => Promise.resolve(),
    };
    const voids = createPaymentVoids({ db: app.db, payments, logger });
    let ended = false;
    const running = createProcessOrder({ orders, payments, voids, logger })
      .run({ orderIds: [id] }, { attempt: 1, maxAttempts: 8 })
      .then(() => (ended = true));
    try {
      await waitUntil(async () => (await statusesOf([id])).get(id) === 'completed', 5000, 'the order completed');
      expect(cachedWhenCharged).toEqual([false]);
      expect(ended).toBe(false);
    } finally {
      release();
      await running;
    }
    const cached = await app.http.get(`/api/orders/${id}`).set(bearer(buyer));
    expect([cached.headers['x-cache'], cached.body.status]).toEqual(['HIT', 'completed']);
  });
});
