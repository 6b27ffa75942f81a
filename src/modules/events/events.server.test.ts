import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../test/processes.js';
import type { TestApp } from '../../../test/harness.js';
import { serverStack, type ServerStack } from '../../../test/server-stack.js';
import { openSse, orderOf, type SseClient } from '../../../test/sse.js';
import { bearer, type TestUser } from '../../../test/users.js';

/** Server mode: PostgreSQL, Redis, API instances and separate worker processes. */
const FAST = { OUTBOX_POLL_MS: '100', JOB_BACKOFF_BASE_MS: '100', JOB_BACKOFF_MAX_MS: '1000' };

// Several processes start per test; on a busy shared machine that alone can take tens of seconds.
const E2E_TIMEOUT_MS = 180_000;

describe('order events over SSE in server mode', () => {
  const stack = serverStack({ ...FAST, SSE_POLL_MS: '600000' });
  const clients: SseClient[] = [];

  afterEach(async () => {
    clients.splice(0).forEach((client) => client.close());
    await stack.stop();
  });

  const sse = async (url: string, user: TestUser, headers: Record<string, string> = {}) => {
    const client = await openSse(url, { ...bearer(user), ...headers });
    clients.push(client);
    return client;
  };

  // The first two cases watch the same kind of run (two API instances, one worker process making
  // the changes) from different streams, so they share one stack: one database, one worker start.
  describe('with two API instances and one worker process', () => {
    const shared = serverStack({ ...FAST, SSE_POLL_MS: '600000' });
    let first: TestApp;
    let second: TestApp;
    let people: Awaited<ReturnType<ServerStack['populate']>>;
    let worker: Promise<unknown> | undefined;
    /** Starts the worker once, when the first case that needs it is ready for it. */
    const startWorker = () => (worker ??= shared.startWorker());

    beforeAll(async () => {
      first = await shared.startApi();
      second = await shared.startApi();
      people = await shared.populate();
    }, E2E_TIMEOUT_MS);
    afterAll(() => shared.stop());

    it('streams one order from placement to completion by a worker process, then ends', async () => {
      const { buyer, place } = people;
      const orderId = await place();
      const stream = await sse(`${first.baseUrl}/api/orders/${orderId}/events`, buyer);
      expect(stream.status).toBe(200);
      // The order's first message waits for its placement to be in the event log, under that
      // event's id; these API instances run no events pass, the worker process does.
      expect(stream.messages).toEqual([]);

      await startWorker();
      await stream.ended;
      expect(stream.messages.map((m) => orderOf(m).status)).toEqual(['pending', 'processing', 'completed']);
      const ids = stream.messages.map((m) => Number(m.id));
      expect(ids[0]).toBeLessThan(ids[1]!);
      expect(ids[1]).toBeLessThan(ids[2]!);
    }, E2E_TIMEOUT_MS);

    it('clients of both instances get every change the worker makes through Redis (no polling)', async () => {
      const { buyer, admin, place } = people;
      const mine = await sse(`${first.baseUrl}/api/orders/events`, buyer);
      const all = await sse(`${second.baseUrl}/api/orders/events?scope=all`, admin);
      const orderId = await place();
      await startWorker();
      for (const client of [mine, all]) {
        await client.waitFor((c) => c.messages.some((m) => orderOf(m).id === orderId && orderOf(m).status === 'completed'), 60_000, 'completed');
        expect(client.messages.filter((m) => orderOf(m).id === orderId).map((m) => orderOf(m).status)).toEqual(['pending', 'processing', 'completed']);
      }
      expect(all.messages.map((m) => m.id)).toEqual(mine.messages.map((m) => m.id));
    }, E2E_TIMEOUT_MS);
  });

  it('on SIGTERM with SHUTDOWN_DELAY_MS, goes on serving for the delay (probes 503, answers with Connection: close, streams open), then ends its streams and exits 0', async () => {
    const DELAY_MS = 4000;
    await stack.startApi();
    const { buyer } = await stack.populate();
    const api = await stack.startApiProcess({ SHUTDOWN_DELAY_MS: String(DELAY_MS) });
    const stream = await sse(`${api.baseUrl}/api/orders/events`, buyer);
    const streamEndedAt = stream.ended.then(() => Date.now());
    const signalledAt = Date.now();
    api.child.child.kill('SIGTERM');

    await waitUntil(async () => (await fetch(`${api.baseUrl}/health/live`)).status === 503, DELAY_MS, 'the liveness probe to answer 503');
    const served = await fetch(`${api.baseUrl}/api/orders`, { headers: bearer(buyer) });
    expect(served.status).toBe(200);
    expect(served.headers.get('connection')).toBe('close');

    expect(await api.child.exited).toBe(0);
    expect((await streamEndedAt) - signalledAt).toBeGreaterThanOrEqual(DELAY_MS);
  }, E2E_TIMEOUT_MS);

  it('resumes with Last-Event-ID across an API restart: every change missed while it was down, none repeated', async () => {
    const app = await stack.startApi();
    const { buyer, place } = await stack.populate();
    let api = await stack.startApiProcess();
    const before = await sse(`${api.baseUrl}/api/orders/events`, buyer);
    const orderIds = [await place(), await place(), await place()];
    await stack.startWorker({ PAYMENT_SIMULATOR_LATENCY_MS: '300', WORKER_CONCURRENCY: '1' });
    await before.waitForMessages(4);

    api.child.child.kill('SIGTERM');
    expect(await api.child.exited).toBe(0);
    await before.ended;
    const lastSeen = before.lastEventId!;
    await waitUntil(async () => {
      const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM order_events WHERE user_id = $1 AND type = 'order.completed'", [buyer.id]);
      return rows[0]!.n === 3;
    }, 90_000, 'every order completed while the API was down');

    api = await stack.startApiProcess();
    const after = await sse(`${api.baseUrl}/api/orders/events`, buyer, { 'Last-Event-ID': lastSeen });
    const { rows: log } = await app.db.query<{ seq: string }>('SELECT seq FROM order_events WHERE user_id = $1 ORDER BY seq', [buyer.id]);
    expect(log).toHaveLength(9);
    await after.waitForMessages(9 - before.messages.length);
    const received = [...before.messages, ...after.messages].map((m) => m.id);
    expect(received).toEqual(log.map((row) => String(row.seq)));
    for (const orderId of orderIds) {
      const statuses = [...before.messages, ...after.messages].filter((m) => orderOf(m).id === orderId).map((m) => orderOf(m).status);
      expect(statuses).toEqual(['pending', 'processing', 'completed']);
    }
  }, E2E_TIMEOUT_MS);
});
