import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express from 'express';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, STORAGE_KINDS, type TestApp } from '../../test/harness.js';
import { bearer, registerAdmin, registerUser } from '../../test/users.js';
import { createApp } from '../app.js';
import { answerWithConnectionClose, closeGracefully, createHttpServer } from '../http-server.js';
import { createLogger } from '../platform/logger.js';
import { errorHandler } from './error-handler.js';

const PROBLEM = /^application\/problem\+json/;

describe('HTTP hardening (in-process app)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', env: { METRICS_TOKEN: 'scrape-me-0123456789' } });
  });
  afterAll(() => app.close());

  describe('401 answers', () => {
    it('without a token, then carry WWW-Authenticate: Bearer', async () => {
      const res = await app.http.get('/api/auth/me');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('with a bad token, then say error="invalid_token"', async () => {
      const res = await app.http.get('/api/orders').set('Authorization', 'Bearer forged.token.value');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    });
  });

  describe('405 answers', () => {
    it.each([
      ['DELETE', '/api/products', 'GET, HEAD, POST'],
      ['GET', '/api/auth/login', 'POST'],
      ['PUT', '/api/orders/0b0e8c6e-5d7a-4a52-9a57-1c7c5b8d2a10/cancel', 'POST'],
      ['POST', '/health/live', 'GET, HEAD'],
    ])('%s %s, then 405 METHOD_NOT_ALLOWED with Allow: %s', async (method, path, allow) => {
      const res = await app.http[method.toLowerCase() as 'get'](path);
      expect(res.status).toBe(405);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    });

    it('an unknown path, then still 404', async () => {
      expect((await app.http.delete('/api/nothing-here')).status).toBe(404);
    });
  });

  describe('validation messages', () => {
    it('are plain words, never zod wording', async () => {
      const missing = await app.http.post('/api/auth/register').send({ email: 'a@example.com' });
      expect(missing.status).toBe(400);
      expect(missing.body.errors).toContainEqual({ path: 'password', message: 'is required' });
      const wrongType = await app.http.post('/api/auth/login').send({ email: 'a@example.com', password: 5 });
      expect(wrongType.body.errors).toContainEqual({ path: 'password', message: 'must be text' });
      const tooLong = await app.http.post('/api/auth/register').send({ email: 'b@example.com', password: 'long enough', name: 'n'.repeat(101) });
      expect(tooLong.body.errors).toContainEqual({ path: 'name', message: 'must be at most 100 characters' });
      for (const res of [missing, wrongType, tooLong]) expect(JSON.stringify(res.body)).not.toMatch(/Invalid input|expected|received/);
    });
  });

  describe('NUL characters', () => {
    it.each([
      ['/api/auth/refresh', { refreshToken: 'abc\u0000def' }, 'refreshToken'],
      ['/api/auth/login', { email: 'a@example.com', password: 'pass\u0000word' }, 'password'],
      ['/api/auth/register', { email: 'c@example.com', password: 'long enough', name: 'Ann\u0000' }, 'name'],
      ['/api/auth/logout', { refreshToken: 'x', extra: { deep: ['ok', 'no\u0000'] } }, 'extra.deep.1'],
    ])('in any string of a body to %s, then 400 naming the field', async (path, body, field) => {
      const res = await app.http.post(path).send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors).toContainEqual({ path: field, message: 'must not contain NUL characters' });
    });
  });

  describe('unpaired UTF-16 surrogates (stored as U+FFFD, so not what was sent)', () => {
    it.each([
      ['/api/auth/register', { email: 'd@example.com', password: 'long enough', name: 'Ann\ud800Lee' }, 'name'],
      ['/api/auth/login', { email: 'a@example.com', password: 'pass\udc00word' }, 'password'],
      ['/api/auth/logout', { refreshToken: 'x', extra: { ['key\ud83d']: 1 } }, 'extra.key\ud83d'],
    ])('in any string or key of a body to %s, then 400 naming the field', async (path, body, field) => {
      const res = await app.http.post(path).send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.errors).toContainEqual({ path: field, message: 'must not contain unpaired UTF-16 surrogates (\\uD800–\\uDFFF escapes)' });
    });

    it('while whole pairs (emoji and other characters beyond U+FFFF) are kept as sent', async () => {
      const res = await app.http.post('/api/auth/register').send({ email: 'emoji@example.com', password: 'long enough', name: 'Ann 😀 𝔏ee' });
      expect(res.status).toBe(201);
      expect(res.body.user.name).toBe('Ann 😀 𝔏ee');
    });
  });

  describe('/metrics with METRICS_TOKEN', () => {
    it('without the token, then 401 with a Bearer challenge', async () => {
      const res = await app.http.get('/metrics');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.text).not.toContain('process_cpu');
    });

    it('with a wrong token, then 401', async () => {
      expect((await app.http.get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    });

    it('with the token, then the Prometheus text', async () => {
      const res = await app.http.get('/metrics').set('Authorization', 'Bearer scrape-me-0123456789');
      expect(res.status).toBe(200);
      expect(res.text).toContain('http_request');
    });
  });
});

describe('/metrics without METRICS_TOKEN', () => {
  it('in production, then 404; outside production, then open', async () => {
    const dev = await startTestApp({ storage: 'postgres' });
    try {
      expect((await dev.http.get('/metrics')).status).toBe(200);
      const prodApp = createApp({ ...dev.deps, config: { ...dev.deps.config, env: 'production', metricsToken: undefined } });
      const res = await supertest(prodApp).get('/metrics');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    } finally {
      await dev.close();
    }
  });
});

/** Writes raw bytes and collects what the server sends until it closes the connection. */
function rawExchange(server: Server, request: string, options: { keepOpen?: boolean } = {}): { socket: Socket; reply: Promise<string> } {
  const { port } = server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const reply = new Promise<string>((resolve, reject) => {
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
  socket.write(request);
  if (!options.keepOpen) socket.end();
  return { socket, reply };
}

describe('the API HTTP server (createHttpServer)', () => {
  let app: TestApp;
  let server: Server;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', env: { HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_MAX_CONNECTIONS: '3' } });
    server = createHttpServer(createApp(app.deps), app.config.http);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await app.close();
  });

  it('is configured with bounded timeouts and a connection cap', () => {
    expect(server.requestTimeout).toBe(1000);
    expect(server.headersTimeout).toBeLessThanOrEqual(1000);
    expect(server.keepAliveTimeout).toBe(5000);
    expect(server.maxConnections).toBe(3);
  });

  it('when a request has no Host header, then 400 problem+json with a request id', async () => {
    const { reply } = rawExchange(server, 'GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n');
    const text = await reply;
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toMatch(/content-type: application\/problem\+json/i);
    expect(text).toMatch(/x-request-id: [\w-]+/i);
    expect(text).toContain('"code":"BAD_REQUEST"');
  });

  it('when a body trickles in slower than the request timeout, then 408 and the connection is closed', async () => {
    const { socket, reply } = rawExchange(
      server,
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":',
      { keepOpen: true },
    );
    const text = await reply;
    expect(socket.destroyed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(text).toContain('"code":"REQUEST_TIMEOUT"');
    expect(text).toContain('"type":"/problems/request-timeout"');
  });

  it('when the headers are larger than the server reads, then 431 HEADERS_TOO_LARGE saying so', async () => {
    const { reply } = rawExchange(server, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const text = await reply;
    expect(text).toMatch(/^HTTP\/1\.1 431/);
    expect(text).toMatch(/content-type: application\/problem\+json/i);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE', type: '/problems/headers-too-large', detail: "The request's headers are larger than 16 KB" });
  });

  it('when more connections than the cap arrive, then the extra ones are closed at once', async () => {
    const { port } = server.address() as AddressInfo;
    const open = await Promise.all(
      Array.from({ length: 3 }, () => new Promise<Socket>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket));
      })),
    );
    // The server counts a connection once it has accepted it: wait until it has all three.
    await expect.poll(() => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n))), { timeout: 5000 }).toBe(3);
    const { reply } = rawExchange(server, 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n', { keepOpen: true });
    expect(await reply).toBe('');
    for (const socket of open) socket.destroy();
  });
});

describe('a graceful close', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
  });
  afterAll(() => app.close());

  /** A server whose `/held` answers only when the test says so; keep-alive outlasts any test. */
  async function serverWithHeldRequests() {
    const handler = createApp(app.deps);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived: () => void = () => undefined;
    const heldArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = createHttpServer((request, response) => {
      if (request.url !== '/held') return handler(request, response);
      arrived();
      void released.then(() => response.end('held'));
    }, { ...app.config.http, keepAliveTimeoutMs: 600_000 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, release, heldArrived };
  }

  it('once the drain began (answerWithConnectionClose), a request on a kept-alive connection is answered with Connection: close and its connection ends', async () => {
    const { server } = await serverWithHeldRequests();
    try {
      const { socket, reply } = rawExchange(server, 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n', { keepOpen: true });
      await expect.poll(() => socket.bytesRead > 0).toBe(true);
      answerWithConnectionClose(server);
      socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
      const answers = (await reply).split(/(?=HTTP\/1\.1 )/);
      expect(answers).toHaveLength(2);
      expect(answers[0]).not.toMatch(/\r\nconnection: close\r\n/i);
      expect(answers[1]).toMatch(/^HTTP\/1\.1 200/);
      expect(answers[1]).toMatch(/\r\nconnection: close\r\n/i);
      expect(server.listening).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a response begun before closeGracefully (like an event stream) that ends after it does not hold the close for the keep-alive timeout', async () => {
    const { server, release, heldArrived } = await serverWithHeldRequests();
    try {
      const { reply } = rawExchange(server, 'GET /held HTTP/1.1\r\nHost: x\r\n\r\n', { keepOpen: true });
      await heldArrived;
      const closed = closeGracefully(server);
      release();
      // Its answer went out without Connection: close; the connection, idle afterwards, is
      // closed by the drain rather than by the 600 s keep-alive timeout (the test would time out).
      await closed;
      const text = await reply;
      expect(text).toMatch(/^HTTP\/1\.1 200/);
      expect(text).toMatch(/held$/);
    } finally {
      server.closeAllConnections();
    }
  });
});

describe.each(STORAGE_KINDS)('PostgreSQL data errors (SQLSTATE class 22) on %s', (storage) => {
  it('become 400 INVALID_INPUT, never 500', async () => {
    const database = await createTestDatabase(storage);
    try {
      const probe = express();
      probe.get('/date', async () => {
        await database.db.query('SELECT $1::timestamptz', ['2020-02-30T00:00:00Z']);
      });
      probe.get('/nul', async () => {
        await database.db.query('SELECT $1::text', ['a\u0000b']);
      });
      probe.use(errorHandler(createLogger({ level: 'error', format: 'json', silent: true })));
      for (const path of ['/date', '/nul']) {
        const res = await supertest(probe).get(path);
        expect(res.status, path).toBe(400);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('INVALID_INPUT');
        expect(JSON.stringify(res.body)).not.toMatch(/timestamp|syntax|0x00|SQL/i);
      }
    } finally {
      await database.drop();
    }
  });
});

describe.each(STORAGE_KINDS)('crafted cursors on %s', (storage) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage });
  });
  afterAll(() => app.close());
  const cursorOf = (position: unknown) => Buffer.from(JSON.stringify(position)).toString('base64url');
  const id = '0b0e8c6e-5d7a-4a52-9a57-1c7c5b8d2a10';

  it.each([['1'], ['March 7'], ['2020-02-30'], ['2020-02-30T00:00:00.000Z'], ['MUG-1'], ['2020-01-01T00:00:00Z'], ['0000-01-01T00:00:00.000Z']])(
    'an order cursor keyed %j, then 400 INVALID_CURSOR',
    async (key) => {
      const user = await registerUser(app);
      const res = await app.http.get('/api/orders').query({ cursor: cursorOf([key, id]) }).set(bearer(user));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.code).toBe('INVALID_CURSOR');
    },
  );

  it.each([['a NUL', 'A\u0000B'], ['a space', 'A B'], ['a timestamp', '2020-01-01T00:00:00.000Z']])(
    'a product cursor with %s in its key, then 400 INVALID_CURSOR (anonymous)',
    async (_label, key) => {
      const res = await app.http.get('/api/products').query({ cursor: cursorOf([key, id]) });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_CURSOR');
    },
  );

  it.each([['1'], ['2026-02-30'], ['Tue Dec 01 2026 10:00:00 GMT+0000'], ['2026-12-06T00:00:00.000Z'], ['0000-01-01T00:00:00.000000Z']])(
    'a webhook or delivery cursor keyed %j, then 400 INVALID_CURSOR',
    async (key) => {
      const admin = await registerAdmin(app);
      for (const path of ['/api/webhooks', `/api/webhooks/${id}/deliveries`]) {
        const res = await app.http.get(path).query({ cursor: cursorOf([key, id]) }).set(bearer(admin));
        expect(res.status, path).toBe(400);
        expect(res.body.code, path).toBe('INVALID_CURSOR');
      }
    },
  );

  it.each([['empty', ''], ['longer than any cursor', 'A'.repeat(600)]])('a cursor that is %s, then 400 INVALID_CURSOR', async (_label, cursor) => {
    const res = await app.http.get('/api/products').query({ cursor });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.code).toBe('INVALID_CURSOR');
  });

  it('the cursors the API hands out, then are accepted', async () => {
    const first = await app.http.get('/api/products?limit=1').expect(200);
    if (first.body.nextCursor) await app.http.get('/api/products').query({ limit: 1, cursor: first.body.nextCursor as string }).expect(200);
  });
});
