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
import { lastSeq, logStateOf } from './order-events.repository.js';

const latestEventOf = async (db: TestApp['db'], orderId: string) => (await logStateOf(db, orderId)).latest;
import { createOrderStreams } from './order-streams.js';

/** An event hub that reads the log only when `signal` fires (its poll and keep-alives are a minute apart). */
const hubOn = (db: TestApp['db'], signal: ReturnType<typeof createInProcessSignal>) =>
  createEventHub({
    db,
    signal,
    settings: { pollMs: 60_000, keepAliveMs: 60_000, maxStreamsPerUser: 10, maxStreamsPerProcess: 10 },
    logger: createLogger({ level: 'error', format: 'json', silent: true }),
  });

/** What an SSE client would have received, and the Last-Event-ID it would reconnect with. */
function recordingWriter() {
  const record = { chunks: [] as string[], opened: false, ended: false };
  const writer: SseWriter = {
    open: () => void (record.opened = true),
    write: (chunk) => void record.chunks.push(chunk),
    bufferedBytes: () => 0,
    end: () => void (record.ended = true),
    drained: () => Promise.resolve(),
    finished: () => Promise.resolve(),
    abort: () => void (record.ended = true),
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
    hub = hubOn(app.db, signal);
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

  it('shows the finished order once its events are logged, under the log’s terminal id, and ends, so a reconnect gets nothing new', async () => {
    const current = await completedOrder();
    const client = recordingWriter();
    expect((await streams.streamOrder(principal(), current, undefined, client.writer)).kind).toBe('streaming');
    expect(client.record.chunks).toEqual([]);
    expect(client.record.ended).toBe(false);

    await relay();
    await waitUntil(() => client.record.ended, 10_000, 'the stream to end on the logged terminal event');
    expect(client.orders().map((o) => o.status)).toEqual(['completed']);
    expect(client.lastEventId()).toBe((await latestEventOf(app.db, current.id))!.seq);

    const again = recordingWriter();
    expect(await streams.streamOrder(principal(), current, client.lastEventId(), again.writer)).toEqual({ kind: 'nothing-new' });
  });

  it('when the client drops before the log catches up with the status it was shown and reconnects as EventSource does, then no change is shown again', async () => {
    const current = await completedOrder();
    const client = recordingWriter();
    const first = await streams.streamOrder(principal(), current, undefined, client.writer);
    // The client drops now, before the order's last changes are logged, and reconnects with the
    // last id it was given (none yet: a fresh stream).
    if (first.kind === 'streaming') first.close();
    const resumeFrom = Number.isNaN(client.lastEventId()) ? undefined : client.lastEventId();
    const again = recordingWriter();
    const second = await streams.streamOrder(principal(), current, resumeFrom, again.writer);

    await relay();
    if (second.kind === 'streaming') await waitUntil(() => again.record.ended, 10_000, 'the resumed stream to end on the logged terminal event');
    expect([...client.orders(), ...again.orders()].map((o) => o.status)).toEqual(['completed']);
    expect(again.lastEventId()).toBe((await latestEventOf(app.db, current.id))!.seq);
  });

  it('when the client drops before the log catches up with the unfinished order it was shown, then its reconnect gets each later change once and none it saw', async () => {
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] });
    const orderId = placed.body.id as string;
    await relay();
    await app.deps.orders.transitionOrder(orderId, 'processing');
    const current = (await app.http.get(`/api/orders/${orderId}`).set(bearer(buyer))).body as Order;
    const client = recordingWriter();
    const first = await streams.streamOrder(principal(), current, undefined, client.writer);
    if (first.kind === 'streaming') first.close();
    const resumeFrom = Number.isNaN(client.lastEventId()) ? undefined : client.lastEventId();
    const again = recordingWriter();
    await streams.streamOrder(principal(), current, resumeFrom, again.writer);

    await relay();
    await app.deps.orders.transitionOrder(orderId, 'completed');
    await relay();
    await waitUntil(() => again.record.ended, 10_000, 'the resumed stream to end on the logged terminal event');
    expect([...client.orders(), ...again.orders()].map((o) => o.status)).toEqual(['processing', 'completed']);
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

  it('when a client resumes from an id the log never handed out (its database restored or recreated), then its stream starts afresh, not silent until the log gets there', async () => {
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] });
    const orderId = placed.body.id as string;
    await relay();
    const future = (await lastSeq(app.db)) + 1_000_000;
    const mine = recordingWriter();
    const theOrder = recordingWriter();
    const outcomes = [
      await streams.streamOrders(principal(), false, future, mine.writer),
      await streams.streamOrder(principal(), placed.body as Order, future, theOrder.writer),
    ];

    await app.deps.orders.transitionOrder(orderId, 'processing');
    await relay();
    await waitUntil(() => mine.orders().length > 0 && theOrder.orders().length > 1, 10_000, 'both streams to show the change made after they resumed');
    // Each as if opened without the id: the order stream shows the order as it is, then the change.
    expect(mine.orders().map((o) => [o.id, o.status])).toEqual([[orderId, 'processing']]);
    expect(theOrder.orders().map((o) => [o.id, o.status])).toEqual([[orderId, 'pending'], [orderId, 'processing']]);
    for (const outcome of outcomes) if (outcome.kind === 'streaming') outcome.close();
  });

  it('when the database fails before a stream has sent anything, then it is refused with 503 before its status goes out, so the client gets a problem, not a 200 cut short', async () => {
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] });
    await relay();
    // A hub of its own, which no relay wakes: the shared hub's wake-up read after relay() could
    // queue behind the lock too, and the count of waiting reads below would never be just two.
    const quietHub = hubOn(app.db, createInProcessSignal());
    const quietStreams = createOrderStreams({ db: app.db, hub: quietHub });
    const running = recordingWriter();
    const first = await quietStreams.streamOrders(principal(), false, undefined, running.writer);
    const openBefore = quietHub.openStreams();
    const resumed = recordingWriter();
    const theOrder = recordingWriter();
    let outcomes: Promise<unknown>[] = [];
    // Their reads of the log wait behind this lock until they are cancelled, as a dropped
    // connection or a statement timeout fails them.
    await app.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE order_events IN ACCESS EXCLUSIVE MODE');
      outcomes = [
        quietStreams.streamOrders(principal(), false, 0, resumed.writer).catch((error: unknown) => error),
        quietStreams.streamOrder(principal(), placed.body as Order, undefined, theOrder.writer).catch((error: unknown) => error),
      ];
      await waitUntil(
        async () =>
          (await app.db.query("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()")).rows.length === 2,
        10_000,
        'both streams to wait for the log',
      );
      await app.db.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()");
    });
    for (const outcome of await Promise.all(outcomes)) expect(outcome).toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE' });
    for (const client of [resumed, theOrder]) expect(client.record).toMatchObject({ opened: false, chunks: [], ended: false });
    expect(quietHub.openStreams()).toBe(openBefore);
    if (first.kind === 'streaming') first.close();
    quietHub.closeAll();
  });
});

/** Streams opened with admin rights, on real PostgreSQL; the role is read from the account as the API reads it. */
describe('an event stream that needs admin rights', () => {
  let app: TestApp;
  let hub: ReturnType<typeof createEventHub>;
  let streams: ReturnType<typeof createOrderStreams>;
  const checked: string[] = [];

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    hub = hubOn(app.db, createInProcessSignal());
    const roleOf = (userId: string) => {
      checked.push(userId);
      return app.deps.auth.currentRole(userId);
    };
    streams = createOrderStreams({ db: app.db, hub, roleOf, adminRecheckMs: 50 });
  });
  afterAll(async () => {
    hub.closeAll();
    await app.close();
  });

  it('when its admin is demoted, then every-order and other-user streams end, saying why; the admin’s own-orders stream goes on', async () => {
    const ops = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, ops, { stock: 5 });
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    const admin = { userId: ops.id, role: 'admin' as const };
    const everyOrder = recordingWriter();
    const theirOrder = recordingWriter();
    const ownOrders = recordingWriter();
    await streams.streamOrders(admin, true, undefined, everyOrder.writer);
    await streams.streamOrder(admin, placed.body as Order, undefined, theirOrder.writer);
    const own = await streams.streamOrders(admin, false, undefined, ownOrders.writer);

    await app.db.query("UPDATE users SET role = 'customer' WHERE id = $1", [ops.id]);
    await waitUntil(() => everyOrder.record.ended && theirOrder.record.ended, 10_000, 'the admin streams to end');
    for (const client of [everyOrder, theirOrder]) expect(client.record.chunks.at(-1)).toBe(': admin rights ended; this stream needs them\n\n');
    expect(ownOrders.record.ended).toBe(false);
    if (own.kind === 'streaming') own.close();
  });

  it('while the admin keeps its rights, the stream stays open through its checks', async () => {
    const ops = await registerAdmin(app);
    const client = recordingWriter();
    const outcome = await streams.streamOrders({ userId: ops.id, role: 'admin' }, true, undefined, client.writer);
    await waitUntil(() => checked.filter((id) => id === ops.id).length >= 3, 10_000, 'three checks of the role');
    expect(client.record.ended).toBe(false);
    if (outcome.kind === 'streaming') outcome.close();
  });
});

/** The hub itself at shutdown, on real PostgreSQL. */
describe('an event hub shut down while a stream is opening', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when the shutdown comes while the hub starts reading, then that stream is refused with 503, not left open to hold the shutdown', async () => {
    const hub = hubOn(app.db, createInProcessSignal());
    let ended = false;
    const sink = { deliver: () => undefined, keepAlive: () => undefined, end: () => void (ended = true) };
    let opening: Promise<unknown> | undefined;
    // The hub's first read (the log's last position) waits behind this lock while it shuts down.
    await app.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE order_events IN ACCESS EXCLUSIVE MODE');
      opening = hub.open('u1', { kind: 'all' }, sink).catch((error: unknown) => error);
      await waitUntil(
        async () => (await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%max(seq)%'")).rows[0]!.n > 0,
        10_000,
        'the hub to wait for its first read',
      );
      hub.closeAll();
    });
    expect(await opening).toMatchObject({ kind: 'unavailable', code: 'SERVICE_UNAVAILABLE' });
    expect(ended).toBe(false);
    expect(hub.openStreams()).toBe(0);
  });
});
