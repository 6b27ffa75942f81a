import type { ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, waitUntil } from '../../test/processes.js';
import { createLogger } from './logger.js';
import { createRedis, warnUnlessNoEviction, watchRedis, type Redis } from './redis.js';

interface Line {
  level: string;
  message: string;
  stack?: string;
}

function capture() {
  const stream = new PassThrough();
  const lines: Line[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
  });
  return { logger: createLogger({ level: 'debug', format: 'json', stream }), lines };
}

const stopped = (child: ChildProcess) =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function connect(url: string): Redis {
  const redis = createRedis(url, 'request');
  cleanups.push(() => redis.disconnect());
  return redis;
}

async function redisServer(port: number, args: string[] = []): Promise<ChildProcess> {
  const child = await startRedisServer(port, args);
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await stopped(child);
  });
  return child;
}

describe('Redis trouble in the logs', () => {
  it('when Redis is unreachable, comes back and goes away again, then each outage is one warning naming the address, and its end one line', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const { logger, lines } = capture();
    const redis = connect(url);
    let reconnects = 0;
    redis.on('reconnecting', () => reconnects++);
    watchRedis(redis, url, logger, 'api');

    // ioredis retries several times a second; the outage is still one line.
    await waitUntil(() => reconnects >= 4, 15_000, 'several reconnection attempts');
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', message: expect.stringContaining(`Redis at 127.0.0.1:${port} is unreachable (ECONNREFUSED)`) })]);
    expect(lines[0]).not.toHaveProperty('stack');

    const server = await redisServer(port);
    await waitUntil(() => lines.some((line) => line.message === `Redis at 127.0.0.1:${port} is back`), 15_000, 'the back line');

    server.kill('SIGKILL');
    await stopped(server);
    await waitUntil(() => lines.filter((line) => line.level === 'warn').length === 2, 15_000, 'the second outage');
    const seen = reconnects;
    await waitUntil(() => reconnects >= seen + 3, 15_000, 'more reconnection attempts');
    expect(lines.map((line) => line.message.replace(/ \(.*/, ''))).toEqual([
      `Redis at 127.0.0.1:${port} is unreachable`,
      `Redis at 127.0.0.1:${port} is back`,
      `Redis at 127.0.0.1:${port} is unreachable`,
    ]);
    expect(lines.some((line) => 'stack' in line)).toBe(false);
  }, 60_000);

  it.each([
    ['an API', 'api', 'retrying. Orders are still accepted and wait in the outbox'],
    ['a worker', 'worker', 'retrying. This worker takes no jobs until it is back; orders placed meanwhile wait in the outbox'],
  ] as const)('when %s loses Redis, then its warning says what it does meanwhile', async (_who, role, meanwhile) => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const { logger, lines } = capture();
    watchRedis(connect(url), url, logger, role);
    const warning = await waitUntil(() => lines.find((line) => line.level === 'warn'), 15_000, 'the outage warning');
    expect(warning.message).toBe(`Redis at 127.0.0.1:${port} is unreachable (ECONNREFUSED); ${meanwhile}`);
  }, 30_000);

  it('when Redis is unreachable at start, then there is no eviction-policy guess; the check runs once it answers', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const { logger, lines } = capture();
    const redis = connect(url);
    await warnUnlessNoEviction(redis, logger, 300);
    expect(lines.filter((line) => line.message.includes('maxmemory-policy'))).toEqual([]);

    await redisServer(port, ['--maxmemory-policy', 'allkeys-lru']);
    await waitUntil(() => lines.find((line) => line.message.includes('maxmemory-policy')), 15_000, 'the eviction-policy warning');
    expect(lines.filter((line) => line.message.includes('maxmemory-policy'))).toEqual([
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/^Redis maxmemory-policy is allkeys-lru; it must be noeviction/) }),
    ]);
  }, 60_000);
});
