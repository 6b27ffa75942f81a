import type { IRouter, Request } from 'express';
import { validateBody } from '../../middleware/validate.js';
import { authenticate, principalOf, requireRole, type Authenticator } from '../auth/index.js';
import type { EmailDeliveriesService } from './email-deliveries.service.js';
import { resendAllBody, type ResendAllBody } from './notifications.schemas.js';

/**
 * `GET /api/orders/:id/emails` (admins): whether the order's confirmation or failure email went
 * out; `POST /api/orders/:id/emails/resend`: send the ones the mail server refused again;
 * `POST /api/admin/emails/resend`: send every refused one of a window again (after an outage).
 */
export function notificationsRoutes(router: IRouter, emails: EmailDeliveriesService, auth: Authenticator): void {
  router.get('/api/orders/:id/emails', authenticate(auth), requireRole('admin'), async (req: Request<{ id: string }>, res) => {
    res.json({ items: await emails.listForOrder(principalOf(req), req.params.id) });
  });
  router.post('/api/orders/:id/emails/resend', authenticate(auth), requireRole('admin'), async (req: Request<{ id: string }>, res) => {
    res.status(202).json({ items: await emails.resendRefused(principalOf(req), req.params.id) });
  });
  router.post('/api/admin/emails/resend', authenticate(auth), requireRole('admin'), validateBody(resendAllBody), async (req: Request<object, unknown, ResendAllBody>, res) => {
    res.status(202).json(await emails.resendAllRefused(req.body));
  });
}
