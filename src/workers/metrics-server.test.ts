import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../platform/metrics.js';
import { createWorkerMetricsServer } from './metrics-server.js';

const servers: Server[] = [];
async function serve(settings: { token: string | undefined; production: boolean }): Promise<string> {
  const server = createWorkerMetricsServer(createMetrics({ role: 'worker' }), settings);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

describe("the worker's metrics port", () => {
  it('with METRICS_TOKEN, then /metrics needs the token (401 with a Bearer challenge without it)', async () => {
    const base = await serve({ token: 'worker-scrape-token', production: true });
    const anonymous = await fetch(`${base}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${base}/metrics`, { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    const scraped = await fetch(`${base}/metrics`, { headers: { Authorization: 'Bearer worker-scrape-token' } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('process_cpu');
  });

  it('in production without METRICS_TOKEN, then /metrics is 404; liveness still answers', async () => {
    const base = await serve({ token: undefined, production: true });
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('outside production without METRICS_TOKEN, then /metrics is open', async () => {
    const base = await serve({ token: undefined, production: false });
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});
