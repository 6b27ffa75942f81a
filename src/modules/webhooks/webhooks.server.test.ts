import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../../../test/harness.js';
import { waitUntil } from '../../../test/processes.js';
import { serverStack } from '../../../test/server-stack.js';
import { bearer, type TestUser } from '../../../test/users.js';
import { startReceiver, type ReceivedWebhook, type WebhookReceiver } from '../../../test/webhook-receiver.js';

/** Server mode: the API registers endpoints, separate worker processes deliver to a receiver on loopback. */
const ENV = {
  OUTBOX_POLL_MS: '100',
  JOB_BACKOFF_BASE_MS: '100',
  JOB_BACKOFF_MAX_MS: '1000',
  WORKER_LOCK_DURATION_MS: '2000',
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
  WEBHOOK_POLL_MS: '200',
  WEBHOOK_RETRY_BASE_MS: '300',
  WEBHOOK_TIMEOUT_MS: '2000',
};
const ALL_EVENTS = ['order.placed', 'order.processing', 'order.completed', 'order.failed', 'order.cancelled'];

const STATUS_OF: Record<string, string> = { 'order.placed': 'pending', 'order.processing': 'processing', 'order.completed': 'completed' };

function groupById(requests: ReceivedWebhook[]): Map<string, ReceivedWebhook[]> {
  const groups = new Map<string, ReceivedWebhook[]>();
  for (const request of requests) {
    const id = String(request.headers['webhook-id']);
    groups.set(id, [...(groups.get(id) ?? []), request]);
  }
  return groups;
}

interface Delivered {
  id: string;
  type: string;
  createdAt: string;
  data: { order: { id: string; status: string } };
}

// Several processes start per test; on a busy shared machine that alone can take tens of seconds.
const E2E_TIMEOUT_MS = 180_000;

describe('webhook delivery in server mode', () => {
  const stack = serverStack(ENV);
  let receiver: WebhookReceiver;
  let app: TestApp;
  let admin: TestUser;
  let place: () => Promise<string>;

  beforeEach(async () => {
    receiver = await startReceiver();
    app = await stack.startApi();
    ({ admin, place } = await stack.populate());
  });
  afterEach(async () => {
    await stack.stop();
    await receiver.close();
  });

  async function register(path: string, events = ALL_EVENTS): Promise<{ id: string; secret: string }> {
    const res = await app.http.post('/api/webhooks').set(bearer(admin)).send({ url: receiver.url(path), events });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, secret: res.body.secret as string };
  }

  async function deliveries(webhookId: string, status?: string): Promise<{ id: string; eventId: string; type: string; status: string; attempts: number }[]> {
    const res = await app.http.get(`/api/webhooks/${webhookId}/deliveries?limit=100${status ? `&status=${status}` : ''}`).set(bearer(admin));
    expect(res.status).toBe(200);
    return res.body.items;
  }

  const succeeded = (webhookId: string, count: number) =>
    waitUntil(async () => (await deliveries(webhookId, 'succeeded')).length >= count, 120_000, `${count} deliveries to succeed`);

  const verify = (secret: string, request: ReceivedWebhook) => new Webhook(secret).verify(request.body, request.headers as Record<string, string>) as Delivered;

  it('delivers every status change signed per Standard Webhooks, retrying through a receiver outage with the same webhook-id', async () => {
    const hook = await register('/erp');
    receiver.answer('/erp', 503);
    const orderId = await place();
    await stack.startWorker();
    await waitUntil(() => receiver.on('/erp').filter((r) => r.headers['webhook-id'] === receiver.on('/erp')[0]?.headers['webhook-id']).length >= 2, 60_000, 'a retry');
    receiver.answer('/erp', 200);
    await succeeded(hook.id, 3);

    const requests = receiver.on('/erp');
    const bodies = requests.map((request) => verify(hook.secret, request));
    expect(new Set(bodies.map((body) => body.type))).toEqual(new Set(['order.placed', 'order.processing', 'order.completed']));
    for (const [index, body] of bodies.entries()) {
      expect(requests[index]!.headers['webhook-id']).toBe(body.id);
      expect(body.data.order.id).toBe(orderId);
      expect(body.data.order.status).toBe(STATUS_OF[body.type]);
      expect(Number(requests[index]!.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 600);
    }
    // Every attempt of one event carries the same id and body.
    const byId = groupById(requests);
    for (const attempts of byId.values()) expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    const list = await deliveries(hook.id);
    expect(list.find((d) => d.type === 'order.placed')!.attempts).toBeGreaterThanOrEqual(2);
    expect(list.map((d) => d.eventId).sort()).toEqual([...byId.keys()].sort());
    expect((await app.http.get('/metrics')).text).toMatch(new RegExp(`^webhook_deliveries_pending\\{webhook_id="${hook.id}".*\\} 0$`, 'm'));
  }, E2E_TIMEOUT_MS);

  it('when the worker is killed with SIGKILL mid-delivery, another delivers every event; duplicates carry the same id', async () => {
    const hook = await register('/kill');
    receiver.answer('/kill', 'hold');
    await place();
    const doomed = await stack.startWorker();
    await waitUntil(() => receiver.on('/kill').length >= 1, 60_000, 'a delivery in flight');
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    receiver.answer('/kill', 200);
    receiver.release(200);
    await stack.startWorker();
    await succeeded(hook.id, 3);

    const requests = receiver.on('/kill');
    const ids = requests.map((r) => r.headers['webhook-id']);
    const byId = groupById(requests);
    expect(byId.size).toBe(3);
    expect(ids.filter((id) => id === ids[0]).length).toBeGreaterThanOrEqual(2);
    for (const attempts of byId.values()) expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    requests.forEach((request) => verify(hook.secret, request));
  }, E2E_TIMEOUT_MS);

  it('after a rotation each delivery carries both signatures, each verifiable alone', async () => {
    const hook = await register('/rotated', ['order.placed']);
    const rotated = await app.http.post(`/api/webhooks/${hook.id}/rotate-secret`).set(bearer(admin));
    const newSecret = rotated.body.secret as string;
    await place();
    await stack.startWorker();
    await succeeded(hook.id, 1);
    const [request] = receiver.on('/rotated');
    expect(String(request!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(newSecret, request!).type).toBe('order.placed');
    expect(verify(hook.secret, request!).type).toBe('order.placed');
  }, E2E_TIMEOUT_MS);

  it('a sleeping endpoint and a failing one delay neither orders nor a healthy endpoint', async () => {
    const slow = await register('/sleeps');
    const failing = await register('/fails');
    const healthy = await register('/healthy');
    receiver.answer('/sleeps', 'hold');
    receiver.answer('/fails', 500);
    const orderIds = [];
    for (let i = 0; i < 4; i++) orderIds.push(await place());
    // The sleeping endpoint holds its attempt for the whole timeout (longer than this test needs).
    await stack.startWorker({ WEBHOOK_TIMEOUT_MS: '60000' });
    await succeeded(healthy.id, 12);
    const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND status = 'completed'", [orderIds]);
    expect(rows[0]!.n).toBe(4);
    // Never more than one attempt at a time to the sleeping endpoint, its other deliveries waiting; the failing one kept being tried.
    expect(receiver.maxInFlight('/sleeps')).toBe(1);
    expect((await deliveries(slow.id, 'pending')).length).toBeGreaterThanOrEqual(12 - receiver.on('/sleeps').length);
    expect((await deliveries(slow.id, 'succeeded')).length).toBe(0);
    expect(receiver.on('/fails').length).toBeGreaterThanOrEqual(1);
    expect((await deliveries(failing.id, 'succeeded')).length).toBe(0);
  }, E2E_TIMEOUT_MS);
});
