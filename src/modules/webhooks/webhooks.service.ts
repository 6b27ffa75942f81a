import { randomUUID } from 'node:crypto';
import type { Database } from '../../platform/db/index.js';
import { NotFoundError, UnprocessableError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { awaitSequencer } from '../events/index.js';
import { toPage, type Page } from '../../shared/pagination.js';
import { generateSecret } from './signature.js';
import { refuseUrl } from './webhook-url.js';
import * as repo from './webhooks.repository.js';
import type { Delivery, Webhook } from './webhooks.repository.js';
import type { CreateWebhookBody, DeliveryStatus, UpdateWebhookBody } from './webhooks.schemas.js';

/** For 24 h after a rotation both secrets sign, so receivers can switch without losing a delivery. */
export const ROTATION_OVERLAP_HOURS = 24;

const webhookNotFound = () => new NotFoundError('WEBHOOK_NOT_FOUND', 'No such webhook');
const deliveryNotFound = () => new NotFoundError('DELIVERY_NOT_FOUND', 'No such delivery for this webhook');

type Keyset = { createdAt: string; id: string } | undefined;

const withoutCursorKey = <T>({ cursorKey: _key, ...row }: repo.Listed<T>): T => row as T;

export type WebhooksService = ReturnType<typeof createWebhooksService>;

/** Admin management of webhook endpoints and their deliveries (the routes check the role). */
export function createWebhooksService(deps: {
  db: Database;
  allowPrivateUrls: boolean;
  maxAttempts: number;
  /** An endpoint was added or changed (enabled, say): this process's deliverer looks again at once. */
  onWebhooksChanged?: () => void;
}) {
  const { db } = deps;

  async function assertDeliverable(url: string): Promise<void> {
    const refusal = await refuseUrl(url, deps.allowPrivateUrls);
    if (refusal) throw new UnprocessableError('WEBHOOK_URL_FORBIDDEN', `This URL cannot receive webhooks: ${refusal}`);
  }

  async function getWebhook(id: string): Promise<Webhook> {
    const found = isUuid(id) ? await repo.findWebhook(db, id) : undefined;
    if (!found) throw webhookNotFound();
    return found;
  }

  async function createWebhook(body: CreateWebhookBody): Promise<Webhook & { secret: string }> {
    await assertDeliverable(body.url);
    const secret = generateSecret();
    const webhook = await repo.insertWebhook(db, { id: randomUUID(), url: body.url, events: body.events, description: body.description ?? '', secret });
    deps.onWebhooksChanged?.();
    return { ...webhook, secret };
  }

  async function listWebhooks(query: { limit: number; after: Keyset }): Promise<Page<Webhook>> {
    const rows = await repo.listWebhooks(db, query.after, query.limit);
    return toPage(rows, query.limit, withoutCursorKey, (row) => [row.cursorKey, row.id]);
  }

  async function updateWebhook(id: string, changes: UpdateWebhookBody): Promise<Webhook> {
    await getWebhook(id);
    if (changes.url !== undefined) await assertDeliverable(changes.url);
    // Disabling waits for an events pass under way (and holds the next ones off until it commits):
    // a pass that had read the endpoint as enabled created a delivery for it after the disable had
    // ended what the endpoint was owed, and that delivery went out, stale, once it was enabled again.
    const updated =
      changes.enabled === false
        ? await db.transaction(async (tx) => {
            await awaitSequencer(tx);
            return repo.updateWebhook(tx, id, changes);
          })
        : await repo.updateWebhook(db, id, changes);
    if (!updated) throw webhookNotFound();
    deps.onWebhooksChanged?.();
    return updated;
  }

  async function deleteWebhook(id: string): Promise<void> {
    if (!isUuid(id) || !(await repo.deleteWebhook(db, id))) throw webhookNotFound();
  }

  async function rotateSecret(id: string): Promise<Webhook & { secret: string }> {
    await getWebhook(id);
    const secret = generateSecret();
    const webhook = await repo.rotateSecret(db, id, secret, ROTATION_OVERLAP_HOURS);
    if (!webhook) throw webhookNotFound();
    return { ...webhook, secret };
  }

  async function listDeliveries(webhookId: string, query: { status: DeliveryStatus | undefined; limit: number; after: Keyset }): Promise<Page<Delivery>> {
    await getWebhook(webhookId);
    const rows = await repo.listDeliveries(db, webhookId, query);
    return toPage(rows, query.limit, withoutCursorKey, (row) => [row.cursorKey, row.id]);
  }

  async function redeliver(webhookId: string, deliveryId: string): Promise<Delivery> {
    await getWebhook(webhookId);
    const delivery = isUuid(deliveryId) ? await repo.scheduleRedelivery(db, webhookId, deliveryId, deps.maxAttempts) : undefined;
    if (!delivery) throw deliveryNotFound();
    return delivery;
  }

  return { createWebhook, listWebhooks, getWebhook, updateWebhook, deleteWebhook, rotateSecret, listDeliveries, redeliver };
}
