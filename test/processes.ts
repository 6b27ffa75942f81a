import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runServiceCommand } from '../scripts/run-service.js';
import { childEntry, childNodeFlags } from './child-build.js';
import { TEST_PASSWORD_HASH_PROFILE } from './harness.js';
import { waitUntil as waitFor } from './wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ChildService {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/**
 * Runs a service entry point (`src/worker.ts`, …) in its own process, from the run's transpiled
 * copy of the sources (test/child-build.ts), so tests see the current code without a build.
 * It starts through `bin/run-service`, as `npm start` and `npm run worker` start the services,
 * so it runs with the same glibc settings. Resolves once `readyLine` appears in its output.
 */
export async function spawnService(entry: string, env: Record<string, string>, readyLine: RegExp, timeoutMs = 30_000): Promise<ChildService> {
  const launch = runServiceCommand([...childNodeFlags(), childEntry(entry)]);
  const child = spawn(launch.command, launch.args, {
    cwd: ROOT,
    env: { PATH: launch.PATH, HOME: process.env.HOME ?? '', NODE_ENV: 'test', LOG_FORMAT: 'json', PASSWORD_HASH_PROFILE: TEST_PASSWORD_HASH_PROFILE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!readyLine.test(output)) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => output, exited };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A Redis server of the test's own (so the test can stop and restart it without disturbing others). */
export async function startRedisServer(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/**
 * `waitUntil` of test/wait.ts polling every 100 ms: these waits are on child processes, Redis
 * servers and databases that the polls would otherwise compete with.
 */
export function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  return waitFor(check, timeoutMs, what, 100);
}

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones (a network partition; the target keeps its data). */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy the test can cut, to make a live server unreachable without stopping it. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<import('node:net').Socket>();
  let server: import('node:net').Server | undefined;
  let port = 0;
  const listen = async () => {
    const { createServer: createTcpServer, connect } = await import('node:net');
    server = createTcpServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await listen();
  return { port, cut: stop, restore: listen, close: stop };
}
