export { createSendOrderEmail, orderEmailJob, orderEmailJobs, messageIdFor, SEND_ORDER_EMAIL, type SendOrderEmailJob } from './send-order-email.js';
export { createNotificationsJobHandlers, notificationsSubscriptions, type NotificationsJob } from './notifications.jobs.js';
export { findMissingEmails, oldestPendingEmailSeconds, type MissingEmailsCursor, readEmailBacklog, recordOwedEmails, type EmailBacklog, type EmailKind } from './email-deliveries.repository.js';
export { renderOrderEmail } from './order-email.templates.js';
export { notificationsRoutes } from './notifications.routes.js';
export { resendAllAnswer, resendAllBody } from './notifications.schemas.js';
export type { EmailDeliveryView } from './email-deliveries.repository.js';
export { createEmailDeliveriesService, type EmailDeliveriesService } from './email-deliveries.service.js';
