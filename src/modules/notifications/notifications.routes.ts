import type { IRouter, Request } from 'express';
import { authenticate, principalOf, requireRole, type Authenticator } from '../auth/index.js';
import type { EmailDeliveriesService } from './email-deliveries.service.js';

/** `GET /api/orders/:id/emails` (admins): whether the order's confirmation or failure email went out. */
export function notificationsRoutes(router: IRouter, emails: EmailDeliveriesService, auth: Authenticator): void {
  router.get('/api/orders/:id/emails', authenticate(auth), requireRole('admin'), async (req: Request<{ id: string }>, res) => {
    res.json({ items: await emails.listForOrder(principalOf(req), req.params.id) });
  });
}
