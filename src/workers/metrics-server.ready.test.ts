import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../platform/metrics.js';
import { createWorkerMetricsServer } from './metrics-server.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function serve(checks: { name: string; check(): Promise<void> }[]): Promise<string> {
  const server = createWorkerMetricsServer(createMetrics({ role: 'worker' }), { token: undefined, production: false }, checks);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ok = (name: string) => ({ name, check: () => Promise.resolve() });
const down = (name: string) => ({ name, check: () => Promise.reject(new Error('refused')) });

describe("a worker's ops port", () => {
  it('when every dependency answers, then /health/ready and /health/live are 200 and /metrics serves Prometheus text', async () => {
    const base = await serve([ok('database'), ok('redis')]);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/role="worker"/);
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
  });

  it('when Redis does not answer, then /health/ready is a 503 problem naming it, like the API\'s', async () => {
    const base = await serve([ok('database'), down('redis')]);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect(await ready.json()).toMatchObject({ status: 503, code: 'NOT_READY', type: '/problems/not-ready', errors: [{ dependency: 'redis' }] });
    // Still alive: the orchestrator should wait, not restart it.
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });
});
