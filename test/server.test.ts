import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildService } from '../scripts/build.js';
import { runServiceCommand } from '../scripts/run-service.js';
import { freePort } from './processes.js';
import { settledWithin, waitUntil } from './wait.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SERVER = path.join(ROOT, 'dist', 'server.js');
const ADMIN_EMAIL = 'admin@example.com';
const PASSWORD_LINE = /Created local admin (\S+) with password (\S+)/;
const START_TIMEOUT_MS = 90_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface ServerProcess {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const running: ServerProcess[] = [];
const npmGroups: number[] = [];
const tempDirs: string[] = [];

function tempDir(label: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `ops-server-${label}-`));
  tempDirs.push(dir);
  return dir;
}


/**
 * Starts `bin/run-service dist/server.js` (what `npm start` runs) in an empty working directory
 * (so no developer `.env` leaks in) with only the variables given here, in the embedded default
 * (no DATABASE_URL, no Redis).
 */
function startServer(env: Record<string, string>, port = Number(env.PORT)): ServerProcess {
  const cwd = tempDir('cwd');
  const launch = runServiceCommand([SERVER]);
  const child = spawn(launch.command, launch.args, {
    cwd,
    env: { PATH: launch.PATH, HOME: cwd, NODE_ENV: 'test', LOG_FORMAT: 'json', LOG_LEVEL: 'info', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const server: ServerProcess = { child, port, stdout: () => stdout, stderr: () => stderr, exited };
  running.push(server);
  return server;
}

/**
 * Runs `npm <args>` in the project itself (the scripts live in its package.json), as an operator
 * does, with the variables given here over the test's own environment.
 */
function startNpm(args: string[], env: Record<string, string>): ServerProcess {
  const child = spawn('npm', args, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', LOG_FORMAT: 'json', LOG_LEVEL: 'info', HOST: '127.0.0.1', DATABASE_URL: '', REDIS_URL: '', REDIS_HOST: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own, so clean-up can stop whatever npm started even when npm is gone.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  npmGroups.push(child.pid!);
  const server: ServerProcess = { child, port: Number(env.PORT), stdout: () => stdout, stderr: () => stderr, exited };
  running.push(server);
  return server;
}

/** Resolves with the exit, or undefined if the process is still running after `ms`. */
const exitWithin = (server: ServerProcess, ms: number): Promise<Exit | undefined> => settledWithin(server.exited, ms);

async function waitUntilReady(server: ServerProcess): Promise<void> {
  let exit: Exit | undefined;
  void server.exited.then((value) => (exit = value));
  await waitUntil(
    async () => {
      if (exit) throw new Error(`server exited (${JSON.stringify(exit)}) before it was ready:\n${server.stderr()}`);
      const res = await fetch(`http://127.0.0.1:${server.port}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.status === 200;
    },
    START_TIMEOUT_MS,
    `server ready on port ${server.port}`,
    200,
  );
}

async function login(port: number, email: string, password: string): Promise<{ status: number; body: { user?: { role?: string } } }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  return { status: res.status, body: (await res.json()) as { user?: { role?: string } } };
}

function passwordLines(output: string): RegExpMatchArray[] {
  return output
    .split('\n')
    .map((line) => line.match(PASSWORD_LINE))
    .filter((match): match is RegExpMatchArray => match !== null);
}

const stderrLines = (server: ServerProcess) => server.stderr().trim().split('\n').filter(Boolean);

beforeAll(async () => {
  // These tests run what `npm start` runs, so dist/ must match the sources: a stale build would
  // test old code. The build rewrites only what changed (well under a second); the console
  // bundle is not needed here.
  await buildService({ console: false });
}, 120_000);

afterAll(async () => {
  for (const server of running) {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  }
  for (const group of npmGroups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // The group has already ended.
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm start: bin/run-service dist/server.js (embedded default)', () => {
  it(
    'when started on a fresh data directory, then it becomes ready, prints the local admin password once, ' +
      'refuses a second process on the same directory, stops cleanly on SIGTERM and keeps the admin across restarts',
    async () => {
      const dataDir = path.join(tempDir('data'), 'data');
      const first = startServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
      await waitUntilReady(first);

      // The generated admin password is printed exactly once, on stdout, and it works.
      const printed = passwordLines(first.stdout());
      expect(printed).toHaveLength(1);
      const [, email, password] = printed[0] as RegExpMatchArray;
      expect(email).toBe(ADMIN_EMAIL);
      expect(password).toBeDefined();
      const loggedIn = await login(first.port, ADMIN_EMAIL, password as string);
      expect(loggedIn.status).toBe(200);
      expect(loggedIn.body.user?.role).toBe('admin');
      expect(first.stdout()).toMatch(/listening on http:\/\/localhost:\d+/);

      // A request Node's HTTP parser rejects still gets problem+json with a request id.
      const raw = await new Promise<string>((resolve) => {
        const socket = connect(first.port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        socket.on('close', () => resolve(text));
        socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\nc: injected\r\n\r\n');
      });
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toMatch(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/);
      expect(raw).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
      expect(raw).not.toContain('injected');

      // A second process on the same data directory stops with one clear line.
      const second = startServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
      const secondExit = await exitWithin(second, 60_000);
      expect(secondExit, 'second process should have exited').toBeDefined();
      expect(secondExit?.code).not.toBe(0);
      expect(secondExit?.code).not.toBeNull();
      const lines = stderrLines(second);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(dataDir);
      expect(lines[0]).toMatch(/in use/);
      // ...and the first one is unharmed.
      expect((await fetch(`http://127.0.0.1:${first.port}/health/ready`)).status).toBe(200);

      // SIGTERM: graceful shutdown with exit code 0, releasing the data directory.
      first.child.kill('SIGTERM');
      const firstExit = await exitWithin(first, 10_000);
      expect(firstExit, 'server should exit within 10 s of SIGTERM').toBeDefined();
      expect(firstExit).toEqual({ code: 0, signal: null });
      expect(existsSync(path.join(dataDir, 'embedded.lock'))).toBe(false);

      // A restart on the same directory keeps the admin and its password and prints nothing new.
      const again = startServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
      await waitUntilReady(again);
      expect(passwordLines(again.stdout())).toHaveLength(0);
      expect((await login(again.port, ADMIN_EMAIL, password as string)).status).toBe(200);
      again.child.kill('SIGTERM');
      expect(await exitWithin(again, 10_000)).toEqual({ code: 0, signal: null });
    },
    4 * START_TIMEOUT_MS,
  );

  it(
    'when `npm start` itself is sent SIGTERM (as a process manager or a container runtime sends it), then the service shuts down gracefully, releases its data directory and nothing is left running',
    async () => {
      // Before, npm handed the signal to the `sh -c` running the script, which died and left
      // Node running without a parent, holding the port and the data directory.
      const dataDir = path.join(tempDir('data'), 'data');
      const port = await freePort();
      const npm = startNpm(['start', '--silent'], { PORT: String(port), DATA_DIR: dataDir });
      await waitUntilReady(npm);
      npm.child.kill('SIGTERM');
      expect(await exitWithin(npm, 15_000), 'npm should exit within 15 s of SIGTERM').toBeDefined();
      await waitUntil(() => npm.stdout().includes('"message":"stopped"'), 10_000, 'the service to log that it stopped');
      expect(existsSync(path.join(dataDir, 'embedded.lock'))).toBe(false);
      const refused = await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(2000) }).then(
        () => false,
        () => true,
      );
      expect(refused, 'nothing should still answer on the port').toBe(true);
    },
    2 * START_TIMEOUT_MS,
  );

  it.each([
    ['PORT', 'abc'],
    ['JWT_SECRET', 'short'],
  ])(
    'when %s=%j, then it exits 1 with one line on stderr naming the variable',
    async (name, value) => {
      const server = startServer({ DATA_DIR: path.join(tempDir('data'), 'data'), PORT: '0', [name]: value }, 0);
      const exit = await exitWithin(server, 30_000);
      expect(exit).toEqual({ code: 1, signal: null });
      const lines = stderrLines(server);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(name);
      expect(server.stderr()).not.toMatch(/\.js:\d+:\d+/);
    },
    60_000,
  );

  it(
    'when NODE_ENV=production and JWT_SECRET is missing, then it exits 1 naming JWT_SECRET',
    async () => {
      const server = startServer({ DATA_DIR: path.join(tempDir('data'), 'data'), PORT: '0', NODE_ENV: 'production' }, 0);
      expect(await exitWithin(server, 30_000)).toEqual({ code: 1, signal: null });
      const lines = stderrLines(server);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('JWT_SECRET');
    },
    60_000,
  );
});
