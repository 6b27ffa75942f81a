import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { bearer, registerAdmin, registerUser, uniqueEmail, type TestUser } from '../../test/users.js';
import { createApp } from '../app.js';
import { changePasswordBody, loginBody, refreshBody, registerBody } from '../modules/auth/index.js';
import { adjustStockBody, createProductBody, updateProductBody } from '../modules/catalog/index.js';
import { resendAllBody } from '../modules/notifications/index.js';
import { listOrdersQuery, placeOrderBody } from '../modules/orders/index.js';
import { createWebhookBody, updateWebhookBody } from '../modules/webhooks/index.js';
import { pageQuery } from '../shared/pagination.js';

type Json = Record<string, unknown>;
type Doc = Json & { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json> } };

const PROBLEM_REF = '#/components/schemas/Problem';

/* ---- A JSON Schema checker for the subset zod-to-openapi emits (no dependency for a test) ---- */

const FORMATS: Record<string, (value: string) => boolean> = {
  email: (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v),
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  'date-time': (v) => /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)),
};
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const TYPES: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
  array: Array.isArray,
  object: isObject,
};

function violations(doc: Doc, schema: Json, value: unknown, at = '$'): string[] {
  if (typeof schema.$ref === 'string') return violations(doc, doc.components.schemas[schema.$ref.split('/').pop() ?? ''] ?? {}, value, at);
  const sub = (s: unknown, v: unknown, p = at) => violations(doc, s as Json, v, p);
  const out: string[] = [];
  const fail = (rule: string) => out.push(`${at}: ${rule}`);
  for (const s of (schema.allOf as Json[] | undefined) ?? []) out.push(...sub(s, value));
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => sub(s, value).length === 0)) fail('matches no anyOf branch');
  if (schema.not && sub(schema.not, value).length === 0) fail('matches `not`');
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => isDeepStrictEqual(e, value))) fail(`not in enum ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && !isDeepStrictEqual(schema.const, value)) fail(`not ${JSON.stringify(schema.const)}`);
  const types = schema.type === undefined ? [] : [schema.type].flat() as string[];
  if (types.length > 0 && !types.some((t) => TYPES[t]?.(value))) return [...out, `${at}: not of type ${types.join('|')}`];
  const n = (key: string) => schema[key] as number | undefined;
  if (typeof value === 'string') {
    const length = [...value].length;
    if (length < (n('minLength') ?? 0) || length > (n('maxLength') ?? Infinity)) fail('length out of range');
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail(`does not match ${schema.pattern}`);
    if (typeof schema.format === 'string' && FORMATS[schema.format]?.(value) === false) fail(`not a ${schema.format}`);
  }
  if (typeof value === 'number') {
    if (value < (n('minimum') ?? -Infinity) || value > (n('maximum') ?? Infinity)) fail('out of range');
    if (value <= (n('exclusiveMinimum') ?? -Infinity) || value >= (n('exclusiveMaximum') ?? Infinity)) fail('out of exclusive range');
  }
  if (Array.isArray(value)) {
    if (value.length < (n('minItems') ?? 0) || value.length > (n('maxItems') ?? Infinity)) fail('item count out of range');
    if (schema.items) value.forEach((item, i) => out.push(...sub(schema.items, item, `${at}[${i}]`)));
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Json;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in value)) fail(`missing ${key}`);
    for (const [key, v] of Object.entries(value)) {
      if (key in properties) out.push(...sub(properties[key], v, `${at}.${key}`));
      else if (schema.additionalProperties === false) fail(`unexpected property ${key}`);
    }
  }
  return out;
}

/* ---- Routes the real Express app registers ---- */

interface Layer {
  route?: { path: unknown; methods: Record<string, unknown> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

const toOpenApiPath = (path: string) => (path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1') || '/');

/** Walks Express 5's router stack; nested routers keep their mount path in `rawPath` (router 2.x). */
function registeredRoutes(stack: readonly Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const { path, methods } = layer.route;
      if (typeof path !== 'string') throw new Error(`route path ${String(path)} cannot be documented`);
      return Object.keys(methods).map((method) => `${method.replace('_all', 'all').toUpperCase()} ${toOpenApiPath(prefix + path)}`);
    }
    if (!layer.handle?.stack) return [];
    if (typeof layer.rawPath !== 'string') throw new Error('a router is mounted on a non-string path; the walk cannot recover it');
    return registeredRoutes(layer.handle.stack, layer.rawPath === '/' ? prefix : prefix + layer.rawPath);
  });
}

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })));

describe('the OpenAPI document', () => {
  let app: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const res = await app.http.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body as Doc;
  });
  afterAll(() => app.close());

  it('is OpenAPI 3.1 titled for the service, versioned from package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: 'Order Processing Service', version: pkg.version });
  });

  it('documents exactly the routes the app registers', () => {
    const express = createApp(app.deps) as unknown as { router: { stack: Layer[] } };
    const registered = new Set(registeredRoutes(express.router.stack));
    expect(registered).toContain('POST /api/orders/{id}/cancel'); // the walk itself works
    const documented = new Set(operations(doc).map((o) => o.key));
    expect([...registered].filter((route) => !documented.has(route)), 'registered but not documented').toEqual([]);
    const absent = [...documented].filter((route) => !registered.has(route));
    expect(absent, 'documented but not registered').toEqual([]);
  });

  it('declares bearer auth and uses it on every protected operation', () => {
    expect(doc.components).toMatchObject({ securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } });
    const secured = operations(doc).filter((o) => JSON.stringify(o.op.security ?? []).includes('bearerAuth')).map((o) => o.key);
    expect(secured).toEqual(expect.arrayContaining(['GET /api/auth/me', 'POST /api/products', 'POST /api/orders', 'GET /api/orders/{id}']));
    expect(secured).not.toContain('POST /api/auth/login');
  });

  it('gives every operation a 4xx problem+json response built on the Problem schema', () => {
    for (const { key, op } of operations(doc)) {
      const problems = Object.entries(op.responses as Record<string, Json>).filter(
        ([status, response]) => /^4\d\d$/.test(status) && JSON.stringify(response.content ?? {}).includes(`"$ref":"${PROBLEM_REF}"`),
      );
      expect(problems.length, key).toBeGreaterThan(0);
      for (const [, response] of problems) expect(Object.keys(response.content as Json), key).toEqual(['application/problem+json']);
    }
  });

  /** Per operation with a body: the validator the route runs, a body it accepts and bodies it rejects. */
  const id = randomUUID();
  const BODIES: Record<string, { validator: z.ZodType; valid: unknown; rejected: unknown[] }> = {
    register: {
      validator: registerBody,
      valid: { email: 'ann@example.com', password: 'long enough', name: 'Ann' },
      rejected: [
        { email: 'ann@example.com', password: 'short', name: 'Ann' },
        { email: 'not-an-email', password: 'long enough', name: 'Ann' },
        { email: 'ann@example.com', password: 'long enough', name: '' },
      ],
    },
    login: { validator: loginBody, valid: { email: 'ann@example.com', password: 'x' }, rejected: [{ email: 'ann', password: 'x' }, { email: 'ann@example.com', password: '' }] },
    changePassword: {
      validator: changePasswordBody,
      valid: { currentPassword: 'x', newPassword: 'long enough' },
      rejected: [{ newPassword: 'long enough' }, { currentPassword: 'x', newPassword: 'short' }, { currentPassword: 'x', newPassword: 'x'.repeat(129) }],
    },
    refreshTokens: { validator: refreshBody, valid: { refreshToken: 'abc' }, rejected: [{}, { refreshToken: '' }] },
    logout: { validator: refreshBody, valid: { refreshToken: 'abc' }, rejected: [{}, { refreshToken: 42 }] },
    createProduct: {
      validator: createProductBody,
      valid: { sku: 'MUG-1', name: 'Mug', priceCents: 1200, stock: 5 },
      rejected: [
        { sku: '-mug', name: 'Mug', priceCents: 1200, stock: 5 },
        { sku: 'MUG-1', name: '   ', priceCents: 1200, stock: 5 },
        { sku: 'MUG-1', name: 'Mug', priceCents: 12.5, stock: 5 },
        { sku: 'MUG-1', name: 'Mug', priceCents: 1200, stock: -1 },
      ],
    },
    updateProduct: { validator: updateProductBody, valid: { priceCents: 900 }, rejected: [{}, { priceCents: -1 }, { name: ' ' }] },
    resendAllRefusedEmails: { validator: resendAllBody, valid: { since: '2026-12-01T00:00:00Z' }, rejected: [{ since: 'yesterday' }, { until: 42 }, { orderIds: [] }] },
    adjustStock: { validator: adjustStockBody, valid: { adjustment: -2 }, rejected: [{ adjustment: 0 }, { adjustment: 1.5 }, {}] },
    placeOrder: {
      validator: placeOrderBody,
      valid: { items: [{ productId: id, quantity: 2 }] },
      rejected: [
        { items: [] },
        { items: [{ productId: 'p-1', quantity: 1 }] },
        { items: [{ productId: id, quantity: 0 }] },
        { items: Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })) },
      ],
    },
    createWebhook: {
      validator: createWebhookBody,
      valid: { url: 'https://erp.example.com/hooks', events: ['order.completed'], description: 'ERP' },
      rejected: [{ url: 'https://erp.example.com/hooks', events: [] }, { url: 'https://erp.example.com/hooks', events: ['order.shipped'] }, { events: ['order.placed'] }],
    },
    updateWebhook: { validator: updateWebhookBody, valid: { enabled: false }, rejected: [{ enabled: 'no' }, { events: [] }] },
  };

  it('documents each request body so that it rejects what the route validator rejects', () => {
    const withBody = operations(doc).filter((o) => o.op.requestBody);
    expect(withBody.map((o) => o.op.operationId).sort()).toEqual(Object.keys(BODIES).sort());
    for (const { op } of withBody) {
      const { validator, valid, rejected } = BODIES[op.operationId as string]!;
      const schema = ((op.requestBody as Json).content as Record<string, Json>)['application/json']!.schema as Json;
      expect(validator.safeParse(valid).success).toBe(true);
      expect(violations(doc, schema, valid), `${String(op.operationId)} accepts ${JSON.stringify(valid)}`).toEqual([]);
      for (const sample of rejected) {
        expect(validator.safeParse(sample).success, `validator rejects ${JSON.stringify(sample)}`).toBe(false);
        expect(violations(doc, schema, sample), `${String(op.operationId)} rejects ${JSON.stringify(sample)}`).not.toEqual([]);
      }
    }
  });

  it('documents query parameters with the limits the validators enforce', () => {
    const param = (key: string, name: string) => {
      const op = operations(doc).find((o) => o.key === key)!.op;
      return ((op.parameters as Json[]).find((p) => p.name === name) as { schema: Json }).schema;
    };
    for (const [key, validator] of [['GET /api/products', pageQuery], ['GET /api/orders', listOrdersQuery]] as const) {
      for (const limit of [0, 101, 20]) {
        const accepted = violations(doc, param(key, 'limit'), limit).length === 0;
        expect(accepted, `${key} limit=${limit}`).toBe(validator.safeParse({ limit: String(limit) }).success);
      }
    }
    expect(violations(doc, param('GET /api/orders', 'status'), 'shipped')).not.toEqual([]);
    expect(violations(doc, param('GET /api/orders', 'scope'), 'all')).toEqual([]);
  });

  describe('matches what the app answers', () => {
    let customer: TestUser;
    let admin: TestUser;

    /** `expected` is "status" or "status CODE"; that response must be documented, with its media type, headers and body schema. */
    function expectDocumented(key: string, expected: string, res: Response): void {
      const [status, code] = expected.split(' ');
      expect(res.status, `${key}: ${res.text}`).toBe(Number(status));
      if (code) expect(res.body.code).toBe(code);
      const op = operations(doc).find((o) => o.key === key)?.op;
      const response = (op?.responses as Record<string, Json> | undefined)?.[String(res.status)];
      expect(response, `${key} → ${res.status} is documented`).toBeDefined();
      expect(res.headers['x-request-id']).toBeTruthy();
      for (const name of Object.keys(response?.headers ?? {})) {
        if (['Location', 'Retry-After', 'X-Cache'].includes(name)) expect(res.headers[name.toLowerCase()], `${key} ${name}`).toBeTruthy();
      }
      const [mediaType, media] = Object.entries((response?.content ?? {}) as Record<string, Json>)[0] ?? [];
      if (!mediaType || !media) {
        if (res.status < 300 || res.status > 399) expect(res.text ?? '').toBe('');
        return;
      }
      expect(res.headers['content-type']).toContain(mediaType);
      if (mediaType.endsWith('json')) expect(violations(doc, media.schema as Json, res.body), `${key} → ${res.status}`).toEqual([]);
    }

    beforeAll(async () => {
      customer = await registerUser(app, 'docs');
      admin = await registerAdmin(app);
    });

    it('for auth', async () => {
      const email = uniqueEmail('docs');
      expectDocumented('POST /api/auth/register', '201', await app.http.post('/api/auth/register').send({ email, password: 'long enough', name: 'D' }));
      expectDocumented('POST /api/auth/register', '409 EMAIL_TAKEN', await app.http.post('/api/auth/register').send({ email, password: 'long enough', name: 'D' }));
      expectDocumented('POST /api/auth/register', '400 VALIDATION_FAILED', await app.http.post('/api/auth/register').send({ email: 'x', password: 'long enough', name: 'D' }));
      expectDocumented('POST /api/auth/register', '415 UNSUPPORTED_MEDIA_TYPE', await app.http.post('/api/auth/register').type('text/plain').send('hello'));
      expectDocumented('POST /api/auth/login', '400 MALFORMED_JSON', await app.http.post('/api/auth/login').type('json').send('{"email":'));
      expectDocumented('POST /api/auth/login', '401 INVALID_CREDENTIALS', await app.http.post('/api/auth/login').send({ email, password: 'wrong password' }));
      const login = await app.http.post('/api/auth/login').send({ email, password: 'long enough' });
      expectDocumented('POST /api/auth/login', '200', login);
      const refreshed = await app.http.post('/api/auth/refresh').send({ refreshToken: login.body.refreshToken });
      expectDocumented('POST /api/auth/refresh', '200', refreshed);
      expectDocumented('POST /api/auth/refresh', '401 INVALID_REFRESH_TOKEN', await app.http.post('/api/auth/refresh').send({ refreshToken: login.body.refreshToken }));
      expectDocumented('GET /api/auth/me', '200', await app.http.get('/api/auth/me').set(bearer(customer)));
      expectDocumented('GET /api/auth/me', '401 UNAUTHENTICATED', await app.http.get('/api/auth/me'));
      expectDocumented('POST /api/auth/logout', '204', await app.http.post('/api/auth/logout').send({ refreshToken: refreshed.body.refreshToken }));
      const signedIn = { accessToken: login.body.accessToken as string };
      const changePassword = (body: object) => app.http.post('/api/auth/password').set(bearer(signedIn)).send(body);
      expectDocumented('POST /api/auth/password', '401 INVALID_CREDENTIALS', await changePassword({ currentPassword: 'wrong password', newPassword: 'even longer' }));
      expectDocumented('POST /api/auth/password', '400 VALIDATION_FAILED', await changePassword({ currentPassword: 'long enough', newPassword: 'short' }));
      expectDocumented('POST /api/auth/password', '200', await changePassword({ currentPassword: 'long enough', newPassword: 'even longer' }));
    });

    it('for the catalog and orders', async () => {
      const created = await app.http.post('/api/products').set(bearer(admin)).send({ sku: `DOC-${randomUUID().slice(0, 8)}`, name: 'Doc', priceCents: 500, stock: 3 });
      expectDocumented('POST /api/products', '201', created);
      const productId = created.body.id as string;
      expectDocumented('POST /api/products', '403 FORBIDDEN', await app.http.post('/api/products').set(bearer(customer)).send({ sku: 'X', name: 'X', priceCents: 1, stock: 1 }));
      expectDocumented('GET /api/products', '200', await app.http.get('/api/products?limit=2'));
      expectDocumented('GET /api/products', '400 VALIDATION_FAILED', await app.http.get('/api/products?limit=0'));
      expectDocumented('GET /api/products/{id}', '200', await app.http.get(`/api/products/${productId}`).set(bearer(admin)));
      expectDocumented('GET /api/products/{id}', '404 PRODUCT_NOT_FOUND', await app.http.get(`/api/products/${randomUUID()}`));
      expectDocumented('PATCH /api/products/{id}', '200', await app.http.patch(`/api/products/${productId}`).set(bearer(admin)).send({ priceCents: 600 }));
      expectDocumented('POST /api/products/{id}/stock', '409 INSUFFICIENT_STOCK', await app.http.post(`/api/products/${productId}/stock`).set(bearer(admin)).send({ adjustment: -10 }));

      const place = (items: unknown, key?: string) => {
        const request = app.http.post('/api/orders').set(bearer(customer));
        return (key ? request.set('Idempotency-Key', key) : request).send({ items });
      };
      const key = randomUUID();
      const placed = await place([{ productId, quantity: 1 }], key);
      expectDocumented('POST /api/orders', '201', placed);
      const replayed = await place([{ productId, quantity: 1 }], key);
      expectDocumented('POST /api/orders', '201', replayed);
      expect(replayed.headers['idempotent-replayed']).toBe('true');
      expectDocumented('POST /api/orders', '422 UNKNOWN_PRODUCT', await place([{ productId, quantity: 1 }, { productId: randomUUID(), quantity: 1 }]));
      expectDocumented('POST /api/orders', '409 OUT_OF_STOCK', await place([{ productId, quantity: 99 }]));
      const orderId = placed.body.id as string;
      expectDocumented('GET /api/orders', '200', await app.http.get('/api/orders?status=pending').set(bearer(customer)));
      expectDocumented('GET /api/orders', '403 FORBIDDEN', await app.http.get('/api/orders?scope=all').set(bearer(customer)));
      expectDocumented('GET /api/orders/{id}', '200', await app.http.get(`/api/orders/${orderId}`).set(bearer(customer)));
      expectDocumented('GET /api/orders/{id}', '200', await app.http.get(`/api/orders/${orderId}`).set(bearer(admin)));
      expectDocumented('POST /api/orders/{id}/cancel', '200', await app.http.post(`/api/orders/${orderId}/cancel`).set(bearer(customer)));
      expectDocumented('POST /api/orders/{id}/cancel', '409 ORDER_NOT_CANCELLABLE', await app.http.post(`/api/orders/${orderId}/cancel`).set(bearer(customer)));
    });

    it('for webhooks', async () => {
      const created = await app.http.post('/api/webhooks').set(bearer(admin)).send({ url: 'http://93.184.216.34/hook', events: ['order.placed'] });
      expectDocumented('POST /api/webhooks', '201', created);
      const id = created.body.id as string;
      expectDocumented('POST /api/webhooks', '422 WEBHOOK_URL_FORBIDDEN', await app.http.post('/api/webhooks').set(bearer(admin)).send({ url: 'http://127.0.0.1/', events: ['order.placed'] }));
      expectDocumented('POST /api/webhooks', '403 FORBIDDEN', await app.http.post('/api/webhooks').set(bearer(customer)).send({ url: 'http://93.184.216.34/', events: ['order.placed'] }));
      expectDocumented('GET /api/webhooks', '200', await app.http.get('/api/webhooks').set(bearer(admin)));
      expectDocumented('GET /api/webhooks/{id}', '200', await app.http.get(`/api/webhooks/${id}`).set(bearer(admin)));
      expectDocumented('GET /api/webhooks/{id}', '404 WEBHOOK_NOT_FOUND', await app.http.get(`/api/webhooks/${randomUUID()}`).set(bearer(admin)));
      expectDocumented('PATCH /api/webhooks/{id}', '200', await app.http.patch(`/api/webhooks/${id}`).set(bearer(admin)).send({ enabled: false }));
      expectDocumented('POST /api/webhooks/{id}/rotate-secret', '200', await app.http.post(`/api/webhooks/${id}/rotate-secret`).set(bearer(admin)));
      expectDocumented('GET /api/webhooks/{id}/deliveries', '200', await app.http.get(`/api/webhooks/${id}/deliveries?status=pending`).set(bearer(admin)));
      expectDocumented(
        'POST /api/webhooks/{id}/deliveries/{deliveryId}/redeliver',
        '404 DELIVERY_NOT_FOUND',
        await app.http.post(`/api/webhooks/${id}/deliveries/${randomUUID()}/redeliver`).set(bearer(admin)),
      );
      expectDocumented('DELETE /api/webhooks/{id}', '204', await app.http.delete(`/api/webhooks/${id}`).set(bearer(admin)));
    });

    it('for operations', async () => {
      expectDocumented('GET /health/live', '200', await app.http.get('/health/live'));
      expectDocumented('GET /health/ready', '200', await app.http.get('/health/ready'));
      expectDocumented('GET /openapi.json', '200', await app.http.get('/openapi.json'));
      expectDocumented('GET /docs', '301', await app.http.get('/docs'));
      expectDocumented('GET /docs', '200', await app.http.get('/docs/'));
    });
  });
});
