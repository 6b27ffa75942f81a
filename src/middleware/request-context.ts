import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { runWithContext } from '../platform/request-context.js';

// A client-supplied id is echoed only if it is short and plain, so it cannot forge log lines.
const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request an id (echoed in `X-Request-Id`) that every log line of the request
 * carries, and writes one log line and one duration sample when the response has been sent.
 */
export function requestContext(logger: Logger, metrics: Pick<Metrics, 'observeHttp'>): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const offered = req.get('x-request-id');
    const requestId = offered && CLIENT_REQUEST_ID.test(offered) ? offered : randomUUID();
    req.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const route = routeOf(req);
      metrics.observeHttp(req.method, route, res.statusCode, durationMs / 1000);
      // Winston formats a line before its transports drop it by level: skip that work up front.
      if (!logger.isInfoEnabled()) return;
      logger.info('request', {
        method: req.method,
        route,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(durationMs * 10) / 10,
        requestId: req.requestId,
        userId: req.auth?.userId,
      });
    });
    runWithContext({ requestId }, next);
  };
}

/** The matched route pattern (`/api/orders/:id`), not the raw path, so logs and metrics group well. */
export function routeOf(req: Parameters<RequestHandler>[0]): string {
  const route = req.route as { path?: string } | undefined;
  if (!route?.path) return 'unmatched';
  return route.path === '/' && req.baseUrl ? req.baseUrl : `${req.baseUrl}${route.path}`;
}
