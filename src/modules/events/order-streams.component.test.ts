import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { waitUntil } from '../../../test/wait.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createInProcessSignal } from '../../platform/signal.js';
import type { Order } from '../orders/index.js';
import { createEventHub } from './event-hub.js';
import type { SseWriter } from './event-stream.js';
import { relayEventsOnce } from './events-relay.js';
import { logStateOf } from './order-events.repository.js';

const latestEventOf = async (db: TestApp['db'], orderId: string) => (await logStateOf(db, orderId)).latest;
import { createOrderStreams } from './order-streams.js';

/** What an SSE client would have received, and the Last-Event-ID it would reconnect with. */
function recordingWriter() {
  const record = { chunks: [] as string[], ended: false };
  const writer: SseWriter = {
    open: () => undefined,
    write: (chunk) => void record.chunks.push(chunk),
    bufferedBytes: () => 0,
    end: () => void (record.ended = true),
  };
  const orders = () => record.chunks.filter((c) => c.startsWith('event: order')).map((c) => JSON.parse(c.slice(c.indexOf('data: ') + 6)) as Order);
  const lastEventId = () => Number([...record.chunks.join('').matchAll(/^id: (\d+)$/gm)].at(-1)?.[1]);
  return { writer, record, orders, lastEventId };
}

/** The per-order stream on real PostgreSQL, called directly; the events relay runs when the test says. */
describe('a per-order event stream whose order is ahead of the event log', () => {
  let app: TestApp;
  let buyer: TestUser;
  let productId: string;
  const signal = createInProcessSignal();
  let hub: ReturnType<typeof createEventHub>;
  let streams: ReturnType<typeof createOrderStreams>;
  const relay = () => relayEventsOnce({ db: app.db, signal, onAppended: [] });

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
    productId = (await createProduct(app, admin, { stock: 10 })).id;
    hub = createEventHub({
      db: app.db,
      signal,
      settings: { pollMs: 60_000, keepAliveMs: 60_000, maxStreamsPerUser: 10, maxStreamsPerProcess: 10 },
      logger: createLogger({ level: 'error', format: 'json', silent: true }),
    });
    streams = createOrderStreams({ db: app.db, hub });
  });
  afterAll(async () => {
    hub.closeAll();
    await app.close();
  });

  async function completedOrder(): Promise<Order> {
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] });
    await relay();
    for (const status of ['processing', 'completed'] as const) expect(await app.deps.orders.transitionOrder(placed.body.id as string, status)).toBeDefined();
    return (await app.http.get(`/api/orders/${placed.body.id as string}`).set(bearer(buyer))).body as Order;
  }

  const principal = () => ({ userId: buyer.id, role: 'customer' as const });

  it('shows the finished order at once, stays open until its events are logged, then ends on the log’s terminal event, so a reconnect gets nothing new', async () => {
    const current = await completedOrder();
    const client = recordingWriter();
    expect((await streams.streamOrder(principal(), current, undefined, client.writer)).kind).toBe('streaming');
    expect(client.orders().map((o) => o.status)).toEqual(['completed']);
    expect(client.record.ended).toBe(false);

    await relay();
    await waitUntil(() => client.record.ended, 10_000, 'the stream to end on the logged terminal event');
    expect(client.orders().map((o) => o.status)).toEqual(['completed']);
    expect(client.lastEventId()).toBe((await latestEventOf(app.db, current.id))!.seq);

    const again = recordingWriter();
    expect(await streams.streamOrder(principal(), current, client.lastEventId(), again.writer)).toEqual({ kind: 'nothing-new' });
  });

  it('a reconnect after the last logged event, while the finished order’s last changes are not logged yet, gets them once they are', async () => {
    const current = await completedOrder();
    const seen = (await latestEventOf(app.db, current.id))!;
    expect(seen.type).toBe('order.placed');
    const client = recordingWriter();
    expect((await streams.streamOrder(principal(), current, seen.seq, client.writer)).kind).toBe('streaming');
    expect(client.orders()).toEqual([]);

    await relay();
    await waitUntil(() => client.record.ended, 10_000, 'the stream to end on the logged terminal event');
    expect(client.orders().map((o) => o.status)).toEqual(['processing', 'completed']);
    expect(client.lastEventId()).toBe((await latestEventOf(app.db, current.id))!.seq);
  });

  it('with no event of the order kept (past the retention) and none coming, sends the order and ends; a reconnect gets nothing new', async () => {
    const current = await completedOrder();
    await relay();
    await app.db.query('DELETE FROM order_events WHERE order_id = $1', [current.id]);
    const client = recordingWriter();
    await streams.streamOrder(principal(), current, undefined, client.writer);
    expect(client.orders().map((o) => o.status)).toEqual(['completed']);
    expect(client.record.ended).toBe(true);

    const again = recordingWriter();
    expect(await streams.streamOrder(principal(), current, client.lastEventId(), again.writer)).toEqual({ kind: 'nothing-new' });
  });
});
