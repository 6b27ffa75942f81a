import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf, type TestProduct } from '../../../test/catalog.js';
import { STORAGE_KINDS, startTestApp, type TestApp } from '../../../test/harness.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { auditStock } from '../catalog/index.js';

const PROBLEM = /^application\/problem\+json/;

describe.each(STORAGE_KINDS)('orders on %s', (storage) => {
  let app: TestApp;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let mug: TestProduct;
  let tea: TestProduct;

  beforeAll(async () => {
    app = await startTestApp({ storage });
    [admin, alice, bob] = await Promise.all([registerAdmin(app), registerUser(app, 'alice'), registerUser(app, 'bob')]);
    mug = await createProduct(app, admin, { stock: 100, priceCents: 1250, name: 'Mug' });
    tea = await createProduct(app, admin, { stock: 100, priceCents: 499, name: 'Tea' });
  });
  afterAll(async () => {
    for (const row of await auditStock(app.db)) {
      expect(row.onHand).toBe(row.ledgerOnHand);
      expect(row.reserved).toBe(row.ledgerReserved);
    }
    await app.close();
  });

  const place = (user: TestUser, items: unknown, headers: Record<string, string> = {}) =>
    app.http.post('/api/orders').set(bearer(user)).set(headers).send({ items });

  describe('POST /api/orders', () => {
    it('reserves stock and answers 201 pending with catalog prices, merged lines, Location and history', async () => {
      const before = await stockOf(app, mug.id);
      const res = await place(alice, [
        { productId: mug.id, quantity: 2 },
        { productId: tea.id, quantity: 1 },
        { productId: mug.id, quantity: 1 },
      ]);
      expect(res.status).toBe(201);
      expect(res.headers.location).toBe(`/api/orders/${res.body.id}`);
      expect(res.body).toMatchObject({
        userId: alice.id,
        status: 'pending',
        currency: 'USD',
        failureReason: null,
        totalCents: 3 * 1250 + 499,
        items: [
          { productId: mug.id, sku: mug.sku, name: 'Mug', quantity: 3, unitPriceCents: 1250, lineTotalCents: 3750 },
          { productId: tea.id, sku: tea.sku, name: 'Tea', quantity: 1, unitPriceCents: 499, lineTotalCents: 499 },
        ],
      });
      expect(res.body.history).toEqual([{ status: 'pending', at: res.body.createdAt }]);
      expect(new Date(res.body.createdAt as string).toISOString()).toBe(res.body.createdAt);
      expect(await stockOf(app, mug.id)).toEqual({ onHand: before.onHand, reserved: before.reserved + 3 });
      const outbox = await app.db.query('SELECT topic FROM outbox_events WHERE aggregate_id = $1', [res.body.id]);
      expect(outbox.rows).toEqual([{ topic: 'order.placed' }]);
    });

    it('ignores prices, totals, status, owner and ids sent in the body', async () => {
      const forgedId = randomUUID();
      const res = await app.http
        .post('/api/orders')
        .set(bearer(alice))
        .send({
          id: forgedId,
          userId: bob.id,
          status: 'completed',
          totalCents: 1,
          items: [{ productId: mug.id, quantity: 1, unitPriceCents: 1, priceCents: 1, lineTotalCents: 1 }],
        });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ userId: alice.id, status: 'pending', totalCents: 1250 });
      expect(res.body.id).not.toBe(forgedId);
      expect(res.body.items[0].unitPriceCents).toBe(1250);
    });

    it('when a line asks for more than is available, then answers 409 OUT_OF_STOCK naming it and reserves nothing', async () => {
      const scarce = await createProduct(app, admin, { stock: 2 });
      const before = await stockOf(app, mug.id);
      const res = await place(alice, [
        { productId: mug.id, quantity: 1 },
        { productId: scarce.id, quantity: 3 },
      ]);
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('OUT_OF_STOCK');
      expect(res.body.errors).toEqual([{ productId: scarce.id, requested: 3, available: 2 }]);
      expect(await stockOf(app, mug.id)).toEqual(before);
      expect(await stockOf(app, scarce.id)).toEqual({ onHand: 2, reserved: 0 });
    });

    it('when a product does not exist, then answers 422 UNKNOWN_PRODUCT and reserves nothing', async () => {
      const ghost = randomUUID();
      const before = await stockOf(app, mug.id);
      const res = await place(alice, [
        { productId: mug.id, quantity: 1 },
        { productId: ghost, quantity: 1 },
      ]);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('UNKNOWN_PRODUCT');
      expect(res.body.errors).toEqual([{ productId: ghost }]);
      expect(await stockOf(app, mug.id)).toEqual(before);
    });

    it('without a token, then answers 401', async () => {
      const res = await app.http.post('/api/orders').send({ items: [{ productId: mug.id, quantity: 1 }] });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first response for the same key and body, without a second order or reservation', async () => {
      const key = `key-${randomUUID()}`;
      const items = [{ productId: tea.id, quantity: 2 }];
      const first = await place(alice, items, { 'Idempotency-Key': key });
      expect(first.status).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const reservedAfterFirst = (await stockOf(app, tea.id)).reserved;

      const again = await place(alice, items, { 'Idempotency-Key': key });
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.headers.location).toBe(`/api/orders/${first.body.id}`);
      expect(again.body).toEqual(first.body);
      expect((await stockOf(app, tea.id)).reserved).toBe(reservedAfterFirst);
    });

    it('replays exactly the response it answered (merged lines, prices, totals, history), also after the order moved on', async () => {
      const key = `stored-${randomUUID()}`;
      const items = [{ productId: mug.id, quantity: 1 }, { productId: tea.id, quantity: 3 }, { productId: mug.id.toUpperCase(), quantity: 2 }];
      const first = await place(alice, items, { 'Idempotency-Key': key }).expect(201);
      expect(first.body.items).toEqual([
        expect.objectContaining({ productId: mug.id, quantity: 3, unitPriceCents: 1250, lineTotalCents: 3750 }),
        expect.objectContaining({ productId: tea.id, quantity: 3, unitPriceCents: 499, lineTotalCents: 1497 }),
      ]);
      const read = await app.http.get(`/api/orders/${first.body.id}`).set(bearer(alice)).expect(200);
      expect(read.body).toEqual(first.body);
      expect((await place(alice, items, { 'Idempotency-Key': key }).expect(201)).body).toEqual(first.body);

      // The key refers to its order (no copy of the response); the replay answers the order as it
      // was placed, not as it is now.
      const { rows } = await app.db.query<{ orderId: string; body: unknown }>(
        'SELECT order_id AS "orderId", response_body AS body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
        [alice.id, key],
      );
      expect(rows).toEqual([{ orderId: first.body.id, body: null }]);
      await app.http.post(`/api/orders/${first.body.id}/cancel`).set(bearer(alice)).expect(200);
      const replay = await place(alice, items, { 'Idempotency-Key': key }).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect((await app.http.get(`/api/orders/${first.body.id}`).set(bearer(alice)).expect(200)).body.status).toBe('cancelled');
    });

    it('replays a key stored with its response body (rows written before keys referred to their order)', async () => {
      const key = `legacy-${randomUUID()}`;
      const items = [{ productId: tea.id, quantity: 1 }];
      const first = await place(alice, items, { 'Idempotency-Key': key }).expect(201);
      const body = { ...first.body, currency: 'EUR' };
      await app.db.query('UPDATE idempotency_keys SET order_id = NULL, response_body = $3::jsonb WHERE user_id = $1 AND key = $2', [alice.id, key, JSON.stringify(body)]);
      const replay = await place(alice, items, { 'Idempotency-Key': key }).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(body);
    });

    it('when the key is reused with another body, then answers 422 IDEMPOTENCY_KEY_MISMATCH', async () => {
      const key = `key-${randomUUID()}`;
      await place(alice, [{ productId: tea.id, quantity: 1 }], { 'Idempotency-Key': key }).expect(201);
      const res = await place(alice, [{ productId: tea.id, quantity: 2 }], { 'Idempotency-Key': key });
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_MISMATCH');
    });

    it("never replays one user's key for another user", async () => {
      const key = `shared-${randomUUID()}`;
      const items = [{ productId: tea.id, quantity: 1 }];
      const mine = await place(alice, items, { 'Idempotency-Key': key });
      const theirs = await place(bob, items, { 'Idempotency-Key': key });
      expect(theirs.status).toBe(201);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect(theirs.body.userId).toBe(bob.id);
    });

    it('when the first attempt failed, then the same key can be retried and succeeds', async () => {
      const scarce = await createProduct(app, admin, { stock: 1 });
      const key = `retry-${randomUUID()}`;
      await place(alice, [{ productId: scarce.id, quantity: 2 }], { 'Idempotency-Key': key }).expect(409);
      await app.http.post(`/api/products/${scarce.id}/stock`).set(bearer(admin)).send({ adjustment: 5 }).expect(200);
      await place(alice, [{ productId: scarce.id, quantity: 2 }], { 'Idempotency-Key': key }).expect(201);
    });

    it('when a key is older than the 24 h retention, then it is taken over by a new request, even with another body', async () => {
      const key = `old-${randomUUID()}`;
      const first = await place(alice, [{ productId: tea.id, quantity: 1 }], { 'Idempotency-Key': key }).expect(201);
      await app.db.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1", [key]);
      const second = await place(alice, [{ productId: tea.id, quantity: 2 }], { 'Idempotency-Key': key });
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBeUndefined();
      expect(second.body.id).not.toBe(first.body.id);
      const replay = await place(alice, [{ productId: tea.id, quantity: 2 }], { 'Idempotency-Key': key }).expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.id).toBe(second.body.id);
    });

  });

  describe('GET /api/orders/:id', () => {
    it('answers MISS and then HIT with the same order', async () => {
      const placed = await place(alice, [{ productId: mug.id, quantity: 1 }]).expect(201);
      const first = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(alice));
      expect(first.status).toBe(200);
      expect(first.headers['x-cache']).toBe('MISS');
      const second = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(alice));
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.body).toEqual(first.body);
      expect(second.body).toEqual(placed.body);
    });

    it('when the id is written in capitals, then it is the same order and the same cached copy (it missed the cache every time)', async () => {
      const placed = await place(alice, [{ productId: mug.id, quantity: 1 }]).expect(201);
      const upper = (placed.body.id as string).toUpperCase();
      expect((await app.http.get(`/api/orders/${upper}`).set(bearer(alice))).headers['x-cache']).toBe('MISS');
      const again = await app.http.get(`/api/orders/${upper}`).set(bearer(alice));
      expect(again.headers['x-cache']).toBe('HIT');
      expect(again.body).toEqual(placed.body);
    });

    it("answers 404 ORDER_NOT_FOUND for another user's order, with the cache cold and warm", async () => {
      const placed = await place(alice, [{ productId: mug.id, quantity: 1 }]).expect(201);
      const cold = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(bob));
      expect(cold.status).toBe(404);
      expect(cold.body.code).toBe('ORDER_NOT_FOUND');
      await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(alice)).expect(200);
      const warm = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(bob));
      expect(warm.status).toBe(404);
      expect(warm.body).toEqual(cold.body);
      const cancel = await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(bob));
      expect(cancel.status).toBe(404);
      const list = await app.http.get('/api/orders').set(bearer(bob));
      expect((list.body.items as { id: string }[]).map((o) => o.id)).not.toContain(placed.body.id);
    });

    it('lets an admin read any order', async () => {
      const placed = await place(alice, [{ productId: mug.id, quantity: 1 }]).expect(201);
      const res = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(admin));
      expect(res.status).toBe(200);
      expect(res.body.userId).toBe(alice.id);
    });

    it('answers 404 for an unknown or malformed id', async () => {
      await app.http.get(`/api/orders/${randomUUID()}`).set(bearer(alice)).expect(404);
      const res = await app.http.get('/api/orders/not-a-uuid').set(bearer(alice));
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('ORDER_NOT_FOUND');
    });
  });

  describe('POST /api/orders/:id/cancel', () => {
    it('cancels a pending order, releases its stock, appends history, and the cached copy shows it at once', async () => {
      const before = await stockOf(app, mug.id);
      const placed = await place(alice, [{ productId: mug.id, quantity: 4 }]).expect(201);
      await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(alice)).expect(200);

      const res = await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(alice));
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('cancelled');
      expect((res.body.history as { status: string }[]).map((h) => h.status)).toEqual(['pending', 'cancelled']);
      expect(await stockOf(app, mug.id)).toEqual(before);

      const read = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(alice));
      expect(read.headers['x-cache']).toBe('HIT');
      expect(read.body.status).toBe('cancelled');
    });

    it('when the order is no longer pending, then answers 409 ORDER_NOT_CANCELLABLE and changes nothing', async () => {
      const placed = await place(alice, [{ productId: mug.id, quantity: 1 }]).expect(201);
      await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(alice)).expect(200);
      const before = await stockOf(app, mug.id);
      const again = await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(alice));
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('ORDER_NOT_CANCELLABLE');
      expect(await stockOf(app, mug.id)).toEqual(before);
    });

    it('lets an admin cancel any pending order', async () => {
      const placed = await place(bob, [{ productId: mug.id, quantity: 1 }]).expect(201);
      const res = await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(admin));
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('cancelled');
    });
  });

  describe('GET /api/orders', () => {
    it("lists only the caller's orders, newest first, across pages without gaps or duplicates", async () => {
      const carol = await registerUser(app, 'carol');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await place(carol, [{ productId: tea.id, quantity: 1 }]).expect(201)).body.id as string);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await app.http
          .get('/api/orders')
          .query(cursor ? { limit: 2, cursor } : { limit: 2 })
          .set(bearer(carol));
        expect(res.status).toBe(200);
        seen.push(...(res.body.items as { id: string; userId: string }[]).map((o) => o.id));
        cursor = res.body.nextCursor as string | null;
        pages++;
        // An order placed mid-walk is newer than the cursor, so it never shifts later pages.
        if (pages === 1) await place(carol, [{ productId: tea.id, quantity: 1 }]).expect(201);
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual([...ids].reverse());
    });

    it('filters by status and lets only admins use scope=all', async () => {
      const dave = await registerUser(app, 'dave');
      const kept = await place(dave, [{ productId: tea.id, quantity: 1 }]).expect(201);
      const dropped = await place(dave, [{ productId: tea.id, quantity: 1 }]).expect(201);
      await app.http.post(`/api/orders/${dropped.body.id}/cancel`).set(bearer(dave)).expect(200);

      const cancelled = await app.http.get('/api/orders?status=cancelled').set(bearer(dave));
      expect((cancelled.body.items as { id: string }[]).map((o) => o.id)).toEqual([dropped.body.id]);
      const pending = await app.http.get('/api/orders?status=pending').set(bearer(dave));
      expect((pending.body.items as { id: string }[]).map((o) => o.id)).toEqual([kept.body.id]);

      const forbidden = await app.http.get('/api/orders?scope=all').set(bearer(dave));
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.code).toBe('FORBIDDEN');
      const all = await app.http.get('/api/orders?scope=all&limit=100').set(bearer(admin));
      const owners = new Set((all.body.items as { userId: string }[]).map((o) => o.userId));
      expect(owners.has(dave.id) && owners.has(alice.id)).toBe(true);
    });

  });

  // Refused by the schemas before any query, whatever the database: once, not per database.
  if (storage === 'postgres') {
    describe('input refused before any query', () => {
      it.each([
        ['no items', [], 'items'],
        ['51 lines', Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })), 'items'],
        ['quantity 0', [{ productId: randomUUID(), quantity: 0 }], 'items.0.quantity'],
        ['quantity 1001', [{ productId: randomUUID(), quantity: 1001 }], 'items.0.quantity'],
        ['a fractional quantity', [{ productId: randomUUID(), quantity: 1.5 }], 'items.0.quantity'],
        ['a string quantity', [{ productId: randomUUID(), quantity: '2' }], 'items.0.quantity'],
        ['a malformed product id', [{ productId: 'abc', quantity: 1 }], 'items.0.productId'],
        ['items that is not a list', 'lots', 'items'],
      ])('with %s, then answers 400 VALIDATION_FAILED naming the field', async (_label, items, path) => {
        const res = await place(alice, items);
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('VALIDATION_FAILED');
        expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
      });

      it('when merged lines for one product exceed 1000, then answers 400', async () => {
        const res = await place(alice, [
          { productId: mug.id, quantity: 600 },
          { productId: mug.id, quantity: 600 },
        ]);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      });

      it('when the key is longer than 255 characters, then answers 400', async () => {
        const res = await place(alice, [{ productId: tea.id, quantity: 1 }], { 'Idempotency-Key': 'k'.repeat(256) });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      });

      it.each([['limit=0'], ['limit=101'], ['limit=abc'], ['status=shipped'], ['cursor=garbage'], ['scope=everyone']])(
        'with %s, then answers 400',
        async (query) => {
          const res = await app.http.get(`/api/orders?${query}`).set(bearer(alice));
          expect(res.status).toBe(400);
          expect(res.headers['content-type']).toMatch(PROBLEM);
        },
      );
    });
  }
});

describe('order placement rate limit', () => {
  it('when a user places too many orders in a minute, then answers 429 RATE_LIMITED with Retry-After; others are unaffected', async () => {
    const app = await startTestApp({ storage: 'postgres', env: { ORDER_RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const admin = await registerAdmin(app);
      const [eager, calm] = await Promise.all([registerUser(app, 'eager'), registerUser(app, 'calm')]);
      const product = await createProduct(app, admin, { stock: 50 });
      const order = (user: TestUser) => app.http.post('/api/orders').set(bearer(user)).send({ items: [{ productId: product.id, quantity: 1 }] });
      for (let i = 0; i < 3; i++) await order(eager).expect(201);
      const limited = await order(eager);
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      await order(calm).expect(201);
      expect((await stockOf(app, product.id)).reserved).toBe(4);
    } finally {
      await app.close();
    }
  });
});
