import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { expectProblem } from '../../../test/problems.js';
import { bearer, registerAdmin, type TestUser } from '../../../test/users.js';

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Input the catalog refuses before any query: the schemas and the validation middleware decide,
 * whichever database is behind them, so these run once (on PostgreSQL) rather than per database.
 * The "changes nothing" checks read the product back through the API.
 */
describe('catalog input validation', () => {
  let app: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    admin = await registerAdmin(app);
  });
  afterAll(() => app.close());

  async function createProduct(): Promise<{ id: string }> {
    const res = await app.http
      .post('/api/products')
      .set(bearer(admin))
      .send({ sku: `V-${randomBytes(5).toString('hex')}`, name: 'Test product', priceCents: 1999, stock: 10 });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  }

  describe('POST /api/products', () => {
    const valid = { name: 'Valid', priceCents: 100, stock: 1 };
    it.each([
      ['an empty sku', { ...valid, sku: '' }, 'sku'],
      ['a 65-character sku', { ...valid, sku: `A${'b'.repeat(64)}` }, 'sku'],
      ['a sku starting with "-"', { ...valid, sku: '-abc' }, 'sku'],
      ['a sku with a space', { ...valid, sku: 'AB C' }, 'sku'],
      ['a sku with a slash', { ...valid, sku: 'AB/C' }, 'sku'],
      ['a missing sku', { ...valid }, 'sku'],
      ['an empty name', { ...valid, sku: 'OK-1', name: '' }, 'name'],
      ['a blank name', { ...valid, sku: 'OK-1', name: '   ' }, 'name'],
      ['a 201-character name', { ...valid, sku: 'OK-1', name: 'n'.repeat(201) }, 'name'],
      ['a name with a NUL character', { ...valid, sku: 'OK-1', name: 'a\u0000b' }, 'name'],
      ['a 2001-character description', { ...valid, sku: 'OK-1', description: 'd'.repeat(2001) }, 'description'],
      ['a null description', { ...valid, sku: 'OK-1', description: null }, 'description'],
      ['a description with an escape sequence', { ...valid, sku: 'OK-1', description: 'red \u001b[31malert' }, 'description'],
      ['a description with a tab', { ...valid, sku: 'OK-1', description: 'a\tb' }, 'description'],
      ['a description with BEL', { ...valid, sku: 'OK-1', description: 'a\u0007b' }, 'description'],
      ['a description with DEL', { ...valid, sku: 'OK-1', description: 'a\u007fb' }, 'description'],
      ['a description with a C1 control character', { ...valid, sku: 'OK-1', description: 'a\u0085b' }, 'description'],
      ['a name with a right-to-left override', { ...valid, sku: 'OK-1', name: 'Mug \u202Eder' }, 'name'],
      ['a description with a right-to-left override', { ...valid, sku: 'OK-1', description: 'Mug \u202Eder' }, 'description'],
      ['a name with a zero width space', { ...valid, sku: 'OK-1', name: 'Mug\u200BCup' }, 'name'],
      ['a name with a zero width no-break space (byte order mark)', { ...valid, sku: 'OK-1', name: 'Mug\uFEFFCup' }, 'name'],
      ['a name with a word joiner', { ...valid, sku: 'OK-1', name: 'Mug\u2060Cup' }, 'name'],
      ['a name with a soft hyphen', { ...valid, sku: 'OK-1', name: 'Mug\u00ADCup' }, 'name'],
      ['a negative price', { ...valid, sku: 'OK-1', priceCents: -1 }, 'priceCents'],
      ['a fractional price', { ...valid, sku: 'OK-1', priceCents: 1.5 }, 'priceCents'],
      ['a price above 100000000', { ...valid, sku: 'OK-1', priceCents: 100_000_001 }, 'priceCents'],
      ['a price as a string', { ...valid, sku: 'OK-1', priceCents: '100' }, 'priceCents'],
      ['a missing price', { sku: 'OK-1', name: 'X', stock: 1 }, 'priceCents'],
      ['negative stock', { ...valid, sku: 'OK-1', stock: -1 }, 'stock'],
      ['stock above 1000000', { ...valid, sku: 'OK-1', stock: 1_000_001 }, 'stock'],
      ['fractional stock', { ...valid, sku: 'OK-1', stock: 2.5 }, 'stock'],
      ['missing stock', { sku: 'OK-1', name: 'X', priceCents: 1 }, 'stock'],
    ])('when given %s, then answers 400 VALIDATION_FAILED naming the field', async (_label, body, field) => {
      const res = await app.http.post('/api/products').set(bearer(admin)).send(body);
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
    });

    it('accepts a name with a zero width joiner (an emoji sequence), and line-break hints (soft hyphen, zero width space) in a description, as sent', async () => {
      const product = { ...valid, sku: `ZW-${randomBytes(4).toString('hex')}`, name: 'Mug \u{1F9D1}\u200D\u{1F373}', description: 'Porzellan\u00ADbecher\u200Bfor long lines' };
      const res = await app.http.post('/api/products').set(bearer(admin)).send(product);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: product.name, description: product.description });
    });

    it('accepts a description over several lines (LF, CRLF, U+2028) and keeps it as sent', async () => {
      const description = 'Line one\nLine two\r\nLine three\u2028Line four';
      const res = await app.http.post('/api/products').set(bearer(admin)).send({ ...valid, sku: `ML-${randomBytes(4).toString('hex')}`, description });
      expect(res.status).toBe(201);
      expect(res.body.description).toBe(description);
    });

    it.each([
      ['an array', '[]', 'VALIDATION_FAILED', 'Invalid request body — request body: must be an object'],
      ['a JSON string', '"sku"', 'MALFORMED_JSON', 'The request body must be a JSON object'],
      ['null', 'null', 'MALFORMED_JSON', 'The request body must be a JSON object'],
      ['broken JSON', '{"sku":', 'MALFORMED_JSON', 'The request body is not valid JSON'],
    ])('when the body is %s, then answers 400 saying what is wrong', async (_label, raw, code, detail) => {
      const res = await app.http.post('/api/products').set(bearer(admin)).set('Content-Type', 'application/json').send(raw);
      expectProblem(res, 400, code);
      expect(res.body.detail).toBe(detail);
    });
  });

  describe('GET /api/products', () => {
    it.each([['0'], ['101'], ['-1'], ['abc'], ['1.5'], ['']])('with limit=%s, then answers 400 VALIDATION_FAILED', async (limit) => {
      const res = await app.http.get(`/api/products?limit=${limit}`);
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'limit' })]));
    });

    it.each([
      ['garbage', 'not a cursor!'],
      ['base64 of a non-array', cursorOf({ sku: 'A' })],
      ['numbers instead of a position', cursorOf([1, 2])],
      ['a malformed id', cursorOf(['A', 'not-a-uuid'])],
      ['too many parts', cursorOf(['A', randomUUID(), 3])],
      ['base64 of invalid JSON', Buffer.from('[oops').toString('base64url')],
    ])('with a cursor that is %s, then answers 400 INVALID_CURSOR', async (_label, cursor) => {
      const res = await app.http.get('/api/products').query({ cursor });
      expectProblem(res, 400, 'INVALID_CURSOR');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'cursor' })]));
    });

    it('with repeated or array parameters, then answers 400 rather than failing', async () => {
      expectProblem(await app.http.get('/api/products?limit=5&limit=6'), 400, 'VALIDATION_FAILED');
      expectProblem(await app.http.get('/api/products?cursor=a&cursor=b'), 400, 'VALIDATION_FAILED');
    });

    it('with an invalid token, then answers 401', async () => {
      expectProblem(await app.http.get('/api/products').set('Authorization', 'Bearer nope'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('PATCH /api/products/:id', () => {
    it.each([
      ['an empty body', {}],
      ['only fields that cannot be patched', { stock: 5, onHand: 5 }],
      ['an empty name', { name: '' }],
      ['a negative price', { priceCents: -5 }],
      ['a null price', { priceCents: null }],
      ['a 2001-character description', { description: 'x'.repeat(2001) }],
      ['a description with an escape sequence', { description: 'x\u001b[2J' }],
    ])('with %s, then answers 400 VALIDATION_FAILED and changes nothing', async (_label, body) => {
      const product = await createProduct();
      expectProblem(await app.http.patch(`/api/products/${product.id}`).set(bearer(admin)).send(body), 400, 'VALIDATION_FAILED');
      const after = await app.http.get(`/api/products/${product.id}`).set(bearer(admin));
      expect(after.body).toEqual(expect.objectContaining({ name: 'Test product', priceCents: 1999, onHand: 10 }));
    });
  });

  describe('POST /api/products/:id/stock', () => {
    it.each([
      ['zero', { adjustment: 0 }],
      ['a fraction', { adjustment: 1.5 }],
      ['a string', { adjustment: '5' }],
      ['more than 1000000', { adjustment: 1_000_001 }],
      ['less than -1000000', { adjustment: -1_000_001 }],
      ['nothing', {}],
    ])('with %s, then answers 400 VALIDATION_FAILED', async (_label, body) => {
      const product = await createProduct();
      const res = await app.http.post(`/api/products/${product.id}/stock`).set(bearer(admin)).send(body);
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'adjustment' })]));
    });
  });
});
