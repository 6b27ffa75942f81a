import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { resendAllAnswer, resendAllBody } from '../../modules/notifications/index.js';
import { pipelineQuery, pipelineSnapshot } from '../../modules/pipeline/index.js';
import { BEARER, commonProblems, FORBIDDEN_ADMIN, json, problem, PUBLIC, raw, UNAUTHENTICATED } from '../responses.js';

const tags = ['Console'];

const EmailDelivery = z
  .object({
    kind: z.enum(['order_confirmation', 'order_failure']),
    status: z.enum(['pending', 'sent', 'undeliverable']).meta({
      description: '`undeliverable`: the mail server refused the message for good (a 5xx reply to its recipient or content), or it was still failing ' +
        '`EMAIL_MAX_RETRY_HOURS` (default 72) after its first failure (a full mailbox, say); it is not tried again unless resent.',
    }),
    attempts: z.number().int().min(0).meta({ description: 'Send attempts so far.' }),
    createdAt: z.iso.datetime(),
    sentAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'EmailDelivery' });

const ORDER_ID = { params: z.object({ id: z.guid().meta({ description: 'Order id; a malformed id answers 404.' }) }) };

/** What either order-email route can answer besides its own success (admins only; the order must exist). */
const orderEmailProblems = {
  ...commonProblems({ body: false, database: true }),
  401: problem(401, [UNAUTHENTICATED]),
  403: problem(403, [FORBIDDEN_ADMIN]),
  404: problem(404, [{ code: 'ORDER_NOT_FOUND', when: 'No such order.' }]),
};

/** The web console and the admin views it (and any other client) uses. */
export function registerConsolePaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/console',
    operationId: 'getConsole',
    tags,
    summary: 'The web console (sign in as a customer or an admin)',
    security: PUBLIC,
    description:
      'A single page served with `Cache-Control: no-cache`; its script and stylesheet live under `/console/assets/` with ' +
      'content-hashed names and a year of caching. It is a client of this API only; tokens stay in memory.',
    responses: {
      200: raw('The console page.', 'text/html', { type: 'string' }),
      ...commonProblems({ body: false, database: false }),
      503: problem(503, [{ code: 'SERVICE_UNAVAILABLE', when: 'The console bundle was not built (`npm run build`).' }]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/admin/pipeline',
    operationId: 'getPipeline',
    tags,
    summary: 'The order pipeline now: throughput per 10 s, backlog, lag, queue and failed jobs (admin)',
    security: BEARER,
    request: { query: pipelineQuery },
    responses: {
      200: json('A snapshot of the pipeline over the last `minutes`.', pipelineSnapshot),
      ...commonProblems({ body: false, database: true, validation: '`minutes` outside 1..60.' }),
      401: problem(401, [UNAUTHENTICATED]),
      403: problem(403, [FORBIDDEN_ADMIN]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/orders/{id}/emails',
    operationId: 'listOrderEmails',
    tags,
    summary: "An order's emails and whether each was sent (admin)",
    security: BEARER,
    request: ORDER_ID,
    responses: {
      200: json('The order\'s emails, oldest first (none until the order completes or fails).', z.object({ items: z.array(EmailDelivery) })),
      ...orderEmailProblems,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/orders/{id}/emails/resend',
    operationId: 'resendRefusedOrderEmails',
    tags,
    summary: "Send an order's refused emails again (admin)",
    description:
      'For emails the mail server refused for good, or given up after failing for `EMAIL_MAX_RETRY_HOURS` (`undeliverable`), once the cause is fixed (the address, the server): they become ' +
      '`pending` and are sent by a job now, or by the reconciler should the queue be out of reach. No request body.',
    security: BEARER,
    request: ORDER_ID,
    responses: {
      202: json("The order's emails, the reopened ones `pending`.", z.object({ items: z.array(EmailDelivery) })),
      ...orderEmailProblems,
      409: problem(409, [{ code: 'NOTHING_TO_RESEND', when: 'The order has no refused (`undeliverable`) email.' }]),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/admin/emails/resend',
    operationId: 'resendAllRefusedEmails',
    tags,
    summary: 'Send every refused email of a window again, e.g. after an outage of the mail server (admin)',
    description:
      'For the `undeliverable` emails of many orders at once, typically those given up during a long outage of the shop\'s own mail server ' +
      '(after `EMAIL_MAX_RETRY_HOURS`): they become `pending` with a new retry lifetime and are sent by jobs now, or by the reconciler should the ' +
      'queue be out of reach, exactly as `POST /api/orders/{id}/emails/resend` sends one order\'s. `since` and `until` pick them by when they ' +
      'were owed (their order finished); without them every refused email is sent again. Each email is sent once, whichever resends race for it. ' +
      'The body may be left out; unknown fields are refused.',
    security: BEARER,
    request: { body: { required: false, content: { 'application/json': { schema: resendAllBody } } } },
    responses: {
      202: json('How many emails are `pending` again.', resendAllAnswer),
      ...commonProblems({ body: true, database: true, validation: '`since` or `until` is not an ISO 8601 timestamp, `since` is not before `until`, or an unknown field was sent.' }),
      401: problem(401, [UNAUTHENTICATED]),
      403: problem(403, [FORBIDDEN_ADMIN]),
      409: problem(409, [{ code: 'NOTHING_TO_RESEND', when: 'No email of the window is refused (`undeliverable`).' }]),
    },
  });
}
