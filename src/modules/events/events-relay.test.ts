import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { bearer, registerAdmin, registerUser } from '../../../test/users.js';
import { waitUntil } from '../../../test/wait.js';
import { createInProcessSignal } from '../../platform/signal.js';
import { createEventsPass, relayEventsOnce } from './events-relay.js';
import { eventsAfter } from './order-events.repository.js';

/** The relay on a real PostgreSQL server, called directly (no background loops run). */
describe('events relay', () => {
  let app: TestApp;
  let orderIds: string[];

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, admin, { stock: 10 });
    orderIds = [];
    for (let i = 0; i < 2; i++) {
      const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      orderIds.push(res.body.id as string);
    }
  });
  afterAll(async () => {
    await app.close();
  });

  it('when an outbox row with a lower id commits after a higher one was relayed, then it gets a later position and a reader after that position still gets it', async () => {
    const relay = () => relayEventsOnce({ db: app.db, signal: createInProcessSignal(), onAppended: [] });
    await relay();
    const seen = await eventsAfter(app.db, 0, {}, 100);
    expect(seen.map((e) => e.type)).toEqual(['order.placed', 'order.placed']);
    const readerPosition = seen.at(-1)!.seq;

    // A slow transaction takes its outbox id first…
    const slow = new pg.Client({ connectionString: app.database.url });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      const { rows } = await slow.query<{ id: string }>("INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.cancelled', $1) RETURNING id", [orderIds[0]]);
      const slowId = Number(rows[0]!.id);
      // …a fast one takes a higher id and commits, and is relayed while the slow one is open.
      const fast = await app.db.query<{ id: string }>("INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.cancelled', $1) RETURNING id", [orderIds[1]]);
      expect(Number(fast.rows[0]!.id)).toBeGreaterThan(slowId);
      await relay();
      const afterFast = await eventsAfter(app.db, readerPosition, {}, 100);
      expect(afterFast.map((e) => e.orderId)).toEqual([orderIds[1]]);
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }
    await relay();
    // A reader that has seen the fast event (position P) resumes with "after P" and gets the slow one.
    const fastSeq = (await eventsAfter(app.db, readerPosition, {}, 100))[0]!.seq;
    const late = await eventsAfter(app.db, fastSeq, {}, 100);
    expect(late.map((e) => e.orderId)).toEqual([orderIds[0]]);
    expect(late[0]!.seq).toBeGreaterThan(fastSeq);
  });

  it('when a row was positioned by a pass that committed a moment before this one took the lock, then it is not positioned again', async () => {
    // A pass's statement reads with a snapshot a moment older than its lock: a row another pass positioned and
    // committed in that moment still looks unsequenced to it. That state, made directly: the event is in the log
    // and the row not yet marked.
    const { rows } = await app.db.query<{ id: string }>("INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.cancelled', $1) RETURNING id", [orderIds[1]]);
    const outboxId = Number(rows[0]!.id);
    const logged = await eventsAfter(app.db, 0, { orderId: orderIds[1] }, 100);
    await app.db.query(
      `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order")
       SELECT $1, order_id, user_id, 'order.cancelled', "order" FROM order_events WHERE order_id = $2 ORDER BY seq DESC LIMIT 1`,
      [outboxId, orderIds[1]],
    );
    const before = await eventsAfter(app.db, 0, { orderId: orderIds[1] }, 100);
    expect(before).toHaveLength(logged.length + 1);

    expect(await relayEventsOnce({ db: app.db, signal: createInProcessSignal(), onAppended: [] })).toBeGreaterThanOrEqual(1);
    expect(await eventsAfter(app.db, 0, { orderId: orderIds[1] }, 100)).toEqual(before);
    const { rows: marked } = await app.db.query<{ sequenced: boolean }>('SELECT sequenced FROM outbox_events WHERE id = $1', [outboxId]);
    expect(marked[0]!.sequenced).toBe(true);
  });

  it('when a pass positions rows, then it answers only those no relay had claimed or published: a claim that ran meanwhile skipped them, and nobody else publishes them', async () => {
    await relayEventsOnce({ db: app.db, signal: createInProcessSignal(), onAppended: [] });
    const insert = async (claimedSeconds: number | null, published: boolean) =>
      Number(
        (
          await app.db.query<{ id: string }>(
            `INSERT INTO outbox_events (topic, aggregate_id, claimed_until, published_at)
             VALUES ('order.cancelled', $1, now() + make_interval(secs => $2::int), CASE WHEN $3::boolean THEN now() END) RETURNING id`,
            [orderIds[0], claimedSeconds, published],
          )
        ).rows[0]!.id,
      );
    const unclaimed = await insert(null, false);
    const claimExpired = await insert(-5, false);
    await insert(5, false); // a relay holds it, and publishes it itself
    await insert(null, true); // published already

    const pass = createEventsPass({ db: app.db, signal: createInProcessSignal(), onAppended: [], pollMs: 60_000 });
    expect(await pass(true)).toEqual([unclaimed, claimExpired]);
    const { rows } = await app.db.query<{ left: string }>('SELECT count(*) AS left FROM outbox_events WHERE NOT sequenced');
    expect(Number(rows[0]!.left)).toBe(0);
  });

  it("when the host's wall clock is stepped back (NTP, a VM resumed), then the events pass still sweeps every pollMs, not once the clock has caught up", async () => {
    const pass = createEventsPass({ db: app.db, signal: createInProcessSignal(), onAppended: [], pollMs: 100 });
    await pass(true);
    const unpositioned = async () => Number((await app.db.query<{ left: string }>('SELECT count(*) AS left FROM outbox_events WHERE NOT sequenced')).rows[0]!.left);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000, shouldAdvanceTime: true });
    try {
      // An event another process committed and published, then crashed before positioning it: only a sweep takes it.
      await app.db.query("INSERT INTO outbox_events (topic, aggregate_id, published_at) VALUES ('order.cancelled', $1, now())", [orderIds[0]]);
      await waitUntil(async () => (await pass(false), (await unpositioned()) === 0), 5000, 'a sweeping pass to position the event');
    } finally {
      vi.useRealTimers();
    }
  });
});
