import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ORDER_EVENT_TYPES } from '../../modules/events/index.js';
import { createWebhookBody, listDeliveriesQuery, updateWebhookBody } from '../../modules/webhooks/index.js';
import { pageQuery } from '../../shared/pagination.js';
import { BEARER, commonProblems, FORBIDDEN_ADMIN, json, noContent, problem, UNAUTHENTICATED } from '../responses.js';

const tags = ['Webhooks'];
const timestamp = z.iso.datetime().meta({ example: '2026-12-02T10:00:00.000Z' });
const EventType = z.enum(ORDER_EVENT_TYPES).meta({ id: 'WebhookEventType' });

export const WebhookSchema = z
  .strictObject({
    id: z.uuid(),
    url: z.string().meta({ example: 'https://erp.example.com/hooks/orders' }),
    events: z.array(EventType),
    description: z.string(),
    enabled: z.boolean(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Webhook' });
const WebhookWithSecret = WebhookSchema.extend({
  secret: z.string().meta({ description: 'Signing secret `whsec_<base64>`; shown only in this response.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
}).meta({ id: 'WebhookWithSecret' });
const WebhookPage = z.strictObject({ items: z.array(WebhookSchema), nextCursor: z.string().nullable() }).meta({ id: 'WebhookPage' });
export const DeliverySchema = z
  .strictObject({
    id: z.uuid(),
    webhookId: z.uuid(),
    eventId: z.string().meta({ description: 'The event id: the `webhook-id` header and the body\'s `id`, the same on every attempt.' }),
    type: EventType,
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.int().min(0).meta({ description: 'Attempts made so far, redeliveries included.' }),
    lastStatusCode: z.int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: timestamp.nullable().meta({ description: 'When a pending delivery is tried next (while an attempt is in flight: when that attempt\'s lease ends); null once it succeeded or failed.' }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Delivery' });
const DeliveryPage = z.strictObject({ items: z.array(DeliverySchema), nextCursor: z.string().nullable() }).meta({ id: 'DeliveryPage' });

const params = z.object({ id: z.guid().meta({ description: 'Webhook id; a malformed id answers 404.' }) });
const adminOnly = { 401: problem(401, [UNAUTHENTICATED]), 403: problem(403, [FORBIDDEN_ADMIN]) };
const notFound = problem(404, [{ code: 'WEBHOOK_NOT_FOUND', when: 'No webhook with this id.' }]);
const forbiddenUrl = problem(422, [
  { code: 'WEBHOOK_URL_FORBIDDEN', when: 'The URL is not http(s), carries credentials, or its host resolves to a loopback, private, link-local, CGNAT, multicast or other non-public address (unless WEBHOOK_ALLOW_PRIVATE_URLS=true).' },
]);
const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });

export function registerWebhooksPaths(registry: OpenAPIRegistry): void {
  const delivery =
    'Each event is `POST`ed as JSON `{id, type, createdAt, data: {order}}` with the Standard Webhooks headers `webhook-id` (the event id, the same on every retry), ' +
    '`webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; both secrets for 24 h after a rotation). ' +
    'A 2xx status within 10 s is success (the status line and headers decide; the response body is not read, and the connection is then closed); otherwise it is retried with exponential backoff and jitter (8 attempts over about a day), then `failed`.';

  registry.registerPath({
    method: 'post', path: '/api/webhooks', operationId: 'createWebhook', tags, security: BEARER,
    summary: 'Register an endpoint for order events (admin)', description: delivery,
    request: { body: body(createWebhookBody) },
    responses: {
      201: json('Created; the signing secret is shown only here.', WebhookWithSecret, { Location: { description: '/api/webhooks/{id}', schema: { type: 'string' } } }),
      ...commonProblems({ body: true, database: true, validation: 'A URL that does not parse, an unknown or repeated event type, or a description over 500 characters.' }),
      ...adminOnly,
      422: forbiddenUrl,
    },
  });
  registry.registerPath({
    method: 'get', path: '/api/webhooks', operationId: 'listWebhooks', tags, security: BEARER, summary: 'Registered endpoints, newest first (admin)',
    request: { query: pageQuery },
    responses: { 200: json('A page of webhooks.', WebhookPage), ...commonProblems({ body: false, database: true, cursor: true, validation: '`limit` outside 1..100.' }), ...adminOnly },
  });
  registry.registerPath({
    method: 'get', path: '/api/webhooks/{id}', operationId: 'getWebhook', tags, security: BEARER, summary: 'One endpoint (admin)',
    request: { params },
    responses: { 200: json('The webhook.', WebhookSchema), ...commonProblems({ body: false, database: true }), ...adminOnly, 404: notFound },
  });
  registry.registerPath({
    method: 'patch', path: '/api/webhooks/{id}', operationId: 'updateWebhook', tags, security: BEARER,
    summary: 'Change the URL, events or description, or enable/disable (admin)',
    description: 'A disabled endpoint gets no deliveries for events while it is disabled, and `enabled: false` ends the deliveries it was still owed as `failed` (`lastError` "the endpoint was disabled"); an attempt in flight finishes but is not retried. Enabling it again sends none of them: redeliver those still wanted (a redelivery asked while it is disabled is sent once it is enabled).',
    request: { params, body: body(updateWebhookBody) },
    responses: { 200: json('The webhook.', WebhookSchema), ...commonProblems({ body: true, database: true, validation: 'No field, or a field as for creation.' }), ...adminOnly, 404: notFound, 422: forbiddenUrl },
  });
  registry.registerPath({
    method: 'delete', path: '/api/webhooks/{id}', operationId: 'deleteWebhook', tags, security: BEARER, summary: 'Remove an endpoint and its deliveries (admin)',
    request: { params },
    responses: { 204: noContent('Deleted.'), ...commonProblems({ body: false, database: true }), ...adminOnly, 404: notFound },
  });
  registry.registerPath({
    method: 'post', path: '/api/webhooks/{id}/rotate-secret', operationId: 'rotateWebhookSecret', tags, security: BEARER,
    summary: 'New signing secret; the old one also signs for 24 h (admin)',
    request: { params },
    responses: { 200: json('The webhook with its new secret (shown only here).', WebhookWithSecret), ...commonProblems({ body: false, database: true }), ...adminOnly, 404: notFound },
  });
  registry.registerPath({
    method: 'get', path: '/api/webhooks/{id}/deliveries', operationId: 'listWebhookDeliveries', tags, security: BEARER,
    summary: 'Deliveries to an endpoint, newest first, with their status (admin)',
    request: { params, query: listDeliveriesQuery },
    responses: { 200: json('A page of deliveries.', DeliveryPage), ...commonProblems({ body: false, database: true, cursor: true, validation: 'An unknown `status` or `limit` outside 1..100.' }), ...adminOnly, 404: notFound },
  });
  registry.registerPath({
    method: 'post', path: '/api/webhooks/{id}/deliveries/{deliveryId}/redeliver', operationId: 'redeliverWebhook', tags, security: BEARER,
    summary: 'Send a delivery again now, whatever its status (admin)',
    request: { params: params.extend({ deliveryId: z.guid() }) },
    responses: {
      202: json('Scheduled: the delivery is pending and due now (same event id), with one more attempt allowed if it had used them all.', DeliverySchema),
      ...commonProblems({ body: false, database: true }),
      ...adminOnly,
      404: problem(404, [{ code: 'WEBHOOK_NOT_FOUND', when: 'No webhook with this id.' }, { code: 'DELIVERY_NOT_FOUND', when: 'No such delivery for this webhook.' }]),
    },
  });
}
