import type { IRouter, Request } from 'express';
import { authenticate, principalOf, requireRole, type Authenticator } from '../auth/index.js';
import type { EmailDeliveriesService } from './email-deliveries.service.js';

/**
 * `GET /api/orders/:id/emails` (admins): whether the order's confirmation or failure email went
 * out; `POST /api/orders/:id/emails/resend`: send the ones the mail server refused again.
 */
export function notificationsRoutes(router: IRouter, emails: EmailDeliveriesService, auth: Authenticator): void {
  router.get('/api/orders/:id/emails', authenticate(auth), requireRole('admin'), async (req: Request<{ id: string }>, res) => {
    res.json({ items: await emails.listForOrder(principalOf(req), req.params.id) });
  });
  router.post('/api/orders/:id/emails/resend', authenticate(auth), requireRole('admin'), async (req: Request<{ id: string }>, res) => {
    res.status(202).json({ items: await emails.resendRefused(principalOf(req), req.params.id) });
  });
}
