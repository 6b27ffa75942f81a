import type { IRouter, Request, Response } from 'express';
import { z } from 'zod';
import { parseOrThrow } from '../../middleware/validate.js';
import { ForbiddenError } from '../../shared/errors.js';
import { isAdmin } from '../../shared/principal.js';
import { authenticate, principalOf, type Authenticator } from '../auth/index.js';
import type { Order, OrdersService } from '../orders/index.js';
import type { SseWriter } from './event-stream.js';
import type { OrderStreams, StreamOutcome } from './order-streams.js';

export const orderEventsQuery = z.object({ scope: z.enum(['mine', 'all']).default('mine') });

/** A `Last-Event-ID` we handed out is a non-negative integer; anything else starts afresh. */
function lastEventIdOf(req: Request): number | undefined {
  const header = req.get('last-event-id')?.trim();
  return header && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}

/**
 * Resolves on the first of `events` (at once when `already`), leaving no listener behind: a long
 * replay waits for 'drain' many times on one response.
 */
function firstOf(res: Response, events: readonly string[], already: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (already) return resolve();
    const done = () => {
      events.forEach((event) => res.off(event, done));
      resolve();
    };
    events.forEach((event) => res.on(event, done));
  });
}

function sseWriter(res: Response): SseWriter {
  return {
    open() {
      res.status(200);
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      // Proxies such as nginx would otherwise hold events back in their buffer.
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      res.write('retry: 2000\n\n');
    },
    write: (chunk) => void res.write(chunk),
    bufferedBytes: () => res.writableLength,
    end: () => void res.end(),
    drained: () => firstOf(res, ['drain', 'close'], !res.writableNeedDrain || res.destroyed),
    finished: () => firstOf(res, ['finish', 'close'], res.writableFinished || res.destroyed),
    abort: () => void res.destroy(),
  };
}

function serve(res: Response, outcome: StreamOutcome): void {
  if (outcome.kind === 'nothing-new') {
    // 204 tells an EventSource to stop reconnecting.
    res.status(204).end();
    return;
  }
  res.on('close', outcome.close);
  if (res.writableEnded || res.destroyed) outcome.close();
}

/**
 * `/api/orders/events` and `/api/orders/:id/events`. Registered before the orders routes, so
 * `events` is not taken for an order id. Tokens come only from the Authorization header.
 */
export function eventsRoutes(router: IRouter, streams: OrderStreams, orders: Pick<OrdersService, 'getOrder'>, auth: Authenticator): void {
  const signedIn = authenticate(auth);

  router.get('/api/orders/events', signedIn, async (req, res) => {
    const query = parseOrThrow(orderEventsQuery, req.query, 'query');
    const principal = principalOf(req);
    if (query.scope === 'all' && !isAdmin(principal)) throw new ForbiddenError('Only admins can follow every order (scope=all)');
    serve(res, await streams.streamOrders(principal, query.scope === 'all', lastEventIdOf(req), sseWriter(res)));
  });

  router.get('/api/orders/:id/events', signedIn, async (req: Request<{ id: string }>, res) => {
    const principal = principalOf(req);
    // Answers 404 ORDER_NOT_FOUND for an order the caller may not see, as GET /api/orders/:id does.
    const { json } = await orders.getOrder(principal, req.params.id);
    const current = JSON.parse(json) as Order;
    serve(res, await streams.streamOrder(principal, current, lastEventIdOf(req), sseWriter(res)));
  });
}
