import { createServer, type Server, type ServerResponse } from 'node:http';
import { metricsAccess } from '../middleware/metrics-access.js';
import { checkReadiness, notReadyProblem, type ReadinessCheck } from '../modules/health/readiness.js';
import type { Metrics } from '../platform/metrics.js';

function sendJson(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store', ...(status === 503 ? { 'Retry-After': '5' } : {}) });
  res.end(JSON.stringify(body));
}

/** `/health/live` (the process runs) and `/health/ready` (PostgreSQL and Redis answer), with the API's bodies. */
function health(res: ServerResponse, path: string, readiness: readonly ReadinessCheck[]): void {
  if (path === '/health/live') {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  void checkReadiness(readiness).then((result) => {
    if (result.ok) sendJson(res, 200, { status: 'ok', checks: result.checks });
    else sendJson(res, 503, { type: '/problems/not-ready', title: 'Service Unavailable', ...notReadyProblem(result.failing) }, 'application/problem+json');
  });
}

/**
 * The worker's small HTTP server: `/health/live`, `/health/ready` (for the orchestrator) and
 * `/metrics`, under the same rule as the API's `/metrics` (METRICS_TOKEN required when set;
 * hidden in production when not).
 */
export function createWorkerMetricsServer(
  metrics: Metrics,
  settings: { token: string | undefined; production: boolean },
  readiness: readonly ReadinessCheck[] = [],
): Server {
  const mayScrape = metricsAccess(settings);
  return createServer((req, res) => {
    const path = req.url?.split('?')[0] ?? '';
    if (path === '/health/live' || path === '/health/ready') {
      health(res, path, readiness);
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const decision = mayScrape(req.headers.authorization);
    if (decision !== 'allow') {
      const challenge = req.headers.authorization ? 'Bearer error="invalid_token"' : 'Bearer';
      res.writeHead(decision === 'hidden' ? 404 : 401, decision === 'hidden' ? {} : { 'WWW-Authenticate': challenge }).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
}
