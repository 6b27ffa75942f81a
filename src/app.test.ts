import { createPostgresDatabase } from './platform/db/postgres.js';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import supertest, { type Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../test/harness.js';
import { createApp } from './app.js';
import { ShutdownState } from './modules/health/shutdown-state.js';

const PROBLEM = /^application\/problem\+json/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// A stack frame ("    at fn (/path/file.ts:12:3)") or any source path with a line number.
const STACK_TRACE = /\bat\s.*[/\\][^\s]*\.[cm]?[jt]s\b|\.[cm]?[jt]s:\d+|node_modules/;

/** Sends bytes no HTTP client library would send and returns the raw response head. */
async function rawRequest(app: TestApp, head: string): Promise<string> {
  const server = createApp(app.deps).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write(head);
    let response = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
    await new Promise((resolve) => socket.once('close', resolve));
    return response.split('\r\n\r\n')[0] ?? '';
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

function expectProblem(res: Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(PROBLEM);
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(res.headers['x-request-id']).toMatch(UUID);
  expect(res.text).not.toMatch(STACK_TRACE);
}

describe('HTTP foundation', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
  });
  afterAll(() => app?.close());

  describe('X-Request-Id', () => {
    it('when the client sends none, then every response carries a fresh UUID', async () => {
      const [first, second, missing] = await Promise.all([
        app.http.get('/health/live'),
        app.http.get('/health/live'),
        app.http.get('/no/such/route'),
      ]);
      for (const res of [first, second, missing]) expect(res.headers['x-request-id']).toMatch(UUID);
      expect(first.headers['x-request-id']).not.toBe(second.headers['x-request-id']);
    });

    it.each(['client-42', 'b5c0e6a2-0d1c-4b7e-9a55-1f3f0c7d2e11', 'trace.id:part_2'])(
      'when the client sends the plain id %j, then it is echoed',
      async (id) => {
        const res = await app.http.get('/health/live').set('X-Request-Id', id);
        expect(res.headers['x-request-id']).toBe(id);
      },
    );

    it.each([
      ['with spaces', 'a b c'],
      ['with a tab', 'a\tb'],
      ['with markup', '<script>alert(1)</script>'],
      ['with quotes and braces', '{"level":"error"}'],
      ['of 200 characters', 'r'.repeat(200)],
    ])('when the client sends an id %s, then it is replaced by a UUID', async (_label, id) => {
      const res = await app.http.get('/health/live').set('X-Request-Id', id);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(UUID);
    });

    it('when the client id contains a line break, then it never reaches a response header', async () => {
      const head = await rawRequest(app, 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\nc: injected\r\nConnection: close\r\n\r\n');
      // Node's HTTP parser rejects the request before the app sees it.
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(head).not.toContain('injected');
      expect(head.toLowerCase()).not.toContain('x-request-id: a');
    });

    it('when the client id is not plain, then the error responses also carry a generated id', async () => {
      const res = await app.http.get('/no/such/route').set('X-Request-Id', 'a b');
      expect(res.headers['x-request-id']).toMatch(UUID);
    });
  });

  describe('security headers', () => {
    it('when a JSON response is sent, then it carries the OWASP REST header set and nothing meant for HTML', async () => {
      for (const res of [await app.http.get('/health/live'), await app.http.get('/no/such/route'), await app.http.get('/openapi.json')]) {
        expect(res.headers['x-powered-by']).toBeUndefined();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
        expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['origin-agent-cluster']).toBeUndefined();
        expect(res.headers['x-xss-protection']).toBeUndefined();
      }
    });

    it('when the docs page is sent, then it carries helmet\'s full HTML set', async () => {
      const res = await app.http.get('/docs/');
      expect(res.status).toBe(200);
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['origin-agent-cluster']).toBe('?1');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });
  });

  describe('errors', () => {
    it('when the route does not exist, then answers 404 problem+json NOT_FOUND', async () => {
      const res = await app.http.get('/api/nothing-here');
      expectProblem(res, 404, 'NOT_FOUND');
    });

    it('when a known path is asked with a method it does not serve, then answers 405 METHOD_NOT_ALLOWED with Allow', async () => {
      const res = await app.http.delete('/health/live');
      expectProblem(res, 405, 'METHOD_NOT_ALLOWED');
      expect(res.headers.allow).toBe('GET, HEAD');
    });

    it('when the JSON body is malformed, then answers 400 MALFORMED_JSON', async () => {
      const res = await app.http.post('/api/auth/login').set('Content-Type', 'application/json').send('{"email": "a@b.c",');
      expectProblem(res, 400, 'MALFORMED_JSON');
    });

    it('when the body is larger than 100 KB, then answers 413 PAYLOAD_TOO_LARGE', async () => {
      const body = JSON.stringify({ email: 'big@example.com', password: 'x'.repeat(101 * 1024) });
      const res = await app.http.post('/api/auth/login').set('Content-Type', 'application/json').send(body);
      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    });

    it('when the body is just under 100 KB, then it is read (and validated, not rejected for size)', async () => {
      const body = JSON.stringify({ email: 'not-an-email', password: 'x'.repeat(90 * 1024) });
      const res = await app.http.post('/api/auth/login').set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
    });

    it.each([
      ['text/plain', 'email=a@b.c'],
      ['application/x-www-form-urlencoded', 'email=a%40b.c&password=password123'],
      ['application/xml', '<login/>'],
    ])('when the body is %s, then answers 415 problem+json', async (type, body) => {
      const res = await app.http.post('/api/auth/login').set('Content-Type', type).send(body);
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it.each(['utf-7', 'utf-16', 'UTF-16LE', 'latin1', 'iso-8859-1', 'utf8'])('when the JSON body declares charset=%s, then answers 415: only UTF-8 is read', async (charset) => {
      const res = await app.http.post('/api/auth/login').set('Content-Type', `application/json; charset=${charset}`).send('{"email":"a@example.com","password":"password123"}');
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it.each(['utf-8', 'UTF-8', '"utf-8"'])('when the JSON body declares charset=%s, then it is read', async (charset) => {
      const res = await app.http.post('/api/auth/login').set('Content-Type', `application/json; charset=${charset}`).send('{"email":"not-an-email","password":"password123"}');
      expectProblem(res, 400, 'VALIDATION_FAILED');
    });

    it.each([
      ['an array', '[{"email":"a@example.com","password":"password123"}]'],
      ['an empty array', '[]'],
      ['a string', '"hello"'],
      ['a number', '42'],
      ['null', 'null'],
      ['true', 'true'],
    ])('when the JSON body is %s where an object is expected, then answers 400', async (_label, body) => {
      const res = await app.http.post('/api/auth/login').set('Content-Type', 'application/json').send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toMatch(/^(VALIDATION_FAILED|MALFORMED_JSON)$/);
      expect(res.text).not.toMatch(STACK_TRACE);
    });

    it('when the JSON body nests deeply, then answers 4xx and never 5xx', async () => {
      const body = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const res = await app.http.post('/api/auth/login').set('Content-Type', 'application/json').send(body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(STACK_TRACE);
    });
  });

  describe('health', () => {
    it('when the process runs, then GET /health/live answers 200', async () => {
      const res = await app.http.get('/health/live');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('when the database answers, then GET /health/ready answers 200 with database ok', async () => {
      const res = await app.http.get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ok', checks: { database: 'ok' } });
    });

    it('once shutdown began, then both probes answer 503 SHUTTING_DOWN while the API goes on serving', async () => {
      const shutdown = new ShutdownState();
      const http = supertest(createApp({ ...app.deps, shutdown }));
      expect((await http.get('/health/live')).status).toBe(200);
      shutdown.begin();
      for (const probe of ['/health/live', '/health/ready']) expectProblem(await http.get(probe), 503, 'SHUTTING_DOWN');
      expect((await http.get('/api/products')).status).toBe(200);
    });
  });
});

describe('readiness with Redis down', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Nothing listens on port 1: every Redis command fails. (PostgreSQL: a copy of the template
    // costs the test process no CPU, where PGlite costs about a second of WASM start-up.)
    app = await startTestApp({ storage: 'postgres', redis: 'redis://127.0.0.1:1' });
  });
  afterAll(() => app?.close());

  it('when Redis does not answer, then GET /health/ready answers 503 problem+json naming redis within seconds', async () => {
    const started = Date.now();
    const res = await app.http.get('/health/ready');
    const elapsedMs = Date.now() - started;
    expectProblem(res, 503, 'NOT_READY');
    expect(res.body.detail).toContain('redis');
    expect(res.body.detail).not.toContain('database');
    expect(res.body.errors).toEqual([expect.objectContaining({ dependency: 'redis' })]);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    // The readiness probe must answer well inside a load balancer's probe timeout.
    expect(elapsedMs).toBeLessThan(3000);
  });

  it('when Redis does not answer, then GET /health/live still answers 200', async () => {
    const res = await app.http.get('/health/live');
    expect(res.status).toBe(200);
  });
});

describe('unexpected failures', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite' });
    // A real failure from inside the stack: the database goes away under a running app.
    await app.database.db.close();
  });
  afterAll(async () => {
    // Closing the already-closed database fails; the data directory must still go.
    await app?.close().catch(() => undefined);
    if (app) rmSync(app.config.dataDir, { recursive: true, force: true });
  });

  it('when a dependency throws something unexpected, then answers 500 INTERNAL_ERROR quoting only the request id', async () => {
    const res = await app.http
      .post('/api/auth/login')
      .set('X-Request-Id', 'trace-500')
      .send({ email: 'someone@example.com', password: 'password123' });
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
    expect(res.body.detail).toContain('trace-500');
    expect(res.body.requestId).toBe('trace-500');
    expect(res.text).not.toMatch(STACK_TRACE);
    expect(res.text.toLowerCase()).not.toMatch(/pglite|closed|sql|select|postgres/);
  });
});

describe('when PostgreSQL is unreachable', () => {
  it('then requests that need it answer 503 SERVICE_UNAVAILABLE fast, with a request id, and readiness names the database', async () => {
    const db = createPostgresDatabase('postgres://postgres@127.0.0.1:1/unreachable', 2);
    const app = await startTestApp({ storage: 'postgres', database: { db, url: undefined, drop: () => db.close() } });
    try {
      const started = Date.now();
      const res = await app.http.post('/api/auth/login').send({ email: 'someone@example.com', password: 'password123' });
      expect(Date.now() - started).toBeLessThan(5000);
      expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
      expect(res.body.requestId).toBe(res.headers['x-request-id']);
      expect(res.text).not.toMatch(STACK_TRACE);
      const ready = await app.http.get('/health/ready');
      expectProblem(ready, 503, 'NOT_READY');
      expect(ready.body.detail).toContain('database');
    } finally {
      await app.close();
      await db.close().catch(() => undefined);
    }
  });
});

describe('per-address limit (RATE_LIMIT_PER_ADDRESS_PER_MINUTE)', () => {
  it('is off by default: many requests from one address all succeed', async () => {
    const app = await startTestApp({ storage: 'postgres' });
    try {
      const statuses = await Promise.all(Array.from({ length: 60 }, () => app.http.get('/api/products').then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      await app.close();
    }
  });

  it('when configured, answers 429 RATE_LIMITED with Retry-After past the limit, but never for health probes or metrics', async () => {
    const app = await startTestApp({ storage: 'postgres', env: { RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '5' } });
    try {
      for (let i = 0; i < 5; i++) await app.http.get('/api/products').expect(200);
      const limited = await app.http.get('/api/products');
      expectProblem(limited, 429, 'RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      await app.http.get('/health/live').expect(200);
      await app.http.get('/health/ready').expect(200);
      await app.http.get('/metrics').expect(200);
    } finally {
      await app.close();
    }
  });
});
