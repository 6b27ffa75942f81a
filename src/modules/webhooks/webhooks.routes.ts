import type { IRouter, Request } from 'express';
import { parseOrThrow, validateBody } from '../../middleware/validate.js';
import { CURSOR_KEYS, decodeKeysetCursor, pageQuery } from '../../shared/pagination.js';
import { authenticate, requireRole, type Authenticator } from '../auth/index.js';
import { createWebhookBody, listDeliveriesQuery, updateWebhookBody, type CreateWebhookBody, type UpdateWebhookBody } from './webhooks.schemas.js';
import type { WebhooksService } from './webhooks.service.js';

type ById<Body = unknown> = Request<{ id: string }, unknown, Body>;

function afterCursor(cursor: string | undefined): { createdAt: string; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const { key: createdAt, id } = decodeKeysetCursor(cursor, CURSOR_KEYS.timestampMicros);
  return { createdAt, id };
}

/** `/api/webhooks…` (admins only), registered on the app's own router. */
export function webhooksRoutes(router: IRouter, webhooks: WebhooksService, auth: Authenticator): void {
  const admin = [authenticate(auth), requireRole('admin')];

  router.post('/api/webhooks', ...admin, validateBody(createWebhookBody), async (req: Request<Record<string, string>, unknown, CreateWebhookBody>, res) => {
    const webhook = await webhooks.createWebhook(req.body);
    res.status(201).location(`/api/webhooks/${webhook.id}`).json(webhook);
  });

  router.get('/api/webhooks', ...admin, async (req, res) => {
    const query = parseOrThrow(pageQuery, req.query, 'query');
    res.json(await webhooks.listWebhooks({ limit: query.limit, after: afterCursor(query.cursor) }));
  });

  router.get('/api/webhooks/:id', ...admin, async (req: ById, res) => {
    res.json(await webhooks.getWebhook(req.params.id));
  });

  router.patch('/api/webhooks/:id', ...admin, validateBody(updateWebhookBody), async (req: ById<UpdateWebhookBody>, res) => {
    res.json(await webhooks.updateWebhook(req.params.id, req.body));
  });

  router.delete('/api/webhooks/:id', ...admin, async (req: ById, res) => {
    await webhooks.deleteWebhook(req.params.id);
    res.status(204).end();
  });

  router.post('/api/webhooks/:id/rotate-secret', ...admin, async (req: ById, res) => {
    res.json(await webhooks.rotateSecret(req.params.id));
  });

  router.get('/api/webhooks/:id/deliveries', ...admin, async (req: ById, res) => {
    const query = parseOrThrow(listDeliveriesQuery, req.query, 'query');
    res.json(await webhooks.listDeliveries(req.params.id, { status: query.status, limit: query.limit, after: afterCursor(query.cursor) }));
  });

  router.post('/api/webhooks/:id/deliveries/:deliveryId/redeliver', ...admin, async (req: Request<{ id: string; deliveryId: string }>, res) => {
    res.status(202).json(await webhooks.redeliver(req.params.id, req.params.deliveryId));
  });
}
