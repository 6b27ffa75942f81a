import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';

// A client-supplied id is echoed only if it is short and plain, so it cannot forge log lines.
const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request an id (echoed in `X-Request-Id`), and writes one log line and one duration
 * sample when the response has been sent. The line ties the id to the caller, the route and,
 * for a create, the new resource (`location`).
 *
 * The id is not put in an AsyncLocalStorage for the lines logged deeper in the request: on
 * Node 20 that turns on promise hooks for the whole process, which measured ~13 % of the CPU of
 * a cached read (README, Benchmarks). Those lines name what they are about (order, user, key) instead;
 * jobs, where the cost is noise, do run in an async context (see platform/queue).
 */
export function requestContext(logger: Logger, metrics: Pick<Metrics, 'observeHttp'>): RequestHandler {
  // One listener for all responses rather than a closure per request: this runs on every call.
  function onFinish(this: Response): void {
    const req = this.req;
    const durationMs = Number(process.hrtime.bigint() - req.receivedAt) / 1e6;
    const route = routeOf(req);
    metrics.observeHttp(req.method, route, this.statusCode, durationMs / 1000);
    // Probes and scrapes arrive every few seconds and say nothing new: they log at debug.
    const level = route === '/metrics' || route.startsWith('/health') ? 'debug' : 'info';
    // The logger drops lines below its level, but only after a trip through winston's stream:
    // on this once-per-request path, not even building the line is cheaper.
    if (!logger.isLevelEnabled(level)) return;
    logger.log(level, 'request', {
      method: req.method,
      route,
      path: req.originalUrl.split('?')[0],
      status: this.statusCode,
      durationMs: Math.round(durationMs * 10) / 10,
      requestId: req.requestId,
      userId: req.auth?.userId,
      location: this.getHeader('location'),
    });
  }

  return (req, res, next) => {
    req.receivedAt = process.hrtime.bigint();
    const offered = req.headers['x-request-id'];
    const requestId = typeof offered === 'string' && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID();
    req.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', onFinish);
    next();
  };
}

/** The matched route pattern (`/api/orders/:id`), not the raw path, so logs and metrics group well. */
export function routeOf(req: Request): string {
  const route = req.route as { path?: string } | undefined;
  if (!route?.path) return 'unmatched';
  return route.path === '/' && req.baseUrl ? req.baseUrl : `${req.baseUrl}${route.path}`;
}
