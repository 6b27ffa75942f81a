import { createServer, type Server, type ServerResponse } from 'node:http';
import { checkReadiness, notReadyProblem, type ReadinessCheck } from '../modules/health/readiness.js';
import type { Metrics } from '../platform/metrics.js';

function sendJson(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store', ...(status === 503 ? { 'Retry-After': '5' } : {}) });
  res.end(JSON.stringify(body));
}

/**
 * What a worker serves on WORKER_METRICS_PORT, for Prometheus and the orchestrator: `/metrics`,
 * `/health/live` (the process runs) and `/health/ready` (PostgreSQL and Redis answer), with
 * the same bodies as the API's.
 */
export function createOpsServer(deps: { metrics: Pick<Metrics, 'registry'>; readiness: readonly ReadinessCheck[] }): Server {
  return createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/health/live') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/health/ready') {
      void checkReadiness(deps.readiness).then((readiness) => {
        if (readiness.ok) sendJson(res, 200, { status: 'ok', checks: readiness.checks });
        else {
          const problem = notReadyProblem(readiness.failing);
          sendJson(res, 503, { type: '/problems/not-ready', title: 'Service Unavailable', ...problem }, 'application/problem+json');
        }
      });
      return;
    }
    if (path === '/metrics') {
      deps.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });
}
