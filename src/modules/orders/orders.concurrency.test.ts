import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf, type TestProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { auditStock } from '../catalog/index.js';

interface Reply {
  status: number;
  body: { id?: string; code?: string; errors?: { productId: string; available: number }[] };
}

/** Sends a real HTTP request over loopback; many of these in flight at once make the race. */
async function post(app: TestApp, user: TestUser, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${app.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Reply['body'] };
}

async function expectLedgerBalanced(app: TestApp): Promise<void> {
  for (const row of await auditStock(app.db)) {
    expect(row.onHand, `on hand of ${row.productId}`).toBe(row.ledgerOnHand);
    expect(row.reserved, `reserved of ${row.productId}`).toBe(row.ledgerReserved);
  }
}

/**
 * Runs `work` over `items` with at most `limit` in flight: still many more than the pool's 10
 * connections (the race), but no request waits for a connection longer than the pool's 3 s
 * acquire timeout on a loaded machine, which would answer 503 and fail the test for nothing.
 */
async function inFlight<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runner = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  return results;
}

const IN_FLIGHT = 40;

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('order placement under concurrency on PostgreSQL', () => {
  let app: TestApp;
  let admin: TestUser;
  let buyers: TestUser[];

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', env: { ORDER_RATE_LIMIT_PER_MINUTE: '10000' } });
    admin = await registerAdmin(app);
    buyers = await Promise.all(Array.from({ length: 10 }, (_, i) => registerUser(app, `buyer${i}`)));
  });
  afterAll(() => app.close());

  it('when 100 buyers race for 20 units, then exactly 20 orders are created, 80 answer OUT_OF_STOCK, and nothing oversells', async () => {
    const product = await createProduct(app, admin, { stock: 20 });
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => post(app, buyers[i % buyers.length]!, '/api/orders', { items: [{ productId: product.id, quantity: 1 }] })),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(80);
    expect(replies.filter((r) => r.status === 409).every((r) => r.body.code === 'OUT_OF_STOCK')).toBe(true);
    expect(await stockOf(app, product.id)).toEqual({ onHand: 20, reserved: 20 });
    const { rows } = await app.db.query<{ count: number }>('SELECT count(*)::int AS count FROM order_items WHERE product_id = $1', [product.id]);
    expect(rows[0]?.count).toBe(20);
    await expectLedgerBalanced(app);
  });

  it('when 300 multi-line orders in random line order race over 5 products, then none deadlocks, none is partial, and stock is conserved', async () => {
    const products: TestProduct[] = [];
    for (let i = 0; i < 5; i++) products.push(await createProduct(app, admin, { stock: 150 }));
    const requests = Array.from({ length: 300 }, (_, i) => {
      const lines = shuffle(products)
        .slice(0, 2 + randomInt(2))
        .map((p) => ({ productId: p.id, quantity: 1 + randomInt(3) }));
      return { user: buyers[i % buyers.length]!, lines };
    });

    const replies = await inFlight(requests, IN_FLIGHT, ({ user, lines }) => post(app, user, '/api/orders', { items: lines }));

    expect(replies.filter((r) => r.status >= 500)).toEqual([]);
    expect(replies.every((r) => r.status === 201 || (r.status === 409 && r.body.code === 'OUT_OF_STOCK'))).toBe(true);

    // Every accepted order holds exactly its requested lines; rejected ones hold nothing.
    const expectedReserved = new Map(products.map((p) => [p.id, 0]));
    for (const [i, reply] of replies.entries()) {
      if (reply.status !== 201) continue;
      const { rows } = await app.db.query<{ productId: string; quantity: number }>(
        'SELECT product_id AS "productId", quantity FROM order_items WHERE order_id = $1',
        [reply.body.id],
      );
      const requested = requests[i]!.lines;
      expect(rows).toHaveLength(requested.length);
      for (const line of requested) {
        expect(rows).toContainEqual({ productId: line.productId, quantity: line.quantity });
        expectedReserved.set(line.productId, expectedReserved.get(line.productId)! + line.quantity);
      }
    }
    for (const product of products) {
      const stock = await stockOf(app, product.id);
      expect(stock.onHand).toBe(150);
      expect(stock.reserved).toBe(expectedReserved.get(product.id));
      expect(stock.reserved).toBeLessThanOrEqual(stock.onHand);
    }
    expect(replies.filter((r) => r.status === 201).length).toBeGreaterThan(0);
    await expectLedgerBalanced(app);
  });

  it('when multi-line orders are completed and cancelled while others are placed over the same products, then none deadlocks and stock is conserved', async () => {
    const products: TestProduct[] = [];
    for (let i = 0; i < 4; i++) products.push(await createProduct(app, admin, { stock: 1000 }));
    const randomLines = () =>
      shuffle(products)
        .slice(0, 2 + randomInt(3))
        .map((p) => ({ productId: p.id, quantity: 1 + randomInt(3) }));
    const sum = (orders: { lines: { productId: string; quantity: number }[] }[], productId: string) =>
      orders.flatMap((o) => o.lines).reduce((total, line) => total + (line.productId === productId ? line.quantity : 0), 0);

    const earlier = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const user = buyers[i % buyers.length]!;
        const lines = randomLines();
        const reply = await post(app, user, '/api/orders', { items: lines });
        expect(reply.status).toBe(201);
        return { id: reply.body.id!, user, lines };
      }),
    );
    const toComplete = earlier.slice(0, 30);
    const toCancel = earlier.slice(30);
    for (const order of toComplete) expect(await app.deps.orders.transitionOrder(order.id, 'processing')).toBeDefined();
    const later = Array.from({ length: 120 }, (_, i) => ({ user: buyers[i % buyers.length]!, lines: randomLines() }));

    // Settling (sale, release) and reserving lock the same product rows at the same time.
    const [completed, cancelled, placed] = await Promise.all([
      Promise.all(toComplete.map((order) => app.deps.orders.transitionOrder(order.id, 'completed'))),
      Promise.all(toCancel.map((order) => post(app, order.user, `/api/orders/${order.id}/cancel`, {}))),
      inFlight(later, IN_FLIGHT, ({ user, lines }) => post(app, user, '/api/orders', { items: lines })),
    ]);

    expect(completed.map((order) => order?.order.status)).toEqual(toComplete.map(() => 'completed'));
    expect(cancelled.map((reply) => reply.status)).toEqual(toCancel.map(() => 200));
    expect(placed.map((reply) => reply.status)).toEqual(later.map(() => 201));
    for (const product of products) {
      expect(await stockOf(app, product.id)).toEqual({ onHand: 1000 - sum(toComplete, product.id), reserved: sum(later, product.id) });
    }
    await expectLedgerBalanced(app);
  });

  it('when 20 requests with the same Idempotency-Key race, then one order exists and stock is reserved once', async () => {
    const product = await createProduct(app, admin, { stock: 100 });
    const buyer = buyers[0]!;
    const key = `race-${randomUUID()}`;
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(app, buyer, '/api/orders', { items: [{ productId: product.id, quantity: 3 }] }, { 'Idempotency-Key': key }),
      ),
    );
    expect(replies.filter((r) => r.status >= 500)).toEqual([]);
    const created = replies.filter((r) => r.status === 201);
    const inUse = replies.filter((r) => r.status === 409);
    expect(created.length + inUse.length).toBe(20);
    expect(inUse.every((r) => r.body.code === 'IDEMPOTENCY_KEY_IN_USE')).toBe(true);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    // Replays answer the first response itself, read back through the key's order.
    for (const reply of created) expect(reply.body).toEqual(created[0]!.body);
    expect(await stockOf(app, product.id)).toEqual({ onHand: 100, reserved: 3 });
    const { rows } = await app.db.query<{ count: number }>('SELECT count(*)::int AS count FROM order_items WHERE product_id = $1', [product.id]);
    expect(rows[0]?.count).toBe(1);
  });

  it('when an order is cancelled many times at once, then its stock is released exactly once', async () => {
    const product = await createProduct(app, admin, { stock: 10 });
    const buyer = buyers[1]!;
    const placed = await post(app, buyer, '/api/orders', { items: [{ productId: product.id, quantity: 4 }] });
    expect(placed.status).toBe(201);
    const replies = await Promise.all(Array.from({ length: 10 }, () => post(app, buyer, `/api/orders/${placed.body.id}/cancel`, {})));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(9);
    expect(await stockOf(app, product.id)).toEqual({ onHand: 10, reserved: 0 });
    await expectLedgerBalanced(app);
  });
});
