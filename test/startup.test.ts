import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { POSTGRES_ADMIN_URL } from './global-setup.js';
import { freePort } from './processes.js';
import { runEntry, type Finished } from './run-entry.js';

const SECRET = 'startup-test-secret-that-is-long-enough-0123456789';
const tempDirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-startup-'));
  tempDirs.push(dir);
  return path.join(dir, 'data');
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Exit 1, and stderr is exactly one line without a stack. */
function oneLineFailure(run: Finished): string {
  expect(run.code, run.stdout + run.stderr).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return lines[0] as string;
}

const databaseUrl = (name: string) => Object.assign(new URL(POSTGRES_ADMIN_URL), { pathname: `/${name}` }).toString();

describe('start-up failures: one line naming what failed, where, and the fix', () => {
  it('when the port is taken, then the API stops at once, naming PORT, before it touches the data directory', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = dataDir();
    try {
      const line = oneLineFailure(await runEntry('src/server.ts', { env: { PORT: String(port), DATA_DIR: dir } }));
      expect(line).toContain(`Port ${port}`);
      expect(line).toContain('set PORT');
      // Checked before the database: nothing was created, no admin password was printed.
      expect(existsSync(dir)).toBe(false);
    } finally {
      blocker.close();
    }
  }, 180_000);

  it('when DATABASE_URL names a database that does not exist, then the line names host:port, the database and createdb', async () => {
    const url = databaseUrl('ops_startup_missing_db');
    const line = oneLineFailure(await runEntry('src/server.ts', { env: { PORT: '0', DATABASE_URL: url, DATA_DIR: dataDir() } }));
    const { hostname, port } = new URL(url);
    expect(line).toContain(`${hostname}:${port || '5432'}`);
    expect(line).toContain('"ops_startup_missing_db"');
    expect(line).toMatch(/createdb .*ops_startup_missing_db/);
  }, 180_000);

  it('when nothing listens at the DATABASE_URL host:port, then the line names it and DATABASE_URL (API and worker alike)', async () => {
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/orders`;
    const api = oneLineFailure(await runEntry('src/server.ts', { env: { PORT: '0', DATABASE_URL: url, DATA_DIR: dataDir() } }));
    expect(api).toContain(`127.0.0.1:${port}`);
    expect(api).toContain('connection refused');
    expect(api).toContain('DATABASE_URL');
    const worker = oneLineFailure(await runEntry('src/worker.ts', { env: { DATABASE_URL: url, REDIS_URL: 'redis://127.0.0.1:6379', DATA_DIR: dataDir() } }));
    expect(worker).toBe(api);
  }, 180_000);

  it('when the DATABASE_URL host does not resolve, then the line names the host', async () => {
    const line = oneLineFailure(await runEntry('src/server.ts', { env: { PORT: '0', DATABASE_URL: 'postgres://postgres@no-such-host.invalid:5432/orders', DATA_DIR: dataDir() } }));
    expect(line).toContain('"no-such-host.invalid"');
    expect(line).toContain('DATABASE_URL');
  }, 180_000);

  it('when DATABASE_URL is not a URL, then the line says what form it must have', async () => {
    const line = oneLineFailure(await runEntry('src/server.ts', { env: { PORT: '0', DATABASE_URL: 'localhost:5432/orders', DATA_DIR: dataDir() } }));
    expect(line).toMatch(/^Invalid configuration: DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
  }, 180_000);

  it.each([
    ['the embedded database', { MAIL_TRANSPORT: 'file' }, /DATABASE_URL.*ALLOW_EMBEDDED_DB_IN_PRODUCTION=true/],
    ['no mail transport', { ALLOW_EMBEDDED_DB_IN_PRODUCTION: 'true' }, /SMTP_URL.*MAIL_TRANSPORT=file/],
  ])('when NODE_ENV=production runs with %s, then it refuses to start, naming the opt-in', async (_what, env, expected) => {
    const line = oneLineFailure(await runEntry('src/server.ts', { env: { NODE_ENV: 'production', JWT_SECRET: SECRET, PORT: '0', DATA_DIR: dataDir(), ...env } }));
    expect(line).toMatch(expected);
  }, 180_000);
});
