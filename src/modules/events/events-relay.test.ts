import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { bearer, registerAdmin, registerUser } from '../../../test/users.js';
import { createInProcessSignal } from '../../platform/signal.js';
import { createEventsPass, relayEventsOnce } from './events-relay.js';
import { eventsAfter } from './order-events.repository.js';
import { waitUntil } from '../../../test/wait.js';

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
});

/** The pass as the outbox relay calls it after publishing a batch: marking and sequencing in one UPDATE. */
describe('events pass given a published batch', () => {
  let app: TestApp;
  let placeOrder: () => Promise<number>;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, admin, { stock: 10 });
    // Places an order and answers its `order.placed` outbox row's id.
    placeOrder = async () => {
      const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      const { rows } = await app.db.query<{ id: number }>('SELECT id FROM outbox_events WHERE aggregate_id = $1', [res.body.id]);
      return Number(rows[0]!.id);
    };
  });
  afterAll(async () => {
    await app.close();
  });

  const outboxRows = async (ids: number[]) =>
    (
      await app.db.query<{ id: number; published: boolean; claimed: boolean; sequenced: boolean }>(
        `SELECT id, published_at IS NOT NULL AS published, claimed_until IS NOT NULL AS claimed, sequenced
         FROM outbox_events WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [ids],
      )
    ).rows.map((row) => ({ ...row, id: Number(row.id) }));
  const eventsOf = async (outboxIds: number[]) =>
    (await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM order_events WHERE outbox_id = ANY($1::bigint[])', [outboxIds])).rows[0]!.n;
  const newPass = () => createEventsPass({ db: app.db, signal: createInProcessSignal(), onAppended: [], pollMs: 60_000, retentionHours: 24 });

  it('when the relay hands over a published batch, then its rows are marked published and get one position each, also when handed over again', async () => {
    const ids = [await placeOrder(), await placeOrder()];
    await app.db.query("UPDATE outbox_events SET claimed_until = now() + interval '10 seconds' WHERE id = ANY($1::bigint[])", [ids]);
    const pass = newPass();

    expect(await pass(false, ids)).toBe(2);
    expect(await outboxRows(ids)).toEqual(ids.map((id) => ({ id, published: true, claimed: false, sequenced: true })));
    expect(await eventsOf(ids)).toBe(2);

    // Published again (a lease ran out before the mark): marked again, never positioned twice.
    expect(await pass(false, ids)).toBe(0);
    expect(await eventsOf(ids)).toBe(2);
  });

  it('when a row commits after the batch was claimed, then the handover leaves it to be positioned with its own batch', async () => {
    const claimed = await placeOrder();
    const later = await placeOrder();
    const pass = newPass();

    expect(await pass(false, [claimed])).toBe(1);
    expect(await outboxRows([claimed, later])).toEqual([
      { id: claimed, published: true, claimed: false, sequenced: true },
      { id: later, published: false, claimed: false, sequenced: false },
    ]);
    expect(await pass(false, [later])).toBe(1);
    expect(await outboxRows([later])).toEqual([{ id: later, published: true, claimed: false, sequenced: true }]);
    expect(await eventsOf([claimed, later])).toBe(2);
  });

  it('when rows were positioned before they were published (a relay delay), then handing them over only marks them published', async () => {
    const ids = [await placeOrder()];
    const pass = newPass();
    expect(await pass(true)).toBe(1);
    expect(await outboxRows(ids)).toEqual([{ id: ids[0], published: false, claimed: false, sequenced: true }]);

    expect(await pass(false, ids)).toBe(0);
    expect(await outboxRows(ids)).toEqual([{ id: ids[0], published: true, claimed: false, sequenced: true }]);
    expect(await eventsOf(ids)).toBe(1);
  });

  it('when another process holds the sequencer lock for a moment, then the hand-over waits for it and positions the batch', async () => {
    const ids = [await placeOrder()];
    const pass = newPass();
    const other = new pg.Client({ connectionString: app.database.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock(727014)');
      const handOver = pass(false, ids);
      await waitUntil(
        async () => (await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rows[0]!.n > 0,
        10_000,
        'the hand-over to wait for the lock',
      );
      await other.query('COMMIT');
      expect(await handOver).toBe(1);
    } finally {
      await other.end();
    }
    expect(await outboxRows(ids)).toEqual([{ id: ids[0], published: true, claimed: false, sequenced: true }]);
    expect(await eventsOf(ids)).toBe(1);
  });

  it('when another process holds the sequencer lock longer than a sequencing takes, then the batch is still marked published, and the next pass positions it', async () => {
    const ids = [await placeOrder()];
    const pass = createEventsPass({ db: app.db, signal: createInProcessSignal(), onAppended: [], pollMs: 60_000, retentionHours: 24, lockWaitMs: 100 });
    const other = new pg.Client({ connectionString: app.database.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock(727014)');
      expect(await pass(false, ids)).toBe(0);
      expect(await outboxRows(ids)).toEqual([{ id: ids[0], published: true, claimed: false, sequenced: false }]);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    // Not due, but the last pass was left behind: it runs.
    expect(await pass(false)).toBe(1);
    expect(await outboxRows(ids)).toEqual([{ id: ids[0], published: true, claimed: false, sequenced: true }]);
    expect(await eventsOf(ids)).toBe(1);
  });
});
