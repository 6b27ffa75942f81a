import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { orderEventsQuery } from '../../modules/events/index.js';
import { BEARER, commonProblems, noContent, problem, raw, UNAUTHENTICATED } from '../responses.js';

const tags = ['Orders'];
const params = z.object({ id: z.guid().meta({ description: 'Order id; a malformed id answers 404.' }) });
const lastEventId = z.object({
  'Last-Event-ID': z
    .string()
    .max(20)
    .optional()
    .meta({ description: 'The `id` of the last event received: the stream resumes with every change after it (events are kept at least 24 h), none repeated. An id the log never handed out (a database restored or recreated) starts afresh, as without the header.' }),
});
const stream = raw(
  'A `text/event-stream`. Each message is `event: order`, `id: <increasing event id>`, `data: <order JSON>` (the `Order` schema); ' +
    'a `: keep-alive` comment comes at least every 15 s. The stream ends when the access token that opened it expires ' +
    '(after a `: access token expired` comment): reconnect with a fresh token and Last-Event-ID.',
  'text/event-stream',
  { type: 'string', example: 'event: order\nid: 42\ndata: {"id":"…","status":"processing",…}\n\n: keep-alive\n\n' },
);
const limits = {
  429: problem(429, [{ code: 'RATE_LIMITED', when: 'The caller already has as many streams open on this server as allowed (SSE_MAX_STREAMS_PER_USER).' }]),
  503: problem(503, [
    { code: 'STREAMS_AT_CAPACITY', when: 'This server has as many streams open as it allows (SSE_MAX_STREAMS); retry shortly.' },
    { code: 'SERVICE_UNAVAILABLE', when: 'The database is unreachable, or this instance is shutting down; retry later (with Last-Event-ID).' },
  ]),
};

export function registerEventsPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/api/orders/events',
    operationId: 'streamOrderEvents',
    tags,
    summary: "Live status changes of the caller's orders (Server-Sent Events)",
    description:
      'Every status change of the caller\'s orders from the moment of connection (admins: `scope=all` for every order). ' +
      'Authenticate with the Authorization header (stream with `fetch`); tokens in the query string are ignored.',
    security: BEARER,
    request: { query: orderEventsQuery, headers: lastEventId },
    responses: {
      200: stream,
      ...commonProblems({ body: false, database: false, validation: 'An unknown `scope`.' }),
      401: problem(401, [UNAUTHENTICATED]),
      403: problem(403, [{ code: 'FORBIDDEN', when: '`scope=all` from a caller who is not an admin.' }]),
      ...limits,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/orders/{id}/events',
    operationId: 'streamOrder',
    tags,
    summary: 'One order live: as it is now, then each change; ends after a terminal status (owner or admin)',
    security: BEARER,
    request: { params, headers: lastEventId },
    responses: {
      200: stream,
      204: noContent('Resumed with a Last-Event-ID at or after the order\'s terminal status: nothing more will come (EventSource stops reconnecting).'),
      ...commonProblems({ body: false, database: false }),
      401: problem(401, [UNAUTHENTICATED]),
      404: problem(404, [{ code: 'ORDER_NOT_FOUND', when: 'No such order, or it belongs to another user.' }]),
      ...limits,
    },
  });
}
