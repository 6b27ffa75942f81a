export { webhooksRoutes } from './webhooks.routes.js';
export { createWebhooksService, type WebhooksService } from './webhooks.service.js';
export { createDeliveries, backlogByWebhook, pruneDeliveries } from './webhooks.repository.js';
export { startWebhookDeliverer, type WebhookSettings, type WebhookObserver } from './webhook-deliverer.js';
export { createWebhookBody, updateWebhookBody, listDeliveriesQuery } from './webhooks.schemas.js';
