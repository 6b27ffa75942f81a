import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { openSse, orderOf, type SseClient } from '../../../test/sse.js';
import { waitUntil } from '../../../test/wait.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createInProcessSignal } from '../../platform/signal.js';
import { createEventHub, type StreamSink } from './event-hub.js';

/**
 * Opens an event stream over a raw socket that reads until the stream's first line, then
 * nothing more. Returns the client's socket and the server's side of the connection.
 */
async function openUnreadStream(app: TestApp, path: string, accessToken: string): Promise<{ client: Socket; server: Socket }> {
  const serverSide = new Promise<Socket>((resolve) => app.server.once('connection', resolve));
  const client = connect(Number(new URL(app.baseUrl).port), '127.0.0.1');
  let received = '';
  const onData = (chunk: Buffer) => void (received += chunk.toString());
  client.on('data', onData);
  client.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${accessToken}\r\n\r\n`);
  const server = await serverSide;
  await waitUntil(() => received.includes('retry:'), 30_000, 'the stream to open');
  client.off('data', onData);
  client.pause();
  return { client, server };
}

/**
 * Logs `count` made-up `order.placed` events of new orders of `userId`, 64 KB each, under outbox
 * ids of their own (`idBase`, distinct per call): bulk that fills a stream's buffers.
 */
async function logPaddedEvents(app: TestApp, userId: string, idBase: number, count: number): Promise<void> {
  await app.db.query(
    `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order")
     SELECT -(s + $2::int), gen_random_uuid(), $1::uuid, 'order.placed',
            jsonb_build_object('status', 'pending', 'history', '[]'::jsonb, 'padding', repeat('x', 65536))
     FROM generate_series(1, $3::int) AS s`,
    [userId, idBase, count],
  );
}

/** The embedded default (PGlite, in-process queue and signal) over HTTP. */
describe('order events over SSE, embedded', { timeout: 120_000 }, () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;
  let other: TestUser;
  let productId: string;
  const clients: SseClient[] = [];
  const open = async (path: string, user: TestUser | undefined, headers: Record<string, string> = {}) => {
    const client = await openSse(`${app.baseUrl}${path}`, { ...(user ? bearer(user) : {}), ...headers });
    clients.push(client);
    return client;
  };
  const place = async (user: TestUser) => {
    const res = await app.http.post('/api/orders').set(bearer(user)).send({ items: [{ productId, quantity: 1 }] });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite', processing: true, env: { SSE_KEEPALIVE_MS: '200', SSE_MAX_STREAMS_PER_USER: '3' } });
    [admin, buyer, other] = await Promise.all([registerAdmin(app), registerUser(app, 'buyer'), registerUser(app, 'other')]);
    productId = (await createProduct(app, admin, { stock: 100 })).id;
  });
  afterAll(async () => {
    clients.forEach((client) => client.close());
    await app.close();
  });

  it('streams each status change of the caller’s orders from connection on, with increasing ids and keep-alive comments', async () => {
    const mine = await open('/api/orders/events', buyer);
    const everyone = await open('/api/orders/events?scope=all', admin);
    expect(mine.status).toBe(200);
    expect(mine.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const orderId = await place(buyer);
    const othersOrder = await place(other);

    await mine.waitFor((c) => c.messages.some((m) => orderOf(m).status === 'completed'), 60_000, 'completed');
    expect(mine.messages.every((m) => m.event === 'order')).toBe(true);
    expect(mine.messages.map((m) => orderOf(m).id)).not.toContain(othersOrder);
    expect(mine.messages.map((m) => orderOf(m).status)).toEqual(['pending', 'processing', 'completed']);
    expect(mine.messages.map((m) => orderOf(m).history.length)).toEqual([1, 2, 3]);
    const ids = mine.messages.map((m) => Number(m.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
    await mine.waitFor((c) => c.comments.includes('keep-alive'), 30_000, 'a keep-alive comment');

    await everyone.waitFor((c) => new Set(c.messages.map((m) => orderOf(m).id)).size === 2 && c.messages.length >= 6, 60_000, 'both orders');
    const body = await app.http.get(`/api/orders/${orderId}`).set(bearer(buyer));
    expect(orderOf(mine.messages.at(-1)!)).toEqual(body.body);
  });

  it('a per-order stream sends the order now and ends after its terminal status; resuming after it answers 204', async () => {
    const orderId = await place(buyer);
    const stream = await open(`/api/orders/${orderId}/events`, buyer);
    await stream.ended;
    const statuses = stream.messages.map((m) => orderOf(m).status);
    expect(statuses.at(-1)).toBe('completed');
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    // What EventSource reconnects with: the last id seen, which may be a block without data (an
    // order shown as read, ahead of the log, then the log's events moving the id on).
    const resumed = await open(`/api/orders/${orderId}/events`, buyer, { 'Last-Event-ID': stream.lastEventId! });
    expect(resumed.status).toBe(204);
    const replayed = await open(`/api/orders/${orderId}/events`, admin, { 'Last-Event-ID': '0' });
    await replayed.ended;
    expect(replayed.messages.map((m) => orderOf(m).status)).toEqual(['pending', 'processing', 'completed']);
  });

  it('answers 404 for another user’s order, 401 without the Authorization header (never from the query) and 403 for scope=all by a customer', async () => {
    const orderId = await place(buyer);
    expect((await app.http.get(`/api/orders/${orderId}/events`).set(bearer(other))).status).toBe(404);
    expect((await app.http.get(`/api/orders/${orderId}/events?access_token=${buyer.accessToken}`)).status).toBe(401);
    expect((await app.http.get('/api/orders/events')).status).toBe(401);
    const forbidden = await app.http.get('/api/orders/events?scope=all').set(bearer(buyer));
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers['content-type']).toMatch(/problem\+json/);
    expect((await app.http.get('/api/orders/not-a-uuid/events').set(bearer(buyer))).body.code).toBe('ORDER_NOT_FOUND');
  });

  it('past SSE_MAX_STREAMS_PER_USER answers 429 RATE_LIMITED, and a closed stream frees its place', async () => {
    const user = await registerUser(app, 'capped');
    const streams = await Promise.all([1, 2, 3].map(() => open('/api/orders/events', user)));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    const refused = await app.http.get('/api/orders/events').set(bearer(user));
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('RATE_LIMITED');
    const openBefore = app.eventHub.openStreams();
    streams[0]!.close();
    await streams[1]!.waitFor(() => app.eventHub.openStreams() === openBefore - 1, 30_000, 'the closed stream to be released');
    const again = await open('/api/orders/events', user);
    expect(again.status).toBe(200);
  });

  it('past the per-process cap a hub refuses with 503 STREAMS_AT_CAPACITY; shutdown ends every stream and refuses new ones with 503', async () => {
    const hub = createEventHub({
      db: app.db,
      signal: createInProcessSignal(),
      settings: { pollMs: 1000, keepAliveMs: 1000, maxStreamsPerUser: 10, maxStreamsPerProcess: 2 },
      logger: createLogger({ level: 'error', format: 'json', silent: true }),
    });
    const ended: number[] = [];
    const sink = (n: number): StreamSink => ({ deliver: () => undefined, keepAlive: () => undefined, end: () => void ended.push(n) });
    const first = await hub.open('u1', { kind: 'all' }, sink(1));
    await hub.open('u2', { kind: 'user', userId: 'u2' }, sink(2));
    await expect(hub.open('u3', { kind: 'all' }, sink(3))).rejects.toMatchObject({ kind: 'unavailable', code: 'STREAMS_AT_CAPACITY' });
    first.close();
    const third = await hub.open('u3', { kind: 'all' }, sink(3));
    hub.closeAll();
    expect(ended.sort()).toEqual([2, 3]);
    third.close();
    await expect(hub.open('u4', { kind: 'all' }, sink(4))).rejects.toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE' });
    expect(hub.openStreams()).toBe(1);
  });
});

describe('an API process at its stream cap (SSE_MAX_STREAMS)', { timeout: 60_000 }, () => {
  it('when one more stream is asked for, then it answers 503 STREAMS_AT_CAPACITY with Retry-After, as every 503 does', async () => {
    const app = await startTestApp({ storage: 'postgres', env: { SSE_MAX_STREAMS: '1' } });
    const clients: SseClient[] = [];
    try {
      const [first, second] = await Promise.all([registerUser(app, 'first'), registerUser(app, 'second')]);
      clients.push(await openSse(`${app.baseUrl}/api/orders/events`, bearer(first)));
      expect(clients[0]!.status).toBe(200);
      const refused = await fetch(`${app.baseUrl}/api/orders/events`, { headers: { Accept: 'text/event-stream', ...bearer(second) } });
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { code: string }).code).toBe('STREAMS_AT_CAPACITY');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      clients.forEach((client) => client.close());
      await app.close();
    }
  });
});

/** A stream lives no longer than the access token that opened it, so a password reset or a sign-out ends it within the token's lifetime. */
describe('an order event stream and its access token', { timeout: 60_000 }, () => {
  const TTL_SECONDS = 900;
  let app: TestApp;
  // The API signs and checks tokens by this clock: real time plus what the test skipped.
  let skippedMs = 0;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite', processing: true, clock: () => Date.now() + skippedMs, env: { ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) } });
  });
  afterAll(async () => {
    clients.forEach((client) => client.close());
    await app.close();
  });

  it('when the token expires, then the stream says so and ends; one opened with a fresh token from Last-Event-ID gets what happened meanwhile', async () => {
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const productId = (await createProduct(app, admin, { stock: 10 })).id;
    const place = async (user: TestUser) => (await app.http.post('/api/orders').set(bearer(user)).send({ items: [{ productId, quantity: 1 }] })).body.id as string;
    const open = async (user: TestUser, headers: Record<string, string> = {}) => {
      const client = await openSse(`${app.baseUrl}/api/orders/events`, { ...bearer(user), ...headers });
      expect(client.status).toBe(200);
      clients.push(client);
      return client;
    };

    // The buyer's token has 4 s left when the stream opens; another session's has 15 minutes.
    const { exp } = JSON.parse(Buffer.from(buyer.accessToken.split('.')[1]!, 'base64url').toString()) as { exp: number };
    skippedMs = exp * 1000 - 4000 - Date.now();
    const expiring = await open(buyer);
    const signedIn = await app.http.post('/api/auth/login').send({ email: buyer.email, password: buyer.password });
    const fresh = { ...buyer, accessToken: signedIn.body.accessToken as string };
    const lasting = await open(fresh);
    const before = await place(fresh);
    const completed = (c: SseClient, id: string) => c.messages.some((m) => orderOf(m).id === id && orderOf(m).status === 'completed');
    await expiring.waitFor((c) => c.messages.some((m) => orderOf(m).id === before), 10_000, 'the first order on the expiring stream');

    await expiring.waitFor((c) => c.isEnded(), 10_000, 'the stream to end when its token expires');
    expect(expiring.comments.some((comment) => comment.startsWith('access token expired'))).toBe(true);
    expect(lasting.isEnded()).toBe(false);
    const meanwhile = await place(fresh);

    const resumed = await open(fresh, { 'Last-Event-ID': expiring.lastEventId! });
    await resumed.waitFor((c) => completed(c, meanwhile), 10_000, 'the order placed after the end, completed');
    const statuses = (c: SseClient) => c.messages.map((m) => `${orderOf(m).id} ${orderOf(m).status}`);
    expect(statuses(resumed)).toEqual(expect.arrayContaining(['pending', 'processing', 'completed'].map((status) => `${meanwhile} ${status}`)));
    await lasting.waitFor((c) => completed(c, meanwhile), 10_000, 'both orders on the lasting stream');
    // Between them, the ended stream and the resumed one saw every change once, in order.
    expect(statuses(lasting)).toEqual([...statuses(expiring), ...statuses(resumed)]);
    expect(lasting.isEnded()).toBe(false);
  });
});

/** A client that stops reading, on real PostgreSQL over a raw socket (fetch would read for it). */
describe('an order event stream whose client stops reading', { timeout: 120_000 }, () => {
  let app: TestApp;
  const sockets: Socket[] = [];
  const clients: SseClient[] = [];

  beforeAll(async () => {
    // The reading client shares this process's event loop with the server: under a loaded run
    // (other test files on both cores) the loop can miss half a second, which with a shorter
    // stall limit cut a client that was reading.
    app = await startTestApp({ storage: 'postgres', env: { SSE_POLL_MS: '50', SSE_STALL_MS: '3000' } });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.destroy());
    clients.forEach((client) => client.close());
    await app.close();
  });

  it('when it falls more than the buffer limit behind, then the stream is cut and its place freed, though the client never reads again', async () => {
    const buyer = await registerUser(app, 'stalled');
    const before = app.eventHub.openStreams();
    // The stream is live once its first line arrives; from then on its client reads nothing.
    sockets.push((await openUnreadStream(app, '/api/orders/events', buyer.accessToken)).client);
    // A second client of the same orders reads on: once it has an event, the hub has handed
    // that event to the stalled stream too.
    const reading = await openSse(`${app.baseUrl}/api/orders/events`, bearer(buyer));
    clients.push(reading);
    expect(app.eventHub.openStreams()).toBe(before + 2);

    // Half a megabyte of the buyer's events per round (64 KB each), each round handed over before
    // the next: the loopback socket's buffers (~4 MB) fill first, then the server's own buffer
    // grows past the stream's limit.
    for (let round = 0; round < 40 && app.eventHub.openStreams() === before + 2; round++) {
      await logPaddedEvents(app, buyer.id, 1000000 + round * 100, 8);
      await reading.waitForMessages((round + 1) * 8, 30_000);
    }
    await waitUntil(() => app.eventHub.openStreams() === before + 1, 10_000, 'the stalled stream to be cut and its place freed');
    expect(reading.isEnded()).toBe(false);
  });

  it('when a reading client resumes far more than the buffer limit behind, then one connection replays all it missed, paced by the client, and goes live', async () => {
    const buyer = await registerUser(app, 'resuming');
    // ~16 MB of missed events, one replay page: more than the loopback buffers and the stream's
    // limit together, so the replay has to wait for the client to read.
    const { rows } = await app.db.query<{ seq: string | number }>(
      `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order")
       SELECT -(s + 3000000), gen_random_uuid(), $1::uuid, 'order.placed',
              jsonb_build_object('status', 'pending', 'history', '[]'::jsonb, 'padding', repeat('x', 65536))
       FROM generate_series(1, 256) AS s
       RETURNING seq`,
      [buyer.id],
    );
    const missed = rows.map((row) => String(row.seq)).sort((a, b) => Number(a) - Number(b));
    const client = await openSse(`${app.baseUrl}/api/orders/events`, { ...bearer(buyer), 'Last-Event-ID': '0' });
    clients.push(client);
    await client.waitFor((c) => c.isEnded() || c.messages.length >= missed.length, 60_000, 'the replay');
    expect(client.isEnded()).toBe(false);
    expect(client.messages.map((m) => m.id)).toEqual(missed);

    const { rows: live } = await app.db.query<{ seq: string | number }>(
      `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order")
       VALUES (-3000999, gen_random_uuid(), $1::uuid, 'order.placed', '{"status": "pending", "history": []}'::jsonb) RETURNING seq`,
      [buyer.id],
    );
    await client.waitFor((c) => c.isEnded() || c.messages.length > missed.length, 30_000, 'a live event after the replay');
    expect(client.messages.at(-1)?.id).toBe(String(live[0]!.seq));
  });

  it('when a client resumes far behind and reads nothing, then its replay is cut within SSE_STALL_MS and its place freed', async () => {
    const buyer = await registerUser(app, 'resuming-stalled');
    await logPaddedEvents(app, buyer.id, 4000000, 256);
    const before = app.eventHub.openStreams();
    const serverSide = new Promise<Socket>((resolve) => app.server.once('connection', resolve));
    const stalled = connect(Number(new URL(app.baseUrl).port), '127.0.0.1');
    sockets.push(stalled);
    stalled.pause();
    stalled.write(`GET /api/orders/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${buyer.accessToken}\r\nLast-Event-ID: 0\r\n\r\n`);
    const socket = await serverSide;
    await waitUntil(() => socket.destroyed && app.eventHub.openStreams() === before, 30_000, 'the stalled replay to be cut and its place freed');
  });

  it('when its end waits behind bytes the client has not taken, then the connection is closed within SSE_STALL_MS and its place freed', async () => {
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'stopped');
    const productId = (await createProduct(app, admin, { stock: 5 })).id;
    const orderId = (await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] })).body.id as string;
    const before = app.eventHub.openStreams();
    const { client: stalled, server: socket } = await openUnreadStream(app, `/api/orders/${orderId}/events`, buyer.accessToken);
    sockets.push(stalled);
    const reading = await openSse(`${app.baseUrl}/api/orders/${orderId}/events`, bearer(buyer));
    clients.push(reading);

    // Half a megabyte of the order's (made-up, unfinished) events per round until the server
    // holds bytes of the stalled stream that the loopback buffers no longer take: less than the
    // live limit (1 MiB), so only the end can close it.
    const addEvents = (round: number, status: string, count: number) =>
      app.db.query(
        `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order")
         SELECT -(s + 5000000 + $3::int * 100), $1::uuid, $2::uuid, 'order.processing',
                jsonb_build_object('status', $4::text, 'history', (SELECT jsonb_agg(g) FROM generate_series(0, $3::int * 100 + s) g), 'padding', repeat('x', 65536))
         FROM generate_series(1, $5::int) AS s`,
        [orderId, buyer.id, round, status, count],
      );
    let round = 0;
    for (; round < 40 && socket.writableLength === 0; round++) {
      await addEvents(round, 'processing', 8);
      await reading.waitForMessages((round + 1) * 8, 30_000);
    }
    expect(socket.writableLength).toBeGreaterThan(0);
    expect(app.eventHub.openStreams()).toBe(before + 2);

    await addEvents(round, 'completed', 1);
    await reading.ended;
    await waitUntil(() => app.eventHub.openStreams() === before, 10_000, 'the ended stream’s connection to close and free its place');
    expect(socket.destroyed).toBe(true);
  });
});

describe('an event stream whose client stops reading, at shutdown', { timeout: 120_000 }, () => {
  let app: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // A stall limit far beyond the API's 10 s shutdown grace: only the shutdown's own bound can
    // close the stream in time.
    app = await startTestApp({ storage: 'postgres', env: { SSE_POLL_MS: '50', SSE_STALL_MS: '120000' } });
  });
  afterAll(async () => {
    sockets.forEach((socket) => socket.destroy());
    await app.close();
  });

  it('when the stream ends behind bytes its client has not taken, then the connection is closed within seconds, not SSE_STALL_MS', async () => {
    const buyer = await registerUser(app, 'unread-at-shutdown');
    const { client: stalled, server: socket } = await openUnreadStream(app, '/api/orders/events', buyer.accessToken);
    sockets.push(stalled);

    // 256 KB of the buyer's events per round until the server holds bytes the loopback buffers
    // no longer take, short of the live limit (1 MiB) that would cut the stream at once.
    for (let round = 0; round < 80 && socket.writableLength === 0; round++) {
      await logPaddedEvents(app, buyer.id, 9000000 + round * 100, 4);
      // bytesWritten counts what the socket was handed, sent or still buffered.
      const events = await app.db.query<{ n: string }>('SELECT count(*) AS n FROM order_events WHERE user_id = $1', [buyer.id]);
      await waitUntil(() => socket.writableLength > 0 || socket.bytesWritten >= Number(events.rows[0]!.n) * 65536, 30_000, 'the round to be handed to the stream');
    }
    expect(socket.writableLength).toBeGreaterThan(0);
    expect(socket.destroyed).toBe(false);

    app.eventHub.closeAll();
    await waitUntil(() => socket.destroyed, 8_000, 'the unread stream’s connection to be closed at shutdown');
  });
});
