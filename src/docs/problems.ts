import { Router } from 'express';
import { problemTypePath } from '../shared/errors.js';

export interface ProblemType {
  /** HTTP status the code comes with. */
  status: number;
  title: string;
  /** What it means and what the client can do about it. */
  description: string;
}

/**
 * Every `code` a problem+json body can carry. Each body's `type` is `/problems/<code>` in
 * lower-kebab case, and `GET` on it returns the entry here, so the link in an error is a page
 * that explains it. A test fails when the code base raises a code that is missing here.
 */
export const PROBLEM_TYPES: Readonly<Record<string, ProblemType>> = {
  VALIDATION_FAILED: { status: 400, title: 'Validation failed', description: 'The request body, query or path did not match the schema. `errors` lists each problem as `{path, message}`; fix those fields and send again.' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON', description: 'The request body is not valid JSON. Send a JSON document with `Content-Type: application/json`.' },
  BAD_REQUEST: { status: 400, title: 'Bad request', description: 'The request could not be read (for example a body that could not be decoded, or bytes the HTTP parser rejects).' },
  INVALID_INPUT: { status: 400, title: 'Invalid input', description: 'The database refused a value as malformed (for example a number out of range). Check the values sent against the documented limits.' },
  INVALID_CURSOR: { status: 400, title: 'Invalid cursor', description: 'The `cursor` query parameter is not one returned as `nextCursor` by the same list. Start again without a cursor.' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required', description: 'The request needs `Authorization: Bearer <accessToken>`, and the token sent (if any) is missing, invalid or expired. Log in again, or refresh the token.' },
  INVALID_CREDENTIALS: { status: 401, title: 'Invalid credentials', description: 'The email or the password is wrong (the answer is the same for both). Repeated failures are limited (`RATE_LIMITED`).' },
  INVALID_REFRESH_TOKEN: { status: 401, title: 'Invalid refresh token', description: 'The refresh token is unknown, expired, revoked, or was already used (each works once; reusing one signs that login out). Log in again.' },
  FORBIDDEN: { status: 403, title: 'Forbidden', description: 'You are signed in, but your role may not do this (for example a customer asking for `scope=all`, or a product change that needs an admin).' },
  NOT_FOUND: { status: 404, title: 'Not found', description: 'No route answers this path. Check the path against the API documentation at /docs.' },
  PRODUCT_NOT_FOUND: { status: 404, title: 'Product not found', description: 'No product has this id.' },
  ORDER_NOT_FOUND: { status: 404, title: 'Order not found', description: 'No order with this id exists that you may see. Orders of other users answer the same way.' },
  WEBHOOK_NOT_FOUND: { status: 404, title: 'Webhook not found', description: 'No webhook subscription has this id.' },
  DELIVERY_NOT_FOUND: { status: 404, title: 'Delivery not found', description: 'No webhook delivery has this id.' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', description: 'The path exists, but not with this HTTP method. The `Allow` header lists the methods it serves.' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', description: 'The request (headers and body) did not arrive within the time the server allows (`HTTP_REQUEST_TIMEOUT_MS`). The connection is closed; send it again.' },
  EMAIL_TAKEN: { status: 409, title: 'Email taken', description: 'An account with this email already exists (emails compare case-insensitively). Log in instead.' },
  SKU_TAKEN: { status: 409, title: 'SKU taken', description: 'Another product already has this SKU. Choose another one or edit that product.' },
  OUT_OF_STOCK: { status: 409, title: 'Out of stock', description: 'Some lines ask for more than is available. `errors` lists `{productId, requested, available}` per short line. Nothing was reserved and no order was created.' },
  INSUFFICIENT_STOCK: { status: 409, title: 'Insufficient stock', description: 'The stock adjustment would take on-hand stock below what is reserved for pending orders.' },
  STOCK_LIMIT_EXCEEDED: { status: 409, title: 'Stock limit exceeded', description: 'The stock adjustment would take on-hand stock above the largest amount the catalog stores.' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'Idempotency key in use', description: 'A request with this `Idempotency-Key` is still being processed. Retry shortly with the same key: you will get its response.' },
  NOTHING_TO_RESEND: { status: 409, title: 'Nothing to resend', description: 'Only `undeliverable` emails (refused by the mail server for good, or given up after failing for `EMAIL_MAX_RETRY_HOURS`) are sent again by `POST /api/orders/:id/emails/resend` and `POST /api/admin/emails/resend`; this order (or the window asked for) has none (its emails are pending, sent, or not owed yet).' },
  ORDER_NOT_CANCELLABLE: { status: 409, title: 'Order not cancellable', description: 'Only `pending` orders can be cancelled; this one has moved on (processing, completed, failed or cancelled).' },
  PRECONDITION_FAILED: { status: 412, title: 'Precondition failed', description: 'The request\'s `If-Match` names none of the resource\'s current version (its `ETag`): it changed since the client read it, and nothing was changed now. Read it again (`GET`), check the change still makes sense, and send it with the new `ETag`.' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large', description: 'The request\'s headers together are larger than the server reads (16 KB). Send fewer or shorter headers (cookies, for example); the connection is closed.' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', description: 'The request body is larger than 100 KB.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', description: 'The request body is not JSON. Send it with `Content-Type: application/json`.' },
  UNKNOWN_PRODUCT: { status: 422, title: 'Unknown product', description: 'Some ordered products do not exist; `errors` names them. Nothing was reserved and no order was created.' },
  IDEMPOTENCY_KEY_MISMATCH: { status: 422, title: 'Idempotency key mismatch', description: 'This `Idempotency-Key` was already used with a different request body. Use a new key for a new order.' },
  WEBHOOK_URL_FORBIDDEN: { status: 422, title: 'Webhook URL forbidden', description: 'The webhook URL points somewhere the service will not call (for example a private or loopback address).' },
  RATE_LIMITED: { status: 429, title: 'Rate limited', description: 'Too many requests of this kind (failed logins, registrations, orders). Wait for the number of seconds in `Retry-After`.' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error', description: 'Something failed on the server. The body carries a `requestId`; quote it when you report the problem.' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable', description: 'A dependency (the database) is unreachable, or more password checks wait for a hashing slot than the server allows (`PASSWORD_HASH_QUEUE_LIMIT`). Retry after the seconds in `Retry-After`; with an `Idempotency-Key` a retried order is never placed twice.' },
  STREAMS_AT_CAPACITY: { status: 503, title: 'Streams at capacity', description: 'This server has as many live event streams open as it allows (`SSE_MAX_STREAMS`). Reconnect after the seconds in `Retry-After`, or to another instance.' },
  NOT_READY: { status: 503, title: 'Not ready', description: 'A dependency the process needs did not answer its readiness check; `errors` names it. Load balancers should send traffic elsewhere until it answers.' },
  SHUTTING_DOWN: { status: 503, title: 'Shutting down', description: 'The instance received SIGTERM. It still finishes and answers what reaches it for `SHUTDOWN_DELAY_MS`, then stops accepting connections; load balancers should send new requests to another instance.' },
};

export { problemTypePath };

const BY_SLUG = new Map(Object.entries(PROBLEM_TYPES).map(([code, type]) => [problemTypePath(code).slice('/problems/'.length), { code, ...type }]));

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const withCode = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`;
}

/** `GET /problems` (every code) and `GET /problems/<code>`: HTML for people, JSON when asked for. */
export function problemRoutes(): Router {
  const router = Router();
  router.get('/problems', (req, res) => {
    const all = [...BY_SLUG.entries()];
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ items: all.map(([slug, type]) => ({ type: `/problems/${slug}`, ...type })) });
      return;
    }
    const rows = all.map(([slug, t]) => `<li><a href="/problems/${slug}"><code>${t.code}</code></a> (${t.status}): ${escapeHtml(t.title)}</li>`).join('');
    res.type('html').send(page('Problem types', `<h1>Problem types</h1><p>Every error is <code>application/problem+json</code> with a stable <code>code</code>.</p><ul>${rows}</ul>`));
  });
  router.get('/problems/:slug', (req, res, next) => {
    const type = BY_SLUG.get(req.params.slug);
    if (!type) {
      next();
      return;
    }
    if (req.accepts(['html', 'json']) === 'json') {
      res.json({ type: `/problems/${req.params.slug}`, ...type });
      return;
    }
    res.type('html').send(
      page(
        `${type.code}: ${type.title}`,
        `<h1><code>${type.code}</code>: ${escapeHtml(type.title)}</h1><p>HTTP status ${type.status}.</p><p>${withCode(type.description)}</p><p><a href="/problems">All problem types</a> · <a href="/docs/">API documentation</a></p>`,
      ),
    );
  });
  return router;
}
