import express from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/logs.js';
import { waitUntil } from '../../../test/wait.js';
import { requestContext } from '../../middleware/request-context.js';
import { createMetrics } from '../../platform/metrics.js';
import { healthRoutes } from './health.routes.js';
import { ShutdownState } from './shutdown-state.js';

describe('health probes during a shutdown drain', () => {
  it('once shutdown began, then each probe\'s 503 is logged and measured under its own route, at debug as probes are', async () => {
    const { logger, lines } = capturingLogger('debug');
    const metrics = createMetrics({ role: 'api' });
    const shutdown = new ShutdownState();
    const app = express();
    app.use(requestContext(logger, metrics));
    app.use('/health', healthRoutes([], shutdown));
    const http = supertest(app);

    shutdown.begin();
    for (const probe of ['/health/live', '/health/ready']) expect((await http.get(probe)).status).toBe(503);

    const requests = await waitUntil(() => {
      const logged = lines.filter((line) => line.message === 'request');
      return logged.length === 2 && logged;
    }, 5_000, 'both probes logged');
    expect(requests.map(({ level, route, status }) => ({ level, route, status }))).toEqual([
      { level: 'debug', route: '/health/live', status: 503 },
      { level: 'debug', route: '/health/ready', status: 503 },
    ]);
    const samples = await metrics.registry.getSingleMetricAsString('http_request_duration_seconds');
    expect(samples).toContain('route="/health/live",status="503"');
    expect(samples).not.toContain('route="unmatched"');
  });
});
