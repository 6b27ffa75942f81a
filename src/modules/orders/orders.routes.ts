import type { IRouter, Request } from 'express';
import { parseOrThrow, validateBody } from '../../middleware/validate.js';
import { ForbiddenError } from '../../shared/errors.js';
import { isAdmin } from '../../shared/principal.js';
import { CURSOR_KEYS, decodeKeysetCursor } from '../../shared/pagination.js';
import { authenticate, principalOf, type Authenticator } from '../auth/index.js';
import { idempotencyKeyHeader, listOrdersQuery, placeOrderBody, type PlaceOrderBody } from './orders.schemas.js';
import type { OrdersService } from './orders.service.js';

function afterCursor(cursor: string | undefined): { createdAt: string; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const { key: createdAt, id } = decodeKeysetCursor(cursor, CURSOR_KEYS.timestamp);
  return { createdAt, id };
}

/** `/api/orders…`, registered on the app's own router (see app.ts). Every route needs a signed-in caller. */
export function ordersRoutes(router: IRouter, orders: OrdersService, auth: Authenticator): void {
  const signedIn = authenticate(auth);

  router.post('/api/orders', signedIn, validateBody(placeOrderBody), async (req, res) => {
    const body = req.body as PlaceOrderBody;
    const rawKey = req.get('idempotency-key');
    const key = rawKey === undefined ? undefined : parseOrThrow(idempotencyKeyHeader, rawKey, 'Idempotency-Key header');
    const placed = await orders.placeOrder(principalOf(req), body.items, key);
    if (placed.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(placed.status).location(`/api/orders/${placed.order.id}`).json(placed.order);
  });

  router.get('/api/orders', signedIn, async (req, res) => {
    const query = parseOrThrow(listOrdersQuery, req.query, 'query');
    const principal = principalOf(req);
    if (query.scope === 'all' && !isAdmin(principal)) throw new ForbiddenError('Only admins can list every order (scope=all)');
    res.json(await orders.listOrders(principal, { ...query, after: afterCursor(query.cursor) }));
  });

  router.get('/api/orders/:id', signedIn, async (req: Request<{ id: string }>, res) => {
    const { json, cache } = await orders.getOrder(principalOf(req), req.params.id);
    res.setHeader('X-Cache', cache);
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    // The stored JSON goes out as is: none of res.send's ETag and freshness work on the hottest route.
    res.end(json);
  });

  router.post('/api/orders/:id/cancel', signedIn, async (req: Request<{ id: string }>, res) => {
    res.json(await orders.cancelOrder(principalOf(req), req.params.id));
  });
}
