import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { capturingLogger } from '../../../test/logs.js';
import { waitUntil } from '../../../test/wait.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { createHighWaterMark } from '../../platform/high-water.js';
import { createRedis } from '../../platform/redis.js';
import { POSITION_MARGIN, realignEventPositions } from './event-positions.js';

/**
 * A database restored in place hands out event positions again from where the backup stood;
 * the mark kept in Redis lets start-up move them past every position clients already hold.
 * Real PostgreSQL and Redis, the relay running as in the API.
 */
describe('event positions after a database restored in place', () => {
  let app: TestApp;
  let buyer: TestUser;
  let productId: string;
  const markKey = () => `${app.config.redis.prefix}:order-event-positions`;
  const positionNow = async () =>
    Number((await app.db.query<{ n: string | null }>("SELECT pg_sequence_last_value(pg_get_serial_sequence('order_events', 'seq')::regclass) AS n")).rows[0]?.n ?? 0);
  const realignWarnings = () => app.logs.filter((line) => String(line.message).startsWith('order event positions were behind'));

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', redis: true, processing: true, captureLogs: true, env: { LOG_LEVEL: 'warn' } });
    const admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
    productId = (await createProduct(app, admin, { stock: 50 })).id;
  });
  afterAll(() => app.close());

  const place = async () => (await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] }).expect(201)).body as { id: string };

  it('when positions are behind the mark, start-up moves them past it, drops cached orders and says so once; new events follow the mark', async () => {
    const order = await place();
    const handedOut = await waitUntil(
      async () => {
        const [mark, position] = [Number(await app.redis!.zscore(markKey(), 'mark')), await positionNow()];
        return mark > 0 && mark === position && mark;
      },
      10_000,
      'the mark to reach the positions handed out',
    );
    // A cached copy that the restore makes newer than the database.
    expect((await app.http.get(`/api/orders/${order.id}`).set(bearer(buyer))).status).toBe(200);
    expect(await app.redis!.keys(`${app.config.redis.prefix}:cache:*`)).not.toEqual([]);

    // The restore: the backup predates every event (its sequence starts again).
    await app.db.query('TRUNCATE order_events');
    await app.db.query('ALTER TABLE order_events ALTER COLUMN seq RESTART WITH 1');

    await app.realignEventPositions();
    expect(await positionNow()).toBe(handedOut + POSITION_MARGIN);
    expect(await app.redis!.keys(`${app.config.redis.prefix}:cache:*`)).toEqual([]);
    expect(realignWarnings()).toEqual([expect.objectContaining({ level: 'warn', handedOut, movedTo: handedOut + POSITION_MARGIN, droppedCachedOrders: 1 })]);

    // Ahead of the mark now: a second start leaves everything alone.
    await app.realignEventPositions();
    expect(realignWarnings()).toHaveLength(1);

    const next = await place();
    const { rows } = await waitUntil(
      async () => {
        const found = await app.db.query<{ seq: string }>('SELECT seq FROM order_events WHERE order_id = $1', [next.id]);
        return found.rows.length > 0 && found;
      },
      10_000,
      'the new order’s event',
    );
    expect(Number(rows[0]!.seq)).toBeGreaterThan(handedOut);
  });

  it('the mark goes up only, at most once per interval, and never down from another process', async () => {
    const key = `${app.config.redis.prefix}:mark-test`;
    let now = 0;
    const mark = createHighWaterMark(app.redis!, key, { everyMs: 1000, now: () => now });
    const score = async () => Number(await app.redis!.zscore(key, 'mark'));
    mark.raise(5);
    await waitUntil(async () => (await score()) === 5, 5000, 'the first raise');
    mark.raise(9);
    // Within the interval: not sent; the next send carries the highest value seen.
    expect(await mark.read()).toBe(5);
    now = 1000;
    mark.raise(7);
    await waitUntil(async () => (await score()) === 9, 5000, 'the highest value seen');
    createHighWaterMark(app.redis!, key).raise(3);
    await app.redis!.ping();
    expect(await score()).toBe(9);
    await app.redis!.del(key);
  });

  it('when Redis cannot be reached at start-up, the check is skipped with one warning, in about a second', async () => {
    const unreachable = createRedis('redis://127.0.0.1:1', 'request');
    const { logger, lines } = capturingLogger('warn');
    const started = Date.now();
    try {
      await realignEventPositions({ db: app.db, mark: createHighWaterMark(unreachable, 'unused'), dropCachedOrders: () => Promise.resolve(0), logger });
    } finally {
      unreachable.disconnect();
    }
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lines.map((line) => line.message)).toEqual([expect.stringMatching(/^could not read the order event positions handed out before/)]);
  });
});
