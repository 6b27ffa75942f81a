import { createServer, type Server } from 'node:http';
import { metricsAccess } from '../middleware/metrics-access.js';
import type { Metrics } from '../platform/metrics.js';

/**
 * The worker's small HTTP server: `/health/live` and `/metrics`, under the same rule as the API's
 * `/metrics` (METRICS_TOKEN required when set; hidden in production when not).
 */
export function createWorkerMetricsServer(metrics: Metrics, settings: { token: string | undefined; production: boolean }): Server {
  const mayScrape = metricsAccess(settings);
  return createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(req.url === '/health/live' ? 200 : 404).end();
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
