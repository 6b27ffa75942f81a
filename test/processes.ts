import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** The first port of the kernel's ephemeral range (where `listen(0)` and outgoing connections draw). */
function ephemeralFloor(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

const PORT_BLOCKS = 16;
// Above the fixed ports of `npm run topology` (17xxx).
const PORTS_FROM = 18_000;
const blockSize = Math.max(64, Math.floor((ephemeralFloor() - PORTS_FROM) / PORT_BLOCKS));
// Test processes share nothing, so each draws from a block of its own (vitest numbers its
// processes 1…maxWorkers); anything else, the bench among them, takes block 0.
const block = Number(process.env.VITEST_POOL_ID ?? 0) % PORT_BLOCKS;
let nextInBlock = Math.floor(Math.random() * blockSize);

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port nothing listens on, for a server a test starts (or leaves down) on it later.
 * It lies below the kernel's ephemeral range: a port from `listen(0)` could be handed to another
 * test's `listen(0)`, or to an outgoing connection, before the test's own server binds it (a
 * Redis started on one failed with EADDRINUSE). Ports here are taken only by explicit binds.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < blockSize; tries++) {
    const port = PORTS_FROM + block * blockSize + (nextInBlock++ % blockSize);
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port in ${PORTS_FROM + block * blockSize}–${PORTS_FROM + (block + 1) * blockSize - 1}`);
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
  /**
   * Stops forwarding in both directions and closes nothing (a network that silently drops
   * packets): what the ends send stays unanswered, their FINs included, until `close`.
   */
  stall(): void;
  /** Ends a `stall`: forwarding goes on, and what the ends sent meanwhile (a FIN too) reaches the other. */
  resume(): void;
  /** Accepts connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy the test can cut, to make a live server unreachable without stopping it. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const { createServer: createTcpServer, connect } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  // Each client connection with its upstream one (none for a connection taken while stalled).
  const pairs = new Map<import('node:net').Socket, import('node:net').Socket | undefined>();
  let server: import('node:net').Server | undefined;
  let stalled = false;
  // Below the ephemeral range, so nobody takes it while the proxy is cut.
  const port = await freePort();
  const track = (socket: import('node:net').Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const forward = (client: import('node:net').Socket) => {
    const upstream = pairs.get(client) ?? connect(targetPort, '127.0.0.1');
    if (!pairs.get(client)) {
      track(upstream);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    }
    pairs.set(client, upstream);
    client.pipe(upstream).pipe(client);
  };
  const listen = async () => {
    stalled = false;
    server = createTcpServer((client) => {
      track(client);
      client.on('close', () => pairs.delete(client));
      if (stalled) {
        pairs.set(client, undefined);
        client.pause();
        return;
      }
      forward(client);
    });
    await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(port, '127.0.0.1', resolve));
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  const stall = () => {
    stalled = true;
    for (const socket of sockets) {
      socket.unpipe();
      // Paused, a socket reads nothing more, so it never sees its peer's FIN either.
      socket.pause();
    }
  };
  const resume = () => {
    stalled = false;
    for (const client of pairs.keys()) forward(client);
  };
  await listen();
  return { port, cut: stop, stall, resume, restore: listen, close: stop };
}
