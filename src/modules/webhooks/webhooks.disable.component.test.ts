import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { STORAGE_KINDS } from '../../../test/harness.js';
import { waitUntil } from '../../../test/wait.js';
import { webhooksServiceOn } from '../../../test/webhooks-service.js';
import { STATUS_BY_TYPE } from '../events/order-event.js';
import { sequenceOutboxRows } from '../events/order-events.repository.js';
import { claimDueDeliveries, recordAttempt } from './deliveries.repository.js';
import { createDeliveries, scheduleRedelivery } from './webhooks.repository.js';

/**
 * Disabling an endpoint stops its deliveries, as Stripe, GitHub and Svix do: what was still owed
 * ends `failed` (each can be redelivered by hand), instead of the whole backlog going out at once
 * when the endpoint is enabled again.
 */
describe.each(STORAGE_KINDS)('disabling a webhook endpoint on %s', (kind) => {
  const context = webhooksServiceOn(kind);

  const addDeliveries = (webhookId: string, seqs: number[]) =>
    context.database.db.query(
      `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload) SELECT gen_random_uuid(), $1, seq, 'order.placed', '{}' FROM unnest($2::int[]) seq`,
      [webhookId, seqs],
    );

  it('when an endpoint is disabled, then its pending deliveries fail, an attempt in flight is not retried, and enabling it again sends none of them', async () => {
    const webhook = await context.webhooks.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['order.placed'] });
    await addDeliveries(webhook.id, [1, 2, 3]);
    const [inFlight] = await claimDueDeliveries(context.database.db, { limit: 1, leaseMs: 60_000, busyWebhookIds: [] });

    await context.webhooks.updateWebhook(webhook.id, { enabled: false });
    const { items } = await context.webhooks.listDeliveries(webhook.id, { status: undefined, limit: 10, after: undefined });
    const others = items.filter((delivery) => delivery.id !== inFlight!.id);
    expect(others.map(({ status, lastError, nextAttemptAt }) => ({ status, lastError, nextAttemptAt }))).toEqual([
      { status: 'failed', lastError: 'the endpoint was disabled', nextAttemptAt: null },
      { status: 'failed', lastError: 'the endpoint was disabled', nextAttemptAt: null },
    ]);

    // The attempt in flight fails: it is not retried while the endpoint is disabled.
    await recordAttempt(context.database.db, inFlight!, { ok: false, statusCode: 503, error: 'answered 503', retryInMs: 1000 });
    expect((await context.webhooks.listDeliveries(webhook.id, { status: 'pending', limit: 10, after: undefined })).items).toEqual([]);

    await context.webhooks.updateWebhook(webhook.id, { enabled: true });
    await context.database.db.query(`UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 day' WHERE webhook_id = $1`, [webhook.id]);
    expect(await claimDueDeliveries(context.database.db, { limit: 10, leaseMs: 60_000, busyWebhookIds: [] })).toEqual([]);
  });

  it('when a failed delivery of a disabled endpoint is redelivered, then it is sent once the endpoint is enabled again', async () => {
    const webhook = await context.webhooks.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['order.placed'] });
    await addDeliveries(webhook.id, [1]);
    await context.webhooks.updateWebhook(webhook.id, { enabled: false });
    const [failed] = (await context.webhooks.listDeliveries(webhook.id, { status: 'failed', limit: 10, after: undefined })).items;
    await context.webhooks.redeliver(webhook.id, failed!.id);
    // Another change to the disabled endpoint leaves the redelivery asked for owed.
    await context.webhooks.updateWebhook(webhook.id, { description: 'paused for maintenance' });
    expect(await claimDueDeliveries(context.database.db, { limit: 10, leaseMs: 60_000, busyWebhookIds: [] })).toEqual([]);
    await context.webhooks.updateWebhook(webhook.id, { enabled: true });
    expect((await claimDueDeliveries(context.database.db, { limit: 10, leaseMs: 60_000, busyWebhookIds: [] })).map((claim) => claim.id)).toEqual([failed!.id]);
  });

  it('when an endpoint is disabled while the sender of a delivery has died mid-attempt, then that delivery does not go out when the endpoint is enabled again', async () => {
    const webhook = await context.webhooks.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['order.placed'] });
    await addDeliveries(webhook.id, [1]);
    // Claimed by a sender killed before it recorded anything: its lease is still running.
    const [abandoned] = await claimDueDeliveries(context.database.db, { limit: 1, leaseMs: 60_000, busyWebhookIds: [] });
    await context.webhooks.updateWebhook(webhook.id, { enabled: false });
    // The lease runs out, while the endpoint stays disabled.
    await context.database.db.query(`UPDATE webhook_deliveries SET leased_until = now() - interval '1 minute', next_attempt_at = now() - interval '1 minute' WHERE id = $1`, [abandoned!.id]);
    await context.webhooks.updateWebhook(webhook.id, { enabled: true });
    expect(await claimDueDeliveries(context.database.db, { limit: 10, leaseMs: 60_000, busyWebhookIds: [] })).toEqual([]);
    const [delivery] = (await context.webhooks.listDeliveries(webhook.id, { status: undefined, limit: 10, after: undefined })).items;
    expect(delivery).toMatchObject({ id: abandoned!.id, status: 'failed', lastError: 'the endpoint was disabled' });
  });

  it('when an endpoint is enabled again while an attempt of it is still in flight, then no other delivery of it is sent until that attempt ends', async () => {
    const webhook = await context.webhooks.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['order.placed'] });
    await addDeliveries(webhook.id, [1, 2]);
    const [inFlight] = await claimDueDeliveries(context.database.db, { limit: 1, leaseMs: 60_000, busyWebhookIds: [] });
    await context.webhooks.updateWebhook(webhook.id, { enabled: false });
    const other = (await context.webhooks.listDeliveries(webhook.id, { status: undefined, limit: 10, after: undefined })).items.find((delivery) => delivery.id !== inFlight!.id);
    await scheduleRedelivery(context.database.db, webhook.id, other!.id, 8);
    await context.webhooks.updateWebhook(webhook.id, { enabled: true });
    expect(await claimDueDeliveries(context.database.db, { limit: 10, leaseMs: 60_000, busyWebhookIds: [] })).toEqual([]);
    // The attempt ends (succeeds): the redelivery goes out next, and the attempt's outcome is kept.
    await recordAttempt(context.database.db, inFlight!, { ok: true, statusCode: 204, error: undefined, retryInMs: undefined });
    expect((await claimDueDeliveries(context.database.db, { limit: 10, leaseMs: 60_000, busyWebhookIds: [] })).map((claim) => claim.id)).toEqual([other!.id]);
    expect((await context.webhooks.listDeliveries(webhook.id, { status: 'succeeded', limit: 10, after: undefined })).items.map((delivery) => delivery.id)).toEqual([inFlight!.id]);
  });
});

/** An events pass runs on its own connection while the endpoint is disabled: PostgreSQL only. */
describe('disabling a webhook endpoint while an events pass creates its deliveries', () => {
  const context = webhooksServiceOn('postgres');

  it('when an endpoint is disabled while an events pass that saw it enabled has not committed, then the delivery that pass creates for it ends failed too', async () => {
    const { db } = context.database;
    const webhook = await context.webhooks.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['order.placed'] });
    const [userId, orderId] = [randomUUID(), randomUUID()];
    await db.query(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Buyer', 'x')`, [userId, `${userId}@example.com`]);
    await db.query(`INSERT INTO orders (id, user_id, status, total_cents, currency, history) VALUES ($1, $2, 'pending', 500, 'USD', '[{"status":"pending","at":"2026-12-05T10:00:00.000Z"}]')`, [
      orderId,
      userId,
    ]);
    await db.query(`INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.placed', $1)`, [orderId]);
    // A pass that has positioned the event and created its delivery, and has not committed yet.
    let commit!: () => void;
    let positioned!: () => void;
    const created = new Promise<void>((resolve) => (positioned = resolve));
    const pass = db.transaction(async (tx) => {
      expect((await sequenceOutboxRows(tx, { limit: 10, statusByType: STATUS_BY_TYPE, alsoRun: [createDeliveries] })).appended).toBe(1);
      positioned();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await created;
    let disabled = false;
    const disabling = context.webhooks.updateWebhook(webhook.id, { enabled: false }).then(() => (disabled = true));
    // The disable is done, or it waits for the pass to commit.
    await waitUntil(
      async () =>
        disabled ||
        (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0]!.n >= 1,
      10_000,
      'the disable to end or to wait for the pass',
    );
    commit();
    await pass;
    await disabling;
    const { items } = await context.webhooks.listDeliveries(webhook.id, { status: undefined, limit: 10, after: undefined });
    expect(items.map(({ status, lastError }) => ({ status, lastError }))).toEqual([{ status: 'failed', lastError: 'the endpoint was disabled' }]);
  });
});
