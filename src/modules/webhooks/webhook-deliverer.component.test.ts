import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { holdDeliveryRow, untilWaitingForLock } from '../../../test/row-locks.js';
import { waitUntil } from '../../../test/wait.js';
import { startReceiver, type WebhookReceiver } from '../../../test/webhook-receiver.js';
import type { Database, Queryable } from '../../platform/db/index.js';
import { createLogger } from '../../platform/logger.js';
import { createInProcessSignal, type Signal } from '../../platform/signal.js';
import { startWebhookDeliverer } from './webhook-deliverer.js';
import { scheduleRedelivery, updateWebhook } from './webhooks.repository.js';

/** A claim's first statement (the second runs only when an endpoint has a delivery due). */
const CLAIM = 'lock-webhooks-to-claim';
const SETTINGS = { timeoutMs: 2000, maxAttempts: 3, retryBaseMs: 1000, concurrency: 4, allowPrivateUrls: true };

/**
 * The real database, counting the statements sent through it (by their first words), and
 * those answered: a statement sent is not yet a snapshot taken (it may wait for a connection).
 */
function counted(db: Database): { db: Database; count(start: string): number; answered(start: string): number } {
  const sent: string[] = [];
  const done: string[] = [];
  const counting = (target: Queryable): Queryable['query'] => <Row,>(...[text, params, options]: Parameters<Queryable['query']>) => {
    const name = options?.name ?? text.trim();
    sent.push(name);
    const result = target.query<Row>(text, params, options);
    void result.then(() => done.push(name), () => undefined);
    return result;
  };
  const wrapped: Database = Object.create(db) as Database;
  wrapped.query = counting(db);
  // Claims run in a transaction: its statements count too.
  wrapped.transaction = (work) => db.transaction((tx) => work({ query: counting(tx), exec: (script) => tx.exec(script) }));
  const matching = (list: string[], start: string) => list.filter((text) => text.startsWith(start)).length;
  return { db: wrapped, count: (start) => matching(sent, start), answered: (start) => matching(done, start) };
}

/** The deliverer called directly on PostgreSQL, endpoints and deliveries written as another process would. */
describe('webhook deliverer', () => {
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  let signal: Signal;
  let stops: (() => Promise<void>)[];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await database.drop();
  });
  beforeEach(async () => {
    await database.db.exec('TRUNCATE webhooks CASCADE');
    signal = createInProcessSignal();
    stops = [];
  });
  afterEach(async () => {
    for (const stop of stops) await stop();
  });

  function start(pollMs: number, settings: Partial<typeof SETTINGS> = {}) {
    const { db, count, answered } = counted(database.db);
    const outcomes: string[] = [];
    const deliverer = startWebhookDeliverer({
      db,
      signal,
      settings: { ...SETTINGS, ...settings, pollMs },
      logger: createLogger({ level: 'error', format: 'json', silent: true }),
      observer: { attempted: (outcome) => void outcomes.push(outcome) },
    });
    stops.push(() => deliverer.stop());
    return { deliverer, count, answered, outcomes };
  }

  /** An enabled endpoint, committed outside the deliverer (as the API would). */
  async function registerEndpoint(path: string): Promise<string> {
    const { rows } = await database.db.query<{ id: string }>(
      `INSERT INTO webhooks (id, url, events, secret) VALUES (gen_random_uuid(), $1, ARRAY['order.placed'], 'whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=') RETURNING id`,
      [receiver.url(path)],
    );
    return rows[0]!.id;
  }
  const rowOf = async (deliveryId: string) =>
    (await database.db.query<{ status: string; attempts: number; leased_until: Date | null }>('SELECT status, attempts, leased_until FROM webhook_deliveries WHERE id = $1', [deliveryId])).rows[0];
  /** A due delivery, as the events relay creates one. */
  const addDelivery = async (webhookId: string): Promise<string> => {
    const { rows } = await database.db.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload) VALUES (gen_random_uuid(), $1, 1, 'order.placed', '{}') RETURNING id`,
      [webhookId],
    );
    return rows[0]!.id;
  };

  it('when no endpoint is enabled, then event signals claim nothing and send no statement', async () => {
    const { count } = start(60_000);
    await waitUntil(() => count('any-enabled-webhook') === 1, 10_000, 'the first look at the endpoints');
    for (let i = 0; i < 20; i++) signal.notify();
    // A wake-up that has nothing to do returns before its first await: nothing is sent, now or later.
    await Promise.resolve();
    expect(count('any-enabled-webhook')).toBe(1);
    expect(count(CLAIM)).toBe(0);
  });

  it('when another process registers an endpoint, then its delivery is sent on the next poll, with no signal', async () => {
    const { count, answered } = start(200);
    // Answered, not just sent: a look still waiting for a connection could see the endpoint.
    await waitUntil(() => answered('any-enabled-webhook') >= 1, 10_000, 'the first look at the endpoints');
    await addDelivery(await registerEndpoint('/other-process'));
    await waitUntil(() => receiver.on('/other-process').length === 1, 20_000, 'the delivery');
    // Only a poll looked again: the first look had found no endpoint.
    expect(count('any-enabled-webhook')).toBeGreaterThanOrEqual(2);
  });

  it('when this process registers an endpoint, then the next event signal sends its delivery without waiting for a poll', async () => {
    const { deliverer, count } = start(600_000);
    await waitUntil(() => count('any-enabled-webhook') === 1, 10_000, 'the first look at the endpoints');
    const webhookId = await registerEndpoint('/this-process');
    deliverer.webhooksChanged();
    await waitUntil(() => count('any-enabled-webhook') === 2, 10_000, 'a second look at the endpoints');
    await addDelivery(webhookId);
    signal.notify();
    // A poll would come only after 10 minutes.
    await waitUntil(() => receiver.on('/this-process').length === 1, 20_000, 'the delivery');
  });

  it('when a delivery in flight is redelivered, then no other process sends it meanwhile, and it is sent once more after the attempt', async () => {
    // Two processes; the attempt is held far longer than this test waits.
    const one = start(100, { timeoutMs: 60_000 });
    const two = start(100, { timeoutMs: 60_000 });
    receiver.answer('/redelivered-in-flight', 'hold');
    const webhookId = await registerEndpoint('/redelivered-in-flight');
    const deliveryId = await addDelivery(webhookId);
    await waitUntil(() => receiver.on('/redelivered-in-flight').length === 1, 20_000, 'the first attempt');
    expect(await scheduleRedelivery(database.db, webhookId, deliveryId, SETTINGS.maxAttempts)).toMatchObject({ status: 'pending' });
    // Two claims answered by each process: at least one of them was sent after the redelivery.
    const claimed = [one.answered(CLAIM), two.answered(CLAIM)];
    await waitUntil(() => one.answered(CLAIM) >= claimed[0]! + 2 && two.answered(CLAIM) >= claimed[1]! + 2, 20_000, 'two claims by each process');
    expect(receiver.on('/redelivered-in-flight')).toHaveLength(1);
    // The attempt in flight succeeds; the redelivery asked meanwhile is still made.
    receiver.answer('/redelivered-in-flight', 200);
    receiver.release(200);
    await waitUntil(() => receiver.on('/redelivered-in-flight').length === 2, 20_000, 'the redelivery');
    await waitUntil(
      async () => (await database.db.query<{ status: string }>('SELECT status FROM webhook_deliveries WHERE id = $1', [deliveryId])).rows[0]?.status === 'succeeded',
      20_000,
      'the redelivery to succeed',
    );
    expect(receiver.maxInFlight('/redelivered-in-flight')).toBe(1);
  });

  it('when failing endpoints have a backlog of due deliveries, then another endpoint still gets its turn', async () => {
    // One slot: the failing endpoint (the lower id) has three due deliveries, the other one its first, due last.
    const failing = '00000000-0000-4000-8000-000000000001';
    const other = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
    receiver.answer('/backlogged', 500);
    for (const [id, path] of [[failing, '/backlogged'], [other, '/next-in-turn']] as const) {
      await database.db.query(`INSERT INTO webhooks (id, url, events, secret) VALUES ($1, $2, ARRAY['order.placed'], 'whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=')`, [id, receiver.url(path)]);
    }
    for (const seq of [1, 2, 3]) {
      await database.db.query(`INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload, next_attempt_at) VALUES (gen_random_uuid(), $1, $2::int, 'order.placed', '{}', now() - make_interval(secs => 10 - $2::int))`, [failing, seq]);
    }
    await addDelivery(other);
    start(100, { concurrency: 1, retryBaseMs: 600_000 });
    await waitUntil(() => receiver.on('/next-in-turn').length === 1, 20_000, 'the other endpoint\'s delivery');
    const paths = receiver.received.map((request) => request.path).filter((path) => path === '/backlogged' || path === '/next-in-turn');
    // Turn by turn: one attempt of the failing endpoint, then the other's, not the whole backlog first.
    expect(paths.indexOf('/next-in-turn')).toBeLessThanOrEqual(1);
  });

  it('when the deliverer is stopped while its claim is under way, then the delivery it claims is sent and recorded before stop() resolves', async () => {
    const webhookId = await registerEndpoint('/claimed-at-stop');
    const deliveryId = await addDelivery(webhookId);
    // Another statement holds the delivery's row: the claim (started at once) waits for it.
    const holder = await holdDeliveryRow(database.db, deliveryId);
    const { deliverer } = start(600_000);
    await untilWaitingForLock(database.db, 'the claim to wait for the held row');
    const stopping = deliverer.stop();
    holder.release();
    await holder.released;
    await stopping;
    const atStop = { received: receiver.on('/claimed-at-stop').length, row: await rowOf(deliveryId) };
    // The claim took the delivery (its row was only locked): it is sent, once, and recorded.
    await waitUntil(async () => (await rowOf(deliveryId))?.status === 'succeeded', 10_000, 'the delivery to be recorded');
    // ...all of it before stop() resolved, so the process could then close its database.
    expect(atStop.row).toMatchObject({ status: 'succeeded', attempts: 1, leased_until: null });
    expect(atStop.received).toBe(1);
    expect(receiver.on('/claimed-at-stop')).toHaveLength(1);
  });

  it('when the endpoint is disabled during a failing attempt, then the attempt is reported as failed, as it is recorded', async () => {
    receiver.answer('/disabled-in-flight', 'hold');
    const webhookId = await registerEndpoint('/disabled-in-flight');
    const deliveryId = await addDelivery(webhookId);
    const { outcomes } = start(100);
    await waitUntil(() => receiver.on('/disabled-in-flight').length === 1, 20_000, 'the attempt');
    await updateWebhook(database.db, webhookId, { enabled: false });
    receiver.release(500);
    await waitUntil(() => outcomes.length === 1, 20_000, 'the attempt to be reported');
    expect(await rowOf(deliveryId)).toMatchObject({ status: 'failed', attempts: 1 });
    // webhook_delivery_attempts_total{outcome} and the log say what became of the delivery.
    expect(outcomes).toEqual(['failed']);
  });

  it('when many attempts are allowed, then a late failure is still recorded, its retry about a day away', async () => {
    // WEBHOOK_MAX_ATTEMPTS allows up to 50: ×4 per attempt, the 25th retry would be ~10^8 years away.
    receiver.answer('/late-attempt', 500);
    const webhookId = await registerEndpoint('/late-attempt');
    const deliveryId = await addDelivery(webhookId);
    await database.db.query('UPDATE webhook_deliveries SET attempts = 24 WHERE id = $1', [deliveryId]);
    start(100, { maxAttempts: 50, retryBaseMs: 15_000 });
    const recorded = await waitUntil(
      async () =>
        (
          await database.db.query<{ status: string; last_status_code: number | null; attempts: number; in_seconds: number }>(
            'SELECT status, last_status_code, attempts, extract(epoch FROM next_attempt_at - now())::float8 AS in_seconds FROM webhook_deliveries WHERE id = $1 AND last_status_code IS NOT NULL AND leased_until IS NULL',
            [deliveryId],
          )
        ).rows[0],
      10_000,
      'the attempt to be recorded',
    );
    expect(recorded).toMatchObject({ status: 'pending', last_status_code: 500, attempts: 25 });
    expect(recorded.in_seconds).toBeLessThanOrEqual(30 * 3600);
  });
});
