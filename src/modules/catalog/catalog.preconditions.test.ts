import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../../test/catalog.js';
import { STORAGE_KINDS, startTestApp, type TestApp } from '../../../test/harness.js';
import { expectProblem } from '../../../test/problems.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';

const STRONG_ETAG = /^"[0-9a-f]{32}"$/;

/**
 * Optimistic concurrency on products: every single-product answer carries an ETag (the product's
 * version), and `If-Match` makes a change apply only to the version the client saw. The version is
 * the row's (xmin), so this runs on both databases.
 */
describe.each(STORAGE_KINDS)('product ETags and If-Match on %s', (storage) => {
  let app: TestApp;
  let admin: TestUser;
  let otherAdmin: TestUser;

  beforeAll(async () => {
    app = await startTestApp({ storage });
    [admin, otherAdmin] = [await registerAdmin(app), await registerAdmin(app)];
  });
  afterAll(() => app.close());

  const etagOf = async (id: string): Promise<string> => {
    const res = await app.http.get(`/api/products/${id}`);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(STRONG_ETAG);
    return res.headers.etag as string;
  };
  const patch = (id: string, user: TestUser, body: object, ifMatch?: string) => {
    const req = app.http.patch(`/api/products/${id}`).set(bearer(user));
    return (ifMatch === undefined ? req : req.set('If-Match', ifMatch)).send(body);
  };

  it('every answer with one product carries an ETag, the same for every reader, which changes whenever the product does (details, stock, an order)', async () => {
    const created = await app.http.post('/api/products').set(bearer(admin)).send({ sku: `E-${randomBytes(4).toString('hex')}`, name: 'Tagged', priceCents: 100, stock: 5 });
    expect(created.headers.etag).toMatch(STRONG_ETAG);
    const id = created.body.id as string;
    expect(await etagOf(id)).toBe(created.headers.etag);
    expect((await app.http.get(`/api/products/${id}`).set(bearer(admin))).headers.etag).toBe(created.headers.etag);

    const patched = await patch(id, admin, { name: 'Tagged again' });
    expect(patched.headers.etag).toMatch(STRONG_ETAG);
    expect(patched.headers.etag).not.toBe(created.headers.etag);
    expect(await etagOf(id)).toBe(patched.headers.etag);

    const restocked = await app.http.post(`/api/products/${id}/stock`).set(bearer(admin)).send({ adjustment: 3 });
    expect(restocked.headers.etag).not.toBe(patched.headers.etag);
    expect(await etagOf(id)).toBe(restocked.headers.etag);

    const shopper = await registerUser(app, 'etag');
    expect((await app.http.post('/api/orders').set(bearer(shopper)).send({ items: [{ productId: id, quantity: 1 }] })).status).toBe(201);
    expect(await etagOf(id)).not.toBe(restocked.headers.etag);
  });

  it('when two admins change a product they both read, with If-Match, then the first change applies and the second answers 412 PRECONDITION_FAILED and changes nothing', async () => {
    const product = await createProduct(app, admin, { stock: 5, priceCents: 1000 });
    const seen = await etagOf(product.id);

    const first = await patch(product.id, admin, { priceCents: 1200 }, seen);
    expect(first.status).toBe(200);
    const second = await patch(product.id, otherAdmin, { name: 'Renamed from a stale read', priceCents: 900 }, seen);
    expectProblem(second, 412, 'PRECONDITION_FAILED');
    expect(second.body.detail).toMatch(/changed since/);
    expect((await app.http.get(`/api/products/${product.id}`)).body).toMatchObject({ name: `Product ${product.sku}`, priceCents: 1200 });

    // Read again, the change applies.
    expect((await patch(product.id, otherAdmin, { priceCents: 900 }, await etagOf(product.id))).status).toBe(200);
  });

  it('when two changes with the same If-Match race, then exactly one applies', async () => {
    const product = await createProduct(app, admin, { stock: 5, priceCents: 1000 });
    const seen = await etagOf(product.id);
    const results = await Promise.all([1, 2, 3, 4].map((i) => patch(product.id, i % 2 ? admin : otherAdmin, { priceCents: 1000 + i }, seen)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412, 412]);
    const winner = results.find((r) => r.status === 200);
    expect((await app.http.get(`/api/products/${product.id}`)).body.priceCents).toBe(winner?.body.priceCents);
  });

  it('a stock adjustment with a stale If-Match answers 412 and changes neither stock nor the ledger', async () => {
    const product = await createProduct(app, admin, { stock: 5 });
    const seen = await etagOf(product.id);
    expect((await app.http.post(`/api/products/${product.id}/stock`).set(bearer(otherAdmin)).send({ adjustment: -2 })).status).toBe(200);

    const stale = await app.http.post(`/api/products/${product.id}/stock`).set(bearer(admin)).set('If-Match', seen).send({ adjustment: 10 });
    expectProblem(stale, 412, 'PRECONDITION_FAILED');
    expect(await stockOf(app, product.id)).toEqual({ onHand: 3, reserved: 0 });
    const { rows } = await app.db.query('SELECT 1 FROM stock_movements WHERE product_id = $1', [product.id]);
    expect(rows).toHaveLength(2);
  });

  it('If-Match matches when any listed tag is current, or with *; weak tags never match; an unknown product still answers 404', async () => {
    const product = await createProduct(app, admin, { stock: 1 });
    const current = await etagOf(product.id);
    expect((await patch(product.id, admin, { priceCents: 1 }, `"0123456789abcdef0123456789abcdef", ${current}`)).status).toBe(200);
    expect((await patch(product.id, admin, { priceCents: 2 }, '*')).status).toBe(200);
    expectProblem(await patch(product.id, admin, { priceCents: 3 }, `W/${await etagOf(product.id)}`), 412, 'PRECONDITION_FAILED');
    expectProblem(await patch(randomUUID(), admin, { priceCents: 3 }, current), 404, 'PRODUCT_NOT_FOUND');
    expect((await app.http.get(`/api/products/${product.id}`)).body.priceCents).toBe(2);
  });

  it.each([['an unquoted tag', 'abc'], ['an unterminated tag', '"abc'], ['a tag with a space', '"a b"'], ['an empty list', ','], ['* in a list', `*, "abc"`]])(
    'when If-Match is %s, then answers 400 VALIDATION_FAILED naming the header and changes nothing',
    async (_label, ifMatch) => {
      const product = await createProduct(app, admin, { stock: 1, priceCents: 500 });
      const res = await patch(product.id, admin, { priceCents: 1 }, ifMatch);
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors).toEqual([expect.objectContaining({ path: 'If-Match' })]);
      expect((await app.http.get(`/api/products/${product.id}`)).body.priceCents).toBe(500);
    },
  );

  it('GET with If-None-Match of the current ETag answers 304, and 200 with the product once it changed', async () => {
    const product = await createProduct(app, admin, { stock: 1 });
    const seen = await etagOf(product.id);
    const unchanged = await app.http.get(`/api/products/${product.id}`).set('If-None-Match', seen);
    expect(unchanged.status).toBe(304);
    expect(unchanged.headers.etag).toBe(seen);
    await patch(product.id, admin, { priceCents: 7 });
    const changed = await app.http.get(`/api/products/${product.id}`).set('If-None-Match', seen);
    expect(changed.status).toBe(200);
    expect(changed.body.priceCents).toBe(7);
  });
});
