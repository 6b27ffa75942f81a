import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../test/global-setup.js';
import { createTestDatabase, deleteRedisKeys, testRedisPrefix, type TestDatabase } from '../test/harness.js';
import { loadConfig } from './config/index.js';
import { createLogger } from './platform/logger.js';
import { openRuntime } from './runtime.js';

interface Line {
  level: string;
  message: string;
}

function capture() {
  const stream = new PassThrough();
  const lines: Line[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
  });
  return { logger: createLogger({ level: 'info', format: 'json', stream }), lines };
}
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('start-up facts are said once, by the process that owns them', () => {
  let database: TestDatabase;
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ops-roles-'));
    dirs.push(dir);
    return dir;
  };
  beforeAll(async () => {
    database = await createTestDatabase('postgres', 2);
  });
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await database.drop();
  });

  const env = (extra: Record<string, string>) => loadConfig({ NODE_ENV: 'development', DATABASE_URL: database.url!, ...extra }, undefined);

  it('when a worker starts without JWT_SECRET and with ADMIN_EMAIL, then it writes no secret, creates no admin and says neither', async () => {
    const dir = dataDir();
    const { logger, lines } = capture();
    const runtime = await openRuntime(env({ DATA_DIR: dir, ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: 'ops password 1' }), logger, 'worker');
    await runtime.close();
    await flush();
    expect(existsSync(path.join(dir, 'jwt-secret'))).toBe(false);
    expect(lines.filter((line) => /JWT_SECRET|admin/i.test(line.message))).toEqual([]);
    const { rows } = await database.db.query('SELECT 1 FROM users');
    expect(rows).toHaveLength(0);
  });

  it('when the API starts on PostgreSQL without ADMIN_EMAIL, then it warns that no admin exists and names the command', async () => {
    const { logger, lines } = capture();
    const runtime = await openRuntime(env({ DATA_DIR: dataDir(), JWT_SECRET: 'x'.repeat(40) }), logger, 'api');
    await runtime.close();
    await flush();
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringContaining('no admin account exists; create one with: npm run admin -- create <email>') }));
  });

  it('when a production worker charges through the simulator, then it warns once; a production API that does not charge says nothing', async () => {
    const production = {
      NODE_ENV: 'production',
      DATA_DIR: dataDir(),
      JWT_SECRET: randomBytes(48).toString('base64url'),
      REDIS_URL,
      REDIS_PREFIX: testRedisPrefix(),
      MAIL_TRANSPORT: 'file',
      ADMIN_EMAIL: 'ops@example.com',
      ADMIN_PASSWORD: 'ops password 1',
    };
    const worker = capture();
    const api = capture();
    try {
      await (await openRuntime(env(production), worker.logger, 'worker')).close();
      await (await openRuntime(env(production), api.logger, 'api')).close();
    } finally {
      // The queue writes its metadata under the prefix; leave nothing behind in the shared Redis.
      await deleteRedisKeys(production.REDIS_PREFIX);
    }
    await flush();
    const simulator = (lines: Line[]) => lines.filter((line) => line.message.startsWith('payments use the built-in simulator'));
    expect(simulator(worker.lines)).toEqual([expect.objectContaining({ level: 'warn' })]);
    expect(simulator(api.lines)).toEqual([]);
    expect(api.lines.filter((line) => line.message === 'admin account created from ADMIN_EMAIL')).toHaveLength(1);
    expect(worker.lines.filter((line) => line.message.includes('admin'))).toEqual([]);
  });
});
