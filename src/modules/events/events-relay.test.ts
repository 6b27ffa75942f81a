import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { afterStatement } from '../../../test/statements.js';
import { bearer, registerAdmin, registerUser } from '../../../test/users.js';
import { createInProcessSignal } from '../../platform/signal.js';
import { relayEventsOnce } from './events-relay.js';
import { appendSequenced, eventsAfter, lockAndFindUnsequenced } from './order-events.repository.js';

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

  it("while a pass reads the rows and their orders, the outbox rows it positions stay free for the outbox relay's mark", async () => {
    const { rows } = await app.db.query<{ id: string }>("INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.cancelled', $1) RETURNING id", [orderIds[0]]);
    const outboxId = Number(rows[0]!.id);
    const relay = new pg.Client({ connectionString: app.database.url });
    await relay.connect();
    let markedMeanwhile = 0;
    try {
      // What the outbox relay does when its publish returns, while the pass reads. Before 2026-12-04 the pass held
      // these rows locked from its first statement: this waited for its commit (~3 ms a mark under load), and here,
      // where the pass waits for it, it ran into the lock timeout.
      const markPublished = async () => {
        await relay.query("SET lock_timeout = '2s'");
        markedMeanwhile = (await relay.query('UPDATE outbox_events SET published_at = now() WHERE id = $1', [outboxId])).rowCount ?? 0;
      };
      const appended = await relayEventsOnce({ db: afterStatement(app.db, 'find-orders', markPublished), signal: createInProcessSignal(), onAppended: [] });
      expect(appended).toBeGreaterThanOrEqual(1);
    } finally {
      await relay.end();
    }
    expect(markedMeanwhile).toBe(1);
    const { rows: after } = await app.db.query<{ sequenced: boolean; published: boolean }>(
      'SELECT sequenced, published_at IS NOT NULL AS published FROM outbox_events WHERE id = $1',
      [outboxId],
    );
    expect(after[0]).toEqual({ sequenced: true, published: true });
    const events = await eventsAfter(app.db, 0, { orderId: orderIds[0] }, 100);
    expect(events.map((e) => e.type)).toContain('order.cancelled');
  });
  it('when rows a pass read were positioned by a pass that committed just before its lock, then it positions none of them again', async () => {
    // The read that takes the lock has its snapshot from a moment before the lock: what it read may just have been positioned.
    const { rows } = await app.db.query<{ id: string }>("INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.cancelled', $1) RETURNING id", [orderIds[1]]);
    const outboxId = Number(rows[0]!.id);
    const stale = await app.db.transaction((tx) => lockAndFindUnsequenced(tx, 500));
    expect(stale.rows.map((row) => row.outboxId)).toContain(outboxId);
    expect(await relayEventsOnce({ db: app.db, signal: createInProcessSignal(), onAppended: [] })).toBeGreaterThanOrEqual(1);
    const positioned = await eventsAfter(app.db, 0, { orderId: orderIds[1] }, 100);

    const event = { outboxId, orderId: orderIds[1]!, userId: positioned[0]!.userId, type: 'order.cancelled' as const, order: positioned.at(-1)!.order, createdAt: new Date().toISOString() };
    const appended = await app.db.transaction((tx) => appendSequenced(tx, [event], [outboxId], []));
    expect(appended).toBe(0);
    expect(await eventsAfter(app.db, 0, { orderId: orderIds[1] }, 100)).toEqual(positioned);
  });
});
