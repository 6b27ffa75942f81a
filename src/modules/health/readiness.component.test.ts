import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { expectProblem } from '../../../test/problems.js';
import { startRedisReplica, type LocalRedisTopology } from '../../../test/redis-topologies.js';
import { waitUntil } from '../../../test/wait.js';

describe('readiness with a Redis that takes no writes', () => {
  let replica: LocalRedisTopology;
  let app: TestApp;

  beforeAll(async () => {
    replica = await startRedisReplica();
    app = await startTestApp({ storage: 'pglite', redis: `redis://127.0.0.1:${replica.nodes[0]!.port}` });
    await waitUntil(() => app.redis?.status === 'ready', 10_000, 'the connection to the replica');
  });
  afterAll(async () => {
    await app.close();
    await replica.stop();
  });

  it('when REDIS_URL leads to a read-only replica, then /health/ready answers 503 naming redis (PING alone answers there)', async () => {
    expect(await app.redis!.ping()).toBe('PONG');
    const res = await app.http.get('/health/ready');
    expectProblem(res, 503, 'NOT_READY');
    expect(res.body.errors).toEqual([{ dependency: 'redis', message: 'did not answer' }]);
  });
});

describe('readiness with a writable Redis', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite', redis: true });
  });
  afterAll(() => app.close());

  it('answers 200 with database and redis ok', async () => {
    const res = await app.http.get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });
});
