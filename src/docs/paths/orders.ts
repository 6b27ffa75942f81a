import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { idempotencyKeyHeader, listOrdersQuery } from '../../modules/orders/index.js';
import { BEARER, commonProblems, json, problem, UNAUTHENTICATED } from '../responses.js';
import { Order, OrderPage, PlaceOrderRequest } from '../schemas.js';

const tags = ['Orders'];
const security = BEARER;
const params = z.object({ id: z.guid().meta({ description: 'Order id; a malformed id answers 404.' }) });
const unauthenticated = problem(401, [UNAUTHENTICATED]);
const notFound = problem(404, [{ code: 'ORDER_NOT_FOUND', when: 'No such order, or it belongs to another user.' }]);
const headers = {
  Location: { description: 'The order: /api/orders/{id}', schema: { type: 'string' } },
  'Idempotent-Replayed': {
    description: 'Present (`true`) when this answers a repeated Idempotency-Key with the first response.',
    schema: { type: 'string', enum: ['true'] },
  },
};

export function registerOrdersPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/api/orders',
    operationId: 'placeOrder',
    tags,
    summary: 'Place an order (reserves stock for every line, or changes nothing)',
    description:
      'An `Idempotency-Key` is scoped to the caller and kept at least 24 h: the same key with the same body ' +
      'returns the first response again with `Idempotent-Replayed: true`.',
    security,
    request: {
      headers: z.object({
        'Idempotency-Key': idempotencyKeyHeader.optional().meta({ description: 'Makes retries safe: 1..255 characters.' }),
      }),
      body: { required: true, content: { 'application/json': { schema: PlaceOrderRequest } } },
    },
    responses: {
      201: json('Placed, with `status: "pending"`; processing continues asynchronously.', Order, headers),
      ...commonProblems({
        body: true,
        database: true,
        validation: 'Not 1..50 lines, a quantity outside 1..1000 (lines for one product are added up first), a productId that is not a UUID, or a bad Idempotency-Key header.',
      }),
      401: unauthenticated,
      409: problem(409, [
        { code: 'OUT_OF_STOCK', when: 'Some lines ask for more than is available; nothing was reserved.', errors: 'StockShortfall' },
        { code: 'IDEMPOTENCY_KEY_IN_USE', when: 'A request with this Idempotency-Key is still in flight; retry shortly.' },
      ]),
      422: problem(422, [
        { code: 'UNKNOWN_PRODUCT', when: 'Some productIds name no product.', errors: 'UnknownProduct' },
        { code: 'IDEMPOTENCY_KEY_MISMATCH', when: 'This Idempotency-Key was already used with a different body.' },
      ]),
      429: problem(429, [{ code: 'RATE_LIMITED', when: 'Too many orders placed by this user in the last minute; see Retry-After.' }]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/orders',
    operationId: 'listOrders',
    tags,
    summary: "The caller's orders, newest first",
    description: 'Admins may pass `scope=all` to list every user\'s orders.',
    security,
    request: { query: listOrdersQuery },
    responses: {
      200: json('A page of orders.', OrderPage),
      ...commonProblems({
        body: false,
        database: true,
        cursor: true,
        validation: '`limit` outside 1..100, or an unknown `status` or `scope`.',
      }),
      401: unauthenticated,
      403: problem(403, [{ code: 'FORBIDDEN', when: '`scope=all` from a caller who is not an admin.' }]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/orders/{id}',
    operationId: 'getOrder',
    tags,
    summary: 'One order (owner or admin)',
    security,
    request: { params },
    responses: {
      200: json('The order.', Order, {
        'X-Cache': { description: 'Whether the order came from the cache.', schema: { type: 'string', enum: ['HIT', 'MISS'] } },
        'Cache-Control': { description: '`private, no-store`', schema: { type: 'string' } },
      }),
      ...commonProblems({ body: false, database: true }),
      401: unauthenticated,
      404: notFound,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/orders/{id}/cancel',
    operationId: 'cancelOrder',
    tags,
    summary: 'Cancel a pending order (owner or admin); releases its stock',
    security,
    request: { params },
    responses: {
      200: json('The order, with `status: "cancelled"`.', Order),
      ...commonProblems({ body: false, database: true }),
      401: unauthenticated,
      404: notFound,
      409: problem(409, [{ code: 'ORDER_NOT_CANCELLABLE', when: 'The order is no longer pending.' }]),
    },
  });
}
